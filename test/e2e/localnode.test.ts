// The local node runtime on its own, against the real control plane (no operator): what a pod
// sees inside its namespaces, images it refuses, ConfigMap updates, deletion, and that stopping
// leaves nothing behind on the machine.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { generateIdentity, writeKeyFile } from '../../peer/identity.js';
import { startLocalNodes, type LocalNodes } from '../../localnode/index.js';
import { useCluster, waitUntil } from '../helpers/cluster.js';

const run = promisify(execFile);
const t = useCluster('e2e-localnode');
let nodes: LocalNodes | undefined;
const GROUP = 'peernet.io/e2e-group';

beforeAll(async () => {
  const dir = `.test-output/localnode/${t.namespace}`;
  nodes = await startLocalNodes({
    kubeconfig: t.cluster.kubeconfig,
    nodes: 2,
    namePrefix: `${t.namespace}-n`,
    nodeLabels: { [GROUP]: t.namespace },
    stateDir: dir,
    stopGraceSeconds: 5,
    logger: pino(
      { level: 'info' },
      pino.destination({ dest: `${dir}.runtime.log`, mkdir: true, sync: true }),
    ),
  });
}, 60_000);

afterAll(async () => {
  await nodes?.stop();
}, 60_000);

function need(): LocalNodes {
  if (nodes === undefined) throw new Error('runtime not started');
  return nodes;
}

function podYaml(name: string, image: string, extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: lnt}}
spec:
  hostname: ${name}
  subdomain: lnt
  nodeSelector: {${GROUP}: ${t.namespace}}
  terminationGracePeriodSeconds: 5
  securityContext: {runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001}
  containers:
  - name: peer-0
    image: ${image}
    args: [--listen, /ip4/0.0.0.0/tcp/4001, --api, 0.0.0.0:5001, --key-file, /var/run/peernet/keys/k.key, --bootstrap-file, /etc/peernet/bootstrap/bootstrap.txt, --network, ${t.namespace}/lnt]
    ports: [{name: p2p-0, containerPort: 4001}, {name: api-0, containerPort: 5001}]
    readinessProbe: {httpGet: {path: /readyz, port: api-0}, periodSeconds: 2}
    livenessProbe: {httpGet: {path: /healthz, port: api-0}, periodSeconds: 5}
    volumeMounts:
    - {name: keys, mountPath: /var/run/peernet/keys, readOnly: true}
    - {name: bootstrap, mountPath: /etc/peernet/bootstrap}
    - {name: tmp, mountPath: /tmp}
  volumes:
  - {name: keys, secret: {secretName: lnt-keys}}
  - {name: bootstrap, configMap: {name: lnt-bootstrap}}
  - {name: tmp, emptyDir: {}}
${extra}`;
}

describe('local node runtime', () => {
  test('nodes are registered Ready with their labels', async () => {
    const out = await t.kubectlOk(['get', 'nodes', '-l', `${GROUP}=${t.namespace}`, '-o', 'json']);
    const items = (
      JSON.parse(out) as {
        items: Array<{
          metadata: {
            name: string;
            labels: Record<string, string>;
            annotations?: Record<string, string>;
          };
          status: { conditions: Array<{ type: string; status: string }> };
        }>;
      }
    ).items;
    expect(items.map((n) => n.metadata.name).sort()).toEqual(need().nodes.slice().sort());
    for (const n of items) {
      expect(n.metadata.labels).toMatchObject({
        'peernet.io/node-kind': 'local',
        'kubernetes.io/hostname': n.metadata.name,
      });
      expect(n.metadata.labels['topology.kubernetes.io/zone']).toBeDefined();
      expect(n.metadata.annotations?.['kwok.x-k8s.io/node']).toBeUndefined();
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });

  test('a peer pod: namespaces, volumes, hosts, user; ConfigMap updates reach the file; deletion is graceful', async () => {
    const key = `.test-output/localnode/${t.namespace}.k.key`;
    await writeKeyFile(key, await generateIdentity());
    await t.kubectlOk(['create', 'secret', 'generic', 'lnt-keys', `--from-file=k.key=${key}`]);
    await t.kubectlOk([
      'create',
      'configmap',
      'lnt-bootstrap',
      '--from-literal=bootstrap.txt=# none yet\n',
    ]);
    await t.kubectlOk(['apply', '-f', '-'], {
      input: `${podYaml('lnt-0', 'peernet/peer:0.1.0')}---
