// The pods step: the plan (operator/pods/plan.ts) of which pods to create and delete, carried out
// with the expectations of earlier writes; a pod deleted on scale down drains its peers first.
import type { V1Pod } from '@kubernetes/client-node';
import type { PeerNetwork } from '../api/schema.js';
import { isAlreadyExists, isNamespaceTerminating } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import { apiTokenOf } from '../pods/children.js';
import {
  API_BASE_PORT,
  apiTokenSecretName,
  exposeServiceName,
  ordinalOf,
  podName,
} from '../pods/names.js';
import { isPodReady, plan, specChanged, type PodDeletion } from '../pods/plan.js';
import { desiredPods, exposeType, loadBalancerAddress } from '../pods/pods.js';
import { eventTarget, isOwnedBy, type ReconcilerComponents } from './context.js';
import { observePods, type Expectations } from './expectations.js';
import { mapLimit } from '../../common/concurrency.js';

export interface PodsSettings {
  peerImage: string;
  /** parallel pod creations */
  concurrency: number;
}

export interface PodsPlan {
  /** pods to create (none that an earlier create made and the cache does not show yet) */
  create: V1Pod[];
  /** pods to delete (after the children are written) */
  deletions: PodDeletion[];
  /** why a pod waits (e.g. for a node), for the status */
  waiting: string | undefined;
  /** pods whose spec differs from the desired one */
  outdated: number;
}

/** The network's pods in the cache (only those it controls). */
export const ownedPods = (c: ReconcilerComponents, network: PeerNetwork): V1Pod[] =>
  c.cache.pods.list(network.metadata.namespace).filter(isOwnedBy(network.metadata.uid));

/** Which pods to create and delete, from the cache and the expectations. */
export function planPods(
  c: ReconcilerComponents,
  settings: PodsSettings,
  network: PeerNetwork,
  e: Expectations,
): PodsPlan {
  const { name, uid, generation } = network.metadata;
  const actual = ownedPods(c, network);
  observePods(e, actual, c.clock.now());
  const nodes =
    c.cache.nodes && c.cache.nodes.synced()
      ? new Set(c.cache.nodes.list().map((n) => n.metadata?.name ?? ''))
      : undefined;
  const balancers = loadBalancersOf(c, network);
  const balancersKey = [...(balancers ?? [])].map(([o, a]) => `${o}=${a}`).join(',');
  if (
    e.desired?.uid !== uid ||
    e.desired.generation !== generation ||
    e.desired.loadBalancers !== balancersKey ||
    generation === undefined
  )
    e.desired = {
      uid,
      generation,
      loadBalancers: balancersKey,
      pods: desiredPods(network, {
        peerImage: settings.peerImage,
        ...(balancers !== undefined ? { loadBalancers: balancers } : {}),
      }),
    };
  const desired = e.desired.pods;
  const p = plan({
    network: name,
    desired,
    actual,
    ...(nodes ? { nodes } : {}),
    deleting: new Set(e.deleted.keys()),
  });
  const outdated = actual.filter((pod) => {
    const o = ordinalOf(name, pod.metadata?.name ?? '');
    return o !== undefined && o < desired.length && specChanged(desired[o]!, pod);
  }).length;
  let create = p.create.filter((pod) => !e.created.has(pod.metadata?.name ?? ''));
  let waiting = p.waiting;
  if (balancers !== undefined) {
    // a pod's peers announce its load balancer's address: no pod before its Service has one
    const addressed = (pod: V1Pod) =>
      balancers.has(ordinalOf(name, pod.metadata?.name ?? '') ?? -1);
    const early = create.filter((pod) => !addressed(pod));
    if (early.length > 0) {
      create = create.filter(addressed);
      const first = exposeServiceName(early[0]!.metadata?.name ?? '');
      waiting ??= `waiting for the load balancer address of Service ${first}${early.length > 1 ? ` and ${early.length - 1} more` : ''}`;
    }
  }
  return { create, deletions: p.delete, waiting, outdated };
}

/**
 * spec.expose loadBalancer: the address of each pod's Service (loadBalancerAddress) that has
 * one, by ordinal, from the cache. Undefined for any other expose type.
 */
