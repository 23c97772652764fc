// Records outlive the peers that took them: replication under churn, hand-off on SIGTERM, and
// the on-disk store across a restart.
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { PeerGroup, makeKey, waitFor, type PeerProcess } from '../helpers/peers.js';
import { mapLimit } from '../../common/concurrency.js';

jest.setTimeout(240_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);

describe('replication under churn', () => {
  const N = 9;
  const RECORDS = 20;
  let group: PeerGroup;
  let peers: PeerProcess[];

  beforeAll(async () => {
    group = await PeerGroup.create('churn');
    peers = await group.startMany(N, { network: `test/churn-${uniq()}`, prefix: 'c' });
    await group.waitForTables(peers, N - 1);
  });
  afterAll(() => group?.stop());

  test('every record stays readable from every survivor after a third of the peers die', async () => {
    // the PUTs go through the three peers that will be killed, the bootstrap peer among them
    const doomed = peers.slice(0, N / 3);
    const survivors = peers.slice(N / 3);
    for (let i = 0; i < RECORDS; i++) {
      await doomed[i % doomed.length]!.client.put(`churn-${i}`, `value-${i}`);
    }
    // abrupt: no hand-off, so only replication can save the records
    await Promise.all(doomed.map((p) => p.kill()));

    for (const q of survivors) {
      for (let i = 0; i < RECORDS; i++) {
        const v = await waitFor(
          `${q.name} to GET churn-${i} after the churn (${group.logHint()})`,
          () => q.client.get(`churn-${i}`),
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        expect(v).toBe(`value-${i}`);
      }
    }
  });
});

describe('graceful SIGTERM hands records off', () => {
  let group: PeerGroup;
  afterEach(() => group?.stop());

  test('records held only by a leaving peer are readable from the others after it exits 0', async () => {
    group = await PeerGroup.create('handoff');
    const network = `test/handoff-${uniq()}`;
    // alone, the first peer is the only holder of what it takes
    const holder = await group.start({ name: 'holder', network });
    for (let i = 0; i < 5; i++) await holder.client.put(`handoff-${i}`, `kept-${i}`);

    const others = await Promise.all(
      [0, 1, 2].map((i) => group.start({ name: `o${i}`, network, bootstrap: [holder.addr] })),
    );
    await group.waitForTables([holder, ...others], 3);

    const exit = await holder.stop(30_000);
    expect({ exit, log: holder.logPath }).toEqual({
      exit: { code: 0, signal: null },
      log: holder.logPath,
    });

    for (const q of others) {
      for (let i = 0; i < 5; i++) {
        const v = await waitFor(
          `${q.name} to GET handoff-${i} after the holder left (${group.logHint()})`,
          () => q.client.get(`handoff-${i}`),
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        expect(v).toBe(`kept-${i}`);
      }
    }
  });

  test('POST /v1/drain reports the records it handed off, then refuses writes', async () => {
    group = await PeerGroup.create('drain');
    const network = `test/drain-${uniq()}`;
    const holder = await group.start({ name: 'holder', network });
    // more than one handoff batch (2000 records) goes to the other peer
    const n = 2500;
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      16,
      (i) => holder.client.put(`drain-${i}`, `v${i}`),
    );
    const other = await group.start({ name: 'other', network, bootstrap: [holder.addr] });
    await group.waitForTables([holder, other], 1);

    const { handedOff } = await holder.client.drain();
    expect(handedOff).toBe(n);
    expect((await other.client.status()).records).toBe(n);
    for (const i of [0, 1999, 2000, n - 1]) {
      expect(await other.client.get(`drain-${i}`)).toBe(`v${i}`);
    }

    const r = await holder.client.request('PUT', '/v1/records/after-drain', 'x');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(r.text)).toEqual({ error: expect.any(String) });
  });
});

describe('--data-dir', () => {
  let group: PeerGroup;
  afterEach(() => group?.stop());

  test('records and identity survive a restart of a lone peer', async () => {
    group = await PeerGroup.create('data-dir');
    const key = await makeKey(group.path('lone.key'));
    const opts = {
      network: `test/datadir-${uniq()}`,
      keyFile: key.path,
      dataDir: group.path('data'),
    };
    const first = await group.start({ ...opts, name: 'lone-1' });
    expect(first.peerId).toBe(key.peerId);
    for (let i = 0; i < 5; i++) await first.client.put(`disk-${i}`, `on disk ${i}`);
    expect((await first.stop()).code).toBe(0);

    const second = await group.start({ ...opts, name: 'lone-2' });
    expect(second.peerId).toBe(key.peerId);
    for (let i = 0; i < 5; i++) {
      expect({ v: await second.client.get(`disk-${i}`), log: second.logPath }).toEqual({
        v: `on disk ${i}`,
        log: second.logPath,
      });
    }
  });

  test('without --data-dir a restarted lone peer starts empty', async () => {
    group = await PeerGroup.create('no-data-dir');
    const key = await makeKey(group.path('lone.key'));
    const opts = { network: `test/memonly-${uniq()}`, keyFile: key.path };
    const first = await group.start({ ...opts, name: 'mem-1' });
    await first.client.put('volatile', 'gone after restart');
    await first.stop();
    const second = await group.start({ ...opts, name: 'mem-2' });
    expect(await second.client.get('volatile')).toBeUndefined();
  });
});

describe('a writer asks the closest peer it knows to copy on (replicate protocol)', () => {
  let group: PeerGroup;
  afterEach(() => group?.stop());

  test('copies reach the closest peers the writer did not send to itself', async () => {
    group = await PeerGroup.create('forward');
    const network = `test/forward-${uniq()}`;
    // Every peer keeps 4 copies; the writer places 1 itself. Without the request, the record
    // would sit on the writer and its single closest peer only.
    const others = await group.startMany(6, { network, prefix: 'f', args: ['--replication', '4'] });
    const writer = await group.start({
      name: 'f-writer',
      network,
      bootstrap: [others[0]!.addr],
      args: ['--replication', '1'],
    });
    await group.waitForTables([writer, ...others], 6);

    const holders = async (key: string): Promise<number> => {
      let n = 0;
      for (const p of others) {
        const res = await fetch(`${p.client.baseUrl}/v1/records/${key}`);
        await res.text();
        if (res.status === 200 && res.headers.get('x-peernet-from') === 'local') n++;
      }
      return n;
    };
    for (let i = 0; i < 5; i++) await writer.client.put(`fwd-${i}`, `value-${i}`);
    // the writer's closest peer (1 copy) plus the 4 closest that peer knows, but for the writer:
    // 4 or 5 of the 6 others hold each record
    for (let i = 0; i < 5; i++) {
      await waitFor(
        `fwd-${i} on at least 4 of the others (${group.logHint()})`,
        async () => ((await holders(`fwd-${i}`)) >= 4 ? true : undefined),
        { timeoutMs: 15_000, intervalMs: 300 },
      );
    }
    let forwarded = 0;
    for (const p of others) {
      const text = await (await fetch(`${p.client.baseUrl}/metrics`)).text();
      const m = /^peernet_records_forwarded_total (\d+)/m.exec(text);
      forwarded += Number(m?.[1] ?? 0);
    }
    expect(forwarded).toBeGreaterThanOrEqual(5 * 3);
  });
});
