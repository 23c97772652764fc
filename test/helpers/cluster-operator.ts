// The operator as a real child process (`dist/operator/main.js`) against a test cluster, for
// the fault tests and the benchmark: it can be killed with SIGKILL, stopped with SIGTERM, and
// its JSON log lines are kept for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  readFileSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';

export const operatorMain = fileURLToPath(new URL('../../operator/main.js', import.meta.url));

export interface OperatorProcessOptions {
  kubeconfig: string;
  /** Identity for leader election (and the log file name). */
  identity: string;
  /** Namespaces to watch (comma separated); the Lease lives in the first. */
  namespaces: string;
  leaderElect?: boolean;
  /** Extra environment (PEERNET_OPERATOR_* settings, POD_NAMESPACE ...). */
  env?: Record<string, string>;
  /** Command-line flags (they win over the environment). */
  args?: string[];
  /** Folder for `operator-<identity>.log`. @default .test-output */
  logDir?: string;
}

export interface LogLine {
  level?: number;
  msg?: string;
  name?: string;
  [key: string]: unknown;
}

export interface OperatorProcess {
  readonly identity: string;
  readonly pid: number;
  readonly logPath: string;
  /** Parsed JSON log lines so far. */
  readonly lines: readonly LogLine[];
  /** The metrics/health port, once it has logged 'peernet-operator started'. */
  port(): number | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  running(): boolean;
  kill(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
  metrics(): Promise<string>;
}

/** Operator processes alive in this process: SIGKILLed if it exits first (a crash, Ctrl-C). */
const alive = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of alive) c.kill('SIGKILL');
});

// A factory: start, log capture and stop share the child process.
export function startOperatorProcess(options: OperatorProcessOptions): OperatorProcess {
  const logDir = options.logDir ?? '.test-output';
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `operator-${options.identity}.log`);
  const file: WriteStream = createWriteStream(logPath, { flags: 'a' });
  const lease = options.namespaces.split(',')[0] ?? '';
  const child: ChildProcess = spawn(process.execPath, [operatorMain, ...(options.args ?? [])], {
    env: {
      ...process.env,
      KUBECONFIG: options.kubeconfig,
      PEERNET_OPERATOR_NAMESPACES: options.namespaces,
      PEERNET_OPERATOR_IDENTITY: options.identity,
      PEERNET_OPERATOR_LEADER_ELECT: String(options.leaderElect ?? true),
      ...(lease !== '' ? { PEERNET_OPERATOR_LEASE_NAMESPACE: lease } : {}),
      PEERNET_OPERATOR_METRICS_ADDRESS: '127.0.0.1:0',
      PEERNET_OPERATOR_LOG_LEVEL: 'debug',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not start the operator');
  alive.add(child);
  const lines: LogLine[] = [];
  let partial = '';
  const onData = (d: Buffer): void => {
    file.write(d);
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        lines.push({ msg: p });
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      alive.delete(child);
      exitCode = code;
      file.end();
      resolve(code);
    });
  });
  const pid = child.pid;
  const port = (): number | undefined => {
    const started = lines.find((l) => l.msg === 'peernet-operator started');
    return typeof started?.port === 'number' ? started.port : undefined;
  };
  const running = (): boolean => exitCode === undefined;
  return {
    identity: options.identity,
    pid,
    logPath,
    lines,
    port,
    exited,
    running,
    async kill() {
      if (!running()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 30_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      // the grace timer is cancelled once the process exits: a pending 30 s timer kept jest
      // from exiting after the run ("did not exit one second after the test run")
      const grace = new AbortController();
      const r = await Promise.race([
        exited.then(() => 'exited'),
        sleep(graceMs, undefined, { signal: grace.signal }).then(
          () => 'timeout',
          () => 'exited',
        ),
      ]);
      grace.abort();
      if (r === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async metrics() {
      const p = port();
      if (p === undefined) throw new Error('the operator has not started its metrics server');
      // node:http without keep-alive: no socket outlives the test.
      return new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port: p, path: '/metrics', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    },
  };
}

/** Sum of a Prometheus counter's samples (all label sets), 0 when absent. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/**
 * The samples of counter `name` in Prometheus text, summed by the value of one label (series
 * without that label are left out): `{ POST: 206, PUT: 5 }` for `requests_total{verb="..."}`.
 */
export function metricByLabel(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const key = `${label}="`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = line.slice(name.length + 1, line.indexOf('}'));
    const at = labels.indexOf(key);
    if (at === -1) continue;
    const value = labels.slice(at + key.length, labels.indexOf('"', at + key.length));
    out.set(value, (out.get(value) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/**
 * A copy of the admin kubeconfig that acts as `user` (kubeconfig `as:`), e.g. a second
 * operator identity, or `system:serviceaccount:<ns>:<name>` to run under exactly that
 * ServiceAccount's RBAC.
 */
export function impersonatingKubeconfig(
  adminKubeconfig: string,
  user: string,
  path: string,
): string {
  const doc = parse(readFileSync(adminKubeconfig, 'utf8')) as {
    users: { name: string; user: Record<string, unknown> }[];
  };
  for (const u of doc.users) u.user.as = user;
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  return path;
}
