// The operator's view of live peers: `GET /v1/status` and `POST /v1/drain` on a peer's HTTP API,
// always with a short timeout so an unreachable peer never holds a reconcile up.
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

const hostPort = (ip: string, port: number) =>
  ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;

export function createPeerStatusClient(options: PeerStatusClientOptions = {}): PeerStatusClient {
  const statusTimeout = options.statusTimeoutMs ?? 1000;
  const drainTimeout = options.drainTimeoutMs ?? 5000;
  return {
    async status(ip, port) {
      try {
        const res = await fetch(`http://${hostPort(ip, port)}/v1/status`, {
          signal: AbortSignal.timeout(statusTimeout),
        });
        if (!res.ok) return undefined;
        const body = (await res.json()) as { routingTable?: unknown; connections?: unknown };
        const live: PeerLive = {};
        if (typeof body.routingTable === 'number') live.routingTable = body.routingTable;
        if (typeof body.connections === 'number') live.connections = body.connections;
        return live;
      } catch {
        return undefined;
      }
    },
    async drain(ip, port) {
      try {
        const res = await fetch(`http://${hostPort(ip, port)}/v1/drain`, {
          method: 'POST',
          signal: AbortSignal.timeout(drainTimeout),
        });
        if (!res.ok) return undefined;
        const body = (await res.json()) as { handedOff?: unknown };
        return typeof body.handedOff === 'number' ? body.handedOff : undefined;
      } catch {
        return undefined;
      }
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
