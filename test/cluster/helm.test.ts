// `helm install` of charts/peernet-operator with its defaults (a cluster-wide operator), into a
// private cluster with a real node whose containerd holds the images built from our
// Dockerfiles: the chart itself creates the CRD (a fresh cluster has none), its Deployment's pod
// really runs the operator image and becomes Ready, and that operator reconciles a network in
// another namespace on the real node, with no permission error. Then its ServiceAccount is
// refused (by impersonation) what the chart's RBAC does not grant.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';
import type { Cluster } from '../../cluster/index.js';
import { buildImages } from '../../cluster/images/index.js';
import { acquireCluster, releaseCluster } from '../helpers/cluster-acquire.js';
import { chartFullname, installChart, uninstallChart } from '../helpers/chart.js';
import { kubectlOkOn, needCluster, waitUntil } from '../helpers/cluster.js';

const release = 'peernet';
const namespace = 'peernet-system';
const netNamespace = 'charted-net';
let cluster: Cluster | undefined;

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec?: { serviceAccountName?: string } } };
}
let manifest: K8sObject[] = [];

const need = (): Cluster => needCluster(cluster);
const kubectlOk = (args: string[], input?: string): Promise<string> =>
  kubectlOkOn(need(), args, input);

beforeAll(async () => {
  const progress = (line: string): void => void process.stderr.write(`[helm test] ${line}\n`);
  // cached: seconds when the sources did not change (the global setup built them already)
  const images = await buildImages({ onProgress: progress });
  ({ cluster } = await acquireCluster(
    { nodes: 0, realNodes: 1, images: [images.peer.archive, images.operator.archive] },
    { own: true },
  ));
  // What a user types: no --set at all.
  await installChart(cluster, { release, namespace, createNamespace: true, timeoutSeconds: 300 });
  const m = await cluster.helm(['get', 'manifest', release, '--namespace', namespace]);
  manifest = parseAllDocuments(m.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}, 30 * 60_000);

afterAll(async () => {
  if (cluster === undefined) return;
  await uninstallChart(cluster, release, namespace).catch(() => undefined);
  await releaseCluster(cluster);
}, 300_000);

function one(kind: string): K8sObject {
  const found = manifest.filter((o) => o.kind === kind);
  expect(found.length).toBeGreaterThan(0);
  return found[0]!;
}

interface PodView {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: {
    podIP?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ ready: boolean; image: string; restartCount: number }>;
  };
}

async function operatorPod(): Promise<PodView> {
  const out = await kubectlOk([
    '-n',
    namespace,
    'get',
    'pods',
    '-l',
    `app.kubernetes.io/instance=${release}`,
    '-o',
    'json',
  ]);
  const pods = (JSON.parse(out) as { items: PodView[] }).items;
  expect(pods).toHaveLength(1);
  return pods[0]!;
}

describe('helm install of charts/peernet-operator', () => {
  it('creates the CRD, the ServiceAccount, least-privilege RBAC and the Deployment', async () => {
    const c = need();
    const crd = await c.kubectl(['get', 'crd', 'peernetworks.peernet.io', '-o', 'name']);
    expect(crd.stdout.trim()).toBe(
      'customresourcedefinition.apiextensions.k8s.io/peernetworks.peernet.io',
    );
    for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment']) {
      const o = one(kind);
      const ns = o.metadata.namespace ?? namespace;
      const args = ['get', kind.toLowerCase(), o.metadata.name, '-o', 'name'];
      const r = await c.kubectl(kind.startsWith('Cluster') ? args : ['-n', ns, ...args]);
      expect({ kind, code: r.code, err: r.stderr }).toEqual({ kind, code: 0, err: '' });
    }
    // No wildcard anywhere in the chart's RBAC.
    const roles = await c.kubectl([
      'get',
      'clusterrole',
      one('ClusterRole').metadata.name,
      '-o',
      'json',
    ]);
    expect(roles.stdout).not.toContain('"*"');
  });

  it("runs the operator image in the Deployment's pod on the real node, Ready and serving /readyz", async () => {
    const c = need();
    const d = one('Deployment');
    expect(d.metadata.name).toBe(chartFullname(release));
    const available = await kubectlOk([
      '-n',
      namespace,
      'get',
      'deployment',
      d.metadata.name,
      '-o',
      'jsonpath={.status.availableReplicas}',
    ]);
    expect(available).toBe('1');
    const pod = await operatorPod();
    expect(c.realNodes).toContain(pod.spec.nodeName);
    expect(pod.status.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
    expect(pod.status.containerStatuses?.[0]).toEqual(
      expect.objectContaining({ ready: true, image: expect.stringMatching(/peernet\/operator:/) }),
    );
    // The pod address is routable from this machine: the probes' endpoints and the metrics.
    const base = `http://${pod.status.podIP ?? 'no-ip'}:8080`;
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
    expect(ready.status).toBe(200);
    const metrics = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(metrics.status).toBe(200);
    // Its log, through the kubelet: started, watching every namespace.
    const logs = await kubectlOk(['-n', namespace, 'logs', pod.metadata.name]);
    const started = logs.split('\n').find((l) => l.includes('"peernet-operator started"'));
    expect(JSON.parse(started ?? '{}')).toEqual(expect.objectContaining({ namespaces: 'all' }));
  }, 120_000);
});

