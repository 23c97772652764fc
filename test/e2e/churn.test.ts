// Churn and scale down through the operator on real nodes: pods deleted with kubectl come back
// with the same peer IDs (identity kept across pod deletion) and rejoin; records stay readable
// throughout, also those held by the peers a scale down removes (handoff).
import { describe, expect, test } from '@jest/globals';
import {
  putRecord,
  unreadableRecords,
  useRealStack,
  waitUntil,
  type PeerStatusEntry,
} from './stack.js';

const stack = useRealStack('e2e-churn');
// Both tests start from this network (apply is idempotent), so either runs alone.
const churnNetwork = (): string =>
  stack.network('churn', { replicas: 6, mode: 'spread', spreadPolicy: 'Preferred' });

async function putMany(
  peers: PeerStatusEntry[],
  prefix: string,
  n: number,
): Promise<Map<string, string>> {
  const records = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const peer = peers[i % peers.length] as PeerStatusEntry;
    const key = `${prefix}-${i}`;
    const value = `value ${i} via ${peer.name}`;
    await putRecord(peer, key, value);
    records.set(key, value);
  }
  return records;
}

// A connection that fails outright ("fetch failed": nothing listening at that moment, e.g. a
// peer whose pod was just recreated under heavy load) is retried for a few seconds; any answer
// the peer does give (a 404, a wrong value, another error) counts at once.
describe('churn and scale on real nodes', () => {
  test('delete a third of the pods: same peer IDs come back, rejoin, records readable throughout', async () => {
    await stack.apply(churnNetwork());
    const before = await stack.waitReady('churn', 6);
    const peers = before.peers ?? [];
    const ids = new Map(peers.map((p) => [p.name, p.peerId]));
    const records = await putMany(peers, 'churn', 24);
    expect(await unreadableRecords(peers, records)).toEqual([]);

    const victims = [peers[1], peers[4]].map((p) => (p as PeerStatusEntry).pod);
    const survivors = peers.filter((p) => !victims.includes(p.pod));
    const oldUids = new Set(
      (
        await stack.t.kubectlOk([
          'get',
          'pods',
          ...victims,
          '-o',
          'jsonpath={.items[*].metadata.uid}',
        ])
      ).split(' '),
    );
    await stack.t.kubectlOk(['delete', 'pod', ...victims, '--wait=false']);

    // Read everything from the survivors while the deleted pods go and come back.
    let rounds = 0;
    const failures: string[] = [];
    await waitUntil(
      async () => {
        failures.push(...(await unreadableRecords(survivors, records)));
        rounds++;
        const s = await stack.status('churn');
        const back = (s.peers ?? []).filter((p) => victims.includes(p.pod));
        const pods = JSON.parse(
          await stack.t.kubectlOk(['get', 'pods', ...victims, '-o', 'json']),
        ) as { items: Array<{ metadata: { uid: string }; status: { phase?: string } }> };
        return (
          s.phase === 'Ready' &&
          s.readyPeers === 6 &&
          back.length === 2 &&
          back.every((p) => p.ready === true) &&
          pods.items.length === 2 &&
          pods.items.every((p) => p.status.phase === 'Running' && !oldUids.has(p.metadata.uid))
        );
      },
      240_000,
      'the deleted pods back and the network Ready',
      500,
    );
    expect(failures).toEqual([]);
    expect(rounds).toBeGreaterThan(0);

    const after = await stack.waitReady('churn', 6);
    for (const p of after.peers ?? []) expect(p.peerId).toBe(ids.get(p.name));
    const returned = (after.peers ?? []).filter((p) => victims.includes(p.pod));
    // the operator asks each peer for its table on its own schedule: Ready comes first
    await waitUntil(
      async () => {
        const s = await stack.status('churn');
        const back = (s.peers ?? []).filter((p) => victims.includes(p.pod));
        return back.length === 2 && back.every((p) => (p.routingTable ?? 0) > 0);
      },
      60_000,
      'the returned peers with routing tables in the status',
    );
    // The returned peers read every record too.
    expect(await unreadableRecords(returned, records)).toEqual([]);
  }, 420_000);

  test('scale 6 -> 3: records held by the removed peers are still readable', async () => {
    await stack.apply(churnNetwork());
    const before = await stack.waitReady('churn', 6);
    const records = await putMany(before.peers ?? [], 'scale', 24);
    await stack.t.kubectlOk(['scale', 'peernetwork/churn', '--replicas=3']);
    const after = await stack.waitReady('churn', 3);
    const remaining = after.peers ?? [];
    expect(remaining.map((p) => p.pod).sort()).toEqual(['churn-0', 'churn-1', 'churn-2']);
    await waitUntil(
      async () => {
        // (the operator's pod lives in this namespace too)
        const pods = await stack.t.kubectlOk([
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/instance=churn',
          '-o',
          'name',
        ]);
        return (
          pods
            .trim()
            .split('\n')
            .filter((l) => l !== '').length === 3
        );
      },
      180_000,
      'three pods left',
    );
    expect(await unreadableRecords(remaining, records)).toEqual([]);
  }, 420_000);
});
