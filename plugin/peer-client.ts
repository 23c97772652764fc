// A typed client of one peer's HTTP API (docs/reference/peer.md), over any way of sending a
// request: here the API server's pod proxy. It holds the paths and answer shapes only, so it can
// move to peer/api/ for peerctl and the operator to share.

/** One answer of the peer (or of whatever relays to it). */
export interface PeerReply {
  status: number;
  body: Buffer;
}
export type PeerSend = (method: string, path: string, body?: Uint8Array) => Promise<PeerReply>;

/** The peer answered with an error (`{ "error": "..." }` and a 4xx/5xx status). */
export class PeerApiError extends Error {
  override name = 'PeerApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** GET /v1/status (the fields this uses; the peer sends more). */
export interface PeerLiveStatus {
  peerId: string;
  addrs: string[];
  network: string;
  routingTable: number;
  connections: number;
  records?: number;
  ready?: boolean;
  [field: string]: unknown;
}
export interface StoreReply {
  key: string;
  stored: number;
  replicas: number;
  [field: string]: unknown;
}
export interface PeerEntry {
  peerId: string;
  addrs: string[];
}
export interface PingReply {
  peerId: string;
  rttMs: number;
}

export interface PeerClient {
  status(): Promise<PeerLiveStatus>;
  put(key: string, value: Uint8Array): Promise<StoreReply>;
  /** undefined when not found */
  get(key: string): Promise<Buffer | undefined>;
  provide(key: string): Promise<StoreReply>;
  providers(key: string): Promise<PeerEntry[]>;
  peers(): Promise<PeerEntry[]>;
  ping(peerId: string): Promise<PingReply>;
}

const enc = encodeURIComponent;

function errorOf(r: PeerReply): PeerApiError {
  const text = r.body.toString('utf8');
  let msg = text.trim().slice(0, 300);
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') msg = j.error;
  } catch {
    // not JSON: the text as it is
  }
  return new PeerApiError(`${msg || 'no answer'} (HTTP ${r.status})`, r.status);
}

export function createPeerClient(send: PeerSend): PeerClient {
  const json = async <T>(method: string, path: string, body?: Uint8Array): Promise<T> => {
    const r = await send(method, path, body);
    if (r.status !== 200) throw errorOf(r);
    return JSON.parse(r.body.toString('utf8')) as T;
  };
  return {
    status: () => json<PeerLiveStatus>('GET', '/v1/status'),
    put: (key, value) => json<StoreReply>('PUT', `/v1/records/${enc(key)}`, value),
    async get(key) {
      const r = await send('GET', `/v1/records/${enc(key)}`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw errorOf(r);
      return r.body;
    },
    provide: (key) => json<StoreReply>('POST', `/v1/providers/${enc(key)}`),
    providers: async (key) =>
      (await json<{ providers?: PeerEntry[] }>('GET', `/v1/providers/${enc(key)}`)).providers ?? [],
    peers: async () => (await json<{ peers?: PeerEntry[] }>('GET', '/v1/peers')).peers ?? [],
    ping: (peerId) => json<PingReply>('POST', `/v1/ping/${enc(peerId)}`),
  };
}
