// Fills the routing table early (profile `tuned`). kad-dht alone learns peers from its periodic
// self-query and from peers that happen to contact it, so a peer that joined early can sit with a
// handful of entries for minutes. While the table holds fewer than `target` peers, this asks a
// few known peers for the peers closest to random keys (one FIND_NODE each) and connects to the
// ones it did not know: a connection to a DHT server puts it in the table. Up to `smallTable`
// peers (20) it hurries; the rest of the way to `target` (40) is a top-up at a slower pace, so
// that while many peers start at once the ones still short of 20 get the CPU (ADR 0003,
// decision 15).
//
// Only DHT servers go in: peers whose identify listed the DHT protocol. The peer store is no
// proof of that: an inbound stream records its protocol there, so a client-mode peer that sent
// one FIND_NODE looked like a server (it entered the table ~1.3 s later and was sent PUT copies
// that failed). go-libp2p-kad-dht likewise adds a peer only once identify shows the protocol.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageType } from '@libp2p/kad-dht';
import type { Logger } from 'pino';
import type { IdentifyResult, PeerId } from '@libp2p/interface';
import type { PeerNode } from '../node/index.js';
import { sendDhtRequest, type DhtInternals } from './internals.js';

export interface TableFillerOptions {
  /** the DHT protocol: connected peers that speak it belong in the table */
  protocol: string;
  /** stop filling once the table holds this many peers. @default 40 */
  target?: number;
  /** delay between rounds while they find new peers, ms; doubles up to maxInterval when not. @default 1_000 */
  interval?: number;
  /** @default 30_000 */
  maxInterval?: number;
  /**
   * below this many peers the delay between rounds stays short (at most 4 x interval) even when
   * rounds find nothing: a peer that just joined a busy network often has its first FIND_NODE
   * time out (its few peers are everyone's bootstrap peers), and backing off to 30 s then left
   * it with 1-3 entries for 20 s. @default 20 (kad-dht's bucket size)
   */
  smallTable?: number;
  /** peers asked per round. @default 3 */
  fanout?: number;
  /** new peers dialled per round at most, while the table is small. @default 20 */
  maxDials?: number;
  /**
   * Once the table holds `smallTable` peers the rest of the way to `target` is a top-up, not a
   * need: rounds that found peers come at most this often, ms. Every dial costs both ends a
   * handshake, and while many peers start at once the peers still under `smallTable` need that
   * CPU more. @default 5_000
   */
  topUpInterval?: number;
  /** new peers dialled per top-up round at most. @default 5 */
  topUpDials?: number;
}

/**
 * Rounds in a row that asked peers and learned nothing (the table did not grow) before the filler
 * rests. kad-dht's own table refresh (every 5 minutes) goes on.
 */
export const QUIET_ROUNDS = 2;

/** the table still needs peers (under `smallTable`), rather than a top-up */
function isSmall(size: number, opts: TableFillerOptions): boolean {
  return size < (opts.smallTable ?? 20);
}

/**
 * The wait before the next round, or undefined: rest until the table changes (a peer added or
 * removed, a new DHT server connected). Full table, or the network around us known (QUIET_ROUNDS
 * quiet rounds): rest. Still learning peers: go on at once (interval) while the table is small,
 * at the slower top-up pace once it is not. Else back off, doubling, but not past 4 x interval
 * while the table is small. (An empty table with no connection waits
 * for the bootstrapper's first peer: `onAdd` starts a round then.)
 */
export function nextDelay(
  now: { size: number; progress: number; delay: number; quiet: number },
  opts: TableFillerOptions & { target: number },
): number | undefined {
  const min = opts.interval ?? 1_000;
  const max = opts.maxInterval ?? 30_000;
  if (now.size >= opts.target || now.quiet >= QUIET_ROUNDS) return undefined;
  const small = isSmall(now.size, opts);
  if (now.progress > 0) return small ? min : Math.max(min, opts.topUpInterval ?? 5_000);
  if (small) return Math.min(now.delay * 2, min * 4);
  return Math.min(now.delay * 2, max);
}

export class TableFiller {
  private timer?: NodeJS.Timeout;
  private running = false;
  private delay: number;
  private readonly target: number;

  constructor(
    private readonly node: PeerNode,
    private readonly dht: DhtInternals,
    private readonly opts: TableFillerOptions,
    private readonly log: Logger,
  ) {
    this.target = opts.target ?? 40;
    this.delay = opts.interval ?? 1_000;
  }

  start(): void {
    this.running = true;
    // a change of the table, or a new DHT server connected, is a reason to look again
    this.dht.routingTable.addEventListener('peer:add', this.onAdd);
    this.dht.routingTable.addEventListener('peer:remove', this.wake);
    this.node.addEventListener('peer:identify', this.onIdentify);
    this.node.addEventListener('peer:disconnect', this.onDisconnect);
    this.schedule(this.delay);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dht.routingTable.removeEventListener('peer:add', this.onAdd);
    this.dht.routingTable.removeEventListener('peer:remove', this.wake);
    this.node.removeEventListener('peer:identify', this.onIdentify);
    this.node.removeEventListener('peer:disconnect', this.onDisconnect);
  }

  /** true while no round is due: the filler rests until `wake` */
  private get resting(): boolean {
    return this.running && this.timer === undefined && !this.inRound;
  }

