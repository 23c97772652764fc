// What both profiles share: the stream protocols they serve (handoff, replicate), the
// republisher, the drain, and the counts. A profile adds put, get, provide and findProviders.
import type { PeerId, Stream } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import {
  DrainingError,
  ProviderSet,
  RecordsCore,
  type GetResult,
  type HeldRecord,
  type ProviderInfo,
  type PutResult,
  type RecordsComponents,
  type RecordsInit,
} from './core.js';
import { providerCid, recordKey, sealValue, validateKey, validateValue } from './keys.js';
import { handOffAll, handoffProtocol, onHandoff } from './handoff.js';
import { onReplicate, replicateProtocol } from './replicate.js';
import { Republisher } from './republish.js';
import type { StoreCounts } from './store.js';

/** The records service: what the peer's HTTP API and the daemon call. */
export interface RecordsService {
  /** PUT: stores the value here and on the closest peers; DrainingError once drained */
  put(key: string, value: Uint8Array): Promise<PutResult>;
  /** GET: the newest value found (`quorum`: of this many copies); undefined when none */
  get(key: string, opts?: { quorum?: number }): Promise<GetResult | undefined>;
  /** PUT_PROVIDER: this peer provides the key */
  provide(key: string): Promise<PutResult>;
  /** GET_PROVIDERS */
  findProviders(key: string): Promise<ProviderInfo[]>;
  /** Stops taking writes and hands every record and provider record to the closest other peers. */
  drain(): Promise<{ handedOff: number }>;
  /** Re-puts the held records that came due (the republisher calls it on its own). */
  republish(): Promise<number>;
  /** What this peer holds: counters kept by the store, no walk of it. */
  counts(): StoreCounts;
  /** Our records in the local store. */
  heldRecords(): AsyncGenerator<HeldRecord>;
  readonly routingTableSize: number;
  /** true once drain() was called */
  readonly draining: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export abstract class BaseRecords implements RecordsService {
  protected readonly core: RecordsCore;
  private readonly republisher: Republisher;

  constructor(components: RecordsComponents, init: RecordsInit) {
    this.core = new RecordsCore(components, init);
    this.republisher = new Republisher(this.core);
  }

  /** Stores `sealed` (the value with its timestamp) under `dhtKey` here and on the closest peers. */
  protected abstract putSealed(dhtKey: Uint8Array, sealed: Uint8Array): Promise<PutResult>;
  /** The newest value of `dhtKey` found; `quorum` as in get(). */
  protected abstract getValue(
    dhtKey: Uint8Array,
    key: string,
    quorum: number | undefined,
  ): Promise<GetResult | undefined>;
  /** Announces this peer as a provider of `cid`. */
  protected abstract provideCid(cid: CID): Promise<PutResult>;
  /** Adds the providers of `cid` found to `found`. */
  protected abstract findProvidersOf(cid: CID, found: ProviderSet): Promise<void>;

  // The user operations: the checks and the timing are the same for both profiles.

  put(key: string, value: Uint8Array): Promise<PutResult> {
    validateKey(key);
    validateValue(value);
    this.refuseWhenDraining();
    return this.core.timed('put', async () => {
      const dhtKey = recordKey(key);
      const sealed = sealValue(value, this.core.stamp(await this.core.readLocal(dhtKey)));
      return this.putSealed(dhtKey, sealed);
    });
  }

  get(key: string, opts: { quorum?: number } = {}): Promise<GetResult | undefined> {
    validateKey(key);
    return this.core.timed('get', () => this.getValue(recordKey(key), key, opts.quorum));
  }

  provide(key: string): Promise<PutResult> {
    validateKey(key);
    this.refuseWhenDraining();
    return this.core.timed('provide', async () => this.provideCid(await providerCid(key)));
  }

  findProviders(key: string): Promise<ProviderInfo[]> {
    validateKey(key);
    return this.core.timed('find_providers', async () => {
      const found = new ProviderSet();
      await this.findProvidersOf(await providerCid(key), found);
      return found.list();
    });
  }

  private refuseWhenDraining(): void {
    if (this.core.draining) throw new DrainingError('this peer is draining and takes no writes');
  }

  get routingTableSize(): number {
    return this.core.dht.routingTable.size;
  }

  get draining(): boolean {
    return this.core.draining;
  }

  async start(): Promise<void> {
    const { node, settings } = this.core;
    this.core.restart();
    const serve =
      (fn: (core: RecordsCore, stream: Stream, from: PeerId) => Promise<void>) =>
      (stream: Stream, connection: { remotePeer: PeerId }) =>
        fn(this.core, stream, connection.remotePeer);
    await node.handle(handoffProtocol(settings.network), serve(onHandoff));
    await node.handle(replicateProtocol(settings.network), serve(onReplicate));
    this.republisher.start();
  }

  async stop(): Promise<void> {
    const { node, settings } = this.core;
    this.core.stop();
    await this.republisher.stop();
    await node.unhandle(handoffProtocol(settings.network)).catch(() => {});
    await node.unhandle(replicateProtocol(settings.network)).catch(() => {});
  }

  async drain(): Promise<{ handedOff: number }> {
    this.core.draining = true;
    await this.republisher.stop();
    return handOffAll(this.core);
  }

  republish(): Promise<number> {
    return this.republisher.republish();
  }

  counts(): StoreCounts {
    return this.core.datastore.counts();
  }

  heldRecords(): AsyncGenerator<HeldRecord> {
    return this.core.heldRecords();
  }
}
