// The records service: PUT/GET of values and PUT_PROVIDER/GET_PROVIDERS over the Kademlia DHT,
// replication to the closest peers, a republisher, and the drain that hands everything this peer
// holds to the closest other peers before it leaves.
//
// Profile `tuned` (default) talks kad-dht's own wire protocol to the closest peers it already
// knows (one round trip in the usual case, see lookup.ts); profile `stock` calls kadDHT()'s
// put/get/provide/findProviders unchanged, so the two can be measured side by side.
import { peerIdFromString } from '@libp2p/peer-id';
import { MessageType } from '@libp2p/kad-dht';
import { Libp2pRecord } from '@libp2p/record';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { Key } from 'interface-datastore';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { equals as uint8ArrayEquals } from 'uint8arrays/equals';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { Logger } from 'pino';
import type { PeerId, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { DhtProfile } from '../config.js';
import type { PeerNode } from '../node/index.js';
import type { DhtOperation, PeerMetrics } from '../metrics.js';
import {
  dhtInternals,
  NO_PATH,
  sendDhtRequest,
  type DhtAnswer,
  type DhtInternals,
  type DhtMessage,
  type DhtRequest,
} from './internals.js';
import {
  checkClock,
  openValue,
  providerCid,
  recordKey,
  sealValue,
  userKeyOf,
  compareSealed,
  validateKey,
  validateRecord,
  validateValue,
} from './keys.js';
import { kadId, lookup } from './lookup.js';
import {
  PROVIDER_PREFIX,
  RECORD_PREFIX,
  StaleRecordError,
  type RecordStore,
  type StoreCounts,
} from './store.js';

export { PROVIDER_PREFIX, RECORD_PREFIX };
/**
 * A lookup asks the closest peers it holds a connection to first, one at a time: the next only
 * when the one asked has not answered within this long (hedged requests). A request on an open
 * connection answers in a few ms on an idle machine; a dial costs both ends a handshake (100
 * peers, sequential GETs: 2.8 dials a GET when all were asked at once), and each request costs
 * the peer asked ~10-25 ms of CPU on a busy machine (3 asked at once per GET kept 100 peers on 2
 * cores saturated while GETs ran).
 */
const HEDGE_MS = 100;
/**
 * A write with a quorum sends its first copies to quorum + this many peers and answers once the
 * quorum confirmed; the rest follow (placed by the closest peer for a new PUT, see `replicate`).
 * On a saturated machine a PUT's latency follows the requests it causes: 20 copies from the
 * writer plus the ones the closest peer added were 26-27 PUT_VALUEs a PUT (100 peers: PUT p50
 * 102-106 ms); with the first wave of 5, 21.4 (p50 81-85 ms; ADR 0003 decision 11).
 */
const FIRST_WAVE_EXTRA = 2;
/** a replicate request: a serialized record of the largest value, base64, and 40 peer IDs */
const MAX_REPLICATE_BYTES = 128 * 1024;
/** a GET lookup this slow is logged (debug) with what it waited for */
const SLOW_LOOKUP_MS = 150;

export class DrainingError extends Error {
  override name = 'DrainingError';
}

export interface RecordsOptions {
  profile: DhtProfile;
  network: string;
  /** copies of each record on the closest peers. @default 20 */
  replication?: number;
  /** parallel requests of a lookup. @default 3 */
  alpha?: number;
  /** timeout of one request to one peer, ms. @default 5000 */
  rpcTimeout?: number;
  /** how often held records are re-put, ms. @default 300_000 */
  republishInterval?: number;
  /** how long a drain may take, ms. @default 10_000 */
  drainTimeout?: number;
  /**
   * a PUT answers once this many of the closest peers confirmed; the other copies are written in
   * the background. @default 3
   */
  writeQuorum?: number;
  /**
   * a GET answers with the newest of this many copies, this peer's own among them (the lookup
   * goes on past the first copy it meets until it has them, or has asked every close peer), and
   * PUTs the newest to the holders of older ones it met. 1: the local copy alone when there is
   * one. @default 3
   */
  readQuorum?: number;
  /** records dated further ahead of this peer's clock are refused, ms. @default 300_000 */
  maxClockSkew?: number;
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

/** What replicate() learnt by the time it answered. */
interface ReplicateResult extends PutResult {
  /** peers that refused the copy (rather than not answering): they may hold a newer value */
  refused: PeerId[];
}

/** How one PUT_VALUE to one peer went. */
type CopyOutcome = 'stored' | 'refused' | 'failed';

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

/** `/peernet/<network>/handoff/1.0.0`: the records and provider records a draining peer hands over. */
export function handoffProtocol(network: string): string {
  return `/peernet/${network}/handoff/1.0.0`;
}

/**
 * `/peernet/<network>/replicate/1.0.0`: a writer asks a peer close to the key to copy a record to
 * the closest peers it knows that the writer did not reach.
 */
export function replicateProtocol(network: string): string {
  return `/peernet/${network}/replicate/1.0.0`;
}

/** a replicate request: the serialized record, and the peers the writer sent it to */
interface ReplicateRequest {
  record: string;
  have: string[];
}

interface HandoffProvider {
  cid: string;
  peer: string;
  addrs: string[];
}

/** What a draining peer hands over on one stream: provider records, records (serialized, base64). */
interface HandoffRequest {
  providers?: HandoffProvider[];
  records?: string[];
}

/** `kept`: indices into the request's records that the taker now holds (absent from older peers). */
interface HandoffAnswer {
  accepted: number;
  refused: number;
  kept?: number[];
}

/** A handoff message is at most this large; a batch of records is cut at a quarter of it. */
const MAX_HANDOFF_BYTES = 4 * 1024 * 1024;
/** At most this many records (and provider records) in one handoff message. */
const MAX_HANDOFF_ITEMS = 2000;

/** `indices` cut into batches of at most MAX_HANDOFF_ITEMS and about MAX_HANDOFF_BYTES / 4. */
export function handoffBatches(indices: number[], sizeOf: (i: number) => number): number[][] {
  const batches: number[][] = [];
  let batch: number[] = [];
  let bytes = 0;
  for (const i of indices) {
    const size = sizeOf(i) + 4; // the quotes and the comma around it in the JSON
    if (
      batch.length > 0 &&
      (batch.length >= MAX_HANDOFF_ITEMS || bytes + size > MAX_HANDOFF_BYTES / 4)
    ) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(i);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** `peers` in their order, those `connected` says have an open connection first */
function connectedFirst(peers: PeerId[], connected: (p: PeerId) => boolean): PeerId[] {
  const open: PeerId[] = [];
  const rest: PeerId[] = [];
  for (const p of peers) (connected(p) ? open : rest).push(p);
  return [...open, ...rest];
}

/**
 * One request on one of our JSON protocols: opens a stream to `peer`, writes `body`
 * (length-prefixed JSON), reads the answer, closes; aborts the stream on any error.
 */
export async function callJson(
  node: Pick<PeerNode, 'dialProtocol'>,
  peer: PeerId,
  protocol: string,
  body: unknown,
  signal: AbortSignal,
  opts: { maxDataLength?: number } = {},
): Promise<unknown> {
  const stream = await node.dialProtocol(peer, protocol, { signal });
  try {
    const lp = lpStream(stream, opts);
    await lp.write(uint8ArrayFromString(JSON.stringify(body)), { signal });
    const answer: unknown = JSON.parse(uint8ArrayToString((await lp.read({ signal })).subarray()));
    await stream.close({ signal });
    return answer;
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

/**
 * The other side of `callJson`: reads one request of at most `maxDataLength` bytes, answers with
 * what `handle` returns, closes. On any error (a malformed request, `handle` throwing) the stream
 * is aborted and the error rethrown.
 */
async function serveJson(
  stream: Stream,
  signal: AbortSignal,
  maxDataLength: number,
  handle: (body: unknown) => Promise<unknown>,
): Promise<void> {
  try {
    const lp = lpStream(stream, { maxDataLength });
    const body: unknown = JSON.parse(uint8ArrayToString((await lp.read({ signal })).subarray()));
    await lp.write(uint8ArrayFromString(JSON.stringify(await handle(body))), { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

export class RecordsService {
  private readonly dht: DhtInternals;
  private readonly replication: number;
  private readonly alpha: number;
  private readonly rpcTimeout: number;
  private readonly republishInterval: number;
  private readonly drainTimeout: number;
  private readonly writeQuorum: number;
  private readonly readQuorum: number;
  private readonly maxClockSkew: number;
  /** CIDs this peer provides, with when it last announced them */
  private readonly provided = new Map<string, { cid: CID; at: number }>();
  private republishTimer?: NodeJS.Timeout;
  private republishing?: Promise<void>;
  private stopController = new AbortController();
  draining = false;

  constructor(
    private readonly node: PeerNode,
    private readonly datastore: RecordStore,
    private readonly opts: RecordsOptions,
    private readonly log: Logger,
    private readonly metrics?: PeerMetrics,
  ) {
    this.dht = dhtInternals(node.services.dht);
    this.replication = opts.replication ?? 20;
    this.alpha = opts.alpha ?? 3;
    this.rpcTimeout = opts.rpcTimeout ?? 5_000;
    this.republishInterval = opts.republishInterval ?? 300_000;
    this.drainTimeout = opts.drainTimeout ?? 10_000;
    this.writeQuorum = opts.writeQuorum ?? 3;
    this.readQuorum = opts.readQuorum ?? 3;
    this.maxClockSkew = opts.maxClockSkew ?? 300_000;
  }

  get routingTableSize(): number {
    return this.dht.routingTable.size;
  }

  async start(): Promise<void> {
    this.stopController = new AbortController();
    await this.node.handle(handoffProtocol(this.opts.network), (stream, connection) =>
      this.onHandoff(stream, connection.remotePeer),
    );
    await this.node.handle(replicateProtocol(this.opts.network), (stream, connection) =>
      this.onReplicate(stream, connection.remotePeer),
    );
    this.scheduleRepublish();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    clearTimeout(this.republishTimer);
    await this.republishing;
    await this.node.unhandle(handoffProtocol(this.opts.network)).catch(() => {});
    await this.node.unhandle(replicateProtocol(this.opts.network)).catch(() => {});
  }

  // --- public operations ------------------------------------------------------------------

  async put(key: string, value: Uint8Array): Promise<PutResult> {
    validateKey(key);
    validateValue(value);
    if (this.draining) throw new DrainingError('this peer is draining and takes no writes');
    return this.timed('put', async () => {
      const dhtKey = recordKey(key);
      const sealed = sealValue(value, this.stamp(await this.readLocal(dhtKey)));
      const superseded: PutResult = { replicas: 0, stored: 0, superseded: true };
      if (this.opts.profile === 'stock') {
        let stored = 0;
        let replicas = 0;
        try {
          for await (const e of this.node.services.dht.put(dhtKey, sealed, {
            signal: this.opSignal(),
          })) {
            if (e.name === 'PEER_RESPONSE' && e.messageType === MessageType.PUT_VALUE) stored++;
            if (e.name === 'SEND_QUERY' && e.messageType === MessageType.PUT_VALUE) replicas++;
          }
        } catch (err) {
          if ((err as Error).name === 'StaleRecordError') return superseded;
          throw err;
        }
        return { replicas, stored };
      }
      try {
        await this.storeLocal(dhtKey, sealed);
      } catch (err) {
        if ((err as Error).name === 'StaleRecordError') return superseded;
        throw err; // a quota: QuotaExceededError
      }
      const signal = this.stopController.signal;
      const r = await this.replicate(dhtKey, sealed, signal, this.writeQuorum, true);
      const newer =
        r.refused.length > 0 && (await this.adoptNewer(dhtKey, sealed, r.refused, signal));
      return { replicas: r.replicas, stored: r.stored, ...(newer ? { superseded: true } : {}) };
    });
  }

  /** `quorum`: the newest of this many copies (default `readQuorum`); profile `stock` ignores it */
  async get(key: string, opts: { quorum?: number } = {}): Promise<GetResult | undefined> {
    validateKey(key);
    return this.timed('get', async () => {
      const dhtKey = recordKey(key);
      if (this.opts.profile === 'stock') {
        let best: { sealed: Uint8Array; from: string } | undefined;
        try {
          for await (const e of this.node.services.dht.get(dhtKey, { signal: this.opSignal() })) {
            if (e.name === 'VALUE') best = { sealed: e.value, from: e.from.toString() };
          }
        } catch (err) {
          if ((err as Error).name !== 'NotFoundError') throw err;
        }
        return best == null ? undefined : this.result(best.sealed, best.from);
      }
      // The local copy may be older than the ones on other holders (this peer missed a write
      // while it was away or refused it on a quota): it is one vote of the quorum, and answers
      // alone only when the caller asked for a quorum of 1.
      const quorum = Math.max(1, opts.quorum ?? this.readQuorum);
      const local = await this.readLocal(dhtKey);
      if (local != null && quorum <= 1) return this.result(local.value, 'local');
      // The writer put the copies on the closest peers *it* knew; when its table missed some of
      // the true closest, or some of them did not answer us, copies sit a little further out
      // than the `replication` closest. So a miss goes on to three times as many before it is a
      // 404 (1.3 % of GETs at 100 peers were a false 404 without it).
      const target = await kadId(dhtKey);
      const started = Date.now();
      /** peers that answered without a usable copy */
      const without: PeerId[] = [];
      const found = await lookup<{ sealed: Uint8Array; from: string; peer: PeerId }>({
        target,
        start: this.closest(target, this.replication * 3),
        self: this.node.peerId,
        quorum: quorum - (local == null ? 0 : 1),
        count: this.replication,
        widenTo: this.replication * 3,
        alpha: this.alpha,
        prefer: this.connected,
        hedgeMs: HEDGE_MS,
        signal: this.stopController.signal,
        ask: async (peer, signal) => {
          const res = await this.request(
            peer,
            { type: MessageType.GET_VALUE, key: dhtKey },
            signal,
            true,
          );
          let result: { sealed: Uint8Array; from: string; peer: PeerId } | undefined;
          if (
            res.record != null &&
            uint8ArrayEquals(res.record.key, dhtKey) &&
            this.usable(res.record.value)
          ) {
            result = { sealed: res.record.value, from: peer.toString(), peer };
          } else {
            without.push(peer);
          }
          return { closer: res.closer, result };
        },
      });
      const ms = Date.now() - started;
      if (ms >= SLOW_LOOKUP_MS) {
        // what a slow GET waited for: peers that did not answer (failed), or many that answered
        // without the record (100 peers: the slow GETs asked 10-41 before one had it)
        this.log.debug(
          {
            key,
            ms,
            answered: found.answered,
            failed: found.failed,
            copies: found.results.length + (local == null ? 0 : 1),
          },
          'slow get',
        );
      }
      // the local copy first: it answers (`from: local`) when no other is newer
      const copies = found.results.map((r) => ({ sealed: r.sealed, from: r.from }));
      if (local != null) copies.unshift({ sealed: local.value, from: 'local' });
      const newest = copies.reduce<(typeof copies)[number] | undefined>(
        (best, c) => (best == null || compareSealed(c.sealed, best.sealed) > 0 ? c : best),
        undefined,
      );
      if (newest == null) return undefined;
      // peers without a copy that are among the closest to the key (as this peer knows them)
      // should hold one: a reader near the key asks them first
      const closest = new Set(this.closest(target, this.replication).map(String));
      const missing = without.filter((p) => closest.has(p.toString()));
      await this.repair(dhtKey, newest.sealed, found.results, missing, local);
      return this.result(newest.sealed, newest.from);
    });
  }

  /**
   * Read repair, as go-libp2p-kad-dht's GetValue does: the newest value goes to the holders of an
   * older one the GET met and to the close peers it met without a copy (`missing`); by PUT_VALUE
   * in the background (a holder that took a newer one since refuses it), and into the local
   * store before the GET answers when that held an older one, so the next read here sees it.
   */
  private async repair(
    dhtKey: Uint8Array,
    newest: Uint8Array,
    met: Array<{ sealed: Uint8Array; peer: PeerId }>,
    missing: PeerId[],
    local: Libp2pRecord | undefined,
  ): Promise<void> {
    const stale = [
      ...met.filter((r) => compareSealed(r.sealed, newest) < 0).map((r) => r.peer),
      ...missing,
    ];
    if (stale.length > 0) {
      const record = new Libp2pRecord(dhtKey, newest, new Date()).serialize();
      const signal = this.stopController.signal;
      void Promise.all(stale.map((p) => this.putCopy(p, dhtKey, record, signal))).then(
        (outcomes) => {
          const stored = outcomes.filter((o) => o === 'stored').length;
          this.metrics?.repaired.inc(stored);
          this.log.debug(
            { stale: stale.length - missing.length, missing: missing.length, stored },
            'read repair',
          );
        },
      );
    }
    if (local != null && compareSealed(local.value, newest) < 0) {
      await this.storeLocal(dhtKey, newest).then(
        () => this.metrics?.repaired.inc(),
        (err: unknown) =>
          this.log.debug({ err: (err as Error).message }, 'read repair: kept the local copy'),
      );
    }
  }

  async provide(key: string): Promise<PutResult> {
    validateKey(key);
    if (this.draining) throw new DrainingError('this peer is draining and takes no writes');
    return this.timed('provide', async () => {
      const cid = await providerCid(key);
      if (this.opts.profile === 'stock') {
        this.provided.set(cid.toString(), { cid, at: Date.now() });
        let stored = 0;
        let replicas = 0;
        for await (const e of this.node.services.dht.provide(cid, { signal: this.opSignal() })) {
          if (e.name === 'SEND_QUERY' && e.messageType === MessageType.ADD_PROVIDER) replicas++;
          if (e.name === 'PEER_RESPONSE' && e.messageType === MessageType.ADD_PROVIDER) stored++;
        }
        return { replicas, stored };
      }
      // stored here first: a quota refuses it before anything is announced
      await this.dht.providers.addProvider(cid, this.node.peerId);
      this.provided.set(cid.toString(), { cid, at: Date.now() });
      return this.announce(cid);
    });
  }

  async findProviders(key: string): Promise<ProviderInfo[]> {
    validateKey(key);
    return this.timed('find_providers', async () => {
      const cid = await providerCid(key);
      const found = new Map<string, ProviderInfo>();
      const addInfo = (id: PeerId, addrs: Multiaddr[]): void => {
        const entry = found.get(id.toString()) ?? { peerId: id.toString(), addrs: [] };
        for (const a of addrs.map((m) => m.toString()))
          if (!entry.addrs.includes(a)) entry.addrs.push(a);
        found.set(id.toString(), entry);
      };
      if (this.opts.profile === 'stock') {
        for await (const e of this.node.services.dht.findProviders(cid, {
          signal: this.opSignal(),
        })) {
          if (e.name !== 'PROVIDER') continue;
          for (const p of e.providers) addInfo(p.id, p.multiaddrs);
          if (found.size > 0) break;
        }
        return [...found.values()];
      }
      for (const id of await this.dht.providers.getProviders(cid)) {
        addInfo(id, await this.addrsOf(id));
      }
      const target = await kadId(cid.multihash.bytes);
      await lookup<true>({
        target,
        start: this.closest(target, this.replication),
        self: this.node.peerId,
        count: this.replication,
        alpha: this.alpha,
        prefer: this.connected,
        hedgeMs: HEDGE_MS,
        signal: this.stopController.signal,
        ask: async (peer, signal) => {
          const res = await this.request(
            peer,
            { type: MessageType.GET_PROVIDERS, key: cid.multihash.bytes },
            signal,
            true,
          );
          for (const p of res.providers) addInfo(p.id, p.multiaddrs);
          return { closer: res.closer, result: res.providers.length > 0 ? true : undefined };
        },
      });
      return [...found.values()];
    });
  }

  /** Stops taking writes and hands every record and provider record to the closest other peers. */
  async drain(): Promise<{ handedOff: number }> {
    this.draining = true;
    clearTimeout(this.republishTimer);
    await this.republishing;
    const deadline = AbortSignal.timeout(this.drainTimeout);
    const signal = AbortSignal.any([deadline, this.stopController.signal]);
    const jobs: Array<() => Promise<void>> = [];
    // records travel in batches over the handoff protocol, one stream per batch and peer that
    // takes them, instead of one PUT_VALUE stream per record and peer (10k records on 30 peers
    // were ~130k streams); a peer that answers without `kept` (an older peernet) gets the
    // batch's records one PUT_VALUE at a time
    const held: Libp2pRecord[] = [];
    const recordsFor = new Map<string, { peer: PeerId; indices: number[] }>();
    for await (const h of this.heldRecords()) {
      const index = held.push(h.record) - 1;
      for (const to of this.closest(await kadId(h.record.key), this.replication)) {
        const group = recordsFor.get(to.toString()) ?? { peer: to, indices: [] };
        group.indices.push(index);
        recordsFor.set(to.toString(), group);
      }
    }
    const serialized = held.map((r) => uint8ArrayToString(r.serialize(), 'base64'));
    const kept = new Uint8Array(held.length);
    for (const { peer, indices } of recordsFor.values()) {
      for (const batch of handoffBatches(indices, (i) => serialized[i]!.length)) {
        jobs.push(async () => {
          const records = batch.map((i) => serialized[i]!);
          const answer = await this.sendHandoff(peer, { records }, signal).catch((err: unknown) => {
            this.log.debug(
              { peer: peer.toString(), err: (err as Error).message },
              'record handoff failed',
            );
            return undefined;
          });
          if (Array.isArray(answer?.kept)) {
            for (const k of answer.kept) {
              const i = Number.isInteger(k) ? batch[k] : undefined;
              if (i != null) kept[i] = 1;
            }
            return;
          }
          if (answer == null) return;
          await Promise.all(
            batch.map(async (i) => {
              const r = held[i]!;
              if ((await this.putCopy(peer, r.key, r.serialize(), signal)) === 'stored')
                kept[i] = 1;
            }),
          );
        });
      }
    }
    // provider records of other peers: kad-dht only takes ADD_PROVIDER from the provider itself,
    // so they travel over the handoff protocol too, grouped by the peer that takes them
    const byPeer = new Map<string, { peer: PeerId; providers: HandoffProvider[] }>();
    for await (const p of this.heldProviders()) {
      if (p.peer.equals(this.node.peerId)) continue;
      const target = await kadId(p.cid.multihash.bytes);
      const entry: HandoffProvider = {
        cid: p.cid.toString(),
        peer: p.peer.toString(),
        addrs: (await this.addrsOf(p.peer)).map((a) => a.toString()),
      };
      for (const to of this.closest(target, this.replication)) {
        const group = byPeer.get(to.toString()) ?? { peer: to, providers: [] };
        group.providers.push(entry);
        byPeer.set(to.toString(), group);
      }
    }
    const providerKeys = new Set<string>();
    for (const { peer, providers } of byPeer.values()) {
      const sizes = providers.map((p) => JSON.stringify(p).length);
      for (const batch of handoffBatches(
        providers.map((_, i) => i),
        (i) => sizes[i]!,
      )) {
        jobs.push(async () => {
          try {
            const sent = batch.map((i) => providers[i]!);
            await this.sendHandoff(peer, { providers: sent }, signal);
            for (const p of sent) providerKeys.add(`${p.cid}/${p.peer}`);
          } catch (err) {
            this.log.debug(
              { peer: peer.toString(), err: (err as Error).message },
              'provider handoff failed',
            );
          }
        });
      }
    }
    await runLimited(jobs, 16);
    const records = kept.reduce((n, k) => n + k, 0);
    this.metrics?.handedOff.inc({ kind: 'record' }, records);
    this.metrics?.handedOff.inc({ kind: 'provider' }, providerKeys.size);
    return { handedOff: records + providerKeys.size };
  }

  /** What this peer holds: counters kept by the store, no walk of it. */
  counts(): StoreCounts {
    return this.datastore.counts();
  }

  // --- replication ------------------------------------------------------------------------

  /**
   * PUT_VALUE to the closest known peers, all in parallel. With `quorum`, answers as soon as that
   * many confirmed (the other requests go on in the background); otherwise once all settled.
   * `forward` (a new PUT): once the write has answered, the closest of them (connected first) is
   * asked to place the rest on the closest peers *it* knows but for the ones we sent to (see
   * `onReplicate`); the writer sends them itself only when that fails. A routing table keeps at
   * most 20 peers a bucket, so for a key in the far half of the ID space (half of all keys) this peer
   * knows 20 of the ~N/2 peers there and its "closest" are a sample of that half, while a reader
   * near the key asks the true closest first (100 peers: the slow GETs asked 10-41 peers before
   * one had a copy, GET p99 210-790 ms). A peer close to the key knows all its neighbours and
   * usually holds connections to them; this peer would have to dial the ones it lacks (~3 a PUT
   * at 100 peers, ~35 ms of CPU at each end: PUT p50 80 -> 175 ms when the writer dialled them).
   */
  private async replicate(
    dhtKey: Uint8Array,
    sealed: Uint8Array,
    signal?: AbortSignal,
    quorum = Infinity,
    forward = false,
  ): Promise<ReplicateResult> {
    // peers with an open connection first: the first wave should need no dial
    const peers = connectedFirst(
      this.closest(await kadId(dhtKey), this.replication),
      this.connected,
    );
    const record = new Libp2pRecord(dhtKey, sealed, new Date()).serialize();
    const need = Math.min(quorum, peers.length);
    let sent = 0;
    let settled = 0;
    let stored = 0;
    let answered = false;
    const refused: PeerId[] = [];
    return new Promise<ReplicateResult>((resolve) => {
      const sendUpTo = (n: number): void => {
        while (sent < Math.min(n, peers.length)) {
          const peer = peers[sent++]!;
          void this.putCopy(peer, dhtKey, record, signal)
            .then((outcome) => {
              if (outcome === 'stored') stored++;
              else if (outcome === 'refused' && !answered) refused.push(peer);
            })
            .finally(() => {
              settled++;
              progress();
            });
        }
      };
      const progress = (): void => {
        if (answered) return;
        if (stored >= need) return answer();
        if (settled < sent) return;
        if (sent === peers.length) return answer();
        sendUpTo(peers.length); // the first wave fell short of the quorum
      };
      const answer = (): void => {
        answered = true;
        resolve({ replicas: peers.length, stored, refused });
        if (!forward || peers.length === 0) return sendUpTo(peers.length);
        // The rest of the copies: the closest peer asked places them on the closest peers it
        // knows (a sample of them when this peer is far from the key); the writer sends them
        // itself only when that fails.
        const via = peers[0]!;
        this.askToForward(via, record, peers.slice(0, sent), signal).catch((err: unknown) => {
          this.log.debug(
            { peer: via.toString(), err: (err as Error).message },
            'replicate request failed: sending the copies myself',
          );
          sendUpTo(peers.length);
        });
      };
      if (peers.length === 0) return answer();
      sendUpTo(need + FIRST_WAVE_EXTRA); // (all of them when the quorum is all)
    });
  }

  /**
   * PUT_VALUE of `record` (serialized) to `peer`. A peer that will not keep it (it holds a newer
   * value, the record is dated too far ahead, a quota is reached) resets the stream, as
   * go-libp2p-kad-dht does: `refused`. A peer that cannot be reached or does not answer in
   * time: `failed`.
   */
  private async putCopy(
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

  /**
   * Asks (up to 3 of) the peers that refused `sealed` for their value of the key; stores the
   * newest that is newer than `sealed`. True when there was one: `sealed` is not current.
   */
  private async adoptNewer(
    dhtKey: Uint8Array,
    sealed: Uint8Array,
    peers: PeerId[],
    signal?: AbortSignal,
  ): Promise<boolean> {
    const answers = await Promise.allSettled(
      peers
        .slice(0, 3)
        .map((peer) =>
          this.request(peer, { type: MessageType.GET_VALUE, key: dhtKey }, signal, true),
        ),
    );
    let newest: Uint8Array | undefined;
    for (const a of answers) {
      const rec = a.status === 'fulfilled' ? a.value.record : undefined;
      if (rec == null || !uint8ArrayEquals(rec.key, dhtKey) || !this.usable(rec.value)) continue;
      if (compareSealed(rec.value, newest ?? sealed) > 0) newest = rec.value;
    }
    if (newest == null) return false;
    await this.storeLocal(dhtKey, newest).catch((err: unknown) => {
      this.log.debug({ err: (err as Error).message }, 'could not keep the newer value');
    });
    return true;
  }

  /** ADD_PROVIDER (ourselves) to the closest known peers. */
  private async announce(cid: CID, signal?: AbortSignal): Promise<PutResult> {
    const addrs = this.node.getMultiaddrs().map((m) => m.decapsulateCode(421).bytes);
    const msg: DhtMessage = {
      type: MessageType.ADD_PROVIDER,
      key: cid.multihash.bytes,
      closer: [],
      providers: [{ id: this.node.peerId.toMultihash().bytes, multiaddrs: addrs }],
    };
    const peers = this.closest(await kadId(cid.multihash.bytes), this.replication);
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

  private scheduleRepublish(): void {
    if (this.stopController.signal.aborted || this.draining) return;
    // checks every tenth of the interval (jittered); each holder's own due time per record
    // (republishDue) decides who re-puts it
    const delay = (this.republishInterval / 10) * (0.75 + Math.random() * 0.5);
    this.republishTimer = setTimeout(() => {
      this.republishing = this.republish()
        .then(() => undefined)
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'republish failed'))
        .finally(() => {
          this.republishing = undefined;
          this.scheduleRepublish();
        });
    }, delay);
    this.republishTimer.unref();
  }

  /** Re-puts every held record not refreshed within the interval, and re-announces what we provide. */
  async republish(): Promise<number> {
    const now = Date.now();
    const signal = this.stopController.signal;
    const jobs: Array<() => Promise<void>> = [];
    let count = 0;
    for await (const held of this.heldRecords()) {
      const due = republishDue(this.republishInterval, this.node.peerId, held.record.key);
      if (now - held.record.timeReceived.getTime() < due) continue;
      jobs.push(async () => {
        if (signal.aborted || this.draining) return;
        const r = await this.replicate(held.record.key, held.record.value, signal);
        // a holder that missed an update learns it from the peers that refused the old value
        if (
          r.refused.length > 0 &&
          (await this.adoptNewer(held.record.key, held.record.value, r.refused, signal))
        ) {
          return;
        }
        if (r.stored > 0 || r.replicas === 0) {
          await this.storeLocal(held.record.key, held.record.value);
        }
        count++;
        this.metrics?.republished.inc();
      });
    }
    for (const entry of this.provided.values()) {
      if (now - entry.at < this.republishInterval) continue;
      jobs.push(async () => {
        if (signal.aborted || this.draining) return;
        await this.dht.providers.addProvider(entry.cid, this.node.peerId);
        await this.announce(entry.cid, signal);
        entry.at = Date.now();
      });
    }
    await runLimited(jobs, 4);
    if (count > 0) this.log.debug({ count }, 'republished records');
    return count;
  }

  // --- handoff protocol -------------------------------------------------------------------

  private async sendHandoff(
    peer: PeerId,
    request: HandoffRequest,
    signal: AbortSignal,
  ): Promise<HandoffAnswer> {
    return (await callJson(
      this.node,
      peer,
      handoffProtocol(this.opts.network),
      request,
      signal,
    )) as HandoffAnswer;
  }

  /**
   * A draining peer's provider records and records. Each is checked as a PUT_VALUE or an
   * ADD_PROVIDER would be (our record format, the clock skew, the quotas); `kept` lists the
   * records this peer now holds, including those it already held newer.
   */
  private async onHandoff(stream: Stream, from: PeerId): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(10_000), this.stopController.signal]);
    await serveJson(stream, signal, MAX_HANDOFF_BYTES, async (body) => {
      const req = body as Partial<HandoffRequest>;
      const providers = Array.isArray(req.providers) ? req.providers : [];
      const records = Array.isArray(req.records) ? req.records : [];
      if (records.length > 0 && this.draining) throw new DrainingError('this peer is draining');
      let accepted = 0;
      let refused = 0;
      for (const p of providers.slice(0, MAX_HANDOFF_ITEMS)) {
        try {
          const cid = CID.parse(p.cid);
          const peer = peerIdFromString(p.peer);
          await this.dht.providers.addProvider(cid, peer); // a quota refuses it here
          const addrs = p.addrs.map((a) => multiaddr(a));
          if (addrs.length > 0) await this.node.peerStore.merge(peer, { multiaddrs: addrs });
          accepted++;
        } catch {
          // malformed or over a quota: skip it, keep the rest
          refused++;
        }
      }
      const kept: number[] = [];
      for (const [i, r] of records.slice(0, MAX_HANDOFF_ITEMS).entries()) {
        try {
          if (typeof r !== 'string') throw new Error('a handed-off record is a base64 string');
          const record = Libp2pRecord.deserialize(uint8ArrayFromString(r, 'base64'));
          validateRecord(record.key, record.value);
          this.checkClock(record.value);
          await this.storeLocal(record.key, record.value);
          kept.push(i);
        } catch (err) {
          if (err instanceof StaleRecordError)
            kept.push(i); // we hold a newer value
          else refused++;
        }
      }
      accepted += kept.length;
      this.log.debug({ from: from.toString(), accepted, refused }, 'took records on handoff');
      return { accepted, refused, kept } satisfies HandoffAnswer;
    }).catch((err: unknown) =>
      this.log.debug({ from: from.toString(), err: (err as Error).message }, 'handoff refused'),
    );
  }

  /** Asks `via` to copy `record` to the closest peers it knows beyond `have`; resolves with its answer. */
  private async askToForward(
    via: PeerId,
    record: Uint8Array,
    have: PeerId[],
    signal?: AbortSignal,
  ): Promise<{ sent: number; stored: number }> {
    const req: ReplicateRequest = {
      record: uint8ArrayToString(record, 'base64'),
      have: have.map(String),
    };
    const rpc = AbortSignal.any([
      AbortSignal.timeout(this.rpcTimeout * 2),
      ...(signal ? [signal] : []),
    ]);
    return (await callJson(this.node, via, replicateProtocol(this.opts.network), req, rpc, {
      maxDataLength: 64 * 1024,
    })) as { sent: number; stored: number };
  }

  /**
   * A writer's replicate request: the record (ours: a peernet key and a sealed value) goes by
   * PUT_VALUE to this peer's closest peers to its key, but for the writer and the peers it
   * reached itself. The writer picked this peer as the closest it knows, so this peer's table is
   * complete around the key.
   */
  private async onReplicate(stream: Stream, from: PeerId): Promise<void> {
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.rpcTimeout * 2),
      this.stopController.signal,
    ]);
    await serveJson(stream, signal, MAX_REPLICATE_BYTES, async (body) => {
      const req = body as Partial<ReplicateRequest>;
      if (typeof req.record !== 'string' || !Array.isArray(req.have)) {
        throw new Error('a replicate request needs record and have');
      }
      if (this.draining) throw new DrainingError('this peer is draining');
      const bytes = uint8ArrayFromString(req.record, 'base64');
      const record = Libp2pRecord.deserialize(bytes);
      validateRecord(record.key, record.value); // throws when it is not one of our records
      this.checkClock(record.value);
      // this peer keeps the record as a PUT_VALUE would, or refuses it (a newer value is held,
      // a quota is reached) and forwards nothing: the writer then sends the copies itself
      await this.storeLocal(record.key, record.value);
      const have = new Set(req.have.slice(0, this.replication * 2).map(String));
      have.add(from.toString());
      const targets = this.closest(await kadId(record.key), this.replication).filter(
        (p) => !have.has(p.toString()),
      );
      const copies = await Promise.all(
        targets.map((peer) => this.putCopy(peer, record.key, bytes, signal)),
      );
      const stored = copies.filter((c) => c === 'stored').length;
      this.metrics?.forwarded.inc(stored);
      return { sent: targets.length, stored };
    }).catch((err: unknown) =>
      this.log.debug({ from: from.toString(), err: (err as Error).message }, 'replicate refused'),
    );
  }

  // --- local store ------------------------------------------------------------------------

  private async storeLocal(dhtKey: Uint8Array, sealed: Uint8Array): Promise<void> {
    const rec = new Libp2pRecord(dhtKey, sealed, new Date());
    await this.datastore.put(dsRecordKey(dhtKey), rec.serialize());
  }

  /** Our record of `dhtKey` in the local store; undefined when none, malformed, or dated too far ahead. */
  private async readLocal(dhtKey: Uint8Array): Promise<Libp2pRecord | undefined> {
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
  private stamp(local: Libp2pRecord | undefined): number {
    const now = Date.now();
    if (local == null) return now;
    const next = openValue(local.value).timestamp + 1;
    return next > now && next <= now + this.maxClockSkew ? next : now;
  }

  /** A sealed value this peer would take: well-formed, not dated beyond the skew. */
  private usable(sealed: Uint8Array): boolean {
    try {
      this.checkClock(sealed);
      return true;
    } catch {
      return false;
    }
  }

  private checkClock(sealed: Uint8Array): void {
    try {
      checkClock(sealed, { maxClockSkew: this.maxClockSkew });
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

  private async *heldProviders(): AsyncGenerator<{ cid: CID; peer: PeerId }> {
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

  // --- helpers ----------------------------------------------------------------------------

  /** a peer this one holds an open connection to: a request to it needs no dial */
  private readonly connected = (peer: PeerId): boolean =>
    this.node.getConnections(peer).some((c) => c.status === 'open');

  private closest(target: Uint8Array, count: number): PeerId[] {
    return this.dht.routingTable
      .closestPeers(target, { count: count + 1 })
      .filter((p) => !p.equals(this.node.peerId))
      .slice(0, count);
  }

  private async addrsOf(peer: PeerId): Promise<Multiaddr[]> {
    if (peer.equals(this.node.peerId)) return this.node.getMultiaddrs();
    try {
      return (await this.node.peerStore.get(peer)).addresses.map((a) => a.multiaddr);
    } catch {
      return [];
    }
  }

  private rpcSignal(signal?: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.rpcTimeout);
    return signal == null ? timeout : AbortSignal.any([timeout, signal]);
  }

  private opSignal(): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(60_000), this.stopController.signal]);
  }

  /** `quiet` for lookups: the peers an answer names are not made routing-table candidates */
  private request(
    peer: PeerId,
    msg: DhtRequest,
    signal?: AbortSignal,
    quiet = false,
  ): Promise<DhtAnswer> {
    return sendDhtRequest(this.dht, peer, msg, this.rpcSignal(signal), { quiet });
  }

  private result(sealed: Uint8Array, from: string): GetResult {
    const env = openValue(sealed);
    return { value: env.value, timestamp: env.timestamp, from };
  }

  private async timed<T>(op: DhtOperation, fn: () => Promise<T>): Promise<T> {
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

/**
 * How old a held record must be before this peer re-puts it: between one and two intervals, at
 * a point fixed by this peer and the key. The ~20 holders of a record thus come due one after
 * another, not together: the first re-puts it, which refreshes every other copy, and the others
 * find it fresh. (With one threshold for all, holders checking before the first re-put landed
 * all re-put the record too: 20 times the traffic, and under load a storm that fed itself.)
 */
export function republishDue(interval: number, self: PeerId, dhtKey: Uint8Array): number {
  // FNV-1a over the peer ID and the key: cheap, and spread well enough for this
  let h = 0x811c9dc5;
  for (const bytes of [self.toMultihash().bytes, dhtKey]) {
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return interval * (1 + h / 2 ** 32);
}

function dsRecordKey(dhtKey: Uint8Array): Key {
  return new Key(`${RECORD_PREFIX}/${uint8ArrayToString(dhtKey, 'base32')}`, false);
}

/** Runs jobs with at most `limit` at once. */
async function runLimited(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await job().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
