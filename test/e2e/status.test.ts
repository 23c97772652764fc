// Status tells the truth: Ready only when every peer answers and has DHT peers, status.peers
// carries routing table size and connections, and a killed peer shows up as not ready.
import { describe, expect, test } from '@jest/globals';
import { peerJson, useLocalStack, waitUntil, type NetworkStatus } from './stack.js';

const stack = useLocalStack('e2e-status', 3);

describe('PeerNetwork status on local nodes', () => {
  test('phase Ready only when every peer answers and has DHT peers', async () => {
    await stack.apply(stack.network('truth', { replicas: 3, mode: 'spread' }));
    // Watch the whole way up: each time the operator says Ready, every peer must agree.
    let checkedReady = 0;
    await waitUntil(
      async () => {
        const s = await stack.status('truth');
        if (s.phase !== 'Ready') return false;
        const peers = s.peers ?? [];
        expect(peers).toHaveLength(3);
        for (const p of peers) {
          expect(p.ready).toBe(true);
          const live = await peerJson<{
            peerId: string;
            routingTable: number;
            connections: number;
            ready: boolean;
          }>(p, '/v1/status');
          expect(live.peerId).toBe(p.peerId);
          expect(live.ready).toBe(true);
          expect(live.routingTable).toBeGreaterThan(0);
        }
        checkedReady++;
        return true;
      },
      180_000,
      'truth Ready',
    );
    expect(checkedReady).toBe(1);
    const s = await stack.waitReady('truth', 3);
    for (const p of s.peers ?? []) {
      expect(p.routingTable).toBeGreaterThan(0);
      expect(p.connections).toBeGreaterThan(0);
      expect(p.node).toMatch(new RegExp(`^${stack.namespace}-n\\d+$`));
    }
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
