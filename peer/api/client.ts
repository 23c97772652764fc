// The one typed client of a peer's HTTP API (docs/reference/peer.md). peerctl, the operator, the
// kubectl plugin, `npm start`, the tests and the benchmarks all use it; what differs between them
// is only how a request travels (the `transport`: fetch, one bare socket with a body limit, the
// Kubernetes pod proxy, a network namespace) and which header carries the token.
import {
  DEFAULT_API_URL,
  TOKEN_HEADER,
  type DrainReply,
  type PeersReply,
  type PingReply,
  type ProvidersReply,
  type RecordReply,
  type StatusReply,
  type StoreReply,
} from './types.js';

/** One request as a transport sends it. */
export interface PeerRequest {
  method: string;
  /** the client's base URL and the route's path */
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** aborts at the call's deadline or when the caller's signal does: end the whole exchange */
  signal: AbortSignal;
}

/** The peer's answer, read in full. */
export interface PeerResponse {
  status: number;
  body: Uint8Array;
  /** lower-case names; a transport that cannot see them (a proxy) may leave them out */
  headers?: Readonly<Record<string, string | undefined>>;
}

/** Sends one request and reads the whole answer, honouring `signal` until the body is in. */
export type PeerTransport = (req: PeerRequest) => Promise<PeerResponse>;

/** The default transport: the global fetch. */
export const fetchTransport: PeerTransport = async (req) => {
  const res = await fetch(req.url, {
    method: req.method,
    headers: req.headers,
    ...(req.body !== undefined ? { body: req.body } : {}),
    signal: req.signal,
  });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body, headers: Object.fromEntries(res.headers) };
};

export interface PeerApiClientOptions {
  /** the peer's API, e.g. `http://10.1.2.3:5001` @default 'http://127.0.0.1:5001' */
  baseUrl?: string;
  /** the API token that writes, ping and drain need; sent with every call when set */
  token?: string;
  /**
   * where the token goes: `authorization` (`Bearer <token>`), or TOKEN_HEADER where the
   * Authorization header does not reach the peer (the Kubernetes pod proxy consumes it)
   * @default 'authorization'
   */
  tokenHeader?: 'authorization' | typeof TOKEN_HEADER;
  /** deadline of each whole call (connect, headers, body) @default 30000 */
  timeoutMs?: number;
  /**
   * how requests travel @default fetchTransport. Errors a given transport throws reach the
   * caller as they are; with the default one a failed connection is PeerUnreachableError.
   */
  transport?: PeerTransport;
}

export interface CallOptions {
  /** ends the call at once */
  signal?: AbortSignal;
  /** this call's deadline instead of the client's */
  timeoutMs?: number;
  /** more request headers (they win over the token's) */
  headers?: Record<string, string>;
}

/** The peer answered with an error: its status and the `error` of its JSON answer. */
export class PeerApiError extends Error {
  override name = 'PeerApiError';
  constructor(
    readonly status: number,
    /** the answer's `error`, else its text (at most 300 characters) */
    readonly error: string,
    /** the parsed JSON answer, when it was JSON */
    readonly reply?: unknown,
  ) {
    super(`${error} (HTTP ${status})`);
  }
}

/** No whole answer within the call's deadline. */
export class PeerTimeoutError extends Error {
  override name = 'PeerTimeoutError';
}

/** The peer's API could not be reached (refused, no route, reset). */
export class PeerUnreachableError extends Error {
  override name = 'PeerUnreachableError';
}

/** An answer of `request`, whatever its status. */
export interface PeerReply extends PeerResponse {
  contentType: string;
  /** the body as UTF-8 text */
  text: string;
}

export interface PeerApiClient {
  readonly baseUrl: string;
  /** `PUT /v1/records/{key}` */
  put(key: string, value: string | Uint8Array, o?: CallOptions): Promise<StoreReply>;
  /** `GET /v1/records/{key}[?quorum=N]`; undefined when not found (404) */
  get(key: string, o?: CallOptions & { quorum?: number }): Promise<RecordReply | undefined>;
  /** `POST /v1/providers/{key}` */
  provide(key: string, o?: CallOptions): Promise<StoreReply>;
  /** `GET /v1/providers/{key}` */
  providers(key: string, o?: CallOptions): Promise<ProvidersReply>;
  /** `GET /v1/peers` */
  peers(o?: CallOptions): Promise<PeersReply>;
  /** `GET /v1/status` */
  status(o?: CallOptions): Promise<StatusReply>;
  /** `POST /v1/ping/{peerId}` */
  ping(peerId: string, o?: CallOptions): Promise<PingReply>;
  /** `POST /v1/drain` */
  drain(o?: CallOptions): Promise<DrainReply>;
  /** `GET /healthz` answered 200 */
  healthz(o?: CallOptions): Promise<boolean>;
  /** `GET /readyz`: true on 200, false on 503 */
  readyz(o?: CallOptions): Promise<boolean>;
  /** `GET /metrics`: Prometheus text */
  metrics(o?: CallOptions): Promise<string>;
  /** any request, answered whatever its status (for tests of bad input) */
  request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    o?: CallOptions,
  ): Promise<PeerReply>;
}

