// The datastore under kad-dht and the records service. Every write to it passes here, whoever
// makes it (a PUT_VALUE or ADD_PROVIDER from another peer, the replicate and handoff protocols,
// this peer's own PUTs, republish, kad-dht's expiry), so this is where a peer says no:
// - newest wins: a `/peernet/` record older than the one stored is refused (StaleRecordError),
//   as go-libp2p-kad-dht refuses an "old record";
// - quotas: records (count, bytes) and provider records (in total, per key) beyond the peer's
//   quotas are refused (QuotaExceededError);
// - counters: what is held is counted as it is stored and deleted, so status and metrics read
//   numbers instead of walking every record.
// Writes to one key are serialized, so a count never depends on two writes racing.
import {
  Key,
  type Batch,
  type Datastore,
  type KeyQuery,
  type Pair,
  type Query,
} from 'interface-datastore';
import { Libp2pRecord } from '@libp2p/record';
import type { AbortOptions } from '@libp2p/interface';
import type { QuotaName, Quotas } from '../quotas.js';
import { compareSealed, openValue, userKeyOf } from './keys.js';

/** Where kad-dht keeps records and provider records in the datastore (its defaults). */
export const RECORD_PREFIX = '/dht/record';
export const PROVIDER_PREFIX = '/dht/provider';

export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  constructor(
    /** the quota, named after its flag */
    readonly quota: QuotaName,
    message: string,
  ) {
    super(`quota --${quota} reached: ${message}`);
  }
}

/** A record older than the one this peer holds for its key. */
export class StaleRecordError extends Error {
  override name = 'StaleRecordError';
}

/** Why a write was refused: a quota, `stale` (older than the stored one), `future` (see keys.ts). */
export type RefusalReason = QuotaName | 'stale' | 'future';

export interface StoreCounts {
  /** records held (every key under RECORD_PREFIX) */
  records: number;
  /** their bytes as stored */
  recordBytes: number;
  /** provider records held */
  providerRecords: number;
}

export interface RecordStoreOptions {
  quotas: Quotas;
  /**
   * a stored record dated further than this ahead of the clock never wins over another: it
   * predates the skew check (say, on a --data-dir) and no peer would take it now. @default 300_000
   */
  maxClockSkew?: number;
  /** @default Date.now */
  now?: () => number;
  /** told of every write refused */
  onRefused?: (reason: RefusalReason) => void;
}

