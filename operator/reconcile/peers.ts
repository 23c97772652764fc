// The operator's view of live peers: `GET /v1/status` and `POST /v1/drain` on a peer's HTTP API,
// through the peer's typed client (peer/api/client.ts) over a transport of our own. Every call
// has a hard deadline over the whole exchange (connect, headers, body): a socket timeout only
// fires on an idle socket, so a peer that trickles its answer a byte at a time held a call for as
// long as it liked. A call also ends at once when the caller's signal aborts (the reconcile's own
// deadline), and an answer over MAX_BODY is cut.
import http from 'node:http';
import { mapLimit } from '../../common/concurrency.js';
import {
  createPeerApiClient,
  type CallOptions,
  type PeerTransport,
} from '../../peer/api/client.js';
import { MAX_EXTERNAL_LISTED } from '../../peer/api/types.js';
import type { PeerLive } from '../status/status.js';

export interface PeerCallOptions {
  /** ends the call at once (the reconcile's deadline) */
  signal?: AbortSignal;
  /** the network's API token, sent as `Authorization: Bearer` (drain needs it) */
  token?: string;
}

export interface PeerStatusClient {
  /** undefined when the peer's API does not answer in time (or not with its status) */
  status(ip: string, port: number, opts?: PeerCallOptions): Promise<PeerLive | undefined>;
  /** best effort; the number of records handed off, or undefined */
  drain(ip: string, port: number, opts?: PeerCallOptions): Promise<number | undefined>;
}

export interface PeerStatusClientOptions {
  /** deadline of a whole `GET /v1/status` exchange @default 1000 */
  statusTimeoutMs?: number;
  /** deadline of a whole `POST /v1/drain` exchange @default 5000 */
  drainTimeoutMs?: number;
}

/** The most a peer's answer may hold; a longer one is cut and counts as no answer. */
export const MAX_BODY = 1 << 20;

class AnswerTooLargeError extends Error {
  override name = 'AnswerTooLargeError';
}

/**
 * One request without connection reuse: peers are many distinct hosts asked rarely, so a pooled
 * client (fetch keeps a pool per origin) would only hold memory. It ends when `signal` aborts,
 * whatever stage the exchange is at, and gives up on an answer longer than MAX_BODY.
 */
export const oneShotTransport: PeerTransport = (req) =>
  new Promise((resolve, reject) => {
    if (req.signal.aborted) return reject(req.signal.reason as Error);
    let settled = false;
    const finish = (err: Error | undefined, value?: Awaited<ReturnType<PeerTransport>>): void => {
      if (settled) return;
      settled = true;
      req.signal.removeEventListener('abort', stop);
      r.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const stop = (): void => finish(req.signal.reason as Error);
    const r = http.request(
      req.url,
      { method: req.method, agent: false, headers: req.headers },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_BODY)
            return finish(new AnswerTooLargeError(`answer over ${MAX_BODY} bytes`));
          chunks.push(d);
        });
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (typeof v === 'string') headers[k] = v;
          finish(undefined, {
            status: res.statusCode ?? 0,
            body: new Uint8Array(Buffer.concat(chunks)),
            headers,
          });
        });
        res.on('error', (err) => finish(err));
        res.on('close', () => finish(new Error('the peer closed the connection')));
      },
    );
    req.signal.addEventListener('abort', stop, { once: true });
    r.on('error', (err) => finish(err));
    r.end(req.body);
  });

/** `http://IP:PORT`, with an IPv6 address in brackets. */
export const peerUrl = (ip: string, port: number): string =>
  `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;

export function createPeerStatusClient(options: PeerStatusClientOptions = {}): PeerStatusClient {
  const statusTimeout = options.statusTimeoutMs ?? 1000;
  const drainTimeout = options.drainTimeoutMs ?? 5000;
  const clientOf = (ip: string, port: number, token?: string) =>
    createPeerApiClient({
      baseUrl: peerUrl(ip, port),
      transport: oneShotTransport,
      ...(token !== undefined ? { token } : {}),
    });
  const call = (timeoutMs: number, opts: PeerCallOptions): CallOptions => ({
    timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return {
    async status(ip, port, opts = {}) {
      // any failure (no answer in time, an error status, not JSON, too long) is no answer
      const body = await clientOf(ip, port)
        .status(call(statusTimeout, opts))
        .catch(() => undefined);
      if (!body) return undefined;
      const live: PeerLive = {};
      if (typeof body.routingTable === 'number') live.routingTable = body.routingTable;
      if (typeof body.connections === 'number') live.connections = body.connections;
      if (body.draining === true) live.draining = true;
      if (Array.isArray(body.externalPeers))
        live.external = body.externalPeers
          .filter((id): id is string => typeof id === 'string')
          .slice(0, MAX_EXTERNAL_LISTED);
      return live;
    },
    async drain(ip, port, opts = {}) {
      const body = await clientOf(ip, port, opts.token)
        .drain(call(drainTimeout, opts))
        .catch(() => undefined);
      return body && typeof body.handedOff === 'number' ? body.handedOff : undefined;
    },
  };
}

/** A peer to ask for its live state. */
export interface PeerTarget {
  /** the peer's name */
  name: string;
  ip: string;
  port: number;
}

export interface AskResult {
  /** what each peer that answered said, by peer name */
  answered: Map<string, PeerLive>;
  /** peers that did not answer (refused, too slow, or never asked once `signal` aborted) */
  unanswered: string[];
}

/**
 * Asks every target for its status, `concurrency` at a time. Once `signal` aborts, the calls in
 * flight end and the rest are not made: they are all counted unanswered, in target order.
 */
export async function askPeers(
  client: PeerStatusClient,
  targets: readonly PeerTarget[],
  opts: { concurrency: number; signal?: AbortSignal },
): Promise<AskResult> {
  const answers = await mapLimit(targets, opts.concurrency, (t) =>
    opts.signal?.aborted
      ? Promise.resolve(undefined)
      : client.status(t.ip, t.port, opts.signal ? { signal: opts.signal } : {}),
  );
  const answered = new Map<string, PeerLive>();
  const unanswered: string[] = [];
  targets.forEach((t, i) => {
    const a = answers[i];
    if (a) answered.set(t.name, a);
    else unanswered.push(t.name);
  });
  return { answered, unanswered };
}
