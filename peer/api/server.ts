// The peer's HTTP API on node:http. Every failure is a JSON `{ "error": "..." }` with a status
// that says whose fault it is (4xx: the request; 5xx: this peer or the network); nothing a client
// sends can crash the daemon.
// Long: the route table and its error mapping, one entry per route of the contract.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { peerIdFromString } from '@libp2p/peer-id';
import type { PeerId } from '@libp2p/interface';
import type { Logger } from 'pino';
import { MAX_VALUE_BYTES } from '../dht/keys.js';
import type { PeerMetrics } from '../metrics.js';
import {
  TOKEN_HEADER,
  type DrainReply,
  type PeerEntry,
  type PingReply,
  type StatusReply,
} from './types.js';

// node:http loaded with require, not import: an ESM import reads every export of node:http, and
// its lazy getters then load undici (fetch, WebSocket), ~60-90 ms of a peer's start-up for code
// the peer never runs.
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** What the API needs from the daemon (the answers' shapes are in ./types.ts). */
export interface PeerApi {
  status(): Promise<StatusReply>;
  peers(): Promise<PeerEntry[]>;
  ready(): boolean;
  put(key: string, value: Uint8Array): Promise<Record<string, unknown>>;
  /** undefined when not found; `quorum`: the newest of this many copies (the peer's default without) */
  get(
    key: string,
    opts?: { quorum?: number },
  ): Promise<{ value: Uint8Array; timestamp: number; from: string } | undefined>;
  provide(key: string): Promise<Record<string, unknown>>;
  findProviders(key: string): Promise<unknown[]>;
  /** a peer of this network; UnknownPeerError for any other */
  ping(peer: PeerId): Promise<PingReply>;
  drain(): Promise<DrainReply>;
}

/** An error with an HTTP status; the API maps other errors by `name`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Error names (see peer/dht/keys.ts, store.ts, core.ts, daemon.ts) and the status each maps to. */
const STATUS_BY_NAME: Record<string, number> = {
  // 507 Insufficient Storage: the peer is at a quota (the error names it), not the request's fault
  QuotaExceededError: 507,
  InvalidKeyError: 400,
  InvalidValueError: 400,
  ValueTooLargeError: 413,
  InvalidTargetError: 400,
  UnknownPeerError: 404,
  DrainingError: 503,
  PingFailedError: 502,
};

export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  return STATUS_BY_NAME[(err as Error | undefined)?.name ?? ''] ?? 500;
}

type Handler = (req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;
interface Route {
  /** the path, or its prefix when the rest is a parameter */
  path: string;
  param: boolean;
  /** metrics label */
  name: string;
  methods: Partial<Record<string, Handler>>;
  /** methods that need the API token (when the peer has one): writes, drain, ping */
  guarded?: readonly string[];
}

export interface ApiServerOptions {
  host: string;
  port: number;
  api: PeerApi;
  log: Logger;
  metrics?: PeerMetrics;
  /**
   * the bearer token writes, drain and ping need (`--api-token-file`), or a function giving the
   * one in force (a watched file); without it every route is open, as before the flag existed.
   * Reads and probes are open either way.
   */
  token?: string | (() => string);
}

export interface ApiServer {
  server: Server;
  /** `host:port` actually bound (port 0 resolved) */
  address: string;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * A request body we will not use is read and thrown away (up to DISCARD_LIMIT_BYTES), so the
 * client, still sending, gets to read our answer: closing on it instead makes the kernel reset
 * the connection, and most clients then report EPIPE or ECONNRESET rather than the 413.
 * Beyond the limit the connection is cut.
 */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;
function discardBody(req: IncomingMessage): void {
  if (req.complete || req.listenerCount('data') > 0) return;
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) req.socket.destroy();
  });
  req.resume();
}

