import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { kubeAccessFromFile, loadKubeAccess } from './config.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peernet-kubeconfig-'));
  await writeFile(join(dir, 'ca.crt'), 'CA FROM FILE');
  await writeFile(join(dir, 'token'), 'file-token\n');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
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
          cluster: { server: 'https://127.0.0.2:6443', 'insecure-skip-tls-verify': true },
        },
      ],
      users: [
        {
          name: 'admin',
          user: {
            'client-certificate-data': b64('CERT'),
            'client-key-data': b64('KEY'),
            as: 'system:serviceaccount:ns:op',
          },
        },
        { name: 'bot', user: { token: 'static-token' } },
        { name: 'filebot', user: { tokenFile: 'token' } },
        { name: 'execbot', user: { exec: { command: 'x' } } },
      ],
      contexts: [
        { name: 'admin', context: { cluster: 'local', user: 'admin' } },
        { name: 'bot', context: { cluster: 'insecure', user: 'bot' } },
        { name: 'filebot', context: { cluster: 'local', user: 'filebot' } },
        { name: 'execbot', context: { cluster: 'local', user: 'execbot' } },
      ],
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kubeconfig loading', () => {
  test('client certificates, a CA file relative to the kubeconfig, impersonation', async () => {
    const a = loadKubeAccess({ KUBECONFIG: `${join(dir, 'config')}:/elsewhere` });
    expect(a.server.href).toBe('https://127.0.0.1:6443/');
    expect(a.ca?.toString()).toBe('CA FROM FILE');
    expect(a.cert?.toString()).toBe('CERT');
    expect(a.key?.toString()).toBe('KEY');
    expect(a.rejectUnauthorized).toBe(true);
    expect(await a.headers()).toEqual({ 'Impersonate-User': 'system:serviceaccount:ns:op' });
  });

  test('bearer tokens, inline or from a file; insecure-skip-tls-verify', async () => {
    const bot = kubeAccessFromFile(join(dir, 'config'), 'bot');
    expect(bot.rejectUnauthorized).toBe(false);
    expect(await bot.headers()).toEqual({ Authorization: 'Bearer static-token' });
    expect(await kubeAccessFromFile(join(dir, 'config'), 'filebot').headers()).toEqual({
      Authorization: 'Bearer file-token',
    });
  });

  test.each([
    ['an unknown context', 'nope', /no context named "nope"/],
    ['exec credentials', 'execbot', /exec and auth-provider credentials are not supported/],
  ])('%s is refused by name', (_n, ctx, want) => {
    let err: Error | undefined;
    try {
      kubeAccessFromFile(join(dir, 'config'), ctx);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('KubeConfigError');
    expect(err?.message).toMatch(want);
  });
});
