// The peer's HTTP API on the wire (docs/reference/peer.md): its routes' answers and the headers a
// client sends. The server (./server.ts) and every client (./client.ts, and through it peerctl,
// the operator, the kubectl plugin, the tests and benchmarks) share these; nothing here runs.

/** Where a peer's API listens when nothing says otherwise (`--api`, `peerctl --api`). */
export const DEFAULT_API_URL = 'http://127.0.0.1:5001';

/**
 * The header that carries the API token where `Authorization` cannot: the Kubernetes API server
 * authenticates a pod-proxy request by its `Authorization` and deletes that header before it
 * relays the request, so `kubectl peernet` sends the token in this one.
 */
export const TOKEN_HEADER = 'x-peernet-api-token';

/** Every error answer: `{ "error": "..." }` with a 4xx or 5xx status. */
export interface ErrorReply {
  error: string;
}

/** `PUT /v1/records/{key}` and `POST /v1/providers/{key}`: how many peers took it. */
export interface StoreReply {
  key: string;
  /** peers asked to hold it */
  replicas: number;
  /** peers that said they hold it */
  stored: number;
  /** the PUT went through, but another value of the key is newer and stays current */
  superseded?: boolean;
  [field: string]: unknown;
}

/** `GET /v1/records/{key}`: the value as bytes, and where it came from (headers). */
export interface RecordReply {
  value: Uint8Array;
  /** `x-peernet-timestamp`: when the value was written (ms since the epoch) */
  timestamp?: number;
  /** `x-peernet-from`: the peer ID the value was read from */
  from?: string;
}

/** A peer in `GET /v1/peers` and `GET /v1/providers/{key}`. */
export interface PeerEntry {
  peerId: string;
  addrs: string[];
}

/** `GET /v1/providers/{key}` */
export interface ProvidersReply {
  key: string;
  providers: PeerEntry[];
}

/** `GET /v1/peers`: the peers this one is connected to. */
export interface PeersReply {
  peers: PeerEntry[];
}

/** `GET /v1/status` (a peer may send more fields than these). */
/** At most this many peer IDs in StatusReply.externalPeers. */
export const MAX_EXTERNAL_LISTED = 100;

export interface StatusReply {
  peerId: string;
  addrs: string[];
  network: string;
  /** the DHT protocol ID, from the network's name */
  protocol: string;
  dhtProfile: string;
  routingTable: number;
  connections: number;
  records: number;
  recordBytes: number;
  providerRecords: number;
  /** what `/readyz` says */
  ready: boolean;
  /** drained (`POST /v1/drain`): it takes no writes */
  draining: boolean;
  /**
   * with `--bootstrap-file`: connected peers that file does not name (peers of federated
   * networks, clients), at most MAX_EXTERNAL_LISTED
   */
  externalPeers?: string[];
  [field: string]: unknown;
}

/** `POST /v1/ping/{peerId}` */
export interface PingReply {
  peerId: string;
  rttMs: number;
}

/** `POST /v1/drain` */
export interface DrainReply {
  handedOff: number;
}

/** `GET /readyz`: 200 when ready, 503 when not. */
export interface ReadyReply {
  ready: boolean;
}
