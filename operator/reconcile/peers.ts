// The operator's view of live peers: `GET /v1/status` and `POST /v1/drain` on a peer's HTTP API,
// always with a short timeout so an unreachable peer never holds a reconcile up.
import http from 'node:http';
import type { PeerLive } from '../status/status.js';

export interface PeerStatusClient {
  /** undefined when the peer's API does not answer in time */
  status(ip: string, port: number): Promise<PeerLive | undefined>;
  /** best effort; the number of records handed off, or undefined */
  drain(ip: string, port: number): Promise<number | undefined>;
}

export interface PeerStatusClientOptions {
  /** @default 1000 */
  statusTimeoutMs?: number;
  /** @default 5000 */
  drainTimeoutMs?: number;
}

/**
 * One short request without connection reuse: peers are many distinct hosts asked rarely, so a
 * pooled client (fetch keeps a pool per origin) would only hold memory.
 */
function call(
  ip: string,
  port: number,
  method: string,
  path: string,
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: ip,
        port,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers: { Accept: 'application/json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body.length > 1 << 20) req.destroy();
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve(undefined);
          try {
            resolve(JSON.parse(body));
          } catch {
            resolve(undefined);
          }
        });
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export function createPeerStatusClient(options: PeerStatusClientOptions = {}): PeerStatusClient {
  const statusTimeout = options.statusTimeoutMs ?? 1000;
  const drainTimeout = options.drainTimeoutMs ?? 5000;
  return {
    async status(ip, port) {
      const body = (await call(ip, port, 'GET', '/v1/status', statusTimeout)) as
        { routingTable?: unknown; connections?: unknown } | undefined;
      if (!body || typeof body !== 'object') return undefined;
      const live: PeerLive = {};
      if (typeof body.routingTable === 'number') live.routingTable = body.routingTable;
      if (typeof body.connections === 'number') live.connections = body.connections;
      return live;
    },
    async drain(ip, port) {
      const body = (await call(ip, port, 'POST', '/v1/drain', drainTimeout)) as
        { handedOff?: unknown } | undefined;
      return body && typeof body.handedOff === 'number' ? body.handedOff : undefined;
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
