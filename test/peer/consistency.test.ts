// Reads return the newest value, and routing tables hold DHT servers only (issue 17, items 3
// and 4). Real peer processes on loopback; the hand-made records and the client-mode peer come
// from a libp2p node in this process.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { MessageType } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import { Libp2pRecord } from '@libp2p/record';
import { multiaddr } from '@multiformats/multiaddr';
import { randomBytes } from 'node:crypto';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import { sendDhtRequest } from '../../peer/dht/internals.js';
import { openValue, recordKey, sealValue } from '../../peer/dht/keys.js';
import { PeerGroup, sleep, waitFor, type PeerProcess } from '../helpers/peers.js';
import { createDhtClientNode } from '../../peer/node/client.js';

jest.setTimeout(180_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);

/** A libp2p node with kad-dht in client mode: it sends DHT requests and serves none. */
async function dhtClient(network: string) {
  const { node, dht } = await createDhtClientNode(network);
  const connect = async (p: PeerProcess) => {
    await node.dial(multiaddr(p.addr), { signal: AbortSignal.timeout(10_000) });
    return peerIdFromString(p.peerId);
  };
  return {
    node,
    /** PUT_VALUE of a hand-made record of `key` dated `timestamp` */
    async putValue(p: PeerProcess, key: string, value: string, timestamp: number): Promise<void> {
      const dhtKey = recordKey(key);
      const record = new Libp2pRecord(
        dhtKey,
        sealValue(uint8ArrayFromString(value), timestamp),
        new Date(),
      ).serialize();
      await sendDhtRequest(
        dht,
        await connect(p),
        { type: MessageType.PUT_VALUE, key: dhtKey, record },
        AbortSignal.timeout(10_000),
      );
    },
    /** the value `p` holds for `key` (GET_VALUE over the wire: its own copy, no lookup) */
    async heldBy(p: PeerProcess, key: string): Promise<string | undefined> {
      const res = await sendDhtRequest(
        dht,
        await connect(p),
        { type: MessageType.GET_VALUE, key: recordKey(key) },
        AbortSignal.timeout(10_000),
      );
      return res.record == null ? undefined : uint8ArrayToString(openValue(res.record.value).value);
    },
    async findNode(p: PeerProcess): Promise<number> {
      const res = await sendDhtRequest(
        dht,
        await connect(p),
        { type: MessageType.FIND_NODE, key: randomBytes(32) },
        AbortSignal.timeout(10_000),
      );
      return res.closer.length;
    },
  };
}

describe('reads return the newest value', () => {
  let group: PeerGroup;
  let a: PeerProcess;
  let b: PeerProcess;
  let c: PeerProcess;
  let client: Awaited<ReturnType<typeof dhtClient>>;

  beforeAll(async () => {
    group = await PeerGroup.create('newest');
    const network = `test/newest-${uniq()}`;
    a = await group.start({ name: 'a', network });
    b = await group.start({ name: 'b', network, bootstrap: [a.addr] });
    c = await group.start({ name: 'c', network, bootstrap: [a.addr] });
    await group.waitForTables([a, b, c], 2);
    client = await dhtClient(network);
  });
  afterAll(async () => {
    await client?.node.stop();
    await group?.stop();
  });

  test('a GET on a peer holding an older value answers the newer one and repairs its copy', async () => {
    await a.client.put('k', 'old');
    await waitFor('c to hold the old value', async () => (await client.heldBy(c, 'k')) === 'old');
    // a newer write that reached b and c but not a
    const newer = Date.now() + 1_000;
    await client.putValue(b, 'k', 'new', newer);
    await client.putValue(c, 'k', 'new', newer);
    expect(await client.heldBy(a, 'k')).toBe('old');

    expect(await a.client.get('k')).toBe('new');
    expect(await client.heldBy(a, 'k')).toBe('new');
  });

  test('a GET repairs the stale holders it met', async () => {
    // b and a hold 'new'; the newest reached c only
    await client.putValue(c, 'k', 'newest', Date.now() + 2_000);
    expect(await b.client.get('k')).toBe('newest');
    expect(await client.heldBy(b, 'k')).toBe('newest');
    await waitFor(
      `a's copy to be repaired (${group.logHint()})`,
      async () => (await client.heldBy(a, 'k')) === 'newest',
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  test('a GET gives a copy to the close peers it met without one', async () => {
    // the only copy sits on b; a and c are among the closest to the key (3 peers in all)
    await client.putValue(b, 'lonely', 'only-on-b', Date.now());
    expect(await client.heldBy(c, 'lonely')).toBeUndefined();
    expect(await a.client.get('lonely')).toBe('only-on-b');
    await waitFor(
      `c to be given a copy (${group.logHint()})`,
      async () => (await client.heldBy(c, 'lonely')) === 'only-on-b',
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  test('?quorum=N sets the read quorum; a bad one is a 400', async () => {
    await client.putValue(a, 'q', 'only-on-a', Date.now());
    for (const n of ['1', '3']) {
      const r = await a.client.request('GET', `/v1/records/q?quorum=${n}`);
      expect({ n, status: r.status, text: r.text }).toEqual({ n, status: 200, text: 'only-on-a' });
    }
    for (const bad of ['0', 'x', '1.5', '101']) {
      const r = await a.client.request('GET', `/v1/records/q?quorum=${bad}`);
      expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
    }
  });
});

describe('routing tables hold DHT servers only', () => {
  let group: PeerGroup;
  let p: PeerProcess;
  let q: PeerProcess;

  beforeAll(async () => {
    group = await PeerGroup.create('servers');
    const network = `test/servers-${uniq()}`;
    p = await group.start({ name: 'p', network });
    q = await group.start({ name: 'q', network, bootstrap: [p.addr] });
    await group.waitForTables([p, q], 1);
  });
  afterAll(() => group?.stop());

  test('a client-mode peer that sends FIND_NODE never enters the routing table', async () => {
    const client = await dhtClient((await p.client.status()).network);
    try {
      expect(await client.findNode(p)).toBeGreaterThanOrEqual(0);
      // the table filler adopts connected peers every 1-4 s: give it a few rounds
      for (let i = 0; i < 8; i++) {
        await sleep(1_000);
        expect((await p.client.status()).routingTable).toBe(1);
      }
      expect(client.node.getConnections().length).toBeGreaterThan(0);
    } finally {
      await client.node.stop();
    }
  });
});