export function loadBalancersOf(
  c: ReconcilerComponents,
  network: PeerNetwork,
): Map<number, string> | undefined {
  if (exposeType(network) !== 'loadBalancer') return undefined;
  const { name, namespace, uid } = network.metadata;
  const out = new Map<number, string>();
  for (let ordinal = 0; ordinal < network.spec.replicas; ordinal++) {
    const svc = c.cache.services.get(namespace, exposeServiceName(podName(name, ordinal)));
    const address = svc && isOwnedBy(uid)(svc) ? loadBalancerAddress(svc) : undefined;
    if (address !== undefined) out.set(ordinal, address);
  }
  return out;
}

/**
 * Creates pods, up to `concurrency` at a time, none after the deadline (the next reconcile
 * creates the rest). `madeNow` collects the pods created, even when the step then fails (a
 * foreign child found meanwhile has them deleted again).
 */
export async function createPods(
  c: ReconcilerComponents,
  settings: PodsSettings,
  network: PeerNetwork,
  e: Expectations,
  toCreate: readonly V1Pod[],
  signal: AbortSignal,
  madeNow: string[],
): Promise<void> {
  if (toCreate.length === 0) return;
  let terminating = false;
  const results = await mapLimit(toCreate, settings.concurrency, async (pod) => {
    if (terminating || signal.aborted) return undefined;
    try {
      await c.kube.create(pod);
      e.created.set(pod.metadata?.name ?? '', c.clock.now());
      madeNow.push(pod.metadata?.name ?? '');
      return undefined;
    } catch (err) {
      if (isAlreadyExists(err)) return undefined; // the cache has not seen it yet
      if (isNamespaceTerminating(err)) terminating = true;
      return err;
    }
  });
  if (terminating) throw results.find(isNamespaceTerminating);
  const errors = results.filter((r) => r !== undefined);
  if (madeNow.length > 0) {
    const names = toCreate.map((x) => x.metadata?.name).filter(Boolean);
    c.events.emit(
      eventTarget(network),
      'Normal',
      'CreatedPods',
      `created ${madeNow.length} pod(s): ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`,
    );
  }
  if (errors.length > 0) {
    const first = errors[0] as Error;
    c.events.emit(
      eventTarget(network),
      'Warning',
      'CreatePodFailed',
      `${errors.length} pod(s) could not be created: ${first.message}`,
    );
    throw first;
  }
}

/** Deletes a pod (draining its peers first when asked); false when the deadline stopped it. */
export async function deletePod(
  c: ReconcilerComponents,
  network: PeerNetwork,
  d: PodDeletion,
  e: Expectations,
  signal: AbortSignal,
): Promise<boolean> {
  const pod = d.pod;
  const name = pod.metadata?.name ?? '';
  if (signal.aborted) return false;
  if (d.drain && isPodReady(pod) && pod.status?.podIP) {
    const ip = pod.status.podIP;
    const n = pod.spec?.containers.length ?? 1;
    // the peers refuse a drain without the network's token (401); without one in the cache
    // (deleted by a user) the call is still made, for pods of a release before tokens
    const token = apiTokenOf(
      c.cache.secrets.get(network.metadata.namespace, apiTokenSecretName(network.metadata.name)),
    );
    const handed = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        c.peers.drain(ip, API_BASE_PORT + i, {
          signal,
          ...(token !== undefined ? { token } : {}),
        }),
      ),
    );
    // cut short: drained again (idempotent) and deleted by the next reconcile
    if (signal.aborted) return false;
    c.logger.info({ pod: name, handedOff: handed }, 'drained peers before scale down');
  }
  e.deleted.set(name, pod.metadata?.uid ?? '');
  await c.kube.delete(
    RESOURCES.Pod,
    network.metadata.namespace,
    name,
    pod.metadata?.uid ? { uid: pod.metadata.uid } : {},
  );
  c.events.emit(
    eventTarget(network),
    d.reason === 'ScaleDown' || d.reason === 'SpecChanged' ? 'Normal' : 'Warning',
    `DeletedPod${d.reason}`,
    `deleted pod ${name}: ${d.message}`,
  );
  return true;
}
