// A peer holds what its quotas allow and no more, and no record can be pinned: quotas under a
// flood of PUTs (HTTP 507, and refusals over the wire), future-dated and older records sent over
// the wire, and a PUT racing a newer value. Real peer processes; the hand-made records come from
// a libp2p client in this process that speaks the network's DHT and peernet protocols.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Libp2pRecord } from '@libp2p/record';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { StatusReply } from '../../peer/api/types.js';
import { providerCid, recordKey, sealValue } from '../../peer/dht/keys.js';
import { handoffProtocol, replicateProtocol } from '../../peer/dht/records.js';
import { PeerGroup, makeKey, waitFor, type PeerProcess } from '../helpers/peers.js';
import { createWireClient, type WireClient } from '../../peer/node/client.js';

jest.setTimeout(240_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);
const KiB = 1024;
const YEAR_MS = 365 * 86_400_000;

const status = (p: PeerProcess): Promise<StatusReply> => p.client.status();

async function refusedTotal(p: PeerProcess, reason: string): Promise<number> {
  const text = (await p.client.request('GET', '/metrics')).text;
  const m = new RegExp(`^peernet_records_refused_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(
    text,
  );
  return Number(m?.[1] ?? NaN);
}

const mib = (kib: number | undefined): string => ((kib ?? NaN) / 1024).toFixed(1);

describe('quotas: a peer holds what its quotas allow', () => {
  const QUOTA = 4 * 1024 * 1024;
  let group: PeerGroup;
  let network: string;
  let full: PeerProcess;
  let other: PeerProcess;
  let client: WireClient;

  beforeAll(async () => {
    group = await PeerGroup.create('quotas');
    network = `test/quotas-${uniq()}`;
    full = await group.start({
      name: 'full',
      network,
      args: ['--max-record-bytes', '4MiB', '--max-provider-records', '1'],
    });
    other = await group.start({ name: 'other', network, bootstrap: [full.addr] });
    await group.waitForTables([full, other], 1);
    client = await createWireClient(network);
  });
  afterAll(async () => {
    await client?.node.stop();
    await group?.stop();
  });

  test('a flood of 64 KiB PUTs gets 507 at the quota; the store stays within it', async () => {
    const rssBefore = full.rssKiB();
    const value = new Uint8Array(64 * KiB).fill(0x61);
    const PUTS = 256; // 16 MiB offered to a 4 MiB quota
    const answers: Array<{ status: number; text: string }> = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < PUTS) {
          const i = next++;
          const r = await full.client.request('PUT', `/v1/records/flood-${i}`, value);
          answers.push({ status: r.status, text: r.text });
        }
      }),
    );
    const ms = Date.now() - started;
    const rssAfter = full.rssKiB();
    const st = await status(full);
    const ok = answers.filter((a) => a.status === 200).length;
    const refusedAnswers = answers.filter((a) => a.status !== 200);
    console.log(
      `flood: ${PUTS} PUTs of 64 KiB (16 MiB) at a 4 MiB quota in ${ms} ms: ${ok} x 200, ` +
        `${refusedAnswers.length} x 507; held ${st.records} records, ${st.recordBytes} bytes; ` +
        `RSS of the peer ${mib(rssBefore)} MiB before, ${mib(rssAfter)} MiB after`,
    );
    expect(ok).toBeGreaterThan(0);
    for (const a of refusedAnswers) {
      expect({ status: a.status, body: JSON.parse(a.text) as unknown }).toEqual({
        status: 507,
        body: { error: expect.stringContaining('--max-record-bytes') },
      });
    }
    expect(st.records).toBe(ok);
    expect(st.recordBytes).toBeLessThanOrEqual(QUOTA);
    // full: one more record of this size would not fit
    expect(st.recordBytes + st.recordBytes / st.records).toBeGreaterThan(QUOTA);
    // what was accepted is served, what was refused is not there
    expect(await other.client.get('flood-0')).toBeDefined();
  });

  test('a record replicated from another peer beyond the quota is refused, not stored', async () => {
    const before = await status(full);
    const refusedBefore = await refusedTotal(full, 'max-record-bytes');
    // other stores it and sends its copy to full, its only neighbour (PUT_VALUE, then a
    // replicate request): full refuses both
    const put = await other.client.put('from-other', new Uint8Array(64 * KiB).fill(0x62));
    expect(put).toMatchObject({ replicas: 1, stored: 0 });
    expect(await status(full)).toMatchObject({
      records: before.records,
      recordBytes: before.recordBytes,
    });
    expect(await refusedTotal(full, 'max-record-bytes')).toBeGreaterThan(refusedBefore);
    // full still answers a GET of it, from the peer that holds it
    const got = await fetch(`${full.apiUrl}/v1/records/from-other`);
    await got.arrayBuffer();
    expect({ status: got.status, from: got.headers.get('x-peernet-from') }).toEqual({
      status: 200,
      from: other.peerId,
    });
    // a hand-made PUT_VALUE over the wire: refused the same way
    await expect(
      client.putValue(full.addr, 'by-hand', 'x'.repeat(64 * KiB), Date.now()),
    ).rejects.toThrow();
  });

  test('provider records beyond the quota are refused: handoff, ADD_PROVIDER and POST', async () => {
    const stranger = await makeKey(group.path('stranger.key'));
    const entries = await Promise.all(
      ['h0', 'h1', 'h2'].map(async (k) => ({
        cid: (await providerCid(k)).toString(),
        peer: stranger.peerId,
        addrs: [],
      })),
    );
    expect(
      await client.callJson(full.addr, handoffProtocol(network), { providers: entries }),
    ).toEqual({
      accepted: 1,
      refused: 2,
      kept: [],
    });
    expect((await status(full)).providerRecords).toBe(1);
    // other announces itself as a provider: full refuses its ADD_PROVIDER
    const refusedBefore = await refusedTotal(full, 'max-provider-records');
    await other.client.provide('p-other');
    await waitFor(
      `full to refuse other's ADD_PROVIDER (${group.logHint()})`,
      async () => (await refusedTotal(full, 'max-provider-records')) > refusedBefore,
      { timeoutMs: 10_000 },
    );
    expect((await status(full)).providerRecords).toBe(1);
    const r = await full.client.request('POST', '/v1/providers/p-full');
    expect({ status: r.status, body: JSON.parse(r.text) as unknown }).toEqual({
      status: 507,
      body: { error: expect.stringContaining('--max-provider-records') },
    });
  });
});

