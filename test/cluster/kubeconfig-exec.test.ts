// Every kubeconfig works: the operator's client against a real API server with an exec
// credential plugin (the client.authentication.k8s.io/v1 ExecCredential protocol) that hands out
// the admin token, then a client certificate it issued, then a stale token that the server
// refuses (the client runs the plugin again and goes on). kubectl is given the same kubeconfig,
// so the plugin is checked against the reference client too.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { createKubeClient, type KubeClient } from '../../operator/kube/client.js';
import { kubeAccessFromFile } from '../../operator/kube/config.js';
import { RESOURCES, type ResourceType } from '../../operator/kube/resources.js';
import { systemClock } from '../../operator/reconcile/clock.js';
import { createLogger } from '../../operator/logger.js';
import { createOperator } from '../../operator/operator.js';
import { parseSettings } from '../../operator/settings.js';
import { packageVersion } from '../../common/version.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import { useCluster } from '../helpers/cluster.js';

const run = promisify(execFile);
const env = useCluster('kcexec', { dir: '.test-output/kubeconfig-exec', nodes: 0 }, { own: true });
const NAMESPACES: ResourceType = {
  apiVersion: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  namespaced: false,
};

let state = '';
let adminToken = '';
const clients: KubeClient[] = [];

/** What the plugin prints on its next runs (one file a run, then `credential` for the rest). */
async function willPrint(...statuses: Record<string, unknown>[]): Promise<void> {
  for (const f of await readdir(state))
    if (f === 'runs' || f.startsWith('credential')) await rm(join(state, f));
  const cred = (s: Record<string, unknown>) =>
    JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: s,
    });
  for (const [i, s] of statuses.entries()) {
    const last = i === statuses.length - 1;
    await writeFile(join(state, last ? 'credential' : `credential.${i + 1}`), cred(s));
  }
}
const runs = async () => Number(await readFile(join(state, 'runs'), 'utf8').catch(() => '0'));

function client(): KubeClient {
  const c = createKubeClient(kubeAccessFromFile(join(state, 'kubeconfig')), systemClock);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  await applyCrds(env.cluster);
  state = resolve(env.cluster.dir, 'exec-plugin');
  await mkdir(state, { recursive: true });
  const admin = parse(await readFile(env.cluster.kubeconfig, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: { token: string } }[];
  };
  adminToken = admin.users[0]!.user.token;
  await writeFile(
    join(state, 'plugin.sh'),
    [
      '#!/bin/sh',
      '# ExecCredential: the answer on stdout, nothing else',
      'n=$(( $(cat "$STATE/runs" 2>/dev/null || echo 0) + 1 ))',
      'echo $n > "$STATE/runs"',
      'if [ -f "$STATE/credential.$n" ]; then cat "$STATE/credential.$n"; else cat "$STATE/credential"; fi',
      '',
    ].join('\n'),
  );
  await chmod(join(state, 'plugin.sh'), 0o755);
  await writeFile(
    join(state, 'kubeconfig'),
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'exec',
      clusters: [{ name: 'local', cluster: admin.clusters[0]!.cluster }],
      users: [
        {
          name: 'exec',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: './plugin.sh',
              env: [{ name: 'STATE', value: state }],
              interactiveMode: 'Never',
            },
          },
        },
      ],
      contexts: [
        { name: 'exec', context: { cluster: 'local', user: 'exec', namespace: env.namespace } },
      ],
    }),
  );
  await env.kubectlOk(['apply', '-f', '-'], {
    input: stringify({
      apiVersion: 'peernet.io/v1alpha1',
      kind: 'PeerNetwork',
      metadata: { name: 'listed' },
      spec: { replicas: 0, topology: { mode: 'spread' } },
    }),
  });
}, 300_000);

afterAll(() => {
  for (const c of clients) c.close();
});

