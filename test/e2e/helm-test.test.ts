// `helm test` of charts/peernet-operator for real: the chart installed with its defaults on a
// private cluster with a real node, then its test hook (a pod of the peer image running node)
// creates a PeerNetwork, waits for Ready, PUTs and GETs a record and deletes the network.
// Then the /metrics text the running operator and a running peer serve (their pod IPs are
// routable from this machine) goes through promlint, the linter behind `promtool check metrics`
// (tools/promlint, built from the Go module proxy by cluster/build-promlint.sh).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Cluster } from '../../cluster/index.js';
import { buildImages } from '../../cluster/images/index.js';
import { acquireCluster, releaseCluster } from '../helpers/cluster-acquire.js';
import { kubectlOkOn, needCluster } from '../helpers/cluster.js';
import { installChart, uninstallChart } from '../helpers/chart.js';
import { repoRoot } from '../helpers/peers.js';

const release = 'pnt';
const namespace = 'peernet-system';
let cluster: Cluster | undefined;

const need = (): Cluster => needCluster(cluster);
const kubectlOk = (args: string[], input?: string): Promise<string> =>
  kubectlOkOn(need(), args, input);

function run(
  cmd: string,
  args: string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  const progress = (line: string): void => void process.stderr.write(`[helm-test] ${line}\n`);
  const images = await buildImages({ onProgress: progress });
  ({ cluster } = await acquireCluster(
    { nodes: 0, realNodes: 1, images: [images.peer.archive, images.operator.archive] },
    { own: true },
  ));
  await installChart(cluster, { release, namespace, createNamespace: true, timeoutSeconds: 300 });
}, 30 * 60_000);

afterAll(async () => {
  if (cluster === undefined) return;
  await uninstallChart(cluster, release, namespace).catch(() => undefined);
  await releaseCluster(cluster);
}, 300_000);

describe('helm test', () => {
  it('creates a PeerNetwork, sees it Ready, PUTs and GETs a record, and cleans up', async () => {
    const c = need();
    const r = await c.helm([
      'test',
      release,
      '--namespace',
      namespace,
      '--logs',
      '--timeout',
      '5m',
    ]);
    process.stderr.write(`[helm-test] helm test:\n${r.stdout}${r.stderr}\n`);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/Phase:\s+Succeeded/);
    expect(r.stdout).toMatch(/\[helm test\] Ready: 2\/2 peers/);
    expect(r.stdout).toMatch(/\[helm test\] PUT without the API token: HTTP 401/);
    expect(r.stdout).toMatch(/\[helm test\] GET helm-test-\d+ on .*"written by helm test on /);
    expect(r.stdout).toMatch(/\[helm test\] passed/);
    // cleaned up: the network (deleted by the test pod), the hook's ServiceAccount and Role
    // (hook-succeeded); the pod stays for `helm test --logs`
    const left = await kubectlOk(['-n', namespace, 'get', 'pn,sa,role,rolebinding', '-o', 'name']);
    expect(left).not.toMatch(/peernetwork|-test\b/);
  }, 600_000);
});

describe('promlint on the /metrics the running operator and a running peer serve', () => {
  let promlint = '';
  beforeAll(async () => {
    const b = await run('bash', [join(repoRoot, 'cluster', 'build-promlint.sh')]);
    if (b.code !== 0) throw new Error(`build-promlint.sh failed: ${b.stderr}`);
    promlint = b.stdout.trim().split('\n').pop()!;
  }, 15 * 60_000);

  async function lint(url: string): Promise<{ code: number; problems: string; series: number }> {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    const text = await res.text();
    const r = await run(promlint, [], text);
    return {
      code: r.code,
      problems: r.stdout + r.stderr,
      series: text.split('\n').filter((l) => l.startsWith('# TYPE ')).length,
    };
  }

  it('the operator', async () => {
    const ip = await kubectlOk([
      '-n',
      namespace,
      'get',
      'pods',
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '-o',
      'jsonpath={.items[0].status.podIP}',
    ]);
    const r = await lint(`http://${ip}:8080/metrics`);
    expect(r.series).toBeGreaterThan(20);
    expect({ code: r.code, problems: r.problems }).toEqual({ code: 0, problems: '' });
  }, 60_000);

  it('a peer that stored and served a record', async () => {
    await kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'peernet.io/v1alpha1',
        kind: 'PeerNetwork',
        metadata: { name: 'lint', namespace: 'default' },
        spec: { replicas: 2, topology: { mode: 'sameNode' } },
      }),
    );
    try {
      await kubectlOk(['wait', '--for=condition=Ready', 'pn/lint', '--timeout=240s']);
      const ips = (
        await kubectlOk(['get', 'pn', 'lint', '-o', 'jsonpath={.status.peers[*].ip}'])
      ).split(' ');
      expect(ips).toHaveLength(2);
      const token = Buffer.from(
        await kubectlOk(['get', 'secret', 'lint-api-token', '-o', 'jsonpath={.data.token}']),
        'base64',
      ).toString('utf8');
      const put = await fetch(`http://${ips[0]}:5001/v1/records/lint-key`, {
        method: 'PUT',
        body: 'lint value',
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(30_000),
      });
      expect(put.status).toBe(200);
      const got = await fetch(`http://${ips[1]}:5001/v1/records/lint-key`, {
        signal: AbortSignal.timeout(30_000),
      });
      expect(await got.text()).toBe('lint value');
      const r = await lint(`http://${ips[1]}:5001/metrics`);
      expect(r.series).toBeGreaterThan(20);
      expect({ code: r.code, problems: r.problems }).toEqual({ code: 0, problems: '' });
    } finally {
      await need().kubectl(['delete', 'pn', 'lint', '--wait=false']);
    }
  }, 300_000);
});
