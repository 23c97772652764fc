// A full restart on real nodes: the control plane (etcd, API server, controller manager,
// scheduler) stopped, every node of a durable network killed as in a power cut, then all of it
// started again. The network comes back Ready on the same nodes, with the same peer IDs, and
// every one of its 1,000 records readable: they were on the pods' volumes (spec.storage). The file
// runs on real nodes of its own, so the power cut disturbs no other file's network.
import { describe, expect, test } from '@jest/globals';
import { mapLimit } from '../../common/concurrency.js';
import type { ComponentName } from '../../cluster/components.js';
import { networkReady } from '../../operator/status/view.js';
import {
  getRecord,
  putRecord,
  unreadableRecords,
  useRealStack,
  waitUntil,
  type NetworkStatus,
} from './stack.js';

interface Pod {
  metadata: { name: string };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { state?: { running?: { startedAt?: string } } }[];
  };
}

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

    // The status said Ready before the power cut, and for a while after it the API server still
    // shows the pods as they were (old IPs): wait until every pod runs a container started after
    // the cut and is Ready, and the status names those pods' IPs and is Ready.
    let after: NetworkStatus = {};
    await waitUntil(
      async () => {
        after = await stack.status(name);
        const pods = await stack.childrenOf<Pod>('pods', name);
        const ips = new Map(pods.map((p) => [p.metadata.name, p.status.podIP]));
        const restarted = pods.every(
          (p) =>
            p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
            (p.status.containerStatuses ?? []).length > 0 &&
            (p.status.containerStatuses ?? []).every(
              (c) => Date.parse(c.state?.running?.startedAt ?? '') >= t0 - 1000,
            ),
        );
        return (
          pods.length === 3 &&
          restarted &&
          networkReady(after, 3) &&
          (after.peers ?? []).every((p) => p.ip !== undefined && p.ip === ips.get(p.pod))
        );
      },
      600_000,
      `${name} Ready again, its status naming its restarted pods`,
      1000,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(after)}\n${await stack.diagnose()}`);
    });
    process.stdout.write(`[e2e] full restart: Ready again after ${Date.now() - t0} ms\n`);
    const byName = new Map((after.peers ?? []).map((p) => [p.name, p]));
    for (const p of peers) {
      expect(byName.get(p.name)?.peerId).toBe(p.peerId);
      expect(byName.get(p.name)?.node).toBe(p.node); // a local volume keeps its pod on its node
    }
    const readers = after.peers!;
    // each peer answers at its address at all (else the reads below would each wait out a timeout)
    for (const r of readers) expect(await getRecord(r, 'phoenix-0')).toBe('value 0');
    const records = new Map(
      Array.from({ length: RECORDS }, (_, i): [string, string] => [`phoenix-${i}`, `value ${i}`]),
    );
    expect(await unreadableRecords(readers, records)).toEqual([]);
  }, 1_500_000);
});