describe('an exec credential plugin', () => {
  test('a token: the client lists namespaces and PeerNetworks; kubectl agrees', async () => {
    await willPrint({ token: adminToken });
    const c = client();
    const ns = await c.list(NAMESPACES);
    expect(ns.items.map((n) => n.metadata?.name)).toContain(env.namespace);
    const pn = await c.list(RESOURCES.PeerNetwork, env.namespace);
    expect(pn.items.map((n) => n.metadata?.name)).toEqual(['listed']);
    expect(await runs()).toBe(1); // kept: the credential has no expiry

    const k = await run(
      env.cluster.binaries.kubectl,
      ['--kubeconfig', join(state, 'kubeconfig'), 'get', 'peernetworks', '-o', 'name'],
      { env: { ...process.env, KUBECONFIG: '' } },
    );
    expect(k.stdout.trim()).toBe('peernetwork.peernet.io/listed');
  }, 60_000);

  test('a client certificate it issued (signed by the cluster CA)', async () => {
    const pki = join(env.cluster.dir, 'pki', 'apiserver'); // the cluster CA (cluster/components.ts)
    const key = join(state, 'client.key');
    const csr = join(state, 'client.csr');
    const crt = join(state, 'client.crt');
    const ext = join(state, 'client.ext');
    await writeFile(ext, 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    await run('openssl', ['genrsa', '-out', key, '2048']);
    await run('openssl', [
      'req',
      '-new',
      '-key',
      key,
      '-subj',
      '/O=system:masters/CN=exec-cert',
      '-out',
      csr,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      join(pki, 'ca.crt'),
      '-CAkey',
      join(pki, 'ca.key'),
      '-CAcreateserial',
      '-CAserial',
      join(state, 'ca.srl'),
      '-days',
      '1',
      '-extfile',
      ext,
      '-out',
      crt,
    ]);
    await willPrint({
      clientCertificateData: await readFile(crt, 'utf8'),
      clientKeyData: await readFile(key, 'utf8'),
    });
    const pn = await client().list(RESOURCES.PeerNetwork, env.namespace);
    expect(pn.items).toHaveLength(1);
  }, 60_000);

  test('a token the server refuses: the plugin runs again and the request goes through', async () => {
    await willPrint({ token: 'stale' }, { token: adminToken });
    const c = client();
    const pn = await c.list(RESOURCES.PeerNetwork, env.namespace);
    expect(pn.items).toHaveLength(1);
    expect(await runs()).toBe(2);
    // a watch uses the fresh token too
    const got: string[] = [];
    const abort = new AbortController();
    const watching = c.watch(
      RESOURCES.PeerNetwork,
      env.namespace,
      { resourceVersion: pn.metadata.resourceVersion ?? '0', timeoutSeconds: 5 },
      (type, o) => {
        got.push(`${type} ${o.metadata?.name}`);
        abort.abort();
      },
      abort.signal,
    );
    await env.kubectlOk(['annotate', 'peernetwork/listed', 'touched=yes']);
    await watching;
    expect(got).toEqual(['MODIFIED listed']);
  }, 60_000);

  test('an expiring token: fetched again after it expired', async () => {
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    await willPrint({ token: adminToken, expirationTimestamp: at(2000) });
    const c = client();
    await c.list(NAMESPACES);
    await c.list(NAMESPACES);
    expect(await runs()).toBe(1);
    await willPrint({ token: adminToken, expirationTimestamp: at(60_000) });
    await new Promise((r) => setTimeout(r, 2500));
    await c.list(NAMESPACES);
    expect(await runs()).toBe(1); // the counter was reset by willPrint: one new run
  }, 60_000);

  test('the operator runs on it, and says its version (log line and build_info metric)', async () => {
    await willPrint({ token: adminToken });
    const logs = new PassThrough();
    let logText = '';
    logs.on('data', (d: Buffer) => (logText += d.toString()));
    const operator = createOperator(
      {
        access: kubeAccessFromFile(join(state, 'kubeconfig')),
        logger: createLogger('info', logs),
      },
      parseSettings(
        [
          '--namespaces',
          env.namespace,
          '--leader-elect',
          'false',
          '--metrics-address',
          '127.0.0.1:0',
        ],
        {},
      ),
    );
    await operator.start();
    try {
      const deadline = Date.now() + 30_000;
      while (!operator.synced() && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(operator.synced()).toBe(true);
      const metrics = await (await fetch(`http://127.0.0.1:${operator.port()}/metrics`)).text();
      expect(metrics).toContain(`peernet_operator_build_info{version="${packageVersion()}"} 1`);
      const starting = logText
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg?: string; version?: string })
        .find((l) => l.msg === 'peernet-operator starting');
      expect(starting?.version).toBe(packageVersion());
    } finally {
      await operator.stop();
    }
  }, 60_000);
});
