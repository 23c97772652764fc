// The Helm chart: `helm lint` and `helm template` output, with the helm built with the control plane.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { ensureBinaries } from '../cluster/binaries.js';
import { parseSettings } from './settings.js';

const chart = fileURLToPath(new URL('../../charts/peernet-operator', import.meta.url));
let helm = '';

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
  spec?: {
    replicas?: number;
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
interface PodSpec {
  securityContext: Record<string, unknown>;
  containers: {
    args: string[];
    securityContext: Record<string, unknown>;
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
    resources: unknown;
    image: string;
  }[];
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(helm, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HELM_CACHE_HOME: '/tmp/peernet-helm-cache',
        HELM_CONFIG_HOME: '/tmp/peernet-helm-config',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function template(...set: string[]): Promise<Doc[]> {
  const r = await run([
    'template',
    'pn',
    chart,
    '-n',
    'peernet-system',
    // the `helm test` hook has a test of its own below
    '--skip-tests',
    ...set.flatMap((s) => ['--set', s]),
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

beforeAll(async () => {
  helm = (await ensureBinaries()).helm;
}, 40 * 60_000);

describe('charts/peernet-operator', () => {
  test('helm lint is clean', async () => {
    const r = await run(['lint', chart, '--strict']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('installs a ServiceAccount, RBAC of only the verbs the operator sends, and the Deployment', async () => {
    const docs = await template();
    expect(docs.map((d) => d.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'Deployment',
        'Role',
        'RoleBinding',
        'ServiceAccount',
      ].sort(),
    );
    const rules = docs.filter((d) => d.rules).flatMap((d) => d.rules!);
    for (const r of rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
    }
    const verbs = (group: string, resource: string) =>
      rules
        .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
        .flatMap((r) => r.verbs)
        .sort();
    // each verb is one the operator's client sends (docs/reference/operator.md#rbac)
    expect(verbs('peernet.io', 'peernetworks')).toEqual(['get', 'list', 'watch']);
    expect(verbs('peernet.io', 'peernetworks/status')).toEqual(['update']);
    expect(verbs('', 'pods')).toEqual(['create', 'delete', 'list', 'watch']);
    expect(verbs('', 'secrets')).toEqual(['create', 'get', 'list', 'update', 'watch']);
    expect(verbs('', 'configmaps')).toEqual(['create', 'get', 'list', 'patch', 'watch']);
    // delete: the NodePort Services of pods scaled away (spec.expose.type nodePort)
    expect(verbs('', 'services')).toEqual(['create', 'delete', 'list', 'patch', 'watch']);
    // spec.storage: claims made per pod, their owner set by the retention policy (update), those
    // of pods scaled away deleted with whenScaled: Delete; get: a claim's name not in the cache
    expect(verbs('', 'persistentvolumeclaims')).toEqual([
      'create',
      'delete',
      'get',
      'list',
      'update',
      'watch',
    ]);
    expect(verbs('', 'events')).toEqual(['create']);
    expect(verbs('', 'nodes')).toEqual(['list', 'watch']);
    const fiveVerbs = ['create', 'delete', 'list', 'patch', 'watch'];
    expect(verbs('policy', 'poddisruptionbudgets')).toEqual(fiveVerbs);
    expect(verbs('networking.k8s.io', 'networkpolicies')).toEqual(fiveVerbs);
    // nothing else: every rule is one of the above
    expect(new Set(rules.flatMap((r) => r.resources))).toEqual(
      new Set([
        'peernetworks',
        'peernetworks/status',
        'pods',
        'secrets',
        'configmaps',
        'services',
        'persistentvolumeclaims',
        'events',
        'poddisruptionbudgets',
        'networkpolicies',
        'nodes',
        'leases',
      ]),
    );
    expect(verbs('coordination.k8s.io', 'leases')).toEqual(['create', 'get', 'update']);
    const leaseRole = docs.find((d) => d.kind === 'Role')!;
    expect(leaseRole.metadata.namespace).toBe('peernet-system');
  });

  test('the Deployment: restricted security context, probes, resources, args from values', async () => {
    const docs = await template(
      'peerImage=reg/peer:1',
      'watchNamespaces={a,b}',
      'kubeQps=7',
      'kubeBurst=9',
      'image.tag=dev',
    );
    const dep = docs.find((d) => d.kind === 'Deployment')!;
    const pod = dep.spec!.template!.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = pod.containers[0]!;
    expect(c.image).toBe('peernet/operator:dev');
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources).toBeDefined();
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--peer-image=reg/peer:1',
        '--namespaces=a,b',
        '--kube-qps=7',
        '--kube-burst=9',
        '--leader-elect=true',
      ]),
    );
  });

  test('namespaced mode: Roles in the watched namespaces, a ClusterRole only to read nodes', async () => {
    const docs = await template('watchNamespaces={team-a,team-b}');
    const roles = docs.filter(
      (d) => d.kind === 'Role' && d.rules?.some((r) => r.resources.includes('pods')),
    );
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const cr = docs.find((d) => d.kind === 'ClusterRole')!;
    expect(cr.rules!.map((r) => r.resources)).toEqual([['nodes']]);
  });

  test('a namespaced install (watchNamespaces, watchNodes=false): Roles only, nothing cluster-wide', async () => {
    const docs = await template('watchNamespaces={team-a,team-b}', 'watchNodes=false');
    expect(docs.map((d) => d.kind).sort()).toEqual(
      [
        'Deployment',
        'Role',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'RoleBinding',
        'ServiceAccount',
      ].sort(),
    );
    const where = (kind: string) =>
      docs
        .filter((d) => d.kind === kind)
        .map((d) => `${d.metadata.namespace}/${d.metadata.name}`)
        .sort();
    expect(where('Role')).toEqual([
      'peernet-system/pn-peernet-operator-leader-election',
      'team-a/pn-peernet-operator',
      'team-b/pn-peernet-operator',
    ]);
    expect(where('RoleBinding')).toEqual(where('Role'));
    // the operator is told the same: it watches those namespaces and no Nodes
    const args = docs.find((d) => d.kind === 'Deployment')!.spec!.template!.spec.containers[0]!
      .args;
    const settings = parseSettings(args, { POD_NAMESPACE: 'peernet-system', POD_NAME: 'p' });
    expect(settings.namespaces).toEqual(['team-a', 'team-b']);
    expect(settings.watchNodes).toBe(false);
  });

  test("NetworkPolicies on by default, admitting the API from this release's operator pods", async () => {
    const dep = (await template()).find((d) => d.kind === 'Deployment')!;
    const args = dep.spec!.template!.spec.containers[0]!.args;
    // the operator takes every argument the chart gives it
    const s = parseSettings(args, { POD_NAMESPACE: 'peernet-system', POD_NAME: 'p' });
    expect(s.networkPolicy).toBe(true);
    expect(s.networkPolicyOperatorNamespace).toBe('peernet-system');
    // the selector the policies use picks the chart's own operator pods
    expect(dep.spec!.template!.metadata.labels).toMatchObject(s.networkPolicyOperatorLabels);
    expect(s.networkPolicyOperatorLabels).toEqual({
      'app.kubernetes.io/name': 'peernet-operator',
      'app.kubernetes.io/instance': 'pn',
    });
    expect(s.networkPolicyMetricsNamespace).toBe('');
    expect(s.networkPolicyApiCidrs).toEqual([]);

    const set = await template(
      'networkPolicy.metrics.namespace=monitoring',
      'networkPolicy.metrics.podLabels.app=prometheus',
      'networkPolicy.apiCIDRs={10.0.0.0/24,fd00::/64}',
      'reconcileTimeoutMs=2500',
    );
    const s2 = parseSettings(
      set.find((d) => d.kind === 'Deployment')!.spec!.template!.spec.containers[0]!.args,
      {},
    );
    expect(s2.networkPolicyMetricsNamespace).toBe('monitoring');
    expect(s2.networkPolicyMetricsLabels).toEqual({ app: 'prometheus' });
    expect(s2.networkPolicyApiCidrs).toEqual(['10.0.0.0/24', 'fd00::/64']);
    expect(s2.reconcileTimeoutMs).toBe(2500);

    const off = await template('networkPolicy.enabled=false');
    const s3 = parseSettings(
      off.find((d) => d.kind === 'Deployment')!.spec!.template!.spec.containers[0]!.args,
      {},
    );
    expect(s3.networkPolicy).toBe(false);
  });

  test('bad values are refused by values.schema.json; two replicas need leader election', async () => {
    await expect(template('replicaCount=-1')).rejects.toThrow(/replicaCount/);
    await expect(template('logLevel=loud')).rejects.toThrow(/logLevel/);
    await expect(template('surprise=1')).rejects.toThrow(/surprise/);
    await expect(template('replicaCount=2', 'leaderElection.enabled=false')).rejects.toThrow(
      /leaderElection/,
    );
    const two = await template('replicaCount=2');
    expect(two.find((d) => d.kind === 'Deployment')!.spec!.replicas).toBe(2);
  });

  test('monitoring is off by default; on, a ServiceMonitor, a PodMonitor and the dashboard ConfigMap', async () => {
    const kinds = (docs: Doc[]) => docs.map((d) => d.kind);
    const plain = await template();
    for (const k of ['ServiceMonitor', 'PodMonitor', 'Service', 'ConfigMap']) {
      expect(kinds(plain)).not.toContain(k);
    }
    const docs = (await template(
      'monitoring.serviceMonitor.enabled=true',
      'monitoring.serviceMonitor.labels.release=prom',
      'monitoring.podMonitor.enabled=true',
      'monitoring.podMonitor.interval=15s',
      'monitoring.dashboard.enabled=true',
      'monitoring.dashboard.namespace=grafana',
    )) as unknown as MonitoringDoc[];
    const find = (kind: string) => docs.find((d) => d.kind === kind)!;
    const dep = find('Deployment');
    const svc = find('Service');
    expect(svc.spec.selector).toEqual(dep.spec.template!.metadata.labels);
    expect(svc.spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
    ]);
    const sm = find('ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels!.release).toBe('prom');
    expect(sm.spec.selector!.matchLabels).toEqual(dep.spec.template!.metadata.labels);
    expect(sm.spec.endpoints).toEqual([
      expect.objectContaining({ port: 'http', path: '/metrics' }),
    ]);
    const pm = find('PodMonitor');
    expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
    // the labels every peer pod carries (CONTRACT.md: child objects)
    expect(pm.spec.selector!.matchLabels).toEqual({
      'app.kubernetes.io/name': 'peernet',
      'app.kubernetes.io/managed-by': 'peernet-operator',
    });
    expect(pm.spec.namespaceSelector).toEqual({ any: true });
    const ep = pm.spec.podMetricsEndpoints![0]!;
    expect(ep).toMatchObject({ path: '/metrics', interval: '15s' });
    const keep = ep.relabelings.find((r) => r.action === 'keep')!;
    // the API ports the operator gives the peer containers (operator/pods/pods.ts)
    const re = new RegExp(`^(?:${keep.regex})$`);
    expect(['api-0', 'api-15'].filter((n) => re.test(n))).toHaveLength(2);
    expect(['p2p-0', 'http'].filter((n) => re.test(n))).toHaveLength(0);
    const cm = find('ConfigMap');
    expect(cm.metadata.namespace).toBe('grafana');
    expect(cm.metadata.labels!.grafana_dashboard).toBe('1');
    const shipped = readFileSync(join(chart, 'dashboards', 'peernet.json'), 'utf8');
    expect(JSON.parse(cm.data!['peernet.json']!)).toEqual(JSON.parse(shipped));

    const scoped = (await template(
      'monitoring.podMonitor.enabled=true',
      'watchNamespaces={team-a}',
    )) as unknown as MonitoringDoc[];
    expect(scoped.find((d) => d.kind === 'PodMonitor')!.spec.namespaceSelector).toEqual({
      matchNames: ['team-a'],
    });
    const relabelled = (await template(
      'monitoring.dashboard.enabled=true',
      'monitoring.dashboard.labels.grafana_dashboard=null',
      'monitoring.dashboard.labels.my_dashboards=yes',
    )) as unknown as MonitoringDoc[];
    const labels = relabelled.find((d) => d.kind === 'ConfigMap')!.metadata.labels!;
    expect(labels.my_dashboards).toBe('yes');
    expect(labels.grafana_dashboard).toBeUndefined();
    await expect(template('monitoring.podMonitor.interval=soon')).rejects.toThrow(/interval/);
    await expect(template('monitoring.extra=true')).rejects.toThrow(/extra/);
  });

  test('helm test: hook objects, RBAC to create, get and delete PeerNetworks and read the test network token only, node in the peer image', async () => {
    const r = await run([
      'template',
      'pn',
      chart,
      '-n',
      'peernet-system',
      '--show-only',
      'templates/tests/peernetwork-test.yaml',
    ]);
    expect(r.stderr).toBe('');
    const docs = parseAllDocuments(r.stdout).map(
      (d) =>
        d.toJS() as {
          kind: string;
          metadata: { namespace: string; annotations: Record<string, string> };
          rules?: {
            apiGroups: string[];
            resources: string[];
            resourceNames?: string[];
            verbs: string[];
          }[];
          spec?: { containers: { image: string; command: string[]; args: string[] }[] };
        },
    );
    expect(docs.map((d) => d.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding', 'Pod']);
    for (const d of docs) {
      expect(d.metadata.annotations['helm.sh/hook']).toBe('test');
      // the pod stays after a pass, for `helm test --logs`
      expect(d.metadata.annotations['helm.sh/hook-delete-policy']).toBe(
        d.kind === 'Pod' ? 'before-hook-creation' : 'before-hook-creation,hook-succeeded',
      );
      expect(d.metadata.namespace).toBe('peernet-system');
    }
    expect(docs[1]!.rules).toEqual([
      {
        apiGroups: ['peernet.io'],
        resources: ['peernetworks'],
        verbs: ['create', 'get', 'delete'],
      },
      // the test network's API token, for its PUT; no other Secret
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['pn-test-net-api-token'],
        verbs: ['get'],
      },
    ]);
    const c = docs[3]!.spec!.containers[0]!;
    expect(c.image).toBe('peernet/peer:0.1.0');
    expect(c.command).toEqual(['node', '--input-type=module', '--eval']);
    expect(c.args).toEqual([readFileSync(join(chart, 'files', 'helm-test.mjs'), 'utf8')]);
  });

  test('helm lint is clean with every monitoring part on', async () => {
    const r = await run([
      'lint',
      chart,
      '--strict',
      '--set',
      'monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true,monitoring.dashboard.enabled=true',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
});

interface MonitoringDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec: {
    selector?: Record<string, unknown> & { matchLabels?: Record<string, string> };
    ports?: unknown[];
    endpoints?: unknown[];
    namespaceSelector?: unknown;
    template?: { metadata: { labels: Record<string, string> } };
    podMetricsEndpoints?: {
      path: string;
      interval: string;
      relabelings: { action?: string; regex?: string }[];
    }[];
  };
}
