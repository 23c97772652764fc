// The operator's view of live peers: `GET /v1/status` and `POST /v1/drain` on a peer's HTTP API.
// Every call has a hard deadline over the whole exchange (connect, headers, body): a socket
// timeout only fires on an idle socket, so a peer that trickles its answer a byte at a time held
// a call for as long as it liked. A call also ends at once when the caller's signal aborts (the
// reconcile's own deadline).
import http from 'node:http';
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
const MAX_BODY = 1 << 20;

/**
 * One short request without connection reuse: peers are many distinct hosts asked rarely, so a
 * pooled client (fetch keeps a pool per origin) would only hold memory. Resolves with the parsed
 * JSON of a 200 answer, else undefined; never later than `timeoutMs` after the call.
 */
export function callPeer(
  ip: string,
  port: number,
  method: string,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
  token?: string,
): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(undefined);
      return;
    }
    let settled = false;
    const finish = (v: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      req.destroy();
      resolve(v);
    };
    const stop = (): void => finish(undefined);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    const req = http.request({ host: ip, port, method, path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_BODY) return finish(undefined);
        chunks.push(d);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return finish(undefined);
        try {
          finish(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          finish(undefined);
        }
      });
      res.on('error', stop);
      res.on('close', stop);
    });
    // a total deadline: the timer is not reset by data, as a socket timeout would be
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    req.on('error', stop);
    req.end();
  });
}

export function createPeerStatusClient(options: PeerStatusClientOptions = {}): PeerStatusClient {
  const statusTimeout = options.statusTimeoutMs ?? 1000;
  const drainTimeout = options.drainTimeoutMs ?? 5000;
  return {
    async status(ip, port, opts = {}) {
      const body = (await callPeer(ip, port, 'GET', '/v1/status', statusTimeout, opts.signal)) as
        { routingTable?: unknown; connections?: unknown; draining?: unknown } | undefined;
      if (!body || typeof body !== 'object') return undefined;
      const live: PeerLive = {};
      if (typeof body.routingTable === 'number') live.routingTable = body.routingTable;
      if (typeof body.connections === 'number') live.connections = body.connections;
      if (body.draining === true) live.draining = true;
      return live;
    },
    async drain(ip, port, opts = {}) {
      const body = (await callPeer(
        ip,
        port,
        'POST',
        '/v1/drain',
        drainTimeout,
        opts.signal,
        opts.token,
      )) as { handedOff?: unknown } | undefined;
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

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
