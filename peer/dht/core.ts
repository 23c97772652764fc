// What every part of the records service shares: the node and its kad-dht internals, the local
// store, the settings, and the small steps they are all made of (ask one peer, put one copy,
// read and write the local copy, the peers closest to a key). The profiles (tuned.ts, stock.ts),
// replication (replicate.ts), the drain (handoff.ts) and the republisher (republish.ts) build on it.
import { peerIdFromString } from '@libp2p/peer-id';
import { MessageType } from '@libp2p/kad-dht';
import { Libp2pRecord } from '@libp2p/record';
import { Key } from 'interface-datastore';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { Logger } from 'pino';
import type { PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { DhtOperation, PeerMetrics } from '../metrics.js';
import { isConnected, type PeerNode } from '../node/index.js';
import {
  dhtInternals,
  NO_PATH,
  sendDhtRequest,
  type DhtAnswer,
  type DhtInternals,
  type DhtMessage,
  type DhtRequest,
} from './internals.js';
import { checkClock, openValue, userKeyOf } from './keys.js';
import { kadId } from './lookup.js';
import { RECORDS_DEFAULTS, type DhtProfile } from './defaults.js';
import { PROVIDER_PREFIX, RECORD_PREFIX, type RecordStore } from './store.js';

/** What the records service is built from (js-libp2p's components). */
export interface RecordsComponents {
  node: PeerNode;
  /** the store kad-dht and this service share (quotas, counters) */
  datastore: RecordStore;
  logger: Logger;
  metrics?: PeerMetrics;
}

/** How it behaves (js-libp2p's init options); each optional one has a default in defaults.ts. */
export interface RecordsInit {
  /** `tuned` (ours) or `stock` (kadDHT()'s own put/get/provide/findProviders) */
  profile: DhtProfile;
  /** the network name in our protocol ids (`/peernet/<network>/...`) */
  network: string;
  /** copies of each record on the closest peers */
  replication?: number;
  /** parallel requests of a lookup */
  alpha?: number;
  /** timeout of one request to one peer, ms */
  rpcTimeout?: number;
  /** how often held records are re-put, ms */
  republishInterval?: number;
  /** how long a drain may take, ms */
  drainTimeout?: number;
  /**
   * a PUT answers once this many of the closest peers confirmed; the other copies are written in
   * the background
   */
  writeQuorum?: number;
  /**
   * a GET answers with the newest of this many copies, this peer's own among them (the lookup
   * goes on past the first copy it meets until it has them, or has asked every close peer), and
   * PUTs the newest to the holders of older ones it met. 1: the local copy alone when there is one.
   */
  readQuorum?: number;
  /** records dated further ahead of this peer's clock are refused, ms */
  maxClockSkew?: number;
}

export type RecordsSettings = Required<RecordsInit>;

export class DrainingError extends Error {
  override name = 'DrainingError';
}

export interface PutResult {
  /** peers asked to keep a copy */
  replicas: number;
  /** peers that confirmed */
  stored: number;
  /**
   * a newer value of the key was already there (here, or on a peer asked before the answer):
   * this PUT's value is not the current one
   */
  superseded?: true;
}

export interface GetResult {
  value: Uint8Array;
  /** the writer's clock when the value was put, ms since the epoch */
  timestamp: number;
  /** `local` when this peer held it */
  from: string;
}

export interface ProviderInfo {
  peerId: string;
  addrs: string[];
}

export interface HeldRecord {
  key: string;
  dsKey: Key;
  record: Libp2pRecord;
}

/** The providers a search found, each with every address it was given. */
export class ProviderSet {
  private readonly found = new Map<string, ProviderInfo>();
  add(id: PeerId, addrs: Multiaddr[]): void {
    const entry = this.found.get(id.toString()) ?? { peerId: id.toString(), addrs: [] };
    for (const a of addrs.map((m) => m.toString()))
      if (!entry.addrs.includes(a)) entry.addrs.push(a);
    this.found.set(id.toString(), entry);
  }
  get size(): number {
    return this.found.size;
  }
  list(): ProviderInfo[] {
    return [...this.found.values()];
  }
}

/** How one PUT_VALUE to one peer went. */
export type CopyOutcome = 'stored' | 'refused' | 'failed';

export class RecordsCore {
  readonly node: PeerNode;
  readonly dht: DhtInternals;
  readonly datastore: RecordStore;
  readonly log: Logger;
  readonly metrics: PeerMetrics | undefined;
  readonly settings: RecordsSettings;
  /** CIDs this peer provides, with when it last announced them */
  readonly provided = new Map<string, { cid: CID; at: number }>();
  /** set by the drain: no writes are taken any more */
  draining = false;
  private stopController = new AbortController();

  constructor(components: RecordsComponents, init: RecordsInit) {
    this.node = components.node;
    this.dht = dhtInternals(components.node.services.dht);
    this.datastore = components.datastore;
    this.log = components.logger;
    this.metrics = components.metrics;
    const defined = Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined));
    this.settings = { ...RECORDS_DEFAULTS, ...defined } as RecordsSettings;
  }

  /** aborts when the service stops */
  get stopSignal(): AbortSignal {
    return this.stopController.signal;
  }

  restart(): void {
    this.stopController = new AbortController();
  }

  stop(): void {
    this.stopController.abort();
  }

  // --- peers ------------------------------------------------------------------------------

  /** a peer this one holds an open connection to: a request to it needs no dial */
  readonly connected = (peer: PeerId): boolean => isConnected(this.node, peer);

  /** the `count` peers of the routing table closest to `target`, this peer excluded */
  closest(target: Uint8Array, count: number): PeerId[] {
    return this.dht.routingTable
      .closestPeers(target, { count: count + 1 })
      .filter((p) => !p.equals(this.node.peerId))
      .slice(0, count);
  }

  async addrsOf(peer: PeerId): Promise<Multiaddr[]> {
    if (peer.equals(this.node.peerId)) return this.node.getMultiaddrs();
    try {
      return (await this.node.peerStore.get(peer)).addresses.map((a) => a.multiaddr);
    } catch {
      return [];
    }
  }

  /** one request's deadline (rpcTimeout), ended early by `signal` */
  rpcSignal(signal?: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.settings.rpcTimeout);
    return signal == null ? timeout : AbortSignal.any([timeout, signal]);
  }

  /** a whole operation's deadline (a minute), ended early when the service stops */
  opSignal(): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(60_000), this.stopController.signal]);
  }

  /** `quiet` for lookups: the peers an answer names are not made routing-table candidates */
  request(peer: PeerId, msg: DhtRequest, signal?: AbortSignal, quiet = false): Promise<DhtAnswer> {
    return sendDhtRequest(this.dht, peer, msg, this.rpcSignal(signal), { quiet });
  }

  /**
   * PUT_VALUE of `record` (serialized) to `peer`. A peer that will not keep it (it holds a newer
   * value, the record is dated too far ahead, a quota is reached) resets the stream, as
   * go-libp2p-kad-dht does: `refused`. A peer that cannot be reached or does not answer in
   * time: `failed`.
   */
  async putCopy(
    peer: PeerId,
    dhtKey: Uint8Array,
    record: Uint8Array,
    signal?: AbortSignal,
  ): Promise<CopyOutcome> {
    try {
      await this.request(peer, { type: MessageType.PUT_VALUE, key: dhtKey, record }, signal);
      return 'stored';
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'AbortError' || name === 'TimeoutError') return 'failed';
      return this.connected(peer) ? 'refused' : 'failed';
    }
  }

  /** ADD_PROVIDER (ourselves) to the closest known peers. */
  async announce(cid: CID, signal?: AbortSignal): Promise<PutResult> {
    const addrs = this.node.getMultiaddrs().map((m) => m.decapsulateCode(421).bytes);
    const msg: DhtMessage = {
      type: MessageType.ADD_PROVIDER,
      key: cid.multihash.bytes,
      closer: [],
      providers: [{ id: this.node.peerId.toMultihash().bytes, multiaddrs: addrs }],
    };
    const peers = this.closest(await kadId(cid.multihash.bytes), this.settings.replication);
    const results = await Promise.allSettled(
      peers.map(async (peer) => {
        for await (const e of this.dht.network.sendMessage(peer, msg, {
          signal: this.rpcSignal(signal),
          path: NO_PATH,
        })) {
          if (e.name === 'QUERY_ERROR') throw e.error;
        }
      }),
    );
    return {
      replicas: peers.length,
      stored: results.filter((r) => r.status === 'fulfilled').length,
    };
  }

  // --- the local store --------------------------------------------------------------------

  async storeLocal(dhtKey: Uint8Array, sealed: Uint8Array): Promise<void> {
    const rec = new Libp2pRecord(dhtKey, sealed, new Date());
    await this.datastore.put(dsRecordKey(dhtKey), rec.serialize());
  }

  /** Our record of `dhtKey` in the local store; undefined when none, malformed, or dated too far ahead. */
  async readLocal(dhtKey: Uint8Array): Promise<Libp2pRecord | undefined> {
    try {
      const rec = Libp2pRecord.deserialize(await this.datastore.get(dsRecordKey(dhtKey)));
      return this.usable(rec.value) ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The timestamp of a new PUT: this peer's clock, or one past the value it holds when that is
   * dated later (a write within the same millisecond, or one from a peer whose clock is ahead):
   * a PUT this peer takes after another replaces it, unless that takes a date beyond the skew.
   */
  stamp(local: Libp2pRecord | undefined): number {
    const now = Date.now();
    if (local == null) return now;
    const next = openValue(local.value).timestamp + 1;
    return next > now && next <= now + this.settings.maxClockSkew ? next : now;
  }

  /** A sealed value this peer would take: well-formed, not dated beyond the skew. */
  usable(sealed: Uint8Array): boolean {
    try {
      this.checkClock(sealed);
      return true;
    } catch {
      return false;
    }
  }

  /** Throws FutureRecordError (counted) for a value dated beyond the skew. */
  checkClock(sealed: Uint8Array): void {
    try {
      checkClock(sealed, { maxClockSkew: this.settings.maxClockSkew });
    } catch (err) {
      if ((err as Error).name === 'FutureRecordError')
        this.metrics?.refused.inc({ reason: 'future' });
      throw err;
    }
  }

  /** Our records (the `/peernet/` namespace) in the local store. */
  async *heldRecords(): AsyncGenerator<HeldRecord> {
    for await (const { key, value } of this.datastore.query({ prefix: RECORD_PREFIX })) {
      try {
        const record = Libp2pRecord.deserialize(value);
        const userKey = userKeyOf(record.key);
        if (userKey == null) continue;
        openValue(record.value);
        yield { key: userKey, dsKey: key, record };
      } catch {
        // not ours or damaged: kad-dht's own business
      }
    }
  }

  /** The provider records in the local store (this peer's and others'). */
  async *heldProviders(): AsyncGenerator<{ cid: CID; peer: PeerId }> {
    for await (const key of this.datastore.queryKeys({ prefix: PROVIDER_PREFIX })) {
      const parts = key.toString().split('/');
      const peer = parts.pop();
      const mh = parts.pop();
      if (peer == null || mh == null) continue;
      try {
        yield {
          cid: CID.createV1(0x55, Digest.decode(uint8ArrayFromString(mh, 'base32'))),
          peer: peerIdFromString(peer),
        };
      } catch {
        // not a provider key we understand
      }
    }
  }

  // --- answers and metrics ----------------------------------------------------------------

  result(sealed: Uint8Array, from: string): GetResult {
    const env = openValue(sealed);
    return { value: env.value, timestamp: env.timestamp, from };
  }

  /** Runs one user operation, timed by the dht operation histogram. */
  async timed<T>(op: DhtOperation, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics?.dhtOperation.startTimer({ operation: op });
    try {
      const r = await fn();
      end?.({ outcome: r === undefined ? 'not_found' : 'ok' });
      return r;
    } catch (err) {
      end?.({ outcome: 'error' });
      throw err;
    }
  }
}

function dsRecordKey(dhtKey: Uint8Array): Key {
  return new Key(`${RECORD_PREFIX}/${uint8ArrayToString(dhtKey, 'base32')}`, false);
}
