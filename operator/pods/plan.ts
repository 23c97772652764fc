// plan(desired, actual): which pods to create and which to delete, and why. Pure.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_SPEC_HASH, ordinalOf } from './names.js';

export type DeleteReason = 'ScaleDown' | 'SpecChanged' | 'PodFailed' | 'NodeGone' | 'Drained';

export interface PodDeletion {
  pod: V1Pod;
  reason: DeleteReason;
  message: string;
  /** ask the pod's peers to hand their records over first (scale down only) */
  drain: boolean;
}

export interface Plan {
  create: V1Pod[];
  delete: PodDeletion[];
  /** why a spec rollout is waiting, if it is */
  waiting?: string;
}

export interface PlanInput {
  network: string;
  /** desired pods, ordinal 0..replicas-1 */
  desired: readonly V1Pod[];
  /** pods that exist and are owned by the network */
  actual: readonly V1Pod[];
  /** names of the nodes that exist; undefined when unknown (then no NodeGone check) */
  nodes?: ReadonlySet<string>;
  /** pods this operator already deleted whose deletion the cache has not shown yet */
  deleting?: ReadonlySet<string>;
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function isTerminating(pod: V1Pod, deleting?: ReadonlySet<string>): boolean {
  return (
    Boolean(pod.metadata?.deletionTimestamp) || (deleting?.has(pod.metadata?.name ?? '') ?? false)
  );
}

/** The peer container runs, ready or not (so its API may answer). */
export function containerRuns(pod: V1Pod, container: string): boolean {
  if (isTerminating(pod) || pod.status?.phase !== 'Running') return false;
  const cs = pod.status.containerStatuses?.find((s) => s.name === container);
  // kwok and some runtimes report only the pod's phase
  return cs ? cs.ready || cs.state?.running !== undefined : true;
}

export const podHash = (pod: V1Pod): string | undefined =>
  pod.metadata?.annotations?.[ANNOTATION_SPEC_HASH];

/** Named drift checks: why an existing pod must be replaced, if it must. */
export function brokenReason(
  pod: V1Pod,
  nodes?: ReadonlySet<string>,
): { reason: DeleteReason; message: string } | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') {
    return {
      reason: 'PodFailed',
      message: `pod ${pod.metadata?.name} is ${phase}${pod.status?.reason ? ` (${pod.status.reason})` : ''}`,
    };
  }
  const node = pod.spec?.nodeName;
  if (node && nodes && !nodes.has(node)) {
    return {
      reason: 'NodeGone',
      message: `node ${node} of pod ${pod.metadata?.name} no longer exists`,
    };
  }
  return undefined;
}

export function specChanged(desired: V1Pod, actual: V1Pod): boolean {
  return podHash(desired) !== podHash(actual);
}

