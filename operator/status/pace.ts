// When the status is written and when the network is looked at again. Pure.
import type { PeerNetworkStatus } from '../api/schema.js';

export interface HoldInput {
  /** the phase of the status just computed */
  phase: string | undefined;
  /** the phase in the cache, and the resourceVersion of the cached object */
  cached: { phase: string | undefined; resourceVersion: string | undefined };
  /** the last status written, and the resourceVersion it replaced */
  written?: { from: string; phase: string | undefined } | undefined;
  /** when a status was last written (clock ms) */
  writtenAt?: number | undefined;
  now: number;
  /** least time between two status writes that do not change the phase */
  intervalMs: number;
}

export interface HoldDecision {
  /** the phase users see now */
  shown: string | undefined;
  /** do not write now; come back after `retryInMs` */
  hold: boolean;
  retryInMs: number;
}

const converging = (p: string | undefined) => p === 'Pending' || p === 'Progressing';

/**
 * While pods come and go in a burst, the status (one entry per peer: ~80 KB at 200 peers, which
 * the API server validates, diffs for managedFields, stores and sends back) is written at most
 * once every `intervalMs`. Only Pending -> Progressing is held with it: a change to or from
 * Ready, Degraded or Failed is written at once (Ready is what users wait for). The phase shown is
 * the one last written while the cache still holds the object it replaced.
 */
export function holdStatus(input: HoldInput): HoldDecision {
  const lagging =
    input.written !== undefined && input.written.from === input.cached.resourceVersion;
  const shown = lagging ? input.written?.phase : input.cached.phase;
  const since = input.now - (input.writtenAt ?? -Infinity);
  const hold =
    since < input.intervalMs &&
    (input.phase === shown || (converging(input.phase) && converging(shown)));
  return { shown, hold, retryInMs: Math.max(1, input.intervalMs - since) };
}

/**
 * Ready, but a peer of a network of several still reports an empty routing table: it has just
 * (re)joined (ready once connected, its table fills a moment later). Such a network is looked at
 * again soon rather than showing the empty table until the next resync.
 */
export function stillJoining(status: PeerNetworkStatus): boolean {
  const peers = status.peers ?? [];
  return peers.length > 1 && peers.some((p) => p.ready && (p.routingTable ?? 0) === 0);
}