const enc = encodeURIComponent;
const decoder = new TextDecoder();
const bytes = (v: string | Uint8Array): Uint8Array =>
  typeof v === 'string' ? new TextEncoder().encode(v) : v;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The typed error of an answer that is not a success. */
export function errorOf(r: { status: number; text: string }): PeerApiError {
  const json = parseJson(r.text);
  const said = (json as { error?: unknown } | undefined)?.error;
  const msg = typeof said === 'string' ? said : r.text.trim().slice(0, 300);
  return new PeerApiError(r.status, msg || 'no answer', json);
}

// A factory: one short method per route of the peer API.
export function createPeerApiClient(options: PeerApiClientOptions = {}): PeerApiClient {
  const baseUrl = (options.baseUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const transport = options.transport ?? fetchTransport;
  const ownTransport = options.transport === undefined;
  const timeout = options.timeoutMs ?? 30_000;
  const tokenHeaders: Record<string, string> =
    options.token === undefined
      ? {}
      : options.tokenHeader === TOKEN_HEADER
        ? { [TOKEN_HEADER]: options.token }
        : { authorization: `Bearer ${options.token}` };

  async function request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    o: CallOptions = {},
  ): Promise<PeerReply> {
    const timeoutMs = o.timeoutMs ?? timeout;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = o.signal ? AbortSignal.any([deadline, o.signal]) : deadline;
    let res: PeerResponse;
    try {
      res = await transport({
        method,
        url: baseUrl + path,
        headers: { ...tokenHeaders, ...o.headers },
        ...(body !== undefined ? { body: bytes(body) } : {}),
        signal,
      });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      if (deadline.aborted)
        throw new PeerTimeoutError(
          `no answer from ${baseUrl} within ${timeoutMs / 1000} s (${method} ${path})`,
          { cause: err },
        );
      if (!ownTransport) throw err;
      const cause = (err as Error & { cause?: Error }).cause;
      throw new PeerUnreachableError(
        `cannot reach ${baseUrl}: ${cause?.message ?? (err as Error).message}`,
        { cause: err },
      );
    }
    return {
      ...res,
      contentType: res.headers?.['content-type'] ?? '',
      text: decoder.decode(res.body),
    };
  }

  /** the JSON of a 200 answer; PeerApiError for any other status */
  async function json<T>(
    method: string,
    path: string,
    o?: CallOptions,
    body?: Uint8Array,
  ): Promise<T> {
    const r = await request(method, path, body, o);
    if (r.status !== 200) throw errorOf(r);
    const parsed = parseJson(r.text);
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null)
      throw new PeerApiError(r.status, `not a JSON object: ${r.text.trim().slice(0, 100)}`);
    return parsed as T;
  }

  return {
    baseUrl,
    put: (key, value, o) => json<StoreReply>('PUT', `/v1/records/${enc(key)}`, o, bytes(value)),
    async get(key, o = {}) {
      const query = o.quorum === undefined ? '' : `?quorum=${o.quorum}`;
      const r = await request('GET', `/v1/records/${enc(key)}${query}`, undefined, o);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw errorOf(r);
      const timestamp = Number(r.headers?.['x-peernet-timestamp'] ?? NaN);
      const from = r.headers?.['x-peernet-from'];
      return {
        value: r.body,
        ...(Number.isFinite(timestamp) ? { timestamp } : {}),
        ...(from !== undefined ? { from } : {}),
      };
    },
    provide: (key, o) => json<StoreReply>('POST', `/v1/providers/${enc(key)}`, o),
    providers: (key, o) => json<ProvidersReply>('GET', `/v1/providers/${enc(key)}`, o),
    peers: (o) => json<PeersReply>('GET', '/v1/peers', o),
    status: (o) => json<StatusReply>('GET', '/v1/status', o),
    ping: (peerId, o) => json<PingReply>('POST', `/v1/ping/${enc(peerId)}`, o),
    drain: (o) => json<DrainReply>('POST', '/v1/drain', o),
    healthz: async (o) => (await request('GET', '/healthz', undefined, o)).status === 200,
    async readyz(o) {
      const r = await request('GET', '/readyz', undefined, o);
      if (r.status === 200 || r.status === 503) return r.status === 200;
      throw errorOf(r);
    },
    async metrics(o) {
      const r = await request('GET', '/metrics', undefined, o);
      if (r.status !== 200) throw errorOf(r);
      return r.text;
    },
    request,
  };
}
