// The two commands as users run them: the built files, in child processes.
import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readKeyFile } from '../../common/identity.js';

const here = dirname(fileURLToPath(import.meta.url));
/** package.json of the repository: this file runs from dist/peer/cli/. */
const packageJson = join(here, '..', '..', '..', 'package.json');
const peer = join(here, 'peernet-peer.js');
const ctl = join(here, 'peerctl.js');

function run(file: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [file, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('peernet-peer', () => {
  it.each([
    [['--api', 'x'], '--api'],
    [['--listen', 'nope'], '--listen'],
    [['--network', 'Bad Name'], '--network'],
    [['--bogus'], '--bogus'],
  ])('%j exits 2 with one line naming %s', (args, flag) => {
    const r = run(peer, args);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^peernet-peer: ${flag}: `));
  });

  it('names the flag for a bad value from the environment', () => {
    const r = run(peer, [], { PEERNET_LOG_LEVEL: 'loud' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^peernet-peer: --log-level: /);
  });

  it('names --swarm-key-file and --key-file when their files are bad', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peernet-cli-'));
    const missing = run(peer, [
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--api',
      '127.0.0.1:0',
      '--swarm-key-file',
      join(dir, 'none'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^peernet-peer: --swarm-key-file: /);
    const badKey = run(peer, [
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--api',
      '127.0.0.1:0',
      '--key-file',
      peer,
    ]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/^peernet-peer: --key-file: /);
  });

  it.each([
    ['the wrong first line', '/key/swarm/psk/2.0.0/\n/base16/\n' + 'ab'.repeat(32) + '\n'],
    ['a short key', '/key/swarm/psk/1.0.0/\n/base16/\n' + 'ab'.repeat(31) + '\n'],
    ['a libp2p identity instead', 'CAESQ\n'],
  ])('exits 2 with one line naming --swarm-key-file for a file with %s', async (_what, text) => {
    const file = join(await mkdtemp(join(tmpdir(), 'peernet-cli-')), 'swarm.key');
    await writeFile(file, text);
    const r = run(peer, [
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--api',
      '127.0.0.1:0',
      '--swarm-key-file',
      file,
    ]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^peernet-peer: --swarm-key-file: .* is not a swarm key: /);
  });

  it('prints the package version for --version', async () => {
    const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
    const r = run(peer, ['--version']);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 0,
      stdout: `${version}\n`,
      stderr: '',
    });
  });

  it('keygen writes a key and prints its peer ID', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'peernet-cli-')), 'p.key');
    const r = run(peer, ['keygen', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((await readKeyFile(out)).peerId);
    expect(run(peer, ['keygen']).code).toBe(2);
  });

  it('prints usage for --help', () => {
    const r = run(peer, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--bootstrap-file');
  });
});

/** Runs peernet-peer to its exit without blocking this process (a server here must answer). */
function runAsync(args: string[]) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [peer, ...args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** exit 2, one line on stderr, naming the flag */
function expectFlagError(r: { code: number | null; stderr: string }, flag: string): void {
  const lines = r.stderr.trim().split('\n');
  expect({ code: r.code, lines: lines.length, first: lines[0] }).toEqual({
    code: 2,
    lines: 1,
    first: expect.stringMatching(new RegExp(`^peernet-peer: ${flag}: `)) as unknown,
  });
}

describe('peernet-peer: the compile cache', () => {
  it('is written once the peer has started, not only at its exit', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'peernet-cache-'));
    const child = spawn(
      process.execPath,
      [peer, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'],
      { env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: cache }, stdio: 'pipe' },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    /** bytes of cache written so far */
    const cached = async (): Promise<number> => {
      let total = 0;
      for (const e of await readdir(cache, { recursive: true, withFileTypes: true }))
        if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
      return total;
    };
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('"peer started"') && Date.now() < deadline && child.exitCode === null)
        await sleep(50);
      expect(out).toContain('"peer started"');
      // the daemon's code (the bundle is ~2 MB of source) is in it while the peer still runs
      while ((await cached()) < 100_000 && Date.now() < deadline) await sleep(50);
      expect(await cached()).toBeGreaterThan(100_000);
    } finally {
      // SIGKILL: Node's own write at exit does not happen
      child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('peernet-peer: values that are accepted and cannot work exit 2 naming the flag', () => {
  const base = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'];

  it('--listen on a port that is taken (was: exit 1 and a stack trace)', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runAsync(['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api', '127.0.0.1:0']);
      expectFlagError(r, '--listen');
      expect(r.stderr).toContain('EADDRINUSE');
      // the API port taken: the same for --api
      expectFlagError(
        await runAsync(['--listen', '/ip4/127.0.0.1/tcp/0', '--api', `127.0.0.1:${port}`]),
        '--api',
      );
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });

  it.each([
    ['under /proc (was: 100 % CPU forever)', '/proc/peernet-test/data'],
    ['/proc itself', '/proc'],
    ['under /sys', '/sys/peernet-test'],
    ['under a file', '/etc/hostname/data'],
  ])('--data-dir %s', (_what, dir) => {
    expectFlagError(run(peer, [...base, '--data-dir', dir]), '--data-dir');
  });

  it('--data-dir in a directory this user cannot write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peernet-cli-'));
    await chmod(dir, 0o500);
    // root writes anywhere: there the /proc and /sys cases above stand for it
    if (process.getuid?.() === 0) return;
    expectFlagError(run(peer, [...base, '--data-dir', join(dir, 'data')]), '--data-dir');
  });

  it('--bootstrap-file that is a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peernet-cli-'));
    await mkdir(join(dir, 'bootstrap.txt'));
    expectFlagError(
      run(peer, [...base, '--bootstrap-file', join(dir, 'bootstrap.txt')]),
      '--bootstrap-file',
    );
  });

  it.each([
    [['--write-quorum', '50', '--replication', '3'], '--write-quorum'],
    [['--listen', '/ip4/127.0.0.1/udp/4001/quic-v1'], '--listen'],
    [['--republish-interval', '100h'], '--republish-interval'],
    [['--max-record-bytes', '10'], '--max-record-bytes'],
    [['--max-clock-skew', '0'], '--max-clock-skew'],
  ])('%j', (args, flag) => {
    expectFlagError(run(peer, [...base, ...args]), flag);
  });
});

describe('peerctl', () => {
  it('exits 2 on usage errors and 1 when the API cannot be reached', () => {
    expect(run(ctl, []).code).toBe(2);
    expect(run(ctl, ['frobnicate']).code).toBe(2);
    expect(run(ctl, ['get']).code).toBe(2);
    const r = run(ctl, ['--api', 'http://127.0.0.1:1', 'status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^peerctl: cannot reach/);
    expect(run(ctl, ['status'], { PEERNET_API: 'http://127.0.0.1:1' }).code).toBe(1);
  });

  it('prints the package version for --version', async () => {
    const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
    const r = run(ctl, ['--version']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `${version}\n` });
  });

  it('pings by peer ID only: an address is a usage error, never sent to the peer', () => {
    // the API URL is unreachable: a request would exit 1 ("cannot reach"), not 2
    const api = ['--api', 'http://127.0.0.1:1'];
    const r = run(ctl, [...api, 'ping', '/ip4/127.0.0.1/tcp/4001']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^peerctl: ping: expected a peer ID/);
    expect(run(ctl, [...api, 'ping']).code).toBe(2);
    expect(run(ctl, ['--help']).stdout).toMatch(/ping PEERID /);
  });
});

describe('peerctl: the API token', () => {
  /** peerctl in a child process (async: the test's own server must answer meanwhile) */
  const runAsync = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [ctl, ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('sends Authorization: Bearer from --api-token-file or $PEERNET_API_TOKEN_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peerctl-token-'));
    const file = join(dir, 'token');
    await writeFile(file, 'the-token-of-this-test\n');
    const seen: Array<string | undefined> = [];
    const server = createHttpServer((req, res) => {
      seen.push(req.headers.authorization);
      const ok = req.headers.authorization === 'Bearer the-token-of-this-test';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { key: 'k', stored: 1, replicas: 1 } : { error: 'no token' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const without = await runAsync(['--api', api, 'put', 'k', 'v']);
      expect(without.code).toBe(1);
      expect(without.stderr).toMatch(/no token \(HTTP 401\)/);
      expect((await runAsync(['--api', api, '--api-token-file', file, 'put', 'k', 'v'])).code).toBe(
        0,
      );
      const fromEnv = await runAsync(['--api', api, 'put', 'k', 'v'], {
        PEERNET_API_TOKEN_FILE: file,
      });
      expect(fromEnv.code).toBe(0);
      expect(seen).toEqual([
        undefined,
        'Bearer the-token-of-this-test',
        'Bearer the-token-of-this-test',
      ]);
      const missing = await runAsync([
        '--api',
        api,
        '--api-token-file',
        join(dir, 'no'),
        'put',
        'k',
        'v',
      ]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/^peerctl: --api-token-file: cannot read/);
    } finally {
      server.close();
    }
  });
});

describe('Dockerfile.peer', () => {
  it("starts node with peernet-peer's V8 flags and malloc arenas (no re-exec in a pod) and its baked compile cache", async () => {
    const root = join(here, '..', '..', '..');
    const dockerfile = await readFile(join(root, 'Dockerfile.peer'), 'utf8');
    const source = await readFile(join(root, 'peer', 'cli', 'peernet-peer.ts'), 'utf8');
    const flags = JSON.parse(
      (/^const V8_FLAGS = (\[.*\]);$/m.exec(source)?.[1] ?? '[]').replaceAll("'", '"'),
    ) as string[];
    expect(flags.length).toBeGreaterThan(0);
    const entrypoint = JSON.parse(
      /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]',
    ) as string[];
    expect(entrypoint).toEqual(['node', ...flags, '/app/dist/peer/cli/peernet-peer.js']);
    // the cache is made with the same flags, and the image points node at it
    expect(dockerfile).toContain(
      `node ${flags.join(' ')} \\\n        /app/dist/peer/cli/peernet-peer.js`,
    );
    expect(dockerfile).toMatch(/NODE_COMPILE_CACHE=\/app\/compile-cache\b/);
    // the malloc arenas the re-exec would set
    expect(source).toContain("MALLOC_ARENA_MAX: '2'");
    expect(dockerfile).toMatch(/ MALLOC_ARENA_MAX=2$/m);
    // what the re-exec imports is in the image
    expect(source).toContain("import('../quotas.js')");
    expect(dockerfile).toContain('cp dist/peer/quotas.js /out/app/dist/peer/');
  });
});
