// A harness for real `peernet-peer` processes on this machine: it spawns them, waits for
// /readyz, talks to their HTTP API, and always kills them. Used by the peer tests, the e2e tests
// and the benchmarks, so it imports nothing from jest.
// Long: the process, its typed client and the group that starts and stops them belong together.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createPeerApiClient,
  type PeerApiClient,
  type PeerReply,
  type PeerTransport,
} from '../../peer/api/client.js';
import type { DrainReply, PingReply, StatusReply, StoreReply } from '../../peer/api/types.js';
import { generateIdentity, writeKeyFile } from '../../common/identity.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: this file runs from dist/test/helpers/. */
export const repoRoot = resolve(here, '..', '..', '..');
export const peerBin = join(repoRoot, 'dist', 'peer', 'cli', 'peernet-peer.js');
export const peerctlBin = join(repoRoot, 'dist', 'peer', 'cli', 'peerctl.js');
export const testOutputDir = join(repoRoot, '.test-output');

/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 on Linux) */
const CLOCK_TICKS = 100;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      lastErr = undefined;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? `; last error: ${(lastErr as Error).message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

const handedOutPorts = new Set<number>();

/** Binds `port` (0: any) on `host` and closes it again; resolves with the port bound. */
function listenOnce(port: number, host: string): Promise<number> {
  return new Promise<number>((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** A TCP port that was free a moment ago and that this process has not handed out before. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await listenOnce(0, host);
    if (port && !handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
}

/**
 * A TCP port below Linux's ephemeral range (32768-60999) that is free now and not handed out
 * before: a port picked long before it is bound (a benchmark launching 100 peers over minutes)
 * would otherwise often be taken meanwhile by an outbound connection's local port.
 */
export async function freeFixedPort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < 1000; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOutPorts.has(port)) continue;
    const free = await listenOnce(port, host).then(
      () => true,
      () => false,
    );
    if (free) {
      handedOutPorts.add(port);
      return port;
    }
  }
  throw new Error('no free port found in 20000-31999');
}

export interface KeyInfo {
  path: string;
  peerId: string;
}
/** Writes a fresh key file (the format `peernet-peer keygen` writes) without a process. */
export async function makeKey(path: string): Promise<KeyInfo> {
  const id = await generateIdentity();
  await writeKeyFile(path, id);
  return { path, peerId: id.peerId };
}

/** A pre-shared key file in the go-libp2p/js-libp2p `pnet` format. */
export function swarmKeyText(hex64?: string): string {
  const hex =
    hex64 ??
    Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
  return `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`;
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** An answer of a raw request (`PeerClient.request`), whatever its status. */
export type HttpResult = PeerReply;

/**
 * Requests from inside network namespace `ns` (root only): each runs as a short node process
 * there, ended when the call's deadline passes.
 */
export function netnsTransport(ns: string): PeerTransport {
  const script = `
    const [url, method, body, headers] = JSON.parse(process.argv[1]);
    fetch(url, { method, body: body === null ? undefined : Buffer.from(body, 'base64'), headers })
      .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status,
        headers: Object.fromEntries(r.headers),
        body: Buffer.from(await r.arrayBuffer()).toString('base64') })))
      .catch((e) => { process.stderr.write(String(e)); process.exit(2); });`;
  return (req) =>
    new Promise((res, rej) => {
      const body = req.body === undefined ? null : Buffer.from(req.body).toString('base64');
      const arg = JSON.stringify([req.url, req.method, body, req.headers]);
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, arg], {
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: req.signal,
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', rej);
      child.on('close', (code) => {
        if (code !== 0) return rej(new Error(`request in netns ${ns} failed: ${err.trim()}`));
        try {
          const r = JSON.parse(out) as {
            status: number;
            headers: Record<string, string>;
            body: string;
          };
          res({
            status: r.status,
            headers: r.headers,
            body: new Uint8Array(Buffer.from(r.body, 'base64')),
          });
        } catch (e) {
          rej(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
}

/**
 * One peer's API for tests: the typed client (`api`), with answers in the shapes tests compare
 * (text values, lists of peer IDs) and `request` for what the typed methods do not send.
 */
export class PeerClient {
  readonly api: PeerApiClient;

  constructor(
    readonly baseUrl: string,
    transport?: PeerTransport,
    timeoutMs = 30_000,
  ) {
    this.api = createPeerApiClient({ baseUrl, timeoutMs, ...(transport ? { transport } : {}) });
  }

  request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    opts: { headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<HttpResult> {
    return this.api.request(method, path, body, opts);
  }

  status(): Promise<StatusReply> {
    return this.api.status();
  }

  ready(): Promise<boolean> {
    return this.api.readyz({ timeoutMs: 5000 });
  }

  put(key: string, value: string | Uint8Array): Promise<StoreReply> {
    return this.api.put(key, value);
  }

  /** The value as text, or undefined on 404. */
  async get(key: string): Promise<string | undefined> {
    const r = await this.api.get(key);
    return r === undefined ? undefined : new TextDecoder().decode(r.value);
  }

  async provide(key: string): Promise<void> {
    await this.api.provide(key);
  }

  /** Peer IDs of the providers of `key`. */
  async providers(key: string): Promise<string[]> {
    return (await this.api.providers(key)).providers.map((p) => p.peerId);
  }

  /** Peer IDs of the peers this peer is connected to. */
  async peers(): Promise<string[]> {
    return (await this.api.peers()).peers.map((p) => p.peerId);
  }

  ping(target: string): Promise<PingReply> {
    return this.api.ping(target);
  }

  drain(): Promise<DrainReply> {
    return this.api.drain();
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Every live child of this process, killed at exit whatever happened. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killAllNow);
  }
}
/** SIGKILLs every peer process this harness started and that is still running (synchronous). */
export function killAllNow(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface PeerOptions {
  /** A name for logs; defaults to `peer-<n>`. */
  name?: string;
  /** Defaults to a fresh key file in the group's directory; `false` runs without `--key-file`. */
  keyFile?: string | false;
  network?: string;
  bootstrap?: string[];
  bootstrapFile?: string;
  mdns?: boolean;
  swarmKeyFile?: string;
  dataDir?: string;
  /** libp2p listen port; 0 (default) lets the OS pick and reads it back from /v1/status. */
  p2pPort?: number;
  /** Host the peer listens and serves on; 127.0.0.1 by default. */
  host?: string;
  /** API port; 0 (default) lets the daemon pick one and reads it from its "peer started" line. */
  apiPort?: number;
  /** More flags for `peernet-peer`. */
  args?: string[];
  env?: Record<string, string>;
  /** Run inside this network namespace (root only); the API is then reached from inside it. */
  netns?: string;
  /** Wait for /readyz (default true); without it, `waitStarted()` before using the API. */
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running `peernet-peer`. */
export class PeerProcess {
  readonly child: ChildProcess;
  /** The API's URL; with `--api HOST:0` known once the peer logged "peer started". */
  apiUrl: string;
  client: PeerClient;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  /** Filled by `waitReady` from /v1/status. */
  peerId = '';
  addrs: string[] = [];

  constructor(
    readonly name: string,
    readonly args: string[],
    readonly logPath: string,
    /** undefined: read from the "peer started" log line */
    apiUrl: string | undefined,
    readonly options: PeerOptions,
    env: Record<string, string>,
  ) {
    mkdirSync(dirname(logPath), { recursive: true });
    const fd = openSync(logPath, 'a');
    const cmd = options.netns ? 'ip' : process.execPath;
    const argv = options.netns
      ? ['netns', 'exec', options.netns, process.execPath, peerBin, ...args]
      : [peerBin, ...args];
    this.child = spawn(cmd, argv, {
      cwd: repoRoot,
      stdio: ['ignore', fd, fd],
      env: { ...cleanEnv(), ...env },
    });
    closeSync(fd);
    track(this.child);
    this.exited = new Promise((res) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        res(this.exitInfo);
      });
    });
    this.apiUrl = apiUrl ?? '';
    this.client = this.clientFor(this.apiUrl);
  }

  private clientFor(url: string): PeerClient {
    return new PeerClient(url, this.options.netns ? netnsTransport(this.options.netns) : undefined);
  }

  /**
   * Waits for the daemon's "peer started" log line (one JSON object with `peerId`, `addrs` and
   * the bound `api`), which is how a peer started with `--api HOST:0` tells where it listens.
   */
  async waitStarted(timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.log()
        .split('\n')
        .find((l) => l.includes('"peer started"'));
      if (line) {
        const j = JSON.parse(line) as { peerId?: string; addrs?: string[]; api?: string };
        if (j.api) {
          const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(j.api) ?? [];
          const h =
            host === '0.0.0.0' || host === ''
              ? '127.0.0.1'
              : host!.includes(':')
                ? `[${host}]`
                : host!;
          this.apiUrl = `http://${h}:${port}`;
          this.client = this.clientFor(this.apiUrl);
        }
        this.peerId = j.peerId ?? this.peerId;
        this.addrs = j.addrs ?? this.addrs;
        return this;
      }
      if (!this.running) {
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.exitInfo)}) before it started ${this.logHint()}\n${this.logTail()}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `${this.name} did not start within ${timeoutMs} ms ${this.logHint()}\n${this.logTail()}`,
        );
      }
      await sleep(100);
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Addresses to dial this peer at, each ending in /p2p/<peerId>. */
  get dialAddrs(): string[] {
    return this.addrs.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${this.peerId}`));
  }

  /** One loopback dial address (the first TCP one). */
  get addr(): string {
    const a = this.dialAddrs.find((x) => x.includes('/tcp/')) ?? this.dialAddrs[0];
    if (!a) throw new Error(`${this.name} has no addresses (is it ready?) ${this.logHint()}`);
    return a;
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  logHint(): string {
    return `(log: ${this.logPath})`;
  }

  /** The last lines of the log, for failure messages. */
  logTail(lines = 15): string {
    return this.log().trimEnd().split('\n').slice(-lines).join('\n');
  }

  async waitReady(timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    if (!this.apiUrl) await this.waitStarted(timeoutMs);
    for (;;) {
      if (!this.running) {
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.exitInfo)}) before it was ready ${this.logHint()}\n${this.logTail()}`,
        );
      }
      try {
        if (await this.client.ready()) break;
      } catch {
        // not listening yet
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `${this.name} not ready after ${timeoutMs} ms ${this.logHint()}\n${this.logTail()}`,
        );
      }
      await sleep(150);
    }
    const st = await this.client.status();
    this.peerId = st.peerId;
    this.addrs = st.addrs;
    return this;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with how it ended. */
  async stop(graceMs = 15_000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<ExitInfo> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /**
   * Proportional set size in KiB (shared pages, such as Node's own code, divided among the
   * processes sharing them): what one more peer really costs. Undefined once gone or off Linux.
   */
  pssKiB(): number | undefined {
    try {
      const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${this.pid}/smaps_rollup`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Resident memory in KiB from /proc (undefined once gone or off Linux). */
  /** CPU time this process has used (user + system), in seconds; undefined once it is gone */
  cpuSeconds(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
    } catch {
      return undefined;
    }
  }

  rssKiB(): number | undefined {
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The environment without any PEERNET_ variable of the caller, so flags alone configure peers. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('PEERNET_')) env[k] = v;
  }
  return env;
}

/**
 * A set of peers sharing a scratch directory and a log directory. `stop()` ends every one of
 * them, whatever state the test left them in.
 */
export class PeerGroup {
  readonly peers: PeerProcess[] = [];
  private counter = 0;
  private netnsPorts = 0;

  private constructor(
    /** Scratch directory for keys, data dirs and bootstrap files. */
    readonly dir: string,
    /** Where each peer's output goes: `<logDir>/<name>.log`. */
    readonly logDir: string,
  ) {}

  /** `label` names the log folder: `.test-output/peers/<label>-<time>/`. */
  static async create(label: string): Promise<PeerGroup> {
    const safe = label.replace(/[^a-zA-Z0-9._-]+/g, '-').slice(0, 60);
    const dir = await mkdtemp(join(tmpdir(), `peernet-${safe}-`));
    const logDir = join(testOutputDir, 'peers', `${safe}-${Date.now().toString(36)}`);
    mkdirSync(logDir, { recursive: true });
    return new PeerGroup(dir, logDir);
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Arguments for `peernet-peer` from options (exposed so tests can start one by hand). */
  async argsFor(
    opts: PeerOptions,
    name: string,
  ): Promise<{ args: string[]; apiUrl: string | undefined }> {
    const host = opts.host ?? '127.0.0.1';
    // Port 0 (the daemon logs the port it bound) cannot race another process for a port; a
    // fresh namespace has every port free: number them there, as a pod numbers its containers.
    const apiPort = opts.apiPort ?? (opts.netns ? 5001 + this.netnsPorts++ : 0);
    const args = [
      '--listen',
      `/ip4/${host}/tcp/${opts.p2pPort ?? 0}`,
      '--api',
      `${host}:${apiPort}`,
    ];
    let keyFile = opts.keyFile;
    if (keyFile === undefined) keyFile = (await makeKey(this.path(`${name}.key`))).path;
    if (keyFile) args.push('--key-file', keyFile);
    if (opts.network) args.push('--network', opts.network);
    for (const b of opts.bootstrap ?? []) args.push('--bootstrap', b);
    if (opts.bootstrapFile) args.push('--bootstrap-file', opts.bootstrapFile);
    if (opts.mdns) args.push('--mdns');
    if (opts.swarmKeyFile) args.push('--swarm-key-file', opts.swarmKeyFile);
    if (opts.dataDir) args.push('--data-dir', opts.dataDir);
    args.push(...(opts.args ?? []));
    return { args, apiUrl: apiPort === 0 ? undefined : `http://${host}:${apiPort}` };
  }

  /** Starts one peer and (by default) waits until it answers /readyz. */
  async start(opts: PeerOptions = {}): Promise<PeerProcess> {
    const name = opts.name ?? `peer-${this.counter}`;
    this.counter++;
    const { args, apiUrl } = await this.argsFor(opts, name);
    const p = new PeerProcess(
      name,
      args,
      join(this.logDir, `${name}.log`),
      apiUrl,
      opts,
      opts.env ?? {},
    );
    this.peers.push(p);
    if (opts.waitReady !== false) await p.waitReady(opts.readyTimeoutMs);
    return p;
  }

  /** Waits (up to 60 s each) until every one of `peers` holds at least `min` peers in its routing table. */
  async waitForTables(peers: PeerProcess[], min: number): Promise<void> {
    for (const p of peers) {
      await waitFor(
        `${p.name}'s routing table to hold ${min} peers (${this.logHint()})`,
        async () => (await p.client.status()).routingTable >= min,
        { timeoutMs: 60_000, intervalMs: 300 },
      );
    }
  }

  /**
   * Starts `n` peers, `batch` at a time, each bootstrapping from the first one started (unless
   * `opts.bootstrap` says otherwise). Names are `<prefix>-<i>`.
   */
  async startMany(
    n: number,
    opts: PeerOptions & { prefix?: string; batch?: number } = {},
  ): Promise<PeerProcess[]> {
    const { prefix = 'peer', batch = 4, ...rest } = opts;
    const out: PeerProcess[] = [];
    if (n === 0) return out;
    const first = await this.start({ ...rest, name: `${prefix}-0` });
    out.push(first);
    const bootstrap = rest.bootstrap ?? [first.addr];
    for (let i = 1; i < n; i += batch) {
      const chunk: Promise<PeerProcess>[] = [];
      for (let j = i; j < Math.min(n, i + batch); j++) {
        chunk.push(this.start({ ...rest, bootstrap, name: `${prefix}-${j}` }));
      }
      out.push(...(await Promise.all(chunk)));
    }
    return out;
  }

  running(): PeerProcess[] {
    return this.peers.filter((p) => p.running);
  }

  /** Log paths of every peer, for failure messages. */
  logHint(): string {
    return `peer logs in ${this.logDir}`;
  }

  /** Ends every peer (SIGTERM, then SIGKILL after `graceMs`) and removes the scratch dir. */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all(this.peers.map((p) => p.stop(graceMs)));
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// CLI runs

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms until the process exited */
  ms: number;
}

/** Runs a node script to completion (or kills it at `timeoutMs`). */
export function runNode(
  script: string,
  args: string[],
  {
    timeoutMs = 30_000,
    env = {},
    netns,
  }: { timeoutMs?: number; env?: Record<string, string>; netns?: string } = {},
): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const [cmd, argv] = netns
      ? ['ip', ['netns', 'exec', netns, process.execPath, script, ...args]]
      : [process.execPath, [script, ...args]];
    const child = spawn(cmd, argv, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...cleanEnv(), ...env },
    });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', rej);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** `peerctl --api <url> ...args` */
