// Reads return the newest value, and routing tables hold DHT servers only (issue 17, items 3
// and 4). Real peer processes on loopback; the hand-made records and the client-mode peer come
// from a libp2p node in this process.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { PeerGroup, sleep, waitFor, type PeerProcess } from '../helpers/peers.js';
import { createWireClient, type WireClient } from '../../peer/node/client.js';

jest.setTimeout(180_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);

describe('reads return the newest value', () => {
  let group: PeerGroup;
  let a: PeerProcess;
  let b: PeerProcess;
  let c: PeerProcess;
  let client: WireClient;

  beforeAll(async () => {
    group = await PeerGroup.create('newest');
    const network = `test/newest-${uniq()}`;
    a = await group.start({ name: 'a', network });
    b = await group.start({ name: 'b', network, bootstrap: [a.addr] });
    c = await group.start({ name: 'c', network, bootstrap: [a.addr] });
    await group.waitForTables([a, b, c], 2);
    client = await createWireClient(network);
  });
  afterAll(async () => {
    await client?.node.stop();
    await group?.stop();
  });

  test('a GET on a peer holding an older value answers the newer one and repairs its copy', async () => {
    await a.client.put('k', 'old');
    await waitFor(
      'c to hold the old value',
      async () => (await client.heldBy(c.addr, 'k')) === 'old',
    );
    // a newer write that reached b and c but not a
    const newer = Date.now() + 1_000;
    await client.putValue(b.addr, 'k', 'new', newer);
    await client.putValue(c.addr, 'k', 'new', newer);
    expect(await client.heldBy(a.addr, 'k')).toBe('old');

    expect(await a.client.get('k')).toBe('new');
    expect(await client.heldBy(a.addr, 'k')).toBe('new');
  });

  test('a GET repairs the stale holders it met', async () => {
    // b and a hold 'new'; the newest reached c only
    await client.putValue(c.addr, 'k', 'newest', Date.now() + 2_000);
    expect(await b.client.get('k')).toBe('newest');
    expect(await client.heldBy(b.addr, 'k')).toBe('newest');
    await waitFor(
      `a's copy to be repaired (${group.logHint()})`,
      async () => (await client.heldBy(a.addr, 'k')) === 'newest',
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  test('a GET gives a copy to the close peers it met without one', async () => {
    // the only copy sits on b; a and c are among the closest to the key (3 peers in all)
    await client.putValue(b.addr, 'lonely', 'only-on-b', Date.now());
    expect(await client.heldBy(c.addr, 'lonely')).toBeUndefined();
    expect(await a.client.get('lonely')).toBe('only-on-b');
    await waitFor(
      `c to be given a copy (${group.logHint()})`,
      async () => (await client.heldBy(c.addr, 'lonely')) === 'only-on-b',
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  test('?quorum=N sets the read quorum; a bad one is a 400', async () => {
    await client.putValue(a.addr, 'q', 'only-on-a', Date.now());
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
    const client = await createWireClient((await p.client.status()).network);
    try {
      expect(await client.findNode(p.addr)).toBeGreaterThanOrEqual(0);
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
