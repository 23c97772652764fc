// computeStatus: the PeerNetwork status from what exists. Pure: the clock comes in as `now`.
import type { V1Pod } from '@kubernetes/client-node';
import {
  type Condition,
  type Phase,
  type PeerNetwork,
  type PeerNetworkStatus,
  type PeerStatus,
} from '../api/schema.js';
import { ordinalOf, selectorString } from '../pods/names.js';
import { exposeType, exposedPort, type DesiredPeer } from '../pods/pods.js';
import { isTerminating } from '../pods/plan.js';
import { readyPeers as readyPeersOf } from './view.js';

/** What a peer's `GET /v1/status` said. */
export interface PeerLive {
  routingTable?: number;
  connections?: number;
  /** the peer was drained (`POST /v1/drain`): it takes no writes and reports NotReady */
  draining?: boolean;
  /** peers outside the network connected to it (peer IDs, as far as it listed them) */
  external?: string[];
}

/** At most this many names in status.unansweredPeers (a 1000-peer network must not fill it). */
export const MAX_UNANSWERED_LISTED = 100;

export interface StatusInput {
  network: PeerNetwork;
  pods: readonly V1Pod[];
  peers: readonly DesiredPeer[];
  peerIds: ReadonlyMap<string, string>;
  bootstrap: readonly string[];
  live?: ReadonlyMap<string, PeerLive>;
  previous?: PeerNetworkStatus;
  /** RFC 3339 time used for conditions that change now */
  now: string;
  /** a failure the operator cannot fix by retrying (invalid spec, refused writes) */
  failure?: { reason: string; message: string };
  /** why the rollout waits, from plan() */
  waiting?: string;
  /** pods that still run an older spec */
  outdated?: number;
  /** peers asked for their live state that did not answer, in peer order */
  unanswered?: readonly string[];
}

/** The peer container is ready (the pod's Ready condition where no container status is shown). */
export function containerReady(pod: V1Pod | undefined, container: string): boolean {
  if (!pod || isTerminating(pod)) return false;
  const cs = pod.status?.containerStatuses?.find((c) => c.name === container);
  if (cs) return cs.ready === true;
  // kwok and some runtimes report only the pod condition
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The --announce argument of a peer container of a pod, if it has one. */
export function announceArg(pod: V1Pod | undefined, container: string): string | undefined {
  const args = pod?.spec?.containers.find((c) => c.name === container)?.args ?? [];
  const at = args.indexOf('--announce');
  return at >= 0 ? args[at + 1] : undefined;
}

/** The scheduler's PodScheduled=False message, when it cannot place the pod. */
export function unschedulable(pod: V1Pod): string | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
  if (c && c.status === 'False' && c.reason === 'Unschedulable')
    return c.message ?? 'Unschedulable';
  return undefined;
}

