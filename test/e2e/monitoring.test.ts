// The chart's monitoring against the real thing, on a private cluster with a real node:
// - the Prometheus Operator's own CRDs (PodMonitor, ServiceMonitor, from its Go module) admit the
//   chart's objects (`helm install` with the monitoring values on);
// - the Prometheus Operator (built from its Go module) turns them into Prometheus' configuration,
//   as it does for users, for a `Prometheus` object of no replicas (the image it would run cannot
//   be pulled here);
// - Prometheus (built from its Go module) runs on this machine with that configuration (only its
//   Kubernetes discovery pointed at the admin kubeconfig, since it runs outside a pod) and scrapes
//   the operator and the peers of a live network;
// - every query of the Grafana dashboard, as the chart's ConfigMap holds it, returns data, with
//   its variables set to the network the variables' own queries find.
// Grafana itself does not run here: it is under the AGPL, which this project does not take in.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import type { Cluster } from '../../cluster/index.js';
import { run } from '../../cluster/exec.js';
import { buildImages } from '../../cluster/images/index.js';
import { createPeerApiClient } from '../../peer/api/client.js';
import { installChart, uninstallChart, chartFullname } from '../helpers/chart.js';
import {
  acquireCluster,
  kubectlOkOn,
  needCluster,
  releaseCluster,
  waitUntil,
} from '../helpers/cluster.js';
import { freePort, repoRoot } from '../helpers/peers.js';

const release = 'pnm';
const namespace = 'peernet-system';
const network = 'watched';
const PROMETHEUS_NS = 'monitoring';
const SCRAPE = '2s';

let cluster: Cluster | undefined;
let prometheusUrl = '';
const children: ChildProcess[] = [];

const need = (): Cluster => needCluster(cluster);
const kubectlOk = (args: string[], input?: string): Promise<string> =>
  kubectlOkOn(need(), args, input);

