import { request } from 'node:http';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export interface ProbeResult {
  ok: boolean;
  message: string;
}

/** One HTTP GET as the kubelet does it: 200..399 is success, anything else (or no answer) fails. */
export function httpGet(
  url: URL,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'GET',
        timeout: timeoutMs,
        headers: { 'user-agent': 'kube-probe/peernet-localnode', ...headers },
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve({
          ok: code >= 200 && code < 400,
          message: `HTTP probe ${url.pathname} returned ${code}`,
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', (err) =>
      resolve({ ok: false, message: `HTTP probe ${url.pathname} failed: ${err.message}` }),
    );
    req.end();
  });
}

/** Resolves a probe's port (a number or a container port name) against the container's ports. */
export function resolvePort(
  port: number | string | undefined,
  container: V1Container,
): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export interface ProbeWorker {
  start(): void;
  stop(): void;
}

export interface ProbeWorkerOptions {
  probe: V1Probe;
  container: V1Container;
  podIp: string;
  /** The verdict before the first result: liveness starts as passing, readiness as failing. */
  initial: boolean;
  /** Called when the probe's verdict (after thresholds) changes. */
  onChange(ok: boolean, message: string): void;
}

/**
 * Runs one probe on its period with the kubelet's defaults (period 10s, timeout 1s, failure
 * threshold 3, success threshold 1). Only httpGet is implemented; other kinds always pass and
 * say so, since peer containers use httpGet only.
 */
export function createProbeWorker(options: ProbeWorkerOptions): ProbeWorker {
  const p = options.probe;
  const periodMs = (p.periodSeconds ?? 10) * 1000;
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  const failureThreshold = p.failureThreshold ?? 3;
  const successThreshold = p.successThreshold ?? 1;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let verdict: boolean = options.initial;
  let decided = false;
  let successes = 0;
  let failures = 0;

  async function once(): Promise<ProbeResult> {
    const h = p.httpGet;
    if (h === undefined)
      return { ok: true, message: 'only httpGet probes are run by the local node runtime' };
    const port = resolvePort(h.port, options.container);
    if (port === undefined)
      return {
        ok: false,
        message: `probe port ${String(h.port)} not found in the container's ports`,
      };
    const host = h.host ?? options.podIp;
    const scheme = (h.scheme ?? 'HTTP').toLowerCase();
    const path = h.path ?? '/';
    const headers = Object.fromEntries((h.httpHeaders ?? []).map((x) => [x.name, x.value]));
    return httpGet(
      new URL(`${scheme}://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`),
      timeoutMs,
      headers,
    );
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void once().then((r) => {
        if (stopped) return;
        if (r.ok) {
          successes++;
          failures = 0;
          if ((verdict !== true || !decided) && successes >= successThreshold) {
            decided = true;
            verdict = true;
            options.onChange(true, r.message);
          }
        } else {
          failures++;
          successes = 0;
          if ((verdict !== false || !decided) && failures >= failureThreshold) {
            decided = true;
            verdict = false;
            options.onChange(false, r.message);
          }
        }
        // A failing readiness probe runs every 500ms at most so a starting container is seen ready soon.
        schedule(!options.initial && verdict !== true ? Math.min(periodMs, 500) : periodMs);
      });
    }, delayMs);
  }

  return {
    start() {
      stopped = false;
      schedule((p.initialDelaySeconds ?? 0) * 1000);
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
