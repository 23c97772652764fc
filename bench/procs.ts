// The processes the abuse benchmark starts itself, without the test harness (benchmark code
// does not import test/): `peernet-peer` daemons and the operator, each with its output in a
// log file, each SIGKILLed when this process exits whatever happened (a crash, a second Ctrl-C).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root (this module runs from dist/bench/). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const peerBin = join(repoRoot, 'dist', 'peer', 'cli', 'peernet-peer.js');
const operatorMain = join(repoRoot, 'dist', 'operator', 'main.js');

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The environment without the caller's PEERNET_ variables: flags alone configure a child. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('PEERNET_')) env[k] = v;
  return env;
}

interface Child {
  child: ChildProcess;
  exited: Promise<number | null>;
  running(): boolean;
}

function start(argv: string[], logPath: string, env: Record<string, string>): Child {
  mkdirSync(dirname(logPath), { recursive: true });
  const fd = openSync(logPath, 'a');
  const child = spawn(process.execPath, argv, {
    cwd: repoRoot,
    stdio: ['ignore', fd, fd],
    env: { ...cleanEnv(), ...env },
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
  live.add(child);
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true;
      live.delete(child);
      resolve(code);
    }),
  );
  return { child, exited, running: () => !done };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
async function stopChild(c: Child, graceMs: number): Promise<void> {
  if (!c.running()) return;
  c.child.kill('SIGTERM');
  const grace = new AbortController();
  const r = await Promise.race([
    c.exited.then(() => 'exited'),
    sleep(graceMs, 'timeout', { signal: grace.signal }).catch(() => 'exited'),
  ]);
  grace.abort();
  if (r === 'timeout') {
    c.child.kill('SIGKILL');
    await c.exited;
  }
}

/** Resident memory of a process in KiB (VmRSS), NaN once it is gone. */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** A sample of `rssKiB(pid)` every `everyMs` until `stop()`, which returns the highest seen. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let max = rssKiB(pid);
  const timer = setInterval(() => {
    const v = rssKiB(pid);
    if (v > max || Number.isNaN(max)) max = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const v = rssKiB(pid);
      return Math.max(max, Number.isNaN(v) ? -Infinity : v);
    },
  };
}

/** The value of one Prometheus sample (`name{labels}` exactly as exposed), NaN when absent. */
export function metricValue(text: string, sample: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return NaN;
}

/** The sum of every sample of metric `name` whose labels contain `labels` (e.g. `result="x"`). */
export function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    if (labels !== '' && !line.slice(name.length, line.indexOf(' ')).includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** One request to a peer's API; `token` goes as `Authorization: Bearer`. */
export async function call(
  url: string,
  method: string,
  opts: { body?: Uint8Array | string; token?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(url, {
    method,
    headers,
    body: opts.body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  return { status: res.status, text: await res.text() };
}

// ---------------------------------------------------------------------------------------------
// Peers

export interface PeerProc {
  readonly name: string;
  readonly pid: number;
  /** `http://127.0.0.1:<port>` */
  readonly api: string;
  readonly peerId: string;
  /** a loopback TCP dial address ending in /p2p/<peerId> */
  readonly addr: string;
  readonly logPath: string;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `peernet-peer` on 127.0.0.1 (libp2p and API ports picked by the daemon, read back from
 * its "peer started" line) and waits until it answers /readyz 200.
 */
export async function startPeer(opts: {
  name: string;
  logDir: string;
  args: string[];
  timeoutMs?: number;
}): Promise<PeerProc> {
  const logPath = join(opts.logDir, `${opts.name}.log`);
  const argv = [peerBin, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', ...opts.args];
  const c = start(argv, logPath, {});
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const fail = (why: string): Error => new Error(`peer ${opts.name} ${why} (log: ${logPath})`);
  let started: { api: string; peerId: string; addrs: string[] } | undefined;
  while (started === undefined) {
    if (!c.running()) throw fail('exited before it started');
    if (Date.now() > deadline) throw fail('did not start in time');
    const line = readLog(logPath)
      .split('\n')
      .find((l) => l.includes('"peer started"'));
    if (line !== undefined) started = JSON.parse(line) as typeof started;
    else await sleep(100);
  }
  const port = /:(\d+)$/.exec(started.api)?.[1];
  const api = `http://127.0.0.1:${port}`;
  for (;;) {
    if (!c.running()) throw fail('exited before it was ready');
    if (Date.now() > deadline) throw fail('was not ready in time');
    const ok = await call(`${api}/readyz`, 'GET', { timeoutMs: 5000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await sleep(150);
  }
  const tcp = started.addrs.find((a) => a.includes('/tcp/')) ?? started.addrs[0] ?? '';
  return {
    name: opts.name,
    pid: c.child.pid!,
    api,
    peerId: started.peerId,
    addr: tcp.includes('/p2p/') ? tcp : `${tcp}/p2p/${started.peerId}`,
    logPath,
    stop: (graceMs = 5000) => stopChild(c, graceMs),
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// The operator

export interface OperatorProc {
  readonly pid: number;
  readonly logPath: string;
  /** its metrics and health port, once it logged that it started */
  port(): number | undefined;
  metrics(): Promise<string>;
  stop(graceMs?: number): Promise<void>;
}

/** `node dist/operator/main.js` against `kubeconfig`, every namespace, metrics on a free port. */
export function startOperator(opts: {
  kubeconfig: string;
  logPath: string;
  env?: Record<string, string>;
}): OperatorProc {
  const c = start([operatorMain], opts.logPath, {
    KUBECONFIG: opts.kubeconfig,
    PEERNET_OPERATOR_NAMESPACES: '',
    PEERNET_OPERATOR_IDENTITY: 'bench-abuse',
    PEERNET_OPERATOR_LEADER_ELECT: 'true',
    PEERNET_OPERATOR_LEASE_NAMESPACE: 'default',
    PEERNET_OPERATOR_METRICS_ADDRESS: '127.0.0.1:0',
    PEERNET_OPERATOR_LOG_LEVEL: 'info',
    ...opts.env,
  });
  let port: number | undefined;
  const findPort = (): number | undefined => {
    if (port !== undefined) return port;
    for (const line of readLog(opts.logPath).split('\n')) {
      if (!line.includes('peernet-operator started')) continue;
      const p = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof p === 'number') port = p;
    }
    return port;
  };
  return {
    pid: c.child.pid!,
    logPath: opts.logPath,
    port: findPort,
    async metrics() {
      const p = findPort();
      if (p === undefined) throw new Error('the operator has not started its metrics server');
      return (await call(`http://127.0.0.1:${p}/metrics`, 'GET', { timeoutMs: 10_000 })).text;
    },
    stop: (graceMs = 15_000) => stopChild(c, graceMs),
  };
}