/** Reads the request body; 413 beyond MAX_VALUE_BYTES, without buffering the excess. */
async function readBody(req: IncomingMessage, limit = MAX_VALUE_BYTES): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, `body is ${declared} bytes, the limit is ${limit}`);
  }
  // events, not `for await`: leaving an async iterator early destroys the request and its socket
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done();
      reject(new HttpError(413, `body is over the limit of ${limit} bytes`));
    };
    const onEnd = (): void => {
      done();
      resolve(new Uint8Array(Buffer.concat(chunks)));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const done = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      req.pause();
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function decodeParam(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `${what} is not valid percent-encoding`);
  }
}

/**
 * The peer ID of `POST /v1/ping/{peerId}`. Anything else is refused before any dial, a multiaddr
 * included: the API reaches only peers of its network, never an address a client names.
 */
function peerIdParam(raw: string): PeerId {
  if (raw === '') throw new HttpError(400, 'give a peer ID: POST /v1/ping/{peerId}');
  const s = decodeParam(raw, 'peer ID');
  if (s.startsWith('/'))
    throw new HttpError(
      400,
      'expected a peer ID, not an address: ping reaches only peers of the network',
    );
  try {
    return peerIdFromString(s);
  } catch {
    throw new HttpError(400, `not a peer ID: ${JSON.stringify(s.slice(0, 100))}`);
  }
}

// Long: the route table, one entry per route.
function routes(api: PeerApi, metrics?: PeerMetrics): Route[] {
  const key = (p: string): string => {
    if (p === '') throw new HttpError(400, 'key is empty');
    return decodeParam(p, 'key');
  };
  return [
    {
      path: '/healthz',
      param: false,
      name: '/healthz',
      methods: { GET: (_q, res) => Promise.resolve(sendJson(res, 200, { status: 'ok' })) },
    },
    {
      path: '/readyz',
      param: false,
      name: '/readyz',
      methods: {
        GET: (_q, res) => {
          const ready = api.ready();
          return Promise.resolve(sendJson(res, ready ? 200 : 503, { ready }));
        },
      },
    },
    {
      path: '/metrics',
      param: false,
      name: '/metrics',
      methods: {
        GET: async (_q, res) => {
          if (metrics == null) throw new HttpError(404, 'metrics are off');
          const text = await metrics.registry.metrics();
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
      },
    },
    {
      path: '/v1/status',
      param: false,
      name: '/v1/status',
      methods: { GET: async (_q, res) => sendJson(res, 200, await api.status()) },
    },
    {
      path: '/v1/peers',
      param: false,
      name: '/v1/peers',
      methods: { GET: async (_q, res) => sendJson(res, 200, { peers: await api.peers() }) },
    },
    {
      path: '/v1/drain',
      param: false,
      name: '/v1/drain',
      methods: { POST: async (_q, res) => sendJson(res, 200, await api.drain()) },
      guarded: ['POST'],
    },
    {
      path: '/v1/records/',
      param: true,
      name: '/v1/records/{key}',
      methods: {
        PUT: async (req, res, p) => {
          const k = key(p);
          const body = await readBody(req);
          if (body.byteLength === 0)
            throw new HttpError(400, 'value is empty: send it as the request body');
          sendJson(res, 200, { key: k, ...(await api.put(k, body)) });
        },
        GET: async (req, res, p) => {
          const k = key(p);
          const found = await api.get(k, readQuorum(req));
          if (found == null) return sendJson(res, 404, { error: `not found: ${k}` });
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': found.value.byteLength,
            'x-peernet-timestamp': String(found.timestamp),
            'x-peernet-from': found.from,
          });
          res.end(found.value);
        },
      },
      guarded: ['PUT'],
    },
    {
      path: '/v1/providers/',
      param: true,
      name: '/v1/providers/{key}',
      methods: {
        POST: async (_q, res, p) => {
          const k = key(p);
          sendJson(res, 200, { key: k, ...(await api.provide(k)) });
        },
        GET: async (_q, res, p) => {
          const k = key(p);
          sendJson(res, 200, { key: k, providers: await api.findProviders(k) });
        },
      },
      guarded: ['POST'],
    },
    {
      path: '/v1/ping/',
      param: true,
      name: '/v1/ping/{peerId}',
      methods: {
        POST: async (_q, res, p) => {
          sendJson(res, 200, await api.ping(peerIdParam(p)));
        },
      },
      guarded: ['POST'],
    },
  ];
}

