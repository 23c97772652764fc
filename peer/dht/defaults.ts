// The records service's defaults, in one place: the service (core.ts) applies them, the peer's
// flags (peer/config.ts) show and default to them. No imports, so the CLI can read them cheaply.

/** `tuned` (ours) or `stock` (kadDHT() defaults, for comparison) */
export const DHT_PROFILES = ['tuned', 'stock'] as const;
export type DhtProfile = (typeof DHT_PROFILES)[number];

export const RECORDS_DEFAULTS = {
  /** copies of each record on the closest peers */
  replication: 20,
  /** parallel requests of a lookup */
  alpha: 3,
  /** timeout of one request to one peer, ms */
  rpcTimeout: 5_000,
  /** how often held records are re-put, ms */
  republishInterval: 300_000,
  /** how long a drain may take, ms */
  drainTimeout: 10_000,
  /** a PUT answers once this many of the closest peers confirmed */
  writeQuorum: 3,
  /** a GET answers with the newest of this many copies */
  readQuorum: 3,
  /** records dated further ahead of this peer's clock are refused, ms */
  maxClockSkew: 300_000,
} as const;
