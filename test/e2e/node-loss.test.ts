// A node lost as a machine is lost (processes, containers and network gone at once), then
// removed by an administrator (`kubectl delete node`): its pods are recreated on the remaining
// nodes with the same peer IDs and the network's records stay readable. The file runs on real
// nodes of its own, so losing one disturbs no other file.
import { describe, expect, test } from '@jest/globals';
import {
  getRecord,
  putRecord,
  useRealStack,
  waitUntil,
  type NetworkStatus,
  type PeerStatusEntry,
} from './stack.js';
import { reachablePeers } from '../../operator/status/view.js';

const stack = useRealStack('e2e-nodeloss', { ownNodes: 3 });

describe('node loss on real nodes', () => {
  test('a lost node, once deleted, has its pods recreated elsewhere and the network recovers', async () => {
    await stack.apply(
      stack.network('sturdy', { replicas: 4, mode: 'spread', spreadPolicy: 'Preferred' }),
    );
    const before = await stack.waitReady('sturdy', 4);
    const peers = before.peers ?? [];
    for (const p of peers) expect(stack.ownNodes).toContain(p.node);
    const ids = new Map(peers.map((p) => [p.name, p.peerId]));
    for (let i = 0; i < 12; i++)
      await putRecord(peers[i % peers.length] as PeerStatusEntry, `k${i}`, `v${i}`);
    const lost = (peers[0] as PeerStatusEntry).node ?? '';
    const moved = peers.filter((p) => p.node === lost).map((p) => p.pod);
    expect(moved.length).toBeGreaterThan(0);

    stack.loseNode(lost);
    const lostAt = Date.now();
    await stack.t.kubectlOk(['delete', 'node', lost]);

    // Ready again with every peer off the lost node (the status may say Ready once before it
    // catches up with the new placement: wait for both).
    let after: NetworkStatus = {};
    await waitUntil(
      async () => {
        after = await stack.status('sturdy');
        const now = after.peers ?? [];
        return (
          after.phase === 'Ready' &&
          after.readyPeers === 4 &&
          now.length === 4 &&
          reachablePeers(now).length === now.length &&
          now.every((p) => p.node !== lost)
        );
      },
      360_000,
      `sturdy Ready again without ${lost}`,
      2000,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(after)}\n${await stack.diagnose()}`);
    });
    process.stdout.write(
      `[e2e] lost ${lost} (pods ${moved.join(', ')}): Ready elsewhere after ${Date.now() - lostAt}ms\n`,
    );
    const now = after.peers ?? [];
    for (const p of now) expect(stack.ownNodes).toContain(p.node);
    for (const p of now) expect(p.peerId).toBe(ids.get(p.name));
    const nodes = await stack.t.kubectlOk(['get', 'nodes', '-o', 'name']);
    expect(nodes.trim().split('\n')).not.toContain(`node/${lost}`);
    // Every record is read from a peer other than the one it was written on.
    for (let i = 0; i < 12; i++) {
      const reader = now[(i + 1) % now.length] as PeerStatusEntry;
      let got: string | undefined;
      await waitUntil(
        async () => (got = await getRecord(reader, `k${i}`)) !== undefined,
        30_000,
        `k${i} readable on ${reader.name}`,
      );
      expect(got).toBe(`v${i}`);
    }
  }, 600_000);
});
