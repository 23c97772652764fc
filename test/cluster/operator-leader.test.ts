// Leader election against the real API server: two in-process operators campaign for one
// Lease; exactly one leads and reconciles; when it stops it releases the Lease, and the other
// takes over at once (well before the 15 s lease would expire) and keeps reconciling.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { kubeAccessFromClientNode } from '../../operator/kube/config.js';
import { createLogger } from '../../operator/logger.js';
import { createOperator, type Operator } from '../../operator/operator.js';
import { parseSettings } from '../../operator/settings.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import { useCluster, waitUntil } from '../helpers/cluster.js';

const env = useCluster('op-leader');
const operators: Operator[] = [];

interface Lease {
  spec?: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}

beforeAll(async () => {
  await applyCrds(env.cluster);
  const access = await kubeAccessFromClientNode(env.kubeConfig);
  for (const identity of ['op-a', 'op-b']) {
    const settings = parseSettings(
      [
        '--namespaces',
        env.namespace,
        '--lease-namespace',
        env.namespace,
        '--identity',
        identity,
        '--metrics-address',
        '127.0.0.1:0',
      ],
      {},
    );
    const op = createOperator({ access, logger: createLogger('warn') }, settings);
    operators.push(op);
    await op.start();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
}, 60_000);

const lease = async () =>
  JSON.parse(await env.kubectlOk(['get', 'lease', 'peernet-operator', '-o', 'json'])) as Lease;

const network = (replicas: number) =>
  stringify({
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    metadata: { name: 'led' },
    spec: {
      replicas,
      topology: {
        mode: 'spread',
        spreadPolicy: 'Preferred',
        nodeSelector: { 'peernet.io/node-kind': 'kwok' },
      },
    },
  });

test('one leader acts; a stopped leader hands over at once', async () => {
  await waitUntil(() => operators.some((o) => o.isLeader()), 30_000, 'a leader');
  const leader = operators.find((o) => o.isLeader())!;
  const standby = operators.find((o) => o !== leader)!;
  expect(standby.isLeader()).toBe(false);
  const holder = (await lease()).spec?.holderIdentity;
  expect(['op-a', 'op-b']).toContain(holder);

  await env.kubectlOk(['apply', '-f', '-'], { input: network(2) });
  await env.kubectlOk(['wait', '--for=condition=Ready', 'peernetwork/led', '--timeout=60s']);
  expect(standby.isLeader()).toBe(false);

  await leader.stop();
  // released, not left to expire: the moment stop() returns the old holder is gone from the
  // Lease (empty, or already the standby), so the standby need not wait out the 15 s lease
  expect((await lease()).spec?.holderIdentity).not.toBe(holder);
  await waitUntil(() => standby.isLeader(), 60_000, 'the standby to take over');
  const taken = await lease();
  expect(taken.spec?.holderIdentity).not.toBe(holder);
  expect(taken.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);

  await env.kubectlOk(['apply', '-f', '-'], { input: network(3) });
  await waitUntil(
    async () =>
      (await env.kubectlOk(['get', 'peernetwork', 'led', '-o', 'jsonpath={.status.readyText}'])) ===
      '3/3',
    60_000,
    'the new leader to scale the network',
  );
}, 180_000);
