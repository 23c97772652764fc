import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import {
  inClusterAccess,
  kubeAccessFromFile,
  loadKubeAccess,
  type ClientNodeLoader,
  type KubeAccess,
} from './config.js';
import { createTransport } from './transport.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let dir = '';

/** A kubeconfig with one context per user, all on one cluster unless `cluster` says. */
function kubeconfig(
  users: Record<string, Record<string, unknown>>,
  more: { cluster?: Record<string, unknown>; current?: string } = {},
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': more.current ?? Object.keys(users)[0],
    clusters: [{ name: 'local', cluster: more.cluster ?? { server: 'https://127.0.0.1:6443' } }],
    users: Object.entries(users).map(([name, user]) => ({ name, user })),
    contexts: Object.keys(users).map((name) => ({
      name,
      context: { cluster: 'local', user: name },
    })),
  });
}

function errorOf(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peernet-kubeconfig-'));
  await writeFile(join(dir, 'ca.crt'), 'CA FROM FILE');
  await writeFile(join(dir, 'token'), 'file-token\n');
  await writeFile(
    join(dir, 'config'),
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'admin',
      clusters: [
        {
          name: 'local',
          cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': 'ca.crt' },
        },
        {
          name: 'insecure',
          cluster: {
            server: 'https://127.0.0.2:6443',
            'insecure-skip-tls-verify': true,
            'tls-server-name': 'kubernetes',
          },
        },
      ],
      users: [
        {
          name: 'admin',
          user: {
            'client-certificate-data': b64('CERT'),
            'client-key-data': b64('KEY'),
            as: 'system:serviceaccount:ns:op',
            'as-groups': ['a', 'b'],
          },
        },
        { name: 'bot', user: { token: 'static-token' } },
        { name: 'filebot', user: { tokenFile: 'token' } },
        { name: 'basic', user: { username: 'u', password: 'p' } },
      ],
      contexts: [
        { name: 'admin', context: { cluster: 'local', user: 'admin', namespace: 'team' } },
        { name: 'bot', context: { cluster: 'insecure', user: 'bot' } },
        { name: 'filebot', context: { cluster: 'local', user: 'filebot' } },
        { name: 'basic', context: { cluster: 'local', user: 'basic' } },
      ],
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kubeconfig loading (the narrow reader)', () => {
  test('client certificates, a CA file relative to the kubeconfig, impersonation, namespace', async () => {
    const a = loadKubeAccess({ KUBECONFIG: `${join(dir, 'config')}:/elsewhere` });
    expect(a.server.href).toBe('https://127.0.0.1:6443/');
    expect(a.ca?.toString()).toBe('CA FROM FILE');
    const cert = await a.clientCert?.();
    expect(cert?.cert.toString()).toBe('CERT');
    expect(cert?.key.toString()).toBe('KEY');
    expect(a.rejectUnauthorized).toBe(true);
    expect(a.namespace).toBe('team');
    expect(await a.headers()).toEqual({
      'Impersonate-User': 'system:serviceaccount:ns:op',
      'Impersonate-Group': 'a,b',
    });
    // inline credentials cannot be refreshed: a 401 is final
    expect('refused' in a).toBe(false);
  });

  test('bearer tokens, inline or from a file; basic auth; insecure-skip-tls-verify', async () => {
    const bot = kubeAccessFromFile(join(dir, 'config'), 'bot');
    expect(bot.rejectUnauthorized).toBe(false);
    expect(bot.servername).toBe('kubernetes');
    expect(await bot.headers()).toEqual({ Authorization: 'Bearer static-token' });
    expect(await kubeAccessFromFile(join(dir, 'config'), 'filebot').headers()).toEqual({
      Authorization: 'Bearer file-token',
    });
    expect(await kubeAccessFromFile(join(dir, 'config'), 'basic').headers()).toEqual({
      Authorization: `Basic ${b64('u:p')}`,
    });
  });

  test('a token file is read again after a 401', async () => {
    const file = join(dir, 'rotating');
    await writeFile(file, 'one');
    await writeFile(join(dir, 'rot.yaml'), kubeconfig({ rot: { tokenFile: file } }));
    const a = kubeAccessFromFile(join(dir, 'rot.yaml'));
    expect(await a.headers()).toEqual({ Authorization: 'Bearer one' });
    await writeFile(file, 'two');
    // cached for a minute ...
    expect(await a.headers()).toEqual({ Authorization: 'Bearer one' });
    // ... unless the server refused it
    a.refused?.();
    expect(await a.headers()).toEqual({ Authorization: 'Bearer two' });
  });

  test('KUBECONFIG lists are merged as kubectl merges them', async () => {
    const one = join(dir, 'one');
    const two = join(dir, 'two');
    await mkdir(one, { recursive: true });
    await mkdir(two, { recursive: true });
    await writeFile(join(two, 'ca.crt'), 'CA OF TWO');
    // the first file names the context; the cluster and user come from the second, whose
    // relative CA path is relative to that second file; `shadowed` loses to the first file's
    await writeFile(
      join(one, 'config'),
      stringify({
        'current-context': 'merged',
        contexts: [{ name: 'merged', context: { cluster: 'far', user: 'shadowed' } }],
        users: [{ name: 'shadowed', user: { token: 'first' } }],
      }),
    );
    await writeFile(
      join(two, 'config'),
      stringify({
        'current-context': 'ignored',
        clusters: [
          {
            name: 'far',
            cluster: { server: 'https://far:6443', 'certificate-authority': 'ca.crt' },
          },
        ],
        users: [{ name: 'shadowed', user: { token: 'second' } }],
      }),
    );
    const a = loadKubeAccess({
      KUBECONFIG: `${join(one, 'config')}:${join(dir, 'missing')}:${join(two, 'config')}`,
    });
    expect(a.server.host).toBe('far:6443');
    expect(a.ca?.toString()).toBe('CA OF TWO');
    expect(await a.headers()).toEqual({ Authorization: 'Bearer first' });
  });

  test('--kubeconfig and --context win over KUBECONFIG', () => {
    const a = loadKubeAccess(
      { KUBECONFIG: '/nowhere' },
      { kubeconfig: join(dir, 'config'), context: 'bot' },
    );
    expect(a.server.host).toBe('127.0.0.2:6443');
  });

  test.each([
    ['an unknown context', 'nope', /no context named "nope"/],
    ['a missing file named alone', undefined, /cannot read kubeconfig/],
  ])('%s is refused by name', (_n, ctx, want) => {
    const path = ctx ? join(dir, 'config') : join(dir, 'missing');
    const err = errorOf(() => kubeAccessFromFile(path, ctx ?? {}));
    expect(err?.name).toBe('KubeConfigError');
    expect(err?.message).toMatch(want);
  });

  test('in a pod: the ServiceAccount token (re-read after a 401), CA and namespace', async () => {
    const sa = join(dir, 'sa');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'sa-1\n');
    await writeFile(join(sa, 'ca.crt'), 'SA CA');
    await writeFile(join(sa, 'namespace'), 'peernet-system');
    const a = inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1' }, sa);
    expect(a.server.href).toBe('https://[fd00::1]/');
    expect(a.namespace).toBe('peernet-system');
    expect(a.ca?.toString()).toBe('SA CA');
    expect(await a.headers()).toEqual({ Authorization: 'Bearer sa-1' });
    await writeFile(join(sa, 'token'), 'sa-2\n');
    a.refused?.();
    expect(await a.headers()).toEqual({ Authorization: 'Bearer sa-2' });
  });
});

