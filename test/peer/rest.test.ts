// A network at rest: once the peers know each other, their table filling stops asking (no
// FIND_NODE while nobody uses the network) and starts again when the network changes.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { PeerGroup, waitFor, type PeerProcess } from '../helpers/peers.js';

jest.setTimeout(240_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);

/** FIND_NODE requests `p` has received since it started */
async function findNodesServed(p: PeerProcess): Promise<number> {
  const text = (await p.client.request('GET', '/metrics')).text;
  const m = /^peernet_dht_requests_received_total\{type="FIND_NODE"\} (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

describe('a network at rest', () => {
  const N = 5;
  let group: PeerGroup;
  const network = `test/rest-${uniq()}`;
  let peers: PeerProcess[];

  beforeAll(async () => {
    group = await PeerGroup.create('rest');
    peers = await group.startMany(N, { network, prefix: 'r' });
    await group.waitForTables(peers, N - 1);
  });
  afterAll(() => group?.stop());

  test('sends no FIND_NODE once the peers know each other, and fills again when a peer joins', async () => {
    // tables of 4 stay "small" (< 20): the filler used to ask every 4 s for good
    const served = async (): Promise<number> =>
      (await Promise.all(peers.map(findNodesServed))).reduce((a, b) => a + b, 0);
    let before = -1; // (the first check only takes the count)
    await waitFor(
      `10 s without a FIND_NODE among ${N} peers at rest (${group.logHint()})`,
      async () => {
        const now = await served();
        const quiet = now === before;
        before = now;
        return quiet;
      },
      { timeoutMs: 120_000, intervalMs: 10_000 },
    );

    const late = await group.start({
      name: 'r-late',
      network,
      bootstrap: [peers[0]!.addr],
    });
    await group.waitForTables([...peers, late], N);
    expect((await late.client.status()).routingTable).toBe(N);
  });
});
