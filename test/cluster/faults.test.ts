// Faults, with the real operator process against a real control plane of its own (this file
// stops and restarts the API server, so it does not share the run's cluster):
// - the operator killed (SIGKILL) in the middle of creating a large network, then restarted,
//   converges with no duplicate or orphaned object and keeps the peer keys already made;
// - two replicas with leader election: only the Lease holder writes (proved by the API
//   server's audit log, each replica acting as its own user); the other takes over on a kill;
// - the API server stopped and started again under a running operator (with leader election):
//   it ends its term, survives, backs off, leads again and converges after.
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import type { PeerNetworkStatus } from '../../operator/api/schema.js';
import { auditWrites } from '../helpers/cluster-audit.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import {
  impersonatingKubeconfig,
  metricSum,
  startOperatorProcess,
  type OperatorProcess,
} from '../helpers/cluster-operator.js';
import { useCluster, waitUntil, type TestCluster } from '../helpers/cluster.js';

// Six nodes: the spread networks below use up to five with one pod a node.
const env = useCluster('faults', { nodes: 6 }, { own: true });
const operators: OperatorProcess[] = [];

interface PeerNetwork {
  metadata: { name: string; uid: string; generation: number };
  spec: { replicas: number };
  status?: PeerNetworkStatus;
}

interface Owned {
  metadata: { name: string; ownerReferences?: { uid: string; controller?: boolean }[] };
  data?: Record<string, string>;
}

beforeAll(async () => {
  await applyCrds(env.cluster);
}, 120_000);

// Each test's operators end with it (a leftover would lose its Lease in the API server test).
afterEach(async () => {
  await Promise.all(operators.splice(0).map((o) => o.stop(10_000)));
}, 60_000);

function start(o: Parameters<typeof startOperatorProcess>[0]): OperatorProcess {
  const p = startOperatorProcess({ logDir: `.test-output/${env.namespace}`, ...o });
  operators.push(p);
  return p;
}

async function namespace(suffix: string): Promise<string> {
  const ns = `${env.namespace}-${suffix}`;
  await env.cluster.kubectl(['create', 'namespace', ns]);
  await waitUntil(
    async () =>
      (await env.cluster.kubectl(['-n', ns, 'get', 'serviceaccount', 'default'])).code === 0,
    60_000,
    `the default ServiceAccount of ${ns}`,
  );
  return ns;
}