  private readonly onAdd = (): void => {
    // the first peer: look at once (a round under way schedules the next itself: two at once
    // dialled the same peers twice)
    if (this.dht.routingTable.size === 1 && !this.inRound) this.schedule(0);
    else this.wake();
  };

  /** The table or the peers around us changed: rounds again, starting at the short interval. */
  private readonly wake = (): void => {
    this.quiet = 0;
    if (!this.resting) return; // a round is due or under way: it sees the change
    this.delay = this.opts.interval ?? 1_000;
    this.schedule(this.delay);
  };

  private inRound = false;
  /** rounds in a row that learned nothing */
  private quiet = 0;
  private sizeAfterLastRound = 0;
  /** connected peers whose last identify listed the DHT protocol */
  private readonly servers = new Set<string>();

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString();
    if (!evt.detail.protocols.includes(this.opts.protocol)) {
      this.servers.delete(id);
      return;
    }
    if (this.servers.has(id)) return;
    this.servers.add(id);
    this.wake(); // a DHT server we had no connection to: adopt() may need to add it
  };

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.servers.delete(evt.detail.toString());
  };

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      let progress = 0;
      this.inRound = true;
      void this.round()
        .then((r) => {
          progress = r.dialled + r.adopted;
          // quiet: peers answered, and the table did not grow since the last round (peers a
          // round dials enter the table, if at all, after it ended; in a network larger than
          // the table, dialling the peers of full buckets adds nobody)
          const size = this.dht.routingTable.size;
          const grew = size > this.sizeAfterLastRound;
          this.sizeAfterLastRound = size;
          this.quiet = r.answered > 0 && r.adopted === 0 && !grew ? this.quiet + 1 : 0;
        })
        .catch((err: unknown) =>
          this.log.debug({ err: (err as Error).message }, 'table fill round failed'),
        )
        .finally(() => {
          this.inRound = false;
          const next = nextDelay(
            { size: this.dht.routingTable.size, progress, delay: this.delay, quiet: this.quiet },
            { ...this.opts, target: this.target },
          );
          if (next === undefined) {
            this.log.debug({ table: this.dht.routingTable.size }, 'table fill resting');
            return;
          }
          this.delay = next;
          this.schedule(next);
        });
    }, ms);
    this.timer.unref();
  }

  /**
   * Connected DHT peers missing from the table go in: kad-dht adds a peer once, on connect, and
   * a ping that timed out then (a busy machine) leaves it out for good. Only peers identify
   * showed to be servers (see the top of this file).
   */
  async adopt(): Promise<number> {
    let added = 0;
    const seen = new Set<string>();
    for (const c of this.node.getConnections()) {
      const id = c.remotePeer;
      if (seen.has(id.toString())) continue;
      seen.add(id.toString());
      if ((await this.dht.routingTable.find(id)) != null) continue;
      if (!this.servers.has(id.toString())) continue;
      try {
        await this.dht.routingTable.add(id, { signal: AbortSignal.timeout(5_000) });
        added++;
      } catch {
        // unknown or unreachable: the next round tries again
      }
    }
    return added;
  }

  /**
   * One round: FIND_NODE(random key) to a few known peers, then dial the peers they name that we
   * neither hold in the table nor are connected to. Says how many answered, were dialled, adopted.
   */
  async round(): Promise<{ answered: number; dialled: number; adopted: number }> {
    const t0 = Date.now();
    const adopted = await this.adopt();
    const size = this.dht.routingTable.size;
    if (size === 0 || size >= this.target) return { answered: 0, dialled: 0, adopted };
    const known = new Set<string>([this.node.peerId.toString()]);
    const key = randomBytes(32);
    const asked = this.dht.routingTable.closestPeers(key, { count: this.opts.fanout ?? 3 });
    const found = new Map<string, PeerId>();
    let answered = 0;
    const answers = asked.map(async (peer) => {
      const msg = { type: MessageType.FIND_NODE, key };
      const res = await sendDhtRequest(this.dht, peer, msg, AbortSignal.timeout(5_000));
      for (const p of res.closer) found.set(p.toString(), p);
      answered++;
    });
    // One answer names up to 20 peers: go on with the first, and with any other that comes
    // within 200 ms, instead of waiting for the slowest (a new peer's few contacts are everyone's
    // bootstrap peers: the others often took the whole 5 s).
    await Promise.any(answers).catch(() => {});
    await Promise.race([Promise.allSettled(answers), sleep(200)]);
    const asking = Date.now() - t0;
    const inTable = new Set(
      this.dht.routingTable.closestPeers(key, { count: Number.MAX_SAFE_INTEGER }).map(String),
    );
    const fresh = [...found.values()]
      .filter((p) => !known.has(p.toString()) && !inTable.has(p.toString()))
      .filter((p) => this.node.getConnections(p).length === 0)
      .slice(
        0,
        isSmall(size, this.opts) ? (this.opts.maxDials ?? 20) : (this.opts.topUpDials ?? 5),
      );
    const dials = await Promise.allSettled(
      fresh.map((p) => this.node.dial(p, { signal: AbortSignal.timeout(10_000) })),
    );
    this.log.debug(
      {
        table: this.dht.routingTable.size,
        adopted,
        asked: asked.length,
        answered,
        found: found.size,
        dialled: fresh.length,
        connected: dials.filter((d) => d.status === 'fulfilled').length,
        ms: { asking, total: Date.now() - t0 },
      },
      'table fill round',
    );
    return { answered, dialled: fresh.length, adopted };
  }
}
