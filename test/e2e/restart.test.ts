// A full restart on real nodes: the control plane (etcd, API server, controller manager,
// scheduler) stopped, every node of a durable network killed as in a power cut, then all of it
// started again. The network comes back Ready on the same nodes, with the same peer IDs, and
// every one of its 1,000 records readable: they were on the pods' volumes (spec.storage). The file
// runs on real nodes of its own, so the power cut disturbs no other file's network.
import { describe, expect, test } from '@jest/globals';
import { mapLimit } from '../../common/concurrency.js';
import type { ComponentName } from '../../cluster/components.js';
import { getRecord, putRecord, useRealStack, waitUntil, type PeerStatusEntry } from './stack.js';

const stack = useRealStack('e2e-restart', { ownNodes: 3 });
const RECORDS = 1000;
const CONTROL_PLANE: ComponentName[] = [
  'kube-scheduler',
  'kube-controller-manager',
  'kube-apiserver',
  'etcd',
];

describe('a full restart', () => {
  test('control plane and nodes restarted at once: Ready again with every record', async () => {
    const name = 'phoenix';
    await stack.apply(
      stack.network(name, { replicas: 3, mode: 'spread', extra: { storage: { size: '64Mi' } } }),
    );
    const before = await stack.waitReady(name, 3);
    const peers = before.peers!;
    for (const p of peers) expect(stack.ownNodes).toContain(p.node);
    await mapLimit(
      Array.from({ length: RECORDS }, (_, i) => i),
      8,
      (i) => putRecord(peers[i % peers.length]!, `phoenix-${i}`, `value ${i}`),
    );

    // the power cut: the nodes die (their containers with them), the control plane stops; then
    // the control plane starts, and the nodes boot
    const t0 = Date.now();
    await stack.restartOwnNodes(async () => {
      for (const c of CONTROL_PLANE) await stack.t.cluster.stopComponent(c);
      for (const c of [...CONTROL_PLANE].reverse()) await stack.t.cluster.startComponent(c);
    });

    // the status said Ready before the power cut: wait until it speaks of the pods as they are
    // now (new sandboxes, new IPs), then until it is Ready
    await waitUntil(
      async () => {
        const st = await stack.status(name);
        const out = await stack.t.kubectlOk([
          'get',
          'pods',
          '-l',
          `app.kubernetes.io/instance=${name}`,
          '-o',
          'json',
        ]);
        const ips = new Map(
          (
            JSON.parse(out) as {
              items: { metadata: { name: string }; status: { podIP?: string } }[];
            }
          ).items.map((p) => [p.metadata.name, p.status.podIP]),
        );
        return (
          (st.peers ?? []).length === 3 &&
          (st.peers ?? []).every((p) => p.ip !== undefined && p.ip === ips.get(p.pod))
        );
      },
      600_000,
      `${name}'s status naming its pods' current IPs`,
      1000,
    );
    const after = await stack.waitReady(name, 3, 600_000);
    process.stdout.write(`[e2e] full restart: Ready again after ${Date.now() - t0} ms\n`);
    const byName = new Map(after.peers!.map((p) => [p.name, p]));
    for (const p of peers) {
      expect(byName.get(p.name)?.peerId).toBe(p.peerId);
      expect(byName.get(p.name)?.node).toBe(p.node); // a local volume keeps its pod on its node
    }
    const readers = after.peers!;
    const wrong = (
      await mapLimit(
        Array.from({ length: RECORDS }, (_, i) => i),
        8,
        async (i) => {
          const reader = readers[i % readers.length] as PeerStatusEntry;
          const deadline = Date.now() + 10_000;
          for (;;) {
            try {
              const got = await getRecord(reader, `phoenix-${i}`);
              return got === `value ${i}` ? undefined : `phoenix-${i} on ${reader.name}: ${got}`;
            } catch (err) {
              if (Date.now() > deadline) return `phoenix-${i} on ${reader.name}: ${String(err)}`;
              await new Promise((r) => setTimeout(r, 500));
            }
          }
        },
      )
    ).filter((w) => w !== undefined);
    expect(wrong).toEqual([]);
  }, 1_500_000);
});