/** Starts a program in the background, its output in the cluster's log folder. */
function background(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv): void {
  const logs = join(need().dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const log = createWriteStream(join(logs, `${name}.log`));
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.push(child);
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query against the Prometheus of this file. */
async function query(expr: string): Promise<Sample[]> {
  const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: Sample[] };
  };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

/** What Prometheus says of its targets, and the end of its log: for a failure message. */
async function targetsSummary(): Promise<string> {
  const res = await fetch(`${prometheusUrl}/api/v1/targets`, {
    signal: AbortSignal.timeout(10_000),
  })
    .then((r) => r.text())
    .catch((e: unknown) => String(e));
  const log = join(need().dir, 'logs', 'prometheus.log');
  const tail = readFileSync(log, 'utf8').split('\n').slice(-20).join('\n');
  return `targets: ${res.slice(0, 3000)}\nPrometheus' log ends:\n${tail}`;
}

interface ScrapeConfig {
  job_name: string;
  kubernetes_sd_configs?: Array<Record<string, unknown>>;
}

/**
 * The configuration the Prometheus Operator wrote (Secret prometheus-<name>, gzipped) once it
 * holds a job of each monitor, as its config-reloader hands it to Prometheus in the pod; its
 * Kubernetes discovery is given the admin kubeconfig instead of the in-pod service account.
 */
async function operatorConfig(): Promise<{ text: string; jobs: string[] }> {
  let text = '';
  await waitUntil(
    async () => {
      const r = await need().kubectl([
        '-n',
        PROMETHEUS_NS,
        'get',
        'secret',
        'prometheus-peernet',
        '-o',
        'jsonpath={.data.prometheus\\.yaml\\.gz}',
      ]);
      if (r.code !== 0 || r.stdout === '') return false;
      text = gunzipSync(Buffer.from(r.stdout, 'base64')).toString('utf8');
      return (
        text.includes(`podMonitor/${namespace}/`) && text.includes(`serviceMonitor/${namespace}/`)
      );
    },
    120_000,
    'the Prometheus Operator to write a configuration with the PodMonitor and the ServiceMonitor',
  ).catch((err: unknown) => {
    const log = join(need().dir, 'logs', 'prometheus-operator.log');
    const tail = readFileSync(log, 'utf8').split('\n').slice(-30).join('\n');
    throw new Error(`${(err as Error).message}; the Operator's log ends:\n${tail}`);
  });
  // what the Operator's config-reloader does in the pod: $(VAR) from the pod's environment
  // (SHARD keeps each shard's targets; one shard here, number 0)
  const expanded = text
    .replaceAll('$(SHARD)', '0')
    .replaceAll('$(POD_NAME)', 'prometheus-peernet-0');
  const config = parse(expanded) as { scrape_configs: ScrapeConfig[] };
  for (const job of config.scrape_configs) {
    for (const sd of job.kubernetes_sd_configs ?? []) sd['kubeconfig_file'] = need().kubeconfig;
  }
  return { text: stringify(config), jobs: config.scrape_configs.map((j) => j.job_name) };
}

beforeAll(async () => {
  const progress = (line: string): void => void process.stderr.write(`[monitoring] ${line}\n`);
  const built = await run('bash', [join(repoRoot, 'cluster', 'build-monitoring.sh')], {
    timeoutMs: 40 * 60_000,
  });
  const tools = built.trim().split('\n').pop()!;
  const images = await buildImages({ onProgress: progress });
  ({ cluster } = await acquireCluster(
    { nodes: 0, realNodes: 1, images: [images.peer.archive, images.operator.archive] },
    { own: true },
  ));
  // the Operator's CRDs are too large for client-side apply's annotation
  const kinds = readdirSync(join(tools, 'crds')).map((f) => f.replace(/\.yaml$/, ''));
  for (const kind of kinds)
    await kubectlOk(['apply', '--server-side', '-f', join(tools, 'crds', `${kind}.yaml`)]);
  await cluster.waitForCrds(kinds.map((kind) => `${kind}.monitoring.coreos.com`));
  await installChart(cluster, {
    release,
    namespace,
    createNamespace: true,
    timeoutSeconds: 300,
    set: [
      'monitoring.serviceMonitor.enabled=true',
      'monitoring.podMonitor.enabled=true',
      'monitoring.dashboard.enabled=true',
    ],
    setString: [
      `monitoring.serviceMonitor.interval=${SCRAPE}`,
      'monitoring.serviceMonitor.scrapeTimeout=1s',
      `monitoring.podMonitor.interval=${SCRAPE}`,
      'monitoring.podMonitor.scrapeTimeout=1s',
    ],
  });

  const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
  const operatorPort = await freePort();
  background(
    'prometheus-operator',
    join(tools, 'prometheus-operator'),
    [`--web.listen-address=127.0.0.1:${operatorPort}`],
    env,
  );
  await kubectlOk(['create', 'namespace', PROMETHEUS_NS]);
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Prometheus',
      metadata: { name: 'peernet', namespace: PROMETHEUS_NS },
      spec: {
        replicas: 0,
        serviceMonitorSelector: {},
        serviceMonitorNamespaceSelector: {},
        podMonitorSelector: {},
        podMonitorNamespaceSelector: {},
      },
    }),
  );
  const { text } = await operatorConfig();
  const dir = join(cluster.dir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'prometheus.yaml'), text);
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  background(
    'prometheus',
    join(tools, 'prometheus'),
    [
      `--config.file=${join(dir, 'prometheus.yaml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    env,
  );

  // a live network with traffic: PUTs and GETs on both peers
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'peernet.io/v1alpha1',
      kind: 'PeerNetwork',
      metadata: { name: network, namespace },
      spec: { replicas: 2, topology: { mode: 'sameNode' } },
    }),
  );
  await kubectlOk([
    '-n',
    namespace,
    'wait',
    '--for=condition=Ready',
    `pn/${network}`,
    '--timeout=300s',
  ]);
  const ips = (
    await kubectlOk(['-n', namespace, 'get', 'pn', network, '-o', 'jsonpath={.status.peers[*].ip}'])
  ).split(' ');
  const token = Buffer.from(
    await kubectlOk([
      '-n',
      namespace,
      'get',
      'secret',
      `${network}-api-token`,
      '-o',
      'jsonpath={.data.token}',
    ]),
    'base64',
  ).toString('utf8');
  const clients = ips.map((ip) =>
    createPeerApiClient({ baseUrl: `http://${ip}:5001`, timeoutMs: 15_000, token }),
  );
  // Prometheus scrapes every 2 s: traffic over ~20 s gives rate() several samples
  for (let i = 0; i < 20; i++) {
    await clients[i % 2]!.put(`watched-${i}`, `value ${i}`);
    expect(await clients[(i + 1) % 2]!.get(`watched-${i}`)).toBeDefined();
    await new Promise((r) => setTimeout(r, 1000));
  }
}, 45 * 60_000);