function condition(
  type: string,
  status: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
  previous: readonly Condition[] | undefined,
  now: string,
): Condition {
  const s = status ? 'True' : 'False';
  const prev = previous?.find((c) => c.type === type);
  const c: Condition = {
    type,
    status: s,
    lastTransitionTime: prev && prev.status === s ? prev.lastTransitionTime : now,
    reason,
    message,
  };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

/** Distinct peers outside the network that its peers said they were connected to. */
function externalPeers(
  live: ReadonlyMap<string, PeerLive> | undefined,
  peerIds: ReadonlyMap<string, string>,
): number {
  const own = new Set(peerIds.values());
  const seen = new Set<string>();
  for (const l of live?.values() ?? [])
    for (const id of l.external ?? []) if (!own.has(id)) seen.add(id);
  return seen.size;
}

// Long: the phase decision reads top to bottom as one table; splitting it would hide the order.
export function computeStatus(input: StatusInput): PeerNetworkStatus {
  const { network, pods, peers, peerIds, live, previous, now } = input;
  const name = network.metadata.name;
  const generation = network.metadata.generation;
  const replicas = network.spec.replicas;
  const podByName = new Map(pods.map((p) => [p.metadata?.name ?? '', p]));

  const entries: PeerStatus[] = peers.map((p) => {
    const pod = podByName.get(p.pod);
    const e: PeerStatus = {
      name: p.name,
      pod: p.pod,
      container: p.container,
      peerId: peerIds.get(p.name) ?? '',
      node: pod?.spec?.nodeName ?? '',
      ready: containerReady(pod, p.container),
    };
    if (pod?.status?.podIP) e.ip = pod.status.podIP;
    const port = exposedPort(network, p.ordinal, p.index);
    if (port !== undefined && pod?.status?.hostIP && e.peerId !== '')
      e.externalAddrs = [`/ip4/${pod.status.hostIP}/tcp/${port}/p2p/${e.peerId}`];
    // loadBalancer: the address the pod was made with (its Service's, see write-pods.ts)
    const announced =
      exposeType(network) === 'loadBalancer' ? announceArg(pod, p.container) : undefined;
    if (announced !== undefined && e.peerId !== '')
      e.externalAddrs = [`${announced}/p2p/${e.peerId}`];
    const l = live?.get(p.name);
    if (l?.routingTable !== undefined) e.routingTable = l.routingTable;
    if (l?.connections !== undefined) e.connections = l.connections;
    if (l?.draining) e.draining = true;
    return e;
  });
  const desiredPeers = peers.length;
  const readyPeers = readyPeersOf(entries).length;

  const current = pods.filter((p) => {
    const o = ordinalOf(name, p.metadata?.name ?? '');
    return o !== undefined && o < replicas && !isTerminating(p);
  });
  const extra = pods.filter((p) => (ordinalOf(name, p.metadata?.name ?? '') ?? 0) >= replicas);
  const stuck = current
    .map((p) => ({ pod: p.metadata?.name ?? '', why: unschedulable(p) }))
    .filter((x): x is { pod: string; why: string } => x.why !== undefined)
    .sort((a, b) => (ordinalOf(name, a.pod) ?? 0) - (ordinalOf(name, b.pod) ?? 0));
  const failedPods = current
    .filter((p) => p.status?.phase === 'Failed')
    .map((p) => p.metadata?.name ?? '');

  let phase: Phase;
  let reason: string;
  let message: string;
  if (input.failure) {
    phase = 'Failed';
    ({ reason, message } = input.failure);
  } else if (
    readyPeers === desiredPeers &&
    current.length === replicas &&
    extra.length === 0 &&
    !input.waiting &&
    !input.outdated
  ) {
    phase = 'Ready';
    reason = 'AllPeersReady';
    message = `${readyPeers}/${desiredPeers} peers ready`;
  } else if (stuck.length > 0) {
    phase = readyPeers > 0 ? 'Degraded' : 'Pending';
    reason = 'Unschedulable';
    message = `${stuck.length} pod(s) cannot be scheduled (${stuck
      .slice(0, 3)
      .map((s) => s.pod)
      .join(', ')}${stuck.length > 3 ? ', ...' : ''}): ${stuck[0]!.why}`;
  } else if (failedPods.length > 0) {
    phase = 'Degraded';
    reason = 'PodFailed';
    message = `pod(s) failed and are being replaced: ${failedPods.join(', ')}`;
  } else if (
    readyPeers === 0 &&
    !current.some((p) => p.status?.phase === 'Running') &&
    extra.length === 0
  ) {
    phase = 'Pending';
    reason = 'PodsPending';
    message = `0/${desiredPeers} peers ready, ${input.waiting ?? 'waiting for pods to start'}`;
  } else {
    phase = 'Progressing';
    reason =
      extra.length > 0
        ? 'ScalingDown'
        : input.waiting || input.outdated
          ? 'RollingUpdate'
          : 'PeersNotReady';
    message =
      input.waiting ??
      (input.outdated
        ? `${input.outdated} pod(s) to roll to the new spec`
        : `${readyPeers}/${desiredPeers} peers ready`);
  }

  const prev = previous?.conditions;
  const conditions = [
    condition('Ready', phase === 'Ready', reason, message, generation, prev, now),
    condition(
      'Progressing',
      phase === 'Pending' || phase === 'Progressing',
      phase === 'Ready' ? 'Converged' : reason,
      message,
      generation,
      prev,
      now,
    ),
    condition(
      'Degraded',
      phase === 'Degraded' || phase === 'Failed',
      phase === 'Ready' ? 'AllPeersReady' : reason,
      message,
      generation,
      prev,
      now,
    ),
  ];

  const status: PeerNetworkStatus = {
    phase,
    replicas: current.length + extra.filter((p) => !isTerminating(p)).length,
    selector: selectorString(name),
    desiredPeers,
    readyPeers,
    readyText: `${readyPeers}/${desiredPeers}`,
    peers: entries,
    bootstrap: [...input.bootstrap],
    conditions,
  };
  const external = externalPeers(live, peerIds);
  if (external > 0) status.externalPeers = external;
  if (input.unanswered?.length)
    status.unansweredPeers = input.unanswered.slice(0, MAX_UNANSWERED_LISTED);
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}
