// `helm install` of charts/peernet-operator into a real control plane (a private one, so the
// chart itself is what creates the CRD), then the operator run locally as exactly the chart's
// ServiceAccount (kubeconfig `as: system:serviceaccount:<ns>:<sa>`) with the Deployment's own
// flags: it reconciles a network (the RBAC is sufficient) and is refused what it must not do.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, stringify } from 'yaml';
import {
  impersonatingKubeconfig,
  startOperatorProcess,
  type OperatorProcess,
} from '../helpers/cluster-operator.js';
import { useCluster, waitUntil } from '../helpers/cluster.js';

const chart = fileURLToPath(new URL('../../../charts/peernet-operator', import.meta.url));
const env = useCluster('helm', {}, { own: true });
const release = 'peernet';
let operator: OperatorProcess | undefined;

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    template?: { spec?: { serviceAccountName?: string; containers?: { args?: string[] }[] } };
  };
}

let manifest: K8sObject[] = [];

afterAll(async () => {
  await operator?.stop(10_000);
}, 30_000);

beforeAll(async () => {
  const r = await env.cluster.helm([
    'install',
    release,
    chart,
    '--namespace',
    env.namespace,
    '--wait',
    '--timeout',
    '180s',
  ]);
  if (r.code !== 0) throw new Error(`helm install failed: ${r.stderr}`);
  const m = await env.cluster.helm(['get', 'manifest', release, '--namespace', env.namespace]);
  manifest = parseAllDocuments(m.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}, 300_000);

function one(kind: string): K8sObject {
  const found = manifest.filter((o) => o.kind === kind);
  expect(found.length).toBeGreaterThan(0);
  return found[0]!;
}

describe('helm install of charts/peernet-operator', () => {
  it('creates the CRD, the ServiceAccount, least-privilege RBAC and the Deployment', async () => {
    const crd = await env.cluster.kubectl(['get', 'crd', 'peernetworks.peernet.io', '-o', 'name']);
    expect(crd.stdout.trim()).toBe(
      'customresourcedefinition.apiextensions.k8s.io/peernetworks.peernet.io',
    );
    for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment']) {
      const o = one(kind);
      const ns = o.metadata.namespace ?? env.namespace;
      const args = ['get', kind.toLowerCase(), o.metadata.name, '-o', 'name'];
      const r = await env.cluster.kubectl(kind.startsWith('Cluster') ? args : ['-n', ns, ...args]);
      expect({ kind, code: r.code, err: r.stderr }).toEqual({ kind, code: 0, err: '' });
    }
    // No wildcard anywhere in the chart's RBAC.
    const roles = await env.cluster.kubectl([
      'get',
      'clusterrole',
      one('ClusterRole').metadata.name,
      '-o',
      'json',
    ]);
    expect(roles.stdout).not.toContain('"*"');
  });

  it('has a Deployment that became available (kwok runs its pod: there is no real container)', async () => {
    const d = one('Deployment');
    const available = await env.kubectlOk([
      'get',
      'deployment',
      d.metadata.name,
      '-o',
      'jsonpath={.status.availableReplicas}',
    ]);
    expect(available).toBe('1');
  });
});