async function kubectlOk(t: TestCluster, args: string[], input?: string): Promise<string> {
  const r = await t.cluster.kubectl(args, input !== undefined ? { input } : {});
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function applyNetwork(
  ns: string,
  name: string,
  replicas: number,
  topology: object,
): Promise<void> {
  const doc = {
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    metadata: { name, namespace: ns },
    spec: { replicas, topology },
  };
  await kubectlOk(env, ['apply', '-f', '-'], stringify(doc));
}

async function getNetwork(ns: string, name: string): Promise<PeerNetwork> {
  return JSON.parse(
    await kubectlOk(env, ['-n', ns, 'get', 'peernetwork', name, '-o', 'json']),
  ) as PeerNetwork;
}

async function list<T>(ns: string, kind: string, selector: string): Promise<T[]> {
  const out = await kubectlOk(env, ['-n', ns, 'get', kind, '-l', selector, '-o', 'json']);
  return (JSON.parse(out) as { items: T[] }).items;
}

/** Ready, at the current generation, with `peers` ready peers. */
async function waitReady(
  ns: string,
  name: string,
  peers: number,
  timeoutMs: number,
): Promise<PeerNetwork> {
  let last: PeerNetwork | undefined;
  await waitUntil(
    async () => {
      last = await getNetwork(ns, name);
      const s = last.status;
      return (
        s?.phase === 'Ready' &&
        s.readyPeers === peers &&
        s.observedGeneration === last.metadata.generation
      );
    },
    timeoutMs,
    `${ns}/${name} Ready with ${peers} peers`,
    500,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}; last status: ${JSON.stringify(last?.status ?? {}).slice(0, 400)}`,
    );
  });
  return last!;
}

async function leaseHolder(ns: string): Promise<string> {
  const r = await env.cluster.kubectl([
    '-n',
    ns,
    'get',
    'lease',
    'peernet-operator',
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]);
  return r.code === 0 ? r.stdout.trim() : '';
}

const kwokOnly = { nodeSelector: { 'peernet.io/node-kind': 'kwok' } };

describe('the operator killed mid-reconcile', () => {
  it('converges after a restart with no duplicate or orphaned object, keeping the keys it made', async () => {
    const ns = await namespace('kill');
    const replicas = 60;
    // A slow client (5 requests/s) so the kill surely lands while pods are still being created.
    const first = start({
      kubeconfig: env.cluster.kubeconfigFor('peernet-operator'),
      identity: 'first',
      namespaces: ns,
      env: { PEERNET_OPERATOR_KUBE_QPS: '5', PEERNET_OPERATOR_KUBE_BURST: '5' },
    });
    await applyNetwork(ns, 'big', replicas, {
      mode: 'spread',
      spreadPolicy: 'Preferred',
      ...kwokOnly,
    });
    const selector = 'app.kubernetes.io/instance=big';
    await waitUntil(
      async () => (await list(ns, 'pods', selector)).length >= 10,
      120_000,
      '10 pods of big',
    );
    await first.kill();
    const podsAtKill = (await list<Owned>(ns, 'pods', selector)).length;
    const keysAtKill =
      (await list<Owned>(ns, 'secrets', selector)).find((s) => s.metadata.name === 'big-keys')
        ?.data ?? {};
    expect(podsAtKill).toBeLessThan(replicas);

    start({
      kubeconfig: env.cluster.kubeconfigFor('peernet-operator'),
      identity: 'second',
      namespaces: ns,
    });
    const pn = await waitReady(ns, 'big', replicas, 240_000);

    const pods = await list<Owned>(ns, 'pods', selector);
    const expected = Array.from({ length: replicas }, (_, i) => `big-${i}`).sort();
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(expected);
    const all = await list<Owned>(ns, 'pods,secrets,configmaps,services', selector);
    // the pods, the keys and API token Secrets, the bootstrap ConfigMap and the Service
    expect(all.length).toBe(replicas + 4);
    for (const o of all) {
      const owners = (o.metadata.ownerReferences ?? []).filter((r) => r.controller === true);
      expect({ name: o.metadata.name, owner: owners.map((r) => r.uid) }).toEqual({
        name: o.metadata.name,
        owner: [pn.metadata.uid],
      });
    }
    // Also nothing of ours without the labels (a half-made object would lack nothing else).
    const unlabelled = JSON.parse(
      await kubectlOk(env, ['-n', ns, 'get', 'pods', '-o', 'json']),
    ) as {
      items: Owned[];
    };
    expect(unlabelled.items.length).toBe(replicas);

    const secret = (await list<Owned>(ns, 'secrets', selector)).find(
      (s) => s.metadata.name === 'big-keys',
    );
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual(expected.map((n) => `${n}.key`).sort());
    for (const [k, v] of Object.entries(keysAtKill)) expect(secret?.data?.[k]).toBe(v);
    const peerIds = (pn.status?.peers ?? []).map((p) => p.peerId);
    expect(new Set(peerIds).size).toBe(replicas);
    expect(pn.status?.bootstrap?.length).toBe(replicas);
  }, 420_000);
});

describe('two operator replicas with leader election', () => {
  it('only the Lease holder writes; the other takes over when it is killed', async () => {
    const ns = await namespace('le');
    for (const user of ['operator-a', 'operator-b']) {
      await kubectlOk(env, [
        'create',
        'clusterrolebinding',
        `${ns}-${user}`,
        '--clusterrole=cluster-admin',
        `--user=${user}`,
      ]);
    }
    const dir = `${env.cluster.dir}/kubeconfigs`;
    const a = start({
      kubeconfig: impersonatingKubeconfig(
        env.cluster.kubeconfig,
        'operator-a',
        `${dir}/operator-a.kubeconfig`,
      ),
      identity: 'replica-a',
      namespaces: ns,
    });
    await waitUntil(
      async () => (await leaseHolder(ns)) === 'replica-a',
      60_000,
      'replica-a holds the Lease',
    );
    const b = start({
      kubeconfig: impersonatingKubeconfig(
        env.cluster.kubeconfig,
        'operator-b',
        `${dir}/operator-b.kubeconfig`,
      ),
      identity: 'replica-b',
      namespaces: ns,
    });
    await waitUntil(() => b.port() !== undefined, 60_000, 'replica-b started');

    const since = new Date();
    await applyNetwork(ns, 'duo', 4, { mode: 'spread', spreadPolicy: 'Preferred', ...kwokOnly });
    await waitReady(ns, 'duo', 4, 120_000);
    await kubectlOk(env, ['-n', ns, 'scale', 'peernetwork/duo', '--replicas=6']);
    await waitReady(ns, 'duo', 6, 120_000);

    expect(await leaseHolder(ns)).toBe('replica-a');
    const writes = auditWrites(env.cluster, { since, namespace: ns }).filter((w) =>
      ['operator-a', 'operator-b'].includes(w.user),
    );
    const byA = writes.filter((w) => w.user === 'operator-a' && w.resource !== 'leases');
    const byB = writes.filter((w) => w.user === 'operator-b' && w.resource !== 'leases');
    expect(byA.length).toBeGreaterThan(0);
    expect(byB).toEqual([]);
    const bMetrics = await b.metrics();
    expect(metricSum(bMetrics, 'peernet_operator_leader')).toBe(0);
    expect(metricSum(bMetrics, 'peernet_operator_reconcile_total')).toBe(0);
    expect(metricSum(await a.metrics(), 'peernet_operator_leader')).toBe(1);

    // The leader dies without releasing the Lease: the other waits for it to expire, then leads.
    await a.kill();
    await waitUntil(
      async () => (await leaseHolder(ns)) === 'replica-b',
      90_000,
      'replica-b takes the Lease',
    );
    const takeover = new Date();
    await kubectlOk(env, ['-n', ns, 'scale', 'peernetwork/duo', '--replicas=3']);
    await waitReady(ns, 'duo', 3, 120_000);
    const after = auditWrites(env.cluster, { since: takeover, namespace: ns }).filter(
      (w) => w.resource !== 'leases' && w.user.startsWith('operator-'),
    );
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((w) => w.user))).toEqual(new Set(['operator-b']));
    expect((await list<Owned>(ns, 'pods', 'app.kubernetes.io/instance=duo')).length).toBe(3);
  }, 420_000);
});

describe('the API server restarted under the operator', () => {
  it('the operator survives the outage, backs off, and converges after', async () => {
    const ns = await namespace('api');
    // With leader election, as deployed: the outage outlasts the renew deadline, so the
    // operator stops reconciling, campaigns again once the API server is back, and goes on.
    const op = start({
      kubeconfig: env.cluster.kubeconfigFor('peernet-operator'),
      identity: 'survivor',
      namespaces: ns,
    });
    await applyNetwork(ns, 'steady', 3, { mode: 'spread', ...kwokOnly });
    const before = await waitReady(ns, 'steady', 3, 120_000);

    const linesBefore = op.lines.length;
    const downAt = Date.now();
    await env.cluster.stopComponent('kube-apiserver');
    // Down for longer than the renew deadline: the operator must end its term (it cannot
    // prove it still holds the Lease), without exiting.
    await waitUntil(
      () => op.lines.slice(linesBefore).some((l) => l.msg === 'lost leadership'),
      90_000,
      'the operator to end its term during the outage',
      250,
    );
    await env.cluster.startComponent('kube-apiserver');
    const outageSeconds = (Date.now() - downAt) / 1000;
    const outageLines = op.lines.length - linesBefore;
    process.stderr.write(
      `[faults] API server down ${outageSeconds.toFixed(1)}s; the operator logged ${outageLines} lines meanwhile\n`,
    );
    expect(op.running()).toBe(true);
    await waitUntil(
      () => op.lines.slice(linesBefore).some((l) => l.msg === 'became leader'),
      120_000,
      'the operator to lead again after the restart',
    );
    // Backing off, not spinning: well under 20 log lines a second during the outage.
    expect(outageLines / outageSeconds).toBeLessThan(20);
    for (const c of env.cluster.status())
      expect({ name: c.name, running: c.running }).toEqual({ name: c.name, running: true });

    // Converges after: a scale made after the restart is carried out, and a deleted pod comes
    // back with its peer ID.
    await kubectlOk(env, ['-n', ns, 'scale', 'peernetwork/steady', '--replicas=5']);
    await waitReady(ns, 'steady', 5, 180_000);
    const idOf = (pn: PeerNetwork, pod: string): string | undefined =>
      pn.status?.peers?.find((p) => p.pod === pod)?.peerId;
    const uidBefore = JSON.parse(
      await kubectlOk(env, ['-n', ns, 'get', 'pod', 'steady-0', '-o', 'json']),
    ) as {
      metadata: { uid: string };
    };
    await kubectlOk(env, ['-n', ns, 'delete', 'pod', 'steady-0', '--wait=true']);
    await waitUntil(
      async () => {
        const r = await env.cluster.kubectl([
          '-n',
          ns,
          'get',
          'pod',
          'steady-0',
          '-o',
          'jsonpath={.metadata.uid}',
        ]);
        return r.code === 0 && r.stdout !== '' && r.stdout !== uidBefore.metadata.uid;
      },
      120_000,
      'steady-0 recreated',
    );
    const after = await waitReady(ns, 'steady', 5, 120_000);
    expect(idOf(after, 'steady-0')).toBe(idOf(before, 'steady-0'));
    expect(op.running()).toBe(true);
  }, 420_000);
});