apiVersion: v1
kind: Service
metadata: {name: lnt}
spec: {clusterIP: None, publishNotReadyAddresses: true, selector: {app: lnt}, ports: [{port: 4001}]}
`,
    });
    await t.kubectlOk(['wait', '--for=condition=Ready', 'pod/lnt-0', '--timeout=120s']);
    const pod = JSON.parse(await t.kubectlOk(['get', 'pod', 'lnt-0', '-o', 'json'])) as {
      status: {
        podIP: string;
        hostIP: string;
        phase: string;
        containerStatuses: Array<{
          ready: boolean;
          started: boolean;
          state: Record<string, unknown>;
        }>;
      };
    };
    expect(pod.status.phase).toBe('Running');
    expect(pod.status.podIP).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(pod.status.containerStatuses[0]).toMatchObject({
      ready: true,
      started: true,
      state: { running: expect.any(Object) },
    });

    const running = need().pod(t.namespace, 'lnt-0');
    const pid = running?.pids['peer-0'];
    if (pid === undefined || running?.netns === undefined) throw new Error('no process');
    // Seen from inside the container's mount namespace (/var/run is a symlink to /run, which an
    // absolute link would resolve on the host, so the key is read at /run).
    const root = `/proc/${pid}/root`;
    const hosts = await readFile(`${root}/etc/hosts`, 'utf8');
    expect(hosts).toContain(`${pod.status.podIP}\tlnt-0.lnt.${t.namespace}.svc.cluster.local`);
    expect((await readFile(`${root}/run/peernet/keys/k.key`)).equals(await readFile(key))).toBe(
      true,
    );
    expect(await readFile(`${root}/etc/peernet/bootstrap/bootstrap.txt`, 'utf8')).toBe(
      '# none yet\n',
    );
    const statusText = await readFile(`/proc/${pid}/status`, 'utf8');
    expect(/^Uid:\s+10001\s/m.test(statusText)).toBe(true);
    const { stdout: addrs } = await run('ip', [
      '-n',
      running.netns,
      '-o',
      '-4',
      'addr',
      'show',
      'dev',
      'eth0',
    ]);
    expect(addrs).toContain(`${pod.status.podIP}/24`);
    // The host reaches the peer on the pod address.
    const res = await fetch(`http://${pod.status.podIP}:5001/healthz`);
    expect(res.status).toBe(200);

    await t.kubectlOk([
      'patch',
      'configmap',
      'lnt-bootstrap',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ data: { 'bootstrap.txt': '# changed\n' } }),
    ]);
    await waitUntil(
      async () =>
        (await readFile(`${root}/etc/peernet/bootstrap/bootstrap.txt`, 'utf8')) === '# changed\n',
      30_000,
      'the ConfigMap change in the file',
    );

    await t.kubectlOk(['delete', 'pod', 'lnt-0', '--timeout=60s']);
    const { stdout: left } = await run('ip', ['netns', 'list']);
    expect(left).not.toContain(running.netns);
    expect(() => process.kill(pid, 0)).toThrow();
  }, 180_000);

  test('another image: the container waits with ErrImageNeverPull and says why', async () => {
    await t.kubectlOk(['apply', '-f', '-'], { input: podYaml('lnt-nginx', 'nginx:1.27') });
    let state: { waiting?: { reason?: string; message?: string } } = {};
    await waitUntil(
      async () => {
        const out = await t.kubectlOk([
          'get',
          'pod',
          'lnt-nginx',
          '-o',
          'jsonpath={.status.containerStatuses[0].state}',
        ]);
        state = out === '' ? {} : (JSON.parse(out) as typeof state);
        return state.waiting?.reason === 'ErrImageNeverPull';
      },
      60_000,
      'ErrImageNeverPull',
    );
    expect(state.waiting?.message).toContain('only runs the peer image');
    await t.kubectlOk(['delete', 'pod', 'lnt-nginx', '--timeout=60s']);
  }, 120_000);

  test('stopping leaves no namespace, link, route or process behind', async () => {
    await t.kubectlOk(['apply', '-f', '-'], { input: podYaml('lnt-1', 'peernet/peer:0.1.0') });
    await t.kubectlOk(['wait', '--for=condition=Ready', 'pod/lnt-1', '--timeout=120s']);
    const running = need().pod(t.namespace, 'lnt-1');
    const pid = running?.pids['peer-0'];
    const b = running?.ip?.split('.')[1];
    await need().stop();
    const { stdout: ns } = await run('ip', ['netns', 'list']);
    const { stdout: links } = await run('ip', ['-o', 'link', 'show']);
    const { stdout: routes } = await run('ip', ['route', 'show']);
    expect(ns).not.toContain(`pn${b}_`);
    expect(links).not.toMatch(new RegExp(`pn[bv]${b}-`));
    expect(routes).not.toContain(`10.${b}.0.0/16`);
    if (pid !== undefined) expect(() => process.kill(pid, 0)).toThrow();
    const left = await t.kubectlOk(['get', 'nodes', '-l', `${GROUP}=${t.namespace}`, '-o', 'name']);
    expect(left.trim()).toBe('');
  }, 120_000);
});
