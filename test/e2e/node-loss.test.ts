// A node removed: its pods are recreated on the remaining nodes and the network recovers.
import { describe, expect, test } from '@jest/globals';
import { getRecord, putRecord, useLocalStack, type PeerStatusEntry } from './stack.js';

const stack = useLocalStack('e2e-nodeloss', 3);

describe('node loss on local nodes', () => {
  test('deleting a Node moves its pods to the other nodes and the network recovers', async () => {
    await stack.apply(
      stack.network('sturdy', { replicas: 4, mode: 'spread', spreadPolicy: 'Preferred' }),
    );
    const before = await stack.waitReady('sturdy', 4);
    const peers = before.peers ?? [];
    const ids = new Map(peers.map((p) => [p.name, p.peerId]));
    for (let i = 0; i < 12; i++)
      await putRecord(peers[i % peers.length] as PeerStatusEntry, `k${i}`, `v${i}`);
    const lost = (peers[0] as PeerStatusEntry).node ?? '';
    const moved = peers.filter((p) => p.node === lost).map((p) => p.name);
    expect(moved.length).toBeGreaterThan(0);

    await stack.t.cluster.kubectl(['delete', 'node', lost]);
    let after = await stack.waitReady('sturdy', 4, 240_000);
    // Ready may be reported once before the status catches up with the new placement: wait for it.
    for (let i = 0; i < 60 && (after.peers ?? []).some((p) => p.node === lost); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await stack.waitReady('sturdy', 4);
    }
    const now = after.peers ?? [];
    expect(now.some((p) => p.node === lost)).toBe(false);
    expect(stack.nodes.nodes).not.toContain(lost);
    for (const p of now) expect(p.peerId).toBe(ids.get(p.name));
    for (let i = 0; i < 12; i++)
      expect(await getRecord(now[(i + 1) % now.length] as PeerStatusEntry, `k${i}`)).toBe(`v${i}`);
  }, 360_000);
});
