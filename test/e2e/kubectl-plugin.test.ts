// `kubectl peernet` as users run it: the cluster's kubectl finds the kubectl-peernet bin on PATH
// and the plugin reaches the peers of a 3-pod network on real nodes through the API server
// (pods/proxy, pods/log) with the admin kubeconfig.
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { useRealStack, waitUntil } from './stack.js';

const stack = useRealStack('e2e-kplugin');
/** dist/plugin/kubectl-peernet.js (this file runs from dist/test/e2e/) */
const pluginJs = fileURLToPath(new URL('../../plugin/kubectl-peernet.js', import.meta.url));
let binDir = '';

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      stack.t.cluster.binaries.kubectl,
      ['peernet', '-n', stack.namespace, ...args],
      {
        env: {
          ...process.env,
          PATH: `${binDir}:${process.env.PATH ?? ''}`,
          KUBECONFIG: stack.t.cluster.kubeconfig,
        },
        timeout: 90_000,
      },
      (err, stdout, stderr) =>
        done({
          code: err ? Number(err.code ?? 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}

beforeAll(async () => {
  binDir = resolve(stack.t.cluster.dir, 'plugin-bin');
  await mkdir(binDir, { recursive: true });
  // what `npm install -g` or Krew would put on PATH
  await writeFile(
    `${binDir}/kubectl-peernet`,
    `#!/bin/sh\nexec "${process.execPath}" "${pluginJs}" "$@"\n`,
  );
  await chmod(`${binDir}/kubectl-peernet`, 0o755);
  await stack.apply(stack.network('plug', { replicas: 3, mode: 'spread' }));
  await stack.waitReady('plug', 3);
}, 600_000);

describe('kubectl peernet on real nodes', () => {
  test('status lists every peer with its live figures', async () => {
    // the routing tables fill shortly after Ready
    let last = '';
    await waitUntil(
      async () => {
        const r = await kubectl(['status', 'plug', '--json']);
        last = r.stdout + r.stderr;
        const v = JSON.parse(r.stdout) as {
          peers: { reachable: boolean; ready: boolean; routingTable?: number }[];
        };
        return (
          v.peers.length === 3 && v.peers.every((p) => p.reachable && (p.routingTable ?? 0) > 0)
        );
      },
      90_000,
      'kubectl peernet status: 3 reachable peers',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    const r = await kubectl(['status', 'plug']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const rows = r.stdout.trimEnd().split('\n').slice(2);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/^plug-\d +plug-\d +\S+ +true +\d+ +\d+ +\d+$/);
  }, 120_000);

  test('put on one peer, get from another; not found exits 1', async () => {
    const put = await kubectl(['put', 'plug', 'e2e/key one', 'through the API server']);
    expect(put).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^stored e2e\/key one on/),
    });
    const got = await kubectl(['get', 'plug', 'e2e/key one', '--peer', 'plug-2']);
    expect(got).toMatchObject({ code: 0, stdout: 'through the API server' });
    expect(await kubectl(['get', 'plug', 'never-put'])).toMatchObject({
      code: 1,
      stderr: 'kubectl-peernet: not found: never-put\n',
    });
  }, 120_000);

  test('logs of every peer container, prefixed', async () => {
    const r = await kubectl(['logs', 'plug', '--tail', '3']);
    expect(r.code).toBe(0);
    const prefixes = new Set(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => /^\[([^\]]+)\]/.exec(l)?.[1]),
    );
    expect([...prefixes].sort()).toEqual(['plug-0/peer-0', 'plug-1/peer-0', 'plug-2/peer-0']);
  }, 60_000);

  test('bad usage exits 2 with one line', async () => {
    const r = await kubectl(['put', 'plug', 'k']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('kubectl-peernet: put: expected NETWORK KEY VALUE, got "plug" "k"\n');
  });
});
