// Profile `tuned` (the default): kad-dht's own wire protocol to the closest peers this peer
// already knows (one round trip in the usual case, see lookup.ts), a write quorum, a read quorum
// with read repair, and the rest of a PUT's copies placed by the peer closest to the key.
import { MessageType } from '@libp2p/kad-dht';
import { Libp2pRecord } from '@libp2p/record';
import { equals as uint8ArrayEquals } from 'uint8arrays/equals';
import type { PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import type { GetResult, ProviderSet, PutResult } from './core.js';
import { compareSealed } from './keys.js';
import { kadId, lookup } from './lookup.js';
import { adoptNewer, replicate } from './replicate.js';
import { BaseRecords } from './service.js';

/**
 * A lookup asks the closest peers it holds a connection to first, one at a time: the next only
 * when the one asked has not answered within this long (hedged requests; ADR 0003 decision 10).
 */
const HEDGE_MS = 100;
/** a GET lookup this slow is logged (debug) with what it waited for */
const SLOW_LOOKUP_MS = 150;

interface Copy {
  sealed: Uint8Array;
  from: string;
  peer: PeerId;
}

export class TunedRecords extends BaseRecords {
  protected async putSealed(dhtKey: Uint8Array, sealed: Uint8Array): Promise<PutResult> {
    const core = this.core;
    try {
      await core.storeLocal(dhtKey, sealed);
    } catch (err) {
      if ((err as Error).name === 'StaleRecordError')
        return { replicas: 0, stored: 0, superseded: true };
      throw err; // a quota: QuotaExceededError
    }
    const signal = core.stopSignal;
    const r = await replicate(core, dhtKey, sealed, signal, core.settings.writeQuorum, true);
    const newer =
      r.refused.length > 0 && (await adoptNewer(core, dhtKey, sealed, r.refused, signal));
    return { replicas: r.replicas, stored: r.stored, ...(newer ? { superseded: true } : {}) };
  }

  /** `quorum`: the newest of this many copies (default `readQuorum`) */
  protected async getValue(
    dhtKey: Uint8Array,
    key: string,
    requested: number | undefined,
  ): Promise<GetResult | undefined> {
    const core = this.core;
    const { replication } = core.settings;
    // The local copy may be older than the ones on other holders (this peer missed a write
    // while it was away or refused it on a quota): it is one vote of the quorum, and answers
    // alone only when the caller asked for a quorum of 1.
    const quorum = Math.max(1, requested ?? core.settings.readQuorum);
    const local = await core.readLocal(dhtKey);
    if (local != null && quorum <= 1) return core.result(local.value, 'local');
    // The writer put the copies on the closest peers *it* knew; when its table missed some of
    // the true closest, or some of them did not answer us, copies sit a little further out
    // than the `replication` closest. So a miss goes on to three times as many before it is a
    // 404 (1.3 % of GETs at 100 peers were a false 404 without it).
    const target = await kadId(dhtKey);
    const started = Date.now();
    /** peers that answered without a usable copy */
    const without: PeerId[] = [];
    const found = await lookup<Copy>({
      ...this.lookupOptions(target, replication * 3),
      quorum: quorum - (local == null ? 0 : 1),
      widenTo: replication * 3,
      ask: async (peer, signal) => {
        const res = await core.request(
          peer,
          { type: MessageType.GET_VALUE, key: dhtKey },
          signal,
          true,
        );
        let result: Copy | undefined;
        if (
          res.record != null &&
          uint8ArrayEquals(res.record.key, dhtKey) &&
          core.usable(res.record.value)
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
      // without the record
      core.log.debug(
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
    const closest = new Set(core.closest(target, replication).map(String));
    const missing = without.filter((p) => closest.has(p.toString()));
    await this.repair(dhtKey, newest.sealed, found.results, missing, local);
    return core.result(newest.sealed, newest.from);
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
    met: Copy[],
    missing: PeerId[],
    local: Libp2pRecord | undefined,
  ): Promise<void> {
    const core = this.core;
    const stale = [
      ...met.filter((r) => compareSealed(r.sealed, newest) < 0).map((r) => r.peer),
      ...missing,
    ];
    if (stale.length > 0) {
      const record = new Libp2pRecord(dhtKey, newest, new Date()).serialize();
      const signal = core.stopSignal;
      void Promise.all(stale.map((p) => core.putCopy(p, dhtKey, record, signal))).then(
        (outcomes) => {
          const stored = outcomes.filter((o) => o === 'stored').length;
          core.metrics?.repaired.inc(stored);
          core.log.debug(
            { stale: stale.length - missing.length, missing: missing.length, stored },
            'read repair',
          );
        },
      );
    }
    if (local != null && compareSealed(local.value, newest) < 0) {
      await core.storeLocal(dhtKey, newest).then(
        () => core.metrics?.repaired.inc(),
        (err: unknown) =>
          core.log.debug({ err: (err as Error).message }, 'read repair: kept the local copy'),
      );
    }
  }

  protected async provideCid(cid: CID): Promise<PutResult> {
    const core = this.core;
    // stored here first: a quota refuses it before anything is announced
    await core.dht.providers.addProvider(cid, core.node.peerId);
    core.provided.set(cid.toString(), { cid, at: Date.now() });
    return core.announce(cid);
  }

  protected async findProvidersOf(cid: CID, found: ProviderSet): Promise<void> {
    const core = this.core;
    for (const id of await core.dht.providers.getProviders(cid)) {
      found.add(id, await core.addrsOf(id));
    }
    const target = await kadId(cid.multihash.bytes);
    await lookup<true>({
      ...this.lookupOptions(target, core.settings.replication),
      ask: async (peer, signal) => {
        const res = await core.request(
          peer,
          { type: MessageType.GET_PROVIDERS, key: cid.multihash.bytes },
          signal,
          true,
        );
        for (const p of res.providers) found.add(p.id, p.multiaddrs);
        return { closer: res.closer, result: res.providers.length > 0 ? true : undefined };
      },
    });
  }

  /** What every lookup of this profile shares: connected peers first, hedged requests. */
  private lookupOptions(target: Uint8Array, start: number) {
    const core = this.core;
    return {
      target,
      start: core.closest(target, start),
      self: core.node.peerId,
      count: core.settings.replication,
      alpha: core.settings.alpha,
      prefer: core.connected,
      hedgeMs: HEDGE_MS,
      signal: core.stopSignal,
    };
  }
}