afterAll(async () => {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  if (cluster === undefined) return;
  await need().kubectl(['-n', namespace, 'delete', 'pn', network, '--wait=false']);
  await uninstallChart(cluster, release, namespace).catch(() => undefined);
  await releaseCluster(cluster);
}, 300_000);

describe('the chart under the Prometheus Operator and Prometheus', () => {
  it('scrapes the operator (ServiceMonitor) and every peer container (PodMonitor)', async () => {
    await waitUntil(
      async () => (await query('up == 1')).length === 3,
      60_000,
      'three targets up (the operator and two peers)',
    ).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await targetsSummary()}`);
    });
    const up = await query('up');
    const peers = up.filter(
      (s) => s.metric['job'] === `${namespace}/${chartFullname(release)}-peers`,
    );
    expect(peers.map((s) => s.metric['pod']).sort()).toEqual([`${network}-0`, `${network}-1`]);
    for (const s of peers) {
      expect(s.metric).toMatchObject({ namespace, peernetwork: network, container: 'peer-0' });
    }
    expect(up.filter((s) => s.metric['job'] === `${chartFullname(release)}-metrics`)).toHaveLength(
      1,
    );
  }, 120_000);

  it('answers every query of the dashboard with data, for the network its variables find', async () => {
    const json = await kubectlOk([
      '-n',
      namespace,
      'get',
      'configmap',
      `${chartFullname(release)}-dashboard`,
      '-o',
      'jsonpath={.data.peernet\\.json}',
    ]);
    const dashboard = JSON.parse(json) as {
      templating: { list: Array<{ name: string; definition?: string }> };
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    // the variables: label_values(METRIC{...}, LABEL) finds the network's namespace and name
    const vars = new Map<string, string>();
    for (const v of dashboard.templating.list) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition ?? '');
      if (m === null) continue;
      const found = await query(`count by (${m[2]}) (${substitute(m[1]!, vars)})`);
      const values = found.map((s) => s.metric[m[2]!]);
      expect({ variable: v.name, values }).toEqual({
        variable: v.name,
        values: [v.name === 'namespace' ? namespace : network],
      });
      vars.set(v.name, values[0]!);
    }
    expect([...vars.keys()].sort()).toEqual(['namespace', 'peernetwork']);

    const empty: string[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const expr = substitute(target.expr, vars);
        const result = await query(expr);
        const finite = result.filter((s) => Number.isFinite(Number(s.value[1])));
        if (finite.length === 0) empty.push(`${panel.title}: ${expr}`);
      }
    }
    expect(empty).toEqual([]);
  }, 120_000);
});

/**
 * The dashboard's variables set; Grafana's $__rate_interval as a minute (what it is for a
 * dashboard over the last hour or so), which covers the traffic of beforeAll.
 */
function substitute(expr: string, vars: Map<string, string>): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replace(/\$(\w+)/g, (all, name: string) => vars.get(name) ?? all);
}