describe("the operator under exactly the chart's RBAC", () => {
  it('reconciles a network in another namespace, with no permission error', async () => {
    const deployment = one('Deployment');
    const sa =
      deployment.spec?.template?.spec?.serviceAccountName ?? one('ServiceAccount').metadata.name;
    const kubeconfig = impersonatingKubeconfig(
      env.cluster.kubeconfig,
      `system:serviceaccount:${env.namespace}:${sa}`,
      `${env.cluster.dir}/kubeconfigs/chart-sa.kubeconfig`,
    );
    // The Deployment's own flags, but metrics on a free loopback port.
    const args = (deployment.spec?.template?.spec?.containers?.[0]?.args ?? []).filter(
      (a) => !a.startsWith('--metrics-address'),
    );
    operator = startOperatorProcess({
      kubeconfig,
      identity: 'chart-sa',
      namespaces: '',
      args: [...args, '--metrics-address=127.0.0.1:0'],
      env: { POD_NAMESPACE: env.namespace, POD_NAME: 'local-operator' },
      logDir: `.test-output/${env.namespace}`,
    });
    const ns = `${env.namespace}-net`;
    await env.cluster.kubectl(['create', 'namespace', ns]);
    await waitUntil(
      async () => (await env.cluster.kubectl(['-n', ns, 'get', 'sa', 'default'])).code === 0,
      60_000,
      'the default ServiceAccount',
    );
    const pn = {
      apiVersion: 'peernet.io/v1alpha1',
      kind: 'PeerNetwork',
      metadata: { name: 'charted', namespace: ns },
      spec: {
        replicas: 3,
        topology: { mode: 'spread', nodeSelector: { 'peernet.io/node-kind': 'kwok' } },
      },
    };
    const apply = await env.cluster.kubectl(['apply', '-f', '-'], { input: stringify(pn) });
    expect(apply.stderr).toBe('');
    let phase = '';
    await waitUntil(
      async () => {
        const r = await env.cluster.kubectl([
          '-n',
          ns,
          'get',
          'pn',
          'charted',
          '-o',
          'jsonpath={.status.phase} {.status.readyPeers}',
        ]);
        phase = r.stdout;
        return r.stdout === 'Ready 3';
      },
      180_000,
      'the network Ready under the chart RBAC',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last: "${phase}"; operator log: ${operator?.logPath}`);
    });
    const children = await env.cluster.kubectl([
      '-n',
      ns,
      'get',
      'pods,secrets,configmaps,services',
      '-l',
      'app.kubernetes.io/instance=charted',
      '-o',
      'name',
    ]);
    expect(children.stdout.trim().split('\n').sort()).toEqual([
      'configmap/charted-bootstrap',
      'pod/charted-0',
      'pod/charted-1',
      'pod/charted-2',
      'secret/charted-keys',
      'service/charted-peers',
    ]);
    const leaseHolder = await env.kubectlOk([
      'get',
      'lease',
      'peernet-operator',
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    expect(leaseHolder).toBe('chart-sa');
    const forbidden = operator.lines.filter((l) => /forbidden/i.test(JSON.stringify(l)));
    expect(forbidden).toEqual([]);
  }, 300_000);

  it('is refused what its role does not grant', async () => {
    const sa = one('ServiceAccount').metadata.name;
    const as = `system:serviceaccount:${env.namespace}:${sa}`;
    // [verb, resource, extra flags]
    const denied: [string, string, string[]][] = [
      ['delete', 'nodes', []],
      ['create', 'deployments.apps', ['-n', env.namespace]],
      ['create', 'clusterrolebindings', []],
      ['delete', 'customresourcedefinitions', []],
      ['update', 'peernetworks.peernet.io', ['-n', 'default']],
      ['delete', 'secrets', ['-n', 'kube-system']],
      ['update', 'leases.coordination.k8s.io', ['-n', 'kube-system']],
      ['create', 'pods', ['--subresource=exec', '-n', 'default']],
    ];
    for (const [verb, resource, flags] of denied) {
      const r = await env.cluster.kubectl(['auth', 'can-i', verb, resource, ...flags, '--as', as]);
      expect({ verb, resource, answer: r.stdout.trim() }).toEqual({ verb, resource, answer: 'no' });
    }
    // And a real request, not only the question: deleting a node is Forbidden, the node stays.
    const del = await env.cluster.kubectl(['delete', 'node', 'kwok-node-0', '--as', as]);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('Forbidden');
    expect(
      (await env.cluster.kubectl(['get', 'node', 'kwok-node-0', '-o', 'name'])).stdout.trim(),
    ).toBe('node/kwok-node-0');
    // What it does need is granted.
    for (const [verb, resource, flags] of [
      ['create', 'pods', []],
      ['update', 'peernetworks.peernet.io', ['--subresource=status']],
      ['watch', 'nodes', []],
    ] as const) {
      const r = await env.cluster.kubectl([
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