export function peerctl(
  api: string | PeerProcess,
  args: string[],
  opts: { timeoutMs?: number } = {},
): Promise<RunResult> {
  const p = typeof api === 'string' ? undefined : api;
  const url = typeof api === 'string' ? api : api.apiUrl;
  return runNode(peerctlBin, ['--api', url, ...args], { ...opts, netns: p?.options.netns });
}

/** `peernet-peer ...args` run to completion (for bad flags and `keygen`). */
export function peernetPeer(
  args: string[],
  opts: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return runNode(peerBin, args, opts);
}

// ---------------------------------------------------------------------------------------------
// Network namespaces (root only): co-located peers in one namespace, as in one pod.

export interface Netns {
  name: string;
  remove(): void;
}

/** Creates a network namespace with `lo` up and multicast routed on it, or undefined if it can't. */
export function createNetns(label: string): Netns | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const name = `pn-${label}-${process.pid}`.slice(0, 30);
  const ip = (...a: string[]): boolean => spawnSync('ip', a, { stdio: 'ignore' }).status === 0;
  if (!ip('netns', 'add', name)) return undefined;
  const remove = (): void => {
    ip('netns', 'del', name);
  };
  if (
    !ip('-n', name, 'link', 'set', 'lo', 'up') ||
    !ip('-n', name, 'link', 'set', 'lo', 'multicast', 'on') ||
    !ip('-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'lo')
  ) {
    remove();
    return undefined;
  }
  return { name, remove };
}
