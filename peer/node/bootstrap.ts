// Bootstrap: connect to some of the peers named by flags and by the bootstrap file (at most
// `maxDials`, in a random order, taking the next one in that order when a dial fails), again
// whenever the file changes, and again with backoff, with a new order, while this peer knows no
// one. The operator lists every other peer of the network in the file: dialling them all made
// each of N peers open N-1 connections at start (N^2 in the network, past the connection limit
// from a few hundred peers); the table filler finds the rest. Going on past failed dials matters
// because the file also lists peers that are not up yet (all pods start at once). The file is
// watched through its directory (a Kubernetes ConfigMap volume swaps a `..data` symlink, which a
// watch on the file itself misses) and polled as a fallback.
//
// The external file (`--external-bootstrap-file`, federation) lists peers beyond the network's
// own: every one is dialled, tagged keep-alive (libp2p redials it when the connection drops) and
// redialled by this bootstrapper while not connected.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { KEEP_ALIVE } from '@libp2p/interface';
import type { Logger } from 'pino';
import { parseBootstrapLines } from '../config.js';
import type { PeerNode } from './index.js';

export interface BootstrapOptions {
  /** multiaddrs from `--bootstrap` */
  addrs: string[];
  /** `--bootstrap-file` */
  file?: string;
  /** `--external-bootstrap-file`: peers beyond the network's own, all kept connected */
  externalFile?: string;
  /** first retry delay while isolated, ms. @default 500 */
  minBackoff?: number;
  /** longest retry delay, ms. @default 15_000 */
  maxBackoff?: number;
  /** how often the file is re-read when no change event arrives, ms. @default 5_000 */
  pollInterval?: number;
  /** timeout of one dial, ms. @default 10_000 */
  dialTimeout?: number;
  /** bootstrap peers to be connected to (and dials in flight) at most. @default 8 */
  maxDials?: number;
}

/**
 * Which bootstrap peers to dial now: up to `max` minus those already connected, drawn at random
 * from the listed ones not connected (so peers listed by everyone are not everyone's first
 * connection, and a retry tries others).
 */
export function pickBootstrap<T>(
  listed: readonly T[],
  isConnected: (p: T) => boolean,
  max: number,
  random: () => number = Math.random,
): T[] {
  const free = listed.filter((p) => !isConnected(p));
  const want = Math.max(0, max - (listed.length - free.length));
  // partial Fisher-Yates: the first `want` places get a uniform sample
  for (let i = 0; i < Math.min(want, free.length); i++) {
    const j = i + Math.floor(random() * (free.length - i));
    [free[i], free[j]] = [free[j]!, free[i]!];
  }
  return free.slice(0, want);
}

/**
 * A list of multiaddrs in a file, re-read when it changes (the directory is watched, the file
 * polled as a fallback); `onChange` gets the new list.
 */
class ListFile {
  private text?: string;
  private watcher?: FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private warnedMissing = false;
  addrs: string[] = [];

  constructor(
    private readonly file: string,
    private readonly what: string,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  async start(pollInterval: number): Promise<void> {
    await this.reload();
    this.watch();
    this.pollTimer = setInterval(() => void this.reload(), pollInterval);
    this.pollTimer.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.pollTimer);
    clearTimeout(this.debounce);
  }

  private watch(): void {
    const file = this.file;
    try {
      this.watcher = watch(dirname(file), (_event, name) => {
        // ConfigMaps change `..data` and its target, not the file name itself: react to any change
        if (name != null && name !== basename(file) && !name.startsWith('..')) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload(), 100);
      });
      this.watcher.on('error', () => {
        // the directory went away: the poll keeps going
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.log.warn(
        { file, err: (err as Error).message },
        `cannot watch the ${this.what}; polling it`,
      );
    }
  }

  /** Re-reads the file; calls onChange when it changed. */
  async reload(): Promise<void> {
    const file = this.file;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
      this.warnedMissing = false;
    } catch (err) {
      if (!this.warnedMissing) {
        this.log.warn(
          { file, err: (err as Error).message },
          `cannot read the ${this.what}; will retry`,
        );
        this.warnedMissing = true;
      }
      return;
    }
    if (text === this.text) return;
    this.text = text;
    const { addrs, bad } = parseBootstrapLines(text);
    if (bad.length > 0)
      this.log.warn({ file, bad }, 'ignoring bootstrap lines that are not /p2p/ multiaddrs');
    this.addrs = addrs;
    this.onChange();
  }
}

const peerIdOf = (ma: Multiaddr): string | undefined =>
  ma.getComponents().find((c) => c.name === 'p2p')?.value;

export class Bootstrapper {
  private readonly list?: ListFile;
  private readonly external?: ListFile;
  private retryTimer?: NodeJS.Timeout;
  private backoff: number;
  private running = false;
  /** bumped by each new round of dials; the dials of an older round stop taking more peers */
  private round = 0;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;

  constructor(
    private readonly node: PeerNode,
    private readonly opts: BootstrapOptions,
    private readonly log: Logger,
  ) {
    this.minBackoff = opts.minBackoff ?? 500;
    this.maxBackoff = opts.maxBackoff ?? 15_000;
    this.backoff = this.minBackoff;
    if (opts.file != null)
      this.list = new ListFile(opts.file, 'bootstrap file', log, () => {
        if (!this.running) return;
        this.log.info(
          { file: opts.file, peers: this.peers().map(String) },
          'bootstrap file loaded',
        );
        this.backoff = this.minBackoff;
        this.dialSome();
      });
    if (opts.externalFile != null)
      this.external = new ListFile(opts.externalFile, 'external bootstrap file', log, () => {
        if (!this.running) return;
        const peers = this.externalPeers();
        this.log.info(
          { file: opts.externalFile, peers: peers.map(String) },
          'external peers loaded',
        );
        void this.keepExternal(peers);
      });
  }

