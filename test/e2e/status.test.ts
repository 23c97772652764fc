// Status tells the truth on real nodes: Ready only when every peer answers and has DHT peers,
// status.peers carries routing table size and connections, a peer process killed under the
// kubelet (SIGKILL through its node's containerd) shows up as not ready and is restarted, and a
// deleted pod's peer comes back with the same peer ID.
import { describe, expect, test } from '@jest/globals';
import { peerJson, useRealStack, waitUntil, type NetworkStatus } from './stack.js';

const stack = useRealStack('e2e-status');
// Every test starts from this network (apply is idempotent), so each runs alone too.
const truthNetwork = (): string => stack.network('truth', { replicas: 3, mode: 'spread' });

describe('PeerNetwork status on real nodes', () => {
  test('phase Ready only when every peer answers and has DHT peers', async () => {
    await stack.apply(truthNetwork());
    // Watch the whole way up: the first time the operator says Ready, every peer must agree
    // (asked directly), and every status.peers entry must be ready. Violations are collected, not
    // thrown, so a violation fails the test instead of being retried away.
    const violations: string[] = [];
    await waitUntil(
      async () => {
        const s = await stack.status('truth');
        if (s.phase !== 'Ready') return false;
        const peers = s.peers ?? [];
        if (peers.length !== 3) violations.push(`phase Ready with ${peers.length} peers in status`);
        for (const p of peers) {
          if (p.ready !== true)
            violations.push(`${p.name} not ready in status.peers while phase Ready`);
          const live = await peerJson<{ peerId: string; routingTable: number; ready: boolean }>(
            p,
            '/v1/status',
          ).catch((err: unknown) => String(err));
          if (typeof live === 'string')
            violations.push(`${p.name} does not answer while phase Ready: ${live}`);
          else if (live.peerId !== p.peerId || !live.ready || live.routingTable < 1)
            violations.push(`${p.name} while phase Ready: ${JSON.stringify(live)}`);
        }
        return true;
      },
      240_000,
      'truth Ready',
      100,
    );
    expect(violations).toEqual([]);
    // status.peers carries each peer's routing table size and connections (refreshed by the
    // operator from the peers' APIs, so they may trail the peers by one refresh).
    await waitUntil(
      async () => {
        const s = await stack.status('truth');
        return (s.peers ?? []).every((p) => (p.routingTable ?? 0) > 0 && (p.connections ?? 0) > 0);
      },
      90_000,
      'routingTable and connections > 0 for every peer in status.peers',
    );
    const s = await stack.waitReady('truth', 3);
    // spread (Required) over the shared cluster's real nodes: one pod per node
    const nodes = (s.peers ?? []).map((p) => p.node);
    for (const n of nodes) expect(stack.t.cluster.realNodes).toContain(n);
    expect(new Set(nodes).size).toBe(3);
    const conditions = (await stack.status('truth')).conditions ?? [];
    expect(conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  }, 360_000);

  test('a killed peer process shows up as not ready within seconds, then comes back', async () => {
    await stack.apply(truthNetwork());
    const before = await stack.waitReady('truth', 3);
    const victim = (before.peers ?? [])[1];
    if (victim === undefined) throw new Error('no peer to kill');
    const restartsBefore = Number(
      await stack.t.kubectlOk([
        'get',
        'pod',
        victim.pod,
        '-o',
        'jsonpath={.status.containerStatuses[0].restartCount}',
      ]),
    );
    // The peer dies under the kubelet, as a crash would: SIGKILL to its container's task.
    const { node, id } = await stack.container(victim.pod, 'peer-0');
    const killedAt = Date.now();
    await stack.ctr(node, ['tasks', 'kill', '--signal', 'SIGKILL', id]);
    let seen: NetworkStatus = {};
    await waitUntil(
      async () => {
        seen = await stack.status('truth');
        const entry = (seen.peers ?? []).find((p) => p.name === victim.name);
        return entry?.ready === false && seen.phase !== 'Ready';
      },
      30_000,
      `${victim.name} reported not ready after SIGKILL`,
      200,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(seen)}\n${await stack.diagnose()}`);
    });
    process.stdout.write(
      `[e2e] killed ${victim.name}: not ready in status after ${Date.now() - killedAt}ms\n`,
    );
    expect(seen.readyPeers).toBeLessThan(3);
    // The kubelet restarts it (restartPolicy Always) and the network is Ready again.
    const after = await stack.waitReady('truth', 3);
    expect((after.peers ?? []).find((p) => p.name === victim.name)?.peerId).toBe(victim.peerId);
    const restarts = await stack.t.kubectlOk([
      'get',
      'pod',
      victim.pod,
      '-o',
      'jsonpath={.status.containerStatuses[0].restartCount}',
    ]);
    expect(Number(restarts)).toBeGreaterThan(restartsBefore);
  }, 360_000);

  test('a deleted pod comes back with the same peer ID', async () => {
    await stack.apply(truthNetwork());
    const before = await stack.waitReady('truth', 3);
    const victim = (before.peers ?? [])[2];
    if (victim === undefined) throw new Error('no peer to delete');
    const uid = await stack.t.kubectlOk([
      'get',
      'pod',
      victim.pod,
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    await stack.t.kubectlOk(['delete', 'pod', victim.pod, '--wait=true', '--timeout=120s']);
    await waitUntil(
      async () => {
        const r = await stack.t.kubectl([
          'get',
          'pod',
          victim.pod,
          '-o',
          'jsonpath={.metadata.uid}',
        ]);
        return r.code === 0 && r.stdout !== '' && r.stdout !== uid;
      },
      60_000,
      `a new pod ${victim.pod}`,
    );
    const after = await stack.waitReady('truth', 3);
    const back = (after.peers ?? []).find((p) => p.name === victim.name);
    expect(back?.peerId).toBe(victim.peerId);
    // and the peer itself says so
    expect((await peerJson<{ peerId: string }>(back ?? victim, '/v1/status')).peerId).toBe(
      victim.peerId,
    );
  }, 360_000);
});