export function plan(input: PlanInput): Plan {
  const { desired, actual, nodes, deleting } = input;
  const replicas = desired.length;
  const byOrdinal = new Map<number, V1Pod>();
  for (const pod of actual) {
    const o = ordinalOf(input.network, pod.metadata?.name ?? '');
    if (o !== undefined) byOrdinal.set(o, pod);
  }
  const out: Plan = { create: [], delete: [] };

  // missing ordinals (a terminating pod still holds its name: wait for it to go)
  desired.forEach((pod, o) => {
    if (!byOrdinal.has(o)) out.create.push(pod);
  });

  // broken pods come back at once, all of them: they serve nothing as they are
  for (const [o, pod] of byOrdinal) {
    if (o >= replicas || isTerminating(pod, deleting)) continue;
    const broken = brokenReason(pod, nodes);
    if (broken) out.delete.push({ pod, ...broken, drain: false });
  }

  // scale down: the highest ordinal first, one at a time
  const extra = [...byOrdinal.entries()].filter(([o]) => o >= replicas).sort(([a], [b]) => b - a);
  const scalingDown = extra.length > 0;
  if (scalingDown && !extra.some(([, p]) => isTerminating(p, deleting))) {
    const [o, pod] = extra[0]!;
    out.delete.push({
      pod,
      reason: 'ScaleDown',
      message: `ordinal ${o} is above replicas ${replicas}`,
      drain: true,
    });
  }

  // spec rollout: one pod at a time, highest ordinal first, only when every other pod is ready
  const drifted = [...byOrdinal.entries()]
    .filter(
      ([o, pod]) => o < replicas && !isTerminating(pod, deleting) && specChanged(desired[o]!, pod),
    )
    .filter(([, pod]) => !out.delete.some((d) => d.pod === pod))
    .sort(([a], [b]) => b - a);
  if (drifted.length > 0) {
    const [o, pod] = drifted[0]!;
    const others = [...byOrdinal.entries()].filter(([k]) => k !== o && k < replicas);
    const blocker =
      out.create.length > 0
        ? `${out.create.length} pod(s) still to create`
        : scalingDown
          ? 'a scale down is in progress'
          : out.delete.length > 0
            ? 'broken pods are being replaced'
            : others.some(([, p]) => isTerminating(p, deleting))
              ? 'a pod is terminating'
              : others.find(([, p]) => !isPodReady(p))
                ? `pod ${others.find(([, p]) => !isPodReady(p))![1].metadata?.name} is not ready`
                : undefined;
    if (blocker) {
      out.waiting = `rolling ${drifted.length} pod(s) to the new spec waits: ${blocker}`;
    } else {
      out.delete.push({
        pod,
        reason: 'SpecChanged',
        message: `pod ${pod.metadata?.name} runs an older spec (hash ${podHash(pod) ?? 'none'}, want ${podHash(desired[o]!)})`,
        drain: false,
      });
    }
  }
  return out;
}

export interface DrainedInput {
  network: string;
  /** spec.replicas: pods at or above it are being removed, and were drained on purpose */
  replicas: number;
  /** pods that exist and are owned by the network */
  actual: readonly V1Pod[];
  /**
   * Each peer that said it was drained (GET /v1/status: `draining: true`), with the pod it was
   * asked in (name and uid: an answer from a pod since replaced counts for nothing).
   */
  drained: ReadonlyMap<string, { pod: string; uid: string }>;
  /** pods this operator already deleted whose deletion the cache has not shown yet */
  deleting?: ReadonlySet<string>;
}

/**
 * Pods to recreate because a peer in them was drained while the pod is kept. A drained peer takes
 * no writes and stays NotReady until it restarts, and the peer API has no way back: anyone who
 * reached `POST /v1/drain` could leave a network Progressing for good. The operator drains a pod
 * itself only on its way out (scale down, ordinal >= replicas) and a peer drains itself when its
 * pod is terminating: neither is repaired. The pod comes back with the same name and keys.
 */
export function drainedPods(input: DrainedInput): PodDeletion[] {
  const peersByPod = new Map<string, string[]>();
  for (const [peer, { pod, uid }] of input.drained) {
    const key = `${pod}/${uid}`;
    const list = peersByPod.get(key) ?? [];
    list.push(peer);
    peersByPod.set(key, list);
  }
  const out: PodDeletion[] = [];
  for (const pod of input.actual) {
    const name = pod.metadata?.name ?? '';
    const peers = peersByPod.get(`${name}/${pod.metadata?.uid ?? ''}`);
    const o = ordinalOf(input.network, name);
    if (!peers || o === undefined || o >= input.replicas || isTerminating(pod, input.deleting))
      continue;
    out.push({
      pod,
      reason: 'Drained',
      message: `peer(s) ${peers.sort().join(', ')} of pod ${name} were drained (POST /v1/drain) although the pod is kept: recreating it restores them`,
      drain: false,
    });
  }
  return out.sort(
    (a, b) =>
      (ordinalOf(input.network, a.pod.metadata?.name ?? '') ?? 0) -
      (ordinalOf(input.network, b.pod.metadata?.name ?? '') ?? 0),
  );
}