describe("the operator under the chart's RBAC", () => {
  it('reconciles a network in another namespace on the real node, with no permission error', async () => {
    const c = need();
    await kubectlOk(['create', 'namespace', netNamespace]);
    await waitUntil(
      async () => (await c.kubectl(['-n', netNamespace, 'get', 'sa', 'default'])).code === 0,
      60_000,
      'the default ServiceAccount',
    );
    const pn = {
      apiVersion: 'peernet.io/v1alpha1',
      kind: 'PeerNetwork',
      metadata: { name: 'charted', namespace: netNamespace },
      spec: {
        replicas: 3,
        topology: {
          mode: 'spread',
          spreadPolicy: 'Preferred',
          nodeSelector: { 'peernet.io/node-kind': 'real' },
        },
      },
    };
    const apply = await c.kubectl(['apply', '-f', '-'], { input: stringify(pn) });
    expect(apply.stderr).toBe('');
    let last = '';
    await waitUntil(
      async () => {
        const r = await c.kubectl([
          '-n',
          netNamespace,
          'get',
          'pn',
          'charted',
          '-o',
          'jsonpath={.status.phase} {.status.readyPeers}',
        ]);
        last = r.stdout;
        return r.stdout === 'Ready 3';
      },
      300_000,
      'the network Ready under the chart RBAC',
      500,
    ).catch(async (err: Error) => {
      const pods = await c.kubectl(['-n', netNamespace, 'get', 'pods', '-o', 'wide']);
      const log = await c.kubectl([
        '-n',
        namespace,
        'logs',
        'deployment/' + chartFullname(release),
        '--tail=30',
      ]);
      throw new Error(`${err.message}; last: "${last}"\n${pods.stdout}\n${log.stdout}`);
    });
    const children = await kubectlOk([
      '-n',
      netNamespace,
      'get',
      'pods,secrets,configmaps,services',
      '-l',
      'app.kubernetes.io/instance=charted',
      '-o',
      'name',
    ]);
    expect(children.trim().split('\n').sort()).toEqual([
      'configmap/charted-bootstrap',
      'pod/charted-0',
      'pod/charted-1',
      'pod/charted-2',
      'secret/charted-api-token',
      'secret/charted-keys',
      'service/charted-peers',
    ]);
    // The peers really run there and found each other.
    const status = JSON.parse(
      await kubectlOk(['-n', netNamespace, 'get', 'pn', 'charted', '-o', 'json']),
    ) as { status: { peers: Array<{ name: string; ip?: string; node?: string }> } };
    for (const p of status.status.peers) {
      expect(c.realNodes).toContain(p.node);
      const res = await fetch(`http://${p.ip ?? 'no-ip'}:5001/v1/status`, {
        signal: AbortSignal.timeout(10_000),
      });
      const live = (await res.json()) as { ready: boolean; routingTable: number };
      expect({ peer: p.name, ready: live.ready, known: live.routingTable > 0 }).toEqual({
        peer: p.name,
        ready: true,
        known: true,
      });
    }
    // The Lease of the chart's leader election, held by the operator's pod.
    const pod = await operatorPod();
    const leaseHolder = await kubectlOk([
      '-n',
      namespace,
      'get',
      'lease',
      'peernet-operator',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    expect(leaseHolder).toBe(pod.metadata.name);
    const logs = await kubectlOk(['-n', namespace, 'logs', pod.metadata.name]);
    expect(logs.split('\n').filter((l) => /forbidden/i.test(l))).toEqual([]);
    expect(pod.status.containerStatuses?.[0]?.restartCount).toBe(0);
  }, 420_000);

  it('is refused what its role does not grant', async () => {
    const c = need();
    const sa = one('ServiceAccount').metadata.name;
    const as = `system:serviceaccount:${namespace}:${sa}`;
    // [verb, resource, extra flags]
    const denied: [string, string, string[]][] = [
      ['delete', 'nodes', []],
      ['create', 'deployments.apps', ['-n', namespace]],
      ['create', 'clusterrolebindings', []],
      ['delete', 'customresourcedefinitions', []],
      ['update', 'peernetworks.peernet.io', ['-n', 'default']],
      ['delete', 'secrets', ['-n', 'kube-system']],
      ['update', 'leases.coordination.k8s.io', ['-n', 'kube-system']],
      ['create', 'pods', ['--subresource=exec', '-n', 'default']],
    ];
    for (const [verb, resource, flags] of denied) {
      const r = await c.kubectl(['auth', 'can-i', verb, resource, ...flags, '--as', as]);
      expect({ verb, resource, answer: r.stdout.trim() }).toEqual({ verb, resource, answer: 'no' });
    }
    // And a real request, not only the question: deleting the node is Forbidden, the node stays.
    const node = c.realNodes[0] ?? 'real-node-1';
    const del = await c.kubectl(['delete', 'node', node, '--as', as]);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('Forbidden');
    expect((await c.kubectl(['get', 'node', node, '-o', 'name'])).stdout.trim()).toBe(
      `node/${node}`,
    );
    // What it does need is granted.
    for (const [verb, resource, flags] of [
      ['create', 'pods', []],
      ['update', 'peernetworks.peernet.io', ['--subresource=status']],
      ['watch', 'nodes', []],
    ] as const) {
      const r = await c.kubectl([
        'auth',
        'can-i',
        verb,
        resource,
        ...flags,
        '-n',
        'default',
        '--as',
        as,
      ]);
      expect({ verb, resource, answer: r.stdout.trim() }).toEqual({
        verb,
        resource,
        answer: 'yes',
      });
    }
  });
});
