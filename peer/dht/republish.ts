// The republisher: every tenth of the interval (jittered) it re-puts the held records that came
// due (each holder has its own due time per record, see republishDue) and re-announces what this
// peer provides once an interval.
import type { PeerId } from '@libp2p/interface';
import { runLimited } from '../../common/concurrency.js';
import type { RecordsCore } from './core.js';
import { adoptNewer, replicate } from './replicate.js';

/** records re-put at once */
const PARALLEL_REPUBLISHES = 4;

export class Republisher {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;

  constructor(private readonly core: RecordsCore) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.core.stopSignal.aborted || this.core.draining) return;
    const delay = (this.core.settings.republishInterval / 10) * (0.75 + Math.random() * 0.5);
    this.timer = setTimeout(() => {
      this.running = this.republish()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.core.log.warn({ err: (err as Error).message }, 'republish failed'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  /** Re-puts every held record that came due, and re-announces what we provide. */
  async republish(): Promise<number> {
    const core = this.core;
    const interval = core.settings.republishInterval;
    const now = Date.now();
    const signal = core.stopSignal;
    const jobs: Array<() => Promise<void>> = [];
    let count = 0;
    for await (const held of core.heldRecords()) {
      const due = republishDue(interval, core.node.peerId, held.record.key);
      if (now - held.record.timeReceived.getTime() < due) continue;
      jobs.push(async () => {
        if (signal.aborted || core.draining) return;
        const r = await replicate(core, held.record.key, held.record.value, signal);
        // a holder that missed an update learns it from the peers that refused the old value
        if (
          r.refused.length > 0 &&
          (await adoptNewer(core, held.record.key, held.record.value, r.refused, signal))
        ) {
          return;
        }
        if (r.stored > 0 || r.replicas === 0) {
          await core.storeLocal(held.record.key, held.record.value);
        }
        count++;
        core.metrics?.republished.inc();
      });
    }
    for (const entry of core.provided.values()) {
      if (now - entry.at < interval) continue;
      jobs.push(async () => {
        if (signal.aborted || core.draining) return;
        await core.dht.providers.addProvider(entry.cid, core.node.peerId);
        await core.announce(entry.cid, signal);
        entry.at = Date.now();
      });
    }
    await runLimited(jobs, PARALLEL_REPUBLISHES);
    if (count > 0) core.log.debug({ count }, 'republished records');
    return count;
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