/** The realm of the `WWW-Authenticate` challenge. */
const REALM = 'peernet';

/**
 * Throws 401 unless the request carries the token, as `Authorization: Bearer <token>` or in
 * TOKEN_HEADER. Both sides are hashed first, so the compare takes the same time whatever the
 * length or content of what was sent. A missing and a wrong token both answer 401 (RFC 6750:
 * `invalid_token` for a wrong one), so a client has one status to handle: "give the token".
 */
export function checkBearer(req: IncomingMessage, res: ServerResponse, digest: Buffer): void {
  const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const own = req.headers[TOKEN_HEADER];
  const sentToken = bearer ?? (typeof own === 'string' && own !== '' ? own.trim() : undefined);
  if (sentToken === undefined) {
    res.setHeader('www-authenticate', `Bearer realm="${REALM}"`);
    throw new HttpError(
      401,
      'this route needs the API token: send Authorization: Bearer <token> (peerctl --api-token-file)',
    );
  }
  const sent = createHash('sha256').update(sentToken).digest();
  if (!timingSafeEqual(sent, digest)) {
    res.setHeader('www-authenticate', `Bearer realm="${REALM}", error="invalid_token"`);
    throw new HttpError(401, "the API token is not this peer's");
  }
}

/** `?quorum=N` of a GET: an integer 1..100, or the peer's default when absent. */
function readQuorum(req: IncomingMessage): { quorum?: number } {
  const raw = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('quorum');
  if (raw == null) return {};
  if (!/^[0-9]{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > 100) {
    throw new HttpError(
      400,
      `quorum must be an integer 1..100, not ${JSON.stringify(raw.slice(0, 20))}`,
    );
  }
  return { quorum: Number(raw) };
}

export function createApiHandler(opts: Omit<ApiServerOptions, 'host' | 'port'>) {
  const table = routes(opts.api, opts.metrics);
  const { token } = opts;
  const current = typeof token === 'function' ? token : () => token;
  let hashed: { token: string; digest: Buffer } | undefined;
  /** the digest of the token in force, hashed again only when it changed */
  const digestNow = (): Buffer | undefined => {
    const t = current();
    if (t === undefined) return undefined;
    if (hashed?.token !== t) hashed = { token: t, digest: createHash('sha256').update(t).digest() };
    return hashed.digest;
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = table.find((r) => (r.param ? path.startsWith(r.path) : path === r.path));
    const name = route?.name ?? 'unknown';
    try {
      if (route == null) throw new HttpError(404, `no such route: ${method} ${path}`);
      const handler = route.methods[method];
      if (handler == null) {
        const allow = Object.keys(route.methods).join(', ');
        res.setHeader('allow', allow);
        throw new HttpError(
          405,
          `method ${method} not allowed on ${route.name} (allowed: ${allow})`,
        );
      }
      if (route.guarded?.includes(method)) {
        const digest = digestNow();
        if (digest !== undefined) checkBearer(req, res, digest);
      }
      await handler(req, res, route.param ? path.slice(route.path.length) : '');
    } catch (err) {
      const status = statusOf(err);
      if (status >= 500 && status !== 503 && status !== 507) {
        opts.log.error({ err: (err as Error).message, method, path }, 'request failed');
      }
      if (res.headersSent) res.destroy();
      else {
        if (!req.complete) discardBody(req);
        sendJson(res, status, { error: (err as Error).message });
      }
    } finally {
      opts.metrics?.httpRequests.inc({ method, route: name, code: String(res.statusCode) });
      opts.metrics?.httpDuration.observe(
        { method, route: name },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  };
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const handler = createApiHandler(opts);
  const server = createServer((req, res) => {
    void handler(req, res);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server,
    address: `${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