describe('exec credential plugins and auth providers (through client-node)', () => {
  let plugin = '';
  let loads = 0;
  const load: ClientNodeLoader = () => {
    loads++;
    return import('@kubernetes/client-node');
  };

  // client-node's first import takes seconds on a loaded machine: not inside a test's 5 s
  beforeAll(async () => {
    await import('@kubernetes/client-node');
  }, 60_000);

  beforeAll(async () => {
    plugin = join(dir, 'bin', 'plugin.sh');
    await mkdir(join(dir, 'bin'), { recursive: true });
    // the ExecCredential protocol: the answer on stdout; counts its runs and keeps the
    // KUBERNETES_EXEC_INFO it was given
    await writeFile(
      plugin,
      [
        '#!/bin/sh',
        'n=$(cat "$STATE/runs" 2>/dev/null || echo 0)',
        'echo $((n + 1)) > "$STATE/runs"',
        'printf %s "$KUBERNETES_EXEC_INFO" > "$STATE/info"',
        '[ -f "$STATE/fail" ] && { echo "token expired, log in again" >&2; exit 3; }',
        'cat "$STATE/credential"',
        '',
      ].join('\n'),
    );
    await chmod(plugin, 0o755);
  });

  /** A state folder, the credential the plugin prints, and an access through it. */
  async function execUser(
    name: string,
    status: Record<string, unknown>,
    exec: Record<string, unknown> = {},
  ): Promise<{ state: string; access: KubeAccess; runs(): Promise<number> }> {
    const state = join(dir, name);
    await mkdir(state, { recursive: true });
    const credential = (s: Record<string, unknown>) =>
      writeFile(
        join(state, 'credential'),
        JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1',
          kind: 'ExecCredential',
          status: s,
        }),
      );
    await credential(status);
    await writeFile(
      join(state, 'config'),
      kubeconfig({
        [name]: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            // relative with a separator: relative to the kubeconfig's folder, as in kubectl
            command: '../bin/plugin.sh',
            env: [{ name: 'STATE', value: state }],
            interactiveMode: 'Never',
            ...exec,
          },
        },
      }),
    );
    return {
      state,
      access: kubeAccessFromFile(join(state, 'config'), { loadClientNode: load }),
      runs: async () => Number(await readFile(join(state, 'runs'), 'utf8')),
    };
  }

  test('client-node is not loaded for what the narrow reader handles', async () => {
    const before = loads;
    const a = kubeAccessFromFile(join(dir, 'config'), { context: 'filebot', loadClientNode: load });
    await a.headers();
    await a.clientCert?.();
    expect(loads).toBe(before);
  });

  test('a token from the plugin, kept while valid, fetched again after a 401', async () => {
    const u = await execUser('tokenbot', { token: 'exec-token' }, { provideClusterInfo: true });
    expect(await u.access.headers()).toEqual({ Authorization: 'Bearer exec-token' });
    expect(await u.access.clientCert?.()).toBeUndefined();
    expect(await u.access.headers()).toEqual({ Authorization: 'Bearer exec-token' });
    expect(await u.runs()).toBe(1);
    const info = JSON.parse(await readFile(join(u.state, 'info'), 'utf8')) as unknown;
    expect(info).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: 'https://127.0.0.1:6443' } },
    });
    // the refusals of one burst share one run
    u.access.refused?.();
    u.access.refused?.();
    await Promise.all([u.access.headers(), u.access.headers()]);
    expect(await u.runs()).toBe(2);
  });

  test('an expiring credential is fetched again once it expired', async () => {
    const soon = new Date(Date.now() + 1000).toISOString();
    const u = await execUser('expiring', { token: 't', expirationTimestamp: soon });
    await u.access.headers();
    await u.access.headers();
    expect(await u.runs()).toBe(1);
    await sleep(1200);
    await u.access.headers();
    expect(await u.runs()).toBe(2);
  });

  test('a client certificate from the plugin', async () => {
    const u = await execUser('certbot', { clientCertificateData: 'PEM', clientKeyData: 'KEY' });
    const c = await u.access.clientCert?.();
    expect([c?.cert.toString(), c?.key.toString()]).toEqual(['PEM', 'KEY']);
    expect(await u.access.headers()).toEqual({});
  });

  test('a failing plugin is a KubeCredentialsError with its stderr', async () => {
    const u = await execUser('failing', { token: 'x' });
    await writeFile(join(u.state, 'fail'), '');
    await expect(u.access.headers()).rejects.toMatchObject({
      name: 'KubeCredentialsError',
      message: expect.stringMatching(/plugin\.sh.*token expired, log in again/),
    });
  });

  test('an exec section without a known apiVersion is refused at load', async () => {
    await writeFile(
      join(dir, 'old.yaml'),
      kubeconfig({ old: { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1' } } }),
    );
    const err = errorOf(() => kubeAccessFromFile(join(dir, 'old.yaml')));
    expect(err?.name).toBe('KubeConfigError');
    expect(err?.message).toMatch(/apiVersion must be one of/);
  });

  test('an OIDC auth provider: the id-token while it is valid', async () => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const idToken = `${part({ alg: 'none' })}.${part({ exp: Date.now() / 1000 + 3600 })}.sig`;
    await writeFile(
      join(dir, 'oidc.yaml'),
      kubeconfig({
        oidc: {
          'auth-provider': {
            name: 'oidc',
            config: { 'id-token': idToken, 'client-id': 'k', 'idp-issuer-url': 'https://idp' },
          },
        },
      }),
    );
    const a = kubeAccessFromFile(join(dir, 'oidc.yaml'), { loadClientNode: load });
    expect(await a.headers()).toEqual({ Authorization: `Bearer ${idToken}` });
    // an OIDC refresh token may be single-use: a 401 does not throw the provider's state away
    expect('refused' in a).toBe(false);
  });
});

describe('the transport applies the credentials', () => {
  test('a 401 is retried once with refreshed credentials', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      const ok = req.headers.authorization === 'Bearer new';
      res.writeHead(ok ? 200 : 401).end(ok ? 'ok' : 'Unauthorized');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    let token = 'old';
    let refusals = 0;
    const access: KubeAccess = {
      server: new URL(`http://127.0.0.1:${port}`),
      rejectUnauthorized: true,
      headers: () => Promise.resolve({ Authorization: `Bearer ${token}` }),
      refused: () => {
        refusals++;
        token = 'new';
      },
    };
    const t = createTransport(access);
    try {
      const res = await t.open('GET', new URL('/api', access.server), {}, undefined, {});
      let body = '';
      for await (const c of res.body) body += String(c);
      expect([res.code, body, refusals]).toEqual([200, 'ok', 1]);
      expect(seen).toEqual(['Bearer old', 'Bearer new']);
      // refused for good: one retry, then the 401 is the answer
      token = 'wrong';
      access.refused = () => {
        refusals++;
      };
      const again = await t.open('GET', new URL('/api', access.server), {}, undefined, {});
      again.body.resume();
      expect([again.code, refusals]).toEqual([401, 2]);
    } finally {
      t.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