  /** The network's own bootstrap peers (flags and file) other than this one. */
  peers(): Multiaddr[] {
    return this.others([...this.opts.addrs, ...(this.list?.addrs ?? [])]);
  }

  /** The external peers (the external file) other than this one. */
  externalPeers(): Multiaddr[] {
    return this.others(this.external?.addrs ?? []);
  }

  /** The peer IDs the network's own list names (this one included): the others are external. */
  ownIds(): Set<string> {
    const listed = this.list?.addrs ?? [];
    // parsed again only when the file changed (the list is replaced, never edited in place)
    if (this.own?.from !== listed) {
      const ids = new Set([this.node.peerId.toString()]);
      for (const s of [...this.opts.addrs, ...listed]) {
        const id = peerIdOf(multiaddr(s));
        if (id != null) ids.add(id);
      }
      this.own = { from: listed, ids };
    }
    return this.own.ids;
  }

  private own?: { from: readonly string[]; ids: Set<string> };

  private others(lines: readonly string[]): Multiaddr[] {
    const self = this.node.peerId.toString();
    const seen = new Set<string>();
    const out: Multiaddr[] = [];
    for (const s of lines) {
      if (seen.has(s)) continue;
      seen.add(s);
      const ma = multiaddr(s);
      if (peerIdOf(ma) === self) continue;
      out.push(ma);
    }
    return out;
  }

  async start(): Promise<void> {
    this.running = true;
    const poll = this.opts.pollInterval ?? 5_000;
    await this.list?.start(poll);
    await this.external?.start(poll);
    this.dialSome();
    this.scheduleRetry();
  }

  stop(): void {
    this.running = false;
    this.list?.stop();
    this.external?.stop();
    clearTimeout(this.retryTimer);
  }

  /** Re-reads the bootstrap files now (tests; a change is also seen on its own). */
  async reload(): Promise<void> {
    if (!this.running) return;
    await this.list?.reload();
    await this.external?.reload();
  }

  /**
   * Tags the external peers keep-alive (libp2p redials them when a connection drops) and dials
   * those not connected. The retry loop only dials: the tags are set once per loaded list.
   */
  private async keepExternal(peers: Multiaddr[]): Promise<void> {
    await Promise.all(
      peers.map(async (ma) => {
        const id = peerIdOf(ma);
        if (id == null || !this.running) return;
        try {
          await this.node.peerStore.merge(peerIdFromString(id), {
            multiaddrs: [ma],
            tags: { [KEEP_ALIVE]: { value: 1 } },
          });
        } catch (err) {
          this.log.debug(
            { addr: ma.toString(), err: (err as Error).message },
            'cannot tag external peer',
          );
        }
        if (!this.connected(ma)) await this.tryDial(ma, 'external');
      }),
    );
  }

  /** One dial within dialTimeout; true when it connected. */
  private async tryDial(ma: Multiaddr, kind: 'bootstrap' | 'external'): Promise<boolean> {
    try {
      await this.node.dial(ma, { signal: AbortSignal.timeout(this.opts.dialTimeout ?? 10_000) });
      this.log.debug({ addr: ma.toString() }, `connected to ${kind} peer`);
      return true;
    } catch (err) {
      this.log.debug({ addr: ma.toString(), err: (err as Error).message }, `${kind} dial failed`);
      return false;
    }
  }

  private isolated(): boolean {
    return this.node.getConnections().length === 0;
  }

  private connected(ma: Multiaddr): boolean {
    const id = peerIdOf(ma);
    return id != null && this.node.getConnections().some((c) => c.remotePeer.toString() === id);
  }

  /**
   * Connects to up to `maxDials` listed peers: that many dials at a time through the unconnected
   * listed peers in a random order, each failed dial followed by the next in the order.
   */
  private dialSome(): void {
    if (!this.running) return;
    const listed = this.peers();
    // every listed peer not connected, shuffled; the rest of the list is connected already
    const order = pickBootstrap(listed, (ma) => this.connected(ma), listed.length);
    const want = (this.opts.maxDials ?? 8) - (listed.length - order.length);
    const round = ++this.round;
    for (let i = 0; i < Math.min(want, order.length); i++) void this.dialNext(order, round);
  }

  private async dialNext(order: Multiaddr[], round: number): Promise<void> {
    while (this.running && round === this.round) {
      const ma = order.shift();
      if (ma == null) return;
      if (this.connected(ma)) return; // it dialled us meanwhile: that counts
      if (await this.tryDial(ma, 'bootstrap')) return;
    }
  }

  private scheduleRetry(): void {
    if (!this.running) return;
    this.retryTimer = setTimeout(
      () => {
        if (this.isolated() && this.peers().length > 0) {
          this.dialSome();
          this.backoff = Math.min(this.backoff * 2, this.maxBackoff);
        } else if (!this.isolated()) {
          this.backoff = this.minBackoff;
        }
        for (const ma of this.externalPeers())
          if (!this.connected(ma)) void this.tryDial(ma, 'external');
        this.scheduleRetry();
      },
      this.isolated() ? this.backoff : this.maxBackoff,
    );
    this.retryTimer.unref();
  }
}
