// The observe step for the peers: what each running peer says of itself (GET /v1/status), with
// answers younger than a TTL reused, and which peers were drained (only their answer says so).
import type { V1Pod } from '@kubernetes/client-node';
import { API_BASE_PORT } from '../pods/names.js';
import { containerRuns } from '../pods/plan.js';
import type { DesiredPeer } from '../pods/pods.js';
import { containerReady, type PeerLive } from '../status/status.js';
import type { ReconcilerComponents } from './context.js';
import type { Expectations } from './expectations.js';
import { askPeers, type PeerTarget } from './peers.js';

export interface LiveSettings {
  /** a live peer state younger than this is reused */
  liveTtlMs: number;
  /** parallel peer API calls */
  concurrency: number;
}

export interface LiveState {
  /** peer name -> its answer */
  live: Map<string, PeerLive>;
  /** the ready peers without an answer (a starting peer's silence is no news) */
  unanswered: string[];
  /** the peers that said they were drained, and their pod */
  drained: Map<string, { pod: string; uid: string }>;
}

/**
 * The live state of the peers whose container runs. Peers that are not ready are asked too: a
 * drained peer is NotReady, and only its answer says it was drained.
 */
export async function liveState(
  c: ReconcilerComponents,
  settings: LiveSettings,
  e: Expectations,
  peers: readonly DesiredPeer[],
  pods: readonly V1Pod[],
  signal: AbortSignal,
): Promise<LiveState> {
  const now = c.clock.now();
  const byName = new Map(pods.map((p) => [p.metadata?.name ?? '', p]));
  const todo: (PeerTarget & { uid: string })[] = [];
  const ready = new Set<string>();
  const asked = new Map<string, { pod: string; uid: string }>();
  const live = new Map<string, PeerLive>();
  for (const p of peers) {
    const pod = byName.get(p.pod);
    const ip = pod?.status?.podIP;
    if (!pod || !ip || !containerRuns(pod, p.container)) {
      e.live.delete(p.name);
      continue;
    }
    const uid = pod.metadata?.uid ?? '';
    asked.set(p.name, { pod: p.pod, uid });
    if (containerReady(pod, p.container)) ready.add(p.name);
    const cached = e.live.get(p.name);
    if (cached && cached.ip === ip && cached.uid === uid && now - cached.at < settings.liveTtlMs) {
      if (cached.live) live.set(p.name, cached.live);
      continue;
    }
    todo.push({ name: p.name, ip, port: API_BASE_PORT + p.index, uid });
  }
  const { answered, unanswered } = await askPeers(c.peers, todo, {
    concurrency: settings.concurrency,
    signal,
  });
  for (const t of todo) {
    const a = answered.get(t.name);
    // an answer cut off by the deadline is not remembered as one
    if (a || !signal.aborted) e.live.set(t.name, { at: now, ip: t.ip, uid: t.uid, live: a });
    if (a) live.set(t.name, a);
  }
  const drained = new Map<string, { pod: string; uid: string }>();
  for (const [name, l] of live) if (l.draining) drained.set(name, asked.get(name)!);
  return { live, unanswered: unanswered.filter((n) => ready.has(n)), drained };
}

/** What the peers said last, when the deadline passed before they could be asked again. */
export function lastKnown(e: Expectations): Map<string, PeerLive> {
  const live = new Map<string, PeerLive>();
  for (const [n, l] of e.live) if (l.live) live.set(n, l.live);
  return live;
}
