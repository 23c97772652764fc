// Status tells the truth: Ready only when every peer answers and has DHT peers, status.peers
// carries routing table size and connections, and a killed peer shows up as not ready.
import { describe, expect, test } from '@jest/globals';
import { peerJson, useLocalStack, waitUntil, type NetworkStatus } from './stack.js';

const stack = useLocalStack('e2e-status', 3);

describe('PeerNetwork status on local nodes', () => {
  test('phase Ready only when every peer answers and has DHT peers', async () => {
    await stack.apply(stack.network('truth', { replicas: 3, mode: 'spread' }));
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
      180_000,
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
    for (const p of s.peers ?? []) expect(p.node).toMatch(new RegExp(`^${stack.namespace}-n\\d+$`));
    const conditions = (await stack.status('truth')).conditions ?? [];
    expect(conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  }, 240_000);

  test('a killed peer process shows up as not ready within seconds, then comes back', async () => {
    const before = await stack.waitReady('truth', 3);
    const victim = (before.peers ?? [])[1];
    if (victim === undefined) throw new Error('no peer to kill');
    const pid = stack.nodes.pod(stack.namespace, victim.pod)?.pids['peer-0'];
    if (pid === undefined) throw new Error(`no process for ${victim.pod}`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    let seen: NetworkStatus = {};
    await waitUntil(
      async () => {
        seen = await stack.status('truth');
        const entry = (seen.peers ?? []).find((p) => p.name === victim.name);
        return entry?.ready === false && seen.phase !== 'Ready';
      },
      20_000,
      `${victim.name} reported not ready after SIGKILL`,
      200,
    );
    process.stdout.write(
      `[e2e] killed ${victim.name}: not ready in status after ${Date.now() - killedAt}ms\n`,
    );
    expect(seen.readyPeers).toBeLessThan(3);
    // The runtime restarts it (restartPolicy Always) and the network is Ready again.
    const after = await stack.waitReady('truth', 3);
    expect((after.peers ?? []).find((p) => p.name === victim.name)?.peerId).toBe(victim.peerId);
    const pod = await stack.t.kubectlOk([
      'get',
      'pod',
      victim.pod,
      '-o',
      'jsonpath={.status.containerStatuses[0].restartCount}',
    ]);
    expect(Number(pod)).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
