// Fills the routing table early (profile `tuned`). kad-dht alone learns peers from its periodic
// self-query and from peers that happen to contact it, so a peer that joined early can sit with a
// handful of entries for minutes. While the table holds fewer than `target` peers, this asks a
// few known peers for the peers closest to random keys (one FIND_NODE each) and connects to the
// ones it did not know: a connection to a DHT server puts it in the table.
import { randomBytes } from 'node:crypto';
import { MessageType } from '@libp2p/kad-dht';
import type { Logger } from 'pino';
import type { PeerId } from '@libp2p/interface';
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
  /** peers asked per round. @default 3 */
  fanout?: number;
  /** new peers dialled per round at most. @default 20 */
  maxDials?: number;
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
    // a new neighbour is a reason to look again at once
    this.dht.routingTable.addEventListener('peer:add', this.onAdd);
    this.schedule(this.delay);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.dht.routingTable.removeEventListener('peer:add', this.onAdd);
  }

  private readonly onAdd = (): void => {
    if (this.dht.routingTable.size === 1) this.schedule(0);
  };

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      let progress = 0;
      void this.round()
        .then((n) => (progress = n))
        .catch((err: unknown) =>
          this.log.debug({ err: (err as Error).message }, 'table fill round failed'),
        )
        .finally(() => {
          const min = this.opts.interval ?? 1_000;
          const max = this.opts.maxInterval ?? 30_000;
          // full: check now and then; still learning peers: go on at once; else back off.
          // An empty table with no connection waits for the bootstrapper's first peer (onAdd).
          if (this.dht.routingTable.size >= this.target) this.delay = max;
          else if (progress > 0) this.delay = min;
          else this.delay = Math.min(this.delay * 2, max);
          this.schedule(this.delay);
        });
    }, ms);
    this.timer.unref();
  }

  /**
   * Connected DHT peers missing from the table go in: kad-dht adds a peer once, on connect, and
   * a ping that timed out then (a busy machine) leaves it out for good.
   */
  async adopt(): Promise<number> {
    let added = 0;
    const seen = new Set<string>();
    for (const c of this.node.getConnections()) {
      const id = c.remotePeer;
      if (seen.has(id.toString())) continue;
      seen.add(id.toString());
      if ((await this.dht.routingTable.find(id)) != null) continue;
      try {
        const peer = await this.node.peerStore.get(id);
        if (!peer.protocols.includes(this.opts.protocol)) continue;
        await this.dht.routingTable.add(id, { signal: AbortSignal.timeout(5_000) });
        added++;
      } catch {
        // unknown or unreachable: the next round tries again
      }
    }
    return added;
  }

  /** One round: FIND_NODE(random key) to a few known peers, then dial the peers they name. */
  async round(): Promise<number> {
    await this.adopt();
    const size = this.dht.routingTable.size;
    if (size === 0 || size >= this.target) return 0;
    const known = new Set<string>([this.node.peerId.toString()]);
    const key = randomBytes(32);
    const asked = this.dht.routingTable.closestPeers(key, { count: this.opts.fanout ?? 3 });
    const found = new Map<string, PeerId>();
    await Promise.allSettled(
      asked.map(async (peer) => {
        const msg = { type: MessageType.FIND_NODE, key };
        const res = await sendDhtRequest(this.dht, peer, msg, AbortSignal.timeout(5_000));
        for (const p of res.closer) found.set(p.toString(), p);
      }),
    );
    const inTable = new Set(
      this.dht.routingTable.closestPeers(key, { count: Number.MAX_SAFE_INTEGER }).map(String),
    );
    const fresh = [...found.values()]
      .filter((p) => !known.has(p.toString()) && !inTable.has(p.toString()))
      .filter((p) => this.node.getConnections(p).length === 0)
      .slice(0, this.opts.maxDials ?? 20);
    await Promise.allSettled(
      fresh.map((p) => this.node.dial(p, { signal: AbortSignal.timeout(10_000) })),
    );
    this.log.debug(
      { table: this.dht.routingTable.size, dialled: fresh.length },
      'table fill round',
    );
    return fresh.length;
  }
}