/** `/dht/provider/<cid>/<peer>` -> `/dht/provider/<cid>` */
function providerGroup(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

export class RecordStore implements Datastore {
  private readonly n: StoreCounts = { records: 0, recordBytes: 0, providerRecords: 0 };
  /** provider records per key (the `/dht/provider/<cid>` part of their datastore keys) */
  private readonly perKey = new Map<string, number>();
  /** the last write queued for each key being written */
  private readonly locks = new Map<string, Promise<void>>();
  private readonly maxClockSkew: number;
  private readonly now: () => number;

  constructor(
    private readonly inner: Datastore,
    private readonly opts: RecordStoreOptions,
  ) {
    this.maxClockSkew = opts.maxClockSkew ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  get quotas(): Quotas {
    return this.opts.quotas;
  }

  counts(): StoreCounts {
    return { ...this.n };
  }

  /**
   * Counts what the inner store already holds (records kept in a --data-dir by an earlier run):
   * the one walk of the store, at start. A store over its quotas keeps what it has and takes
   * nothing new until it is back under them.
   */
  async open(options?: AbortOptions): Promise<void> {
    this.n.records = 0;
    this.n.recordBytes = 0;
    this.n.providerRecords = 0;
    this.perKey.clear();
    for await (const { value } of this.inner.query({ prefix: RECORD_PREFIX }, options)) {
      this.n.records++;
      this.n.recordBytes += value.byteLength;
    }
    for await (const key of this.inner.queryKeys({ prefix: PROVIDER_PREFIX }, options)) {
      this.n.providerRecords++;
      const group = providerGroup(key.toString());
      this.perKey.set(group, (this.perKey.get(group) ?? 0) + 1);
    }
  }

  // --- writes: guarded and counted -----------------------------------------------------------

  async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const k = key.toString();
    if (k.startsWith(`${RECORD_PREFIX}/`)) {
      return this.exclusive(k, () => this.putRecord(key, value, options));
    }
    if (k.startsWith(`${PROVIDER_PREFIX}/`)) {
      return this.exclusive(k, () => this.putProvider(key, value, options));
    }
    return this.inner.put(key, value, options);
  }

  async delete(key: Key, options?: AbortOptions): Promise<void> {
    const k = key.toString();
    if (k.startsWith(`${RECORD_PREFIX}/`)) {
      return this.exclusive(k, async () => {
        const existing = await this.read(key, options);
        await this.inner.delete(key, options);
        if (existing == null) return;
        this.n.records--;
        this.n.recordBytes -= existing.byteLength;
      });
    }
    if (k.startsWith(`${PROVIDER_PREFIX}/`)) {
      return this.exclusive(k, async () => {
        const had = await this.inner.has(key, options);
        await this.inner.delete(key, options);
        if (had) this.countProvider(providerGroup(k), -1);
      });
    }
    return this.inner.delete(key, options);
  }

  async *putMany(
    source: Iterable<Pair> | AsyncIterable<Pair>,
    options?: AbortOptions,
  ): AsyncGenerator<Key> {
    for await (const { key, value } of source) yield await this.put(key, value, options);
  }

  async *deleteMany(
    source: Iterable<Key> | AsyncIterable<Key>,
    options?: AbortOptions,
  ): AsyncGenerator<Key> {
    for await (const key of source) {
      await this.delete(key, options);
      yield key;
    }
  }

  /** A batch whose writes go through put and delete one by one when committed. */
  batch(): Batch {
    const ops: Array<{ key: Key; value?: Uint8Array }> = [];
    return {
      put: (key, value) => void ops.push({ key, value }),
      delete: (key) => void ops.push({ key }),
      commit: async (options?: AbortOptions) => {
        for (const op of ops.splice(0)) {
          if (op.value === undefined) await this.delete(op.key, options);
          else await this.put(op.key, op.value, options);
        }
      },
    };
  }

  // --- reads: the inner store's -------------------------------------------------------------

  has(key: Key, options?: AbortOptions): boolean | Promise<boolean> {
    return this.inner.has(key, options);
  }

  get(key: Key, options?: AbortOptions): Uint8Array | Promise<Uint8Array> {
    return this.inner.get(key, options);
  }

  getMany(
    source: Iterable<Key> | AsyncIterable<Key>,
    options?: AbortOptions,
  ): Generator<Pair> | AsyncGenerator<Pair> {
    return this.inner.getMany(source, options);
  }

  query(query: Query, options?: AbortOptions): Generator<Pair> | AsyncGenerator<Pair> {
    return this.inner.query(query, options);
  }

  queryKeys(query: KeyQuery, options?: AbortOptions): Generator<Key> | AsyncGenerator<Key> {
    return this.inner.queryKeys(query, options);
  }

  // --- the guards ---------------------------------------------------------------------------

  private async putRecord(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const existing = await this.read(key, options);
    if (existing != null && this.olderThanStored(existing, value)) {
      this.opts.onRefused?.('stale');
      throw new StaleRecordError('a newer value of this key is stored');
    }
    const added = existing == null ? 1 : 0;
    const delta = value.byteLength - (existing?.byteLength ?? 0);
    const q = this.opts.quotas;
    if (this.n.records + added > q.records) {
      throw this.refuse('max-records', `this peer holds ${this.n.records} of ${q.records} records`);
    }
    if (delta > 0 && this.n.recordBytes + delta > q.recordBytes) {
      throw this.refuse(
        'max-record-bytes',
        `this peer holds ${this.n.recordBytes} of ${q.recordBytes} bytes of records, ${value.byteLength} more do not fit`,
      );
    }
    // counted before the write, so writes to other keys meanwhile see it
    this.n.records += added;
    this.n.recordBytes += delta;
    try {
      return await this.inner.put(key, value, options);
    } catch (err) {
      this.n.records -= added;
      this.n.recordBytes -= delta;
      throw err;
    }
  }

  private async putProvider(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    if (await this.inner.has(key, options)) return this.inner.put(key, value, options); // a refresh
    const group = providerGroup(key.toString());
    const q = this.opts.quotas;
    if (this.n.providerRecords + 1 > q.providerRecords) {
      throw this.refuse(
        'max-provider-records',
        `this peer holds ${this.n.providerRecords} of ${q.providerRecords} provider records`,
      );
    }
    if ((this.perKey.get(group) ?? 0) + 1 > q.providersPerKey) {
      throw this.refuse(
        'max-providers-per-key',
        `this key has ${q.providersPerKey} providers on this peer, its quota`,
      );
    }
    this.countProvider(group, 1);
    try {
      return await this.inner.put(key, value, options);
    } catch (err) {
      this.countProvider(group, -1);
      throw err;
    }
  }

  /**
   * True when `incoming` is one of our records and `existing` a newer one of the same key. A
   * stored record dated beyond the clock skew is no contender, nor is anything malformed.
   */
  private olderThanStored(existing: Uint8Array, incoming: Uint8Array): boolean {
    try {
      const inc = Libp2pRecord.deserialize(incoming);
      const ex = Libp2pRecord.deserialize(existing);
      if (userKeyOf(inc.key) == null || userKeyOf(ex.key) == null) return false;
      openValue(inc.value);
      if (openValue(ex.value).timestamp > this.now() + this.maxClockSkew) return false;
      return compareSealed(ex.value, inc.value) > 0;
    } catch {
      return false;
    }
  }

  private refuse(quota: QuotaName, message: string): QuotaExceededError {
    this.opts.onRefused?.(quota);
    return new QuotaExceededError(quota, message);
  }

  private countProvider(group: string, by: 1 | -1): void {
    this.n.providerRecords += by;
    const n = (this.perKey.get(group) ?? 0) + by;
    if (n > 0) this.perKey.set(group, n);
    else this.perKey.delete(group);
  }

  private async read(key: Key, options?: AbortOptions): Promise<Uint8Array | undefined> {
    try {
      return await this.inner.get(key, options);
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return undefined;
      throw err;
    }
  }

  /** Runs `fn` once every earlier write to `key` has finished. */
  private async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.locks.set(key, mine);
    try {
      await before;
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === mine) this.locks.delete(key);
    }
  }
}