describe('records that cannot be pinned', () => {
  let group: PeerGroup;
  let network: string;
  let a: PeerProcess;
  let b: PeerProcess;
  let c: PeerProcess;
  let client: WireClient;

  beforeAll(async () => {
    group = await PeerGroup.create('pinning');
    network = `test/pinning-${uniq()}`;
    const peers = await group.startMany(3, { network, prefix: 'pin' });
    [a, b, c] = [peers[0]!, peers[1]!, peers[2]!];
    await group.waitForTables(peers, 2);
    client = await createWireClient(network);
  });
  afterAll(async () => {
    await client?.node.stop();
    await group?.stop();
  });

  test('a PUT_VALUE dated 100 years ahead is refused and does not replace the current value', async () => {
    await a.client.put('pinned', 'current');
    await expect(
      client.putValue(a.addr, 'pinned', 'from the future', Date.now() + 100 * YEAR_MS),
    ).rejects.toThrow();
    expect(await a.client.get('pinned')).toBe('current');
    expect(await refusedTotal(a, 'future')).toBeGreaterThanOrEqual(1);
    // and later writes still win
    const put = await a.client.put('pinned', 'later');
    expect(put.superseded).toBeUndefined();
    expect(await a.client.get('pinned')).toBe('later');
    expect(await b.client.get('pinned')).toBe('later');
  });

  test('a future-dated record is refused over the replicate protocol too, and goes no further', async () => {
    const dhtKey = recordKey('via-replicate');
    const record = new Libp2pRecord(
      dhtKey,
      sealValue(uint8ArrayFromString('from the future'), Date.now() + YEAR_MS),
      new Date(),
    ).serialize();
    await expect(
      client.callJson(a.addr, replicateProtocol(network), {
        record: uint8ArrayToString(record, 'base64'),
        have: [],
      }),
    ).rejects.toThrow();
    for (const p of [a, b, c]) expect(await p.client.get('via-replicate')).toBeUndefined();
  });

  test('records handed off are checked one by one: future-dated and malformed are refused, older ones kept as held', async () => {
    await a.client.put('handoff-held', 'newer');
    const sealed = (key: string, value: string, at: number): string =>
      uint8ArrayToString(
        new Libp2pRecord(
          recordKey(key),
          sealValue(uint8ArrayFromString(value), at),
          new Date(),
        ).serialize(),
        'base64',
      );
    const records = [
      sealed('handoff-future', 'from the future', Date.now() + YEAR_MS),
      sealed('handoff-held', 'older', Date.now() - 60_000),
      sealed('handoff-new', 'taken', Date.now()),
      uint8ArrayToString(uint8ArrayFromString('not a record'), 'base64'),
      42,
    ];
    expect(await client.callJson(a.addr, handoffProtocol(network), { records })).toEqual({
      accepted: 2,
      refused: 3,
      kept: [1, 2],
    });
    expect(await a.client.get('handoff-future')).toBeUndefined();
    expect(await a.client.get('handoff-held')).toBe('newer');
    expect(await a.client.get('handoff-new')).toBe('taken');
  });

  test('a PUT_VALUE older than the stored value is refused', async () => {
    await a.client.put('aged', 'new');
    await expect(client.putValue(a.addr, 'aged', 'old', Date.now() - 60_000)).rejects.toThrow();
    expect(await a.client.get('aged')).toBe('new');
    expect(await refusedTotal(a, 'stale')).toBeGreaterThanOrEqual(1);
  });

  test('an HTTP PUT racing a newer value answers superseded: true', async () => {
    // b and c took a value from a writer whose clock is a minute ahead (within the skew); a
    // has not seen it
    const ahead = Date.now() + 60_000;
    await client.putValue(b.addr, 'raced', 'newer', ahead);
    await client.putValue(c.addr, 'raced', 'newer', ahead);
    const put = await a.client.put('raced', 'older');
    expect(put).toMatchObject({ key: 'raced', stored: 0, superseded: true });
    // the value that is current everywhere, a included
    for (const p of [a, b, c]) expect(await p.client.get('raced')).toBe('newer');
  });
});
