// The PeerNetwork reconciler: level-triggered and idempotent. One reconcile is a pipeline over
// the informer caches: validate the spec; write the children (write-children.ts) alongside the
// pods (write-pods.ts); observe the peers (live.ts); compute the status (../status/status.ts)
// and write it when it changed and is not held (../status/pace.ts, write-status.ts). Each step
// returns what it found; the expectations (expectations.ts) carry what the cache may not show yet.
import {
  checkName,
  parseSpec,
  type PeerNetwork,
  type PeerNetworkObject,
  type PeerNetworkSpec,
  type PeerNetworkStatus,
} from '../api/schema.js';
import { isNamespaceTerminating, isPermanent } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { NetworkPolicySettings } from '../pods/children.js';
import { drainedPods } from '../pods/plan.js';
import { desiredPeers, type DesiredPeer } from '../pods/pods.js';
import { holdStatus, stillJoining } from '../status/pace.js';
import { computeStatus, type PeerLive } from '../status/status.js';
import { rfc3339 } from './clock.js';
import { ForeignObjectError, eventTarget, type ReconcilerComponents } from './context.js';
import { createExpectations, type Expectations } from './expectations.js';
import { lastKnown, liveState } from './live.js';
import { PeerIdMemo, ensureMountsOurs, planChildren } from './write-children.js';
import { createPods, deletePod, ownedPods, planPods } from './write-pods.js';
import { writeStatus } from './write-status.js';
import type { QueueResult } from './queue.js';

export {
  ForeignObjectError,
  StaleCacheError,
  type ClusterCache,
  type ReconcilerComponents,
} from './context.js';

export interface ReconcilerOptions {
  peerImage: string;
  /** @default 'cluster.local' */
  clusterDomain?: string;
  /** requeue while not Ready @default 5000 */
  progressingRequeueMs?: number;
  /** requeue while Ready, to refresh the peers' live state @default 60000 */
  readyResyncMs?: number;
  /** a live peer state younger than this is reused @default 10000 */
  liveTtlMs?: number;
  /** parallel pod creations and peer API calls @default 100 */
  concurrency?: number;
  /** least time between two status writes that do not change the phase @default 1000 */
  statusIntervalMs?: number;
  /**
   * One reconcile's deadline. When it passes, the peer calls in flight end, no new pod is
   * created or deleted, the status is written with the peers that had not answered, and the
   * result asks for backoff. Requests to the API server already sent finish (each has its own
   * timeout in the client). @default 10000
   */
  reconcileTimeoutMs?: number;
  /** @default { byDefault: true } (no source admitted to the peers' API ports) */
  networkPolicy?: NetworkPolicySettings;
}

/** How a reconcile ended. `backoff` is set when it stopped short or failed. */
export interface ReconcileResult extends QueueResult {
  /** the deadline passed: the ready peers that had not answered GET /v1/status by then */
  deadline?: { unanswered: string[] };
  /**
   * The network cannot converge as it is (the API server refused a child for good, or an object
   * by a child's name is not this network's): the status and an event say why; retried with
   * backoff, since a user may fix it.
   */
  failed?: Failure;
}

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

interface Failure {
  reason: string;
  message: string;
}

/** What the write steps found out, for the status. */
interface Written {
  failure?: Failure;
  waiting?: string;
  outdated: number;
  peerIds: Map<string, string>;
  bootstrap: string[];
}

/** What the observe step found out. */
interface Observed {
  pods: ReturnType<typeof ownedPods>;
  live: Map<string, PeerLive>;
  unanswered: readonly string[];
}

/** The spec, or why it cannot be reconciled (a name the children cannot be named after). */
function validate(obj: PeerNetworkObject): { spec: PeerNetworkSpec } | { error: string } {
  const nameError = checkName(obj.metadata.name);
  if (nameError) return { error: nameError };
  try {
    return { spec: parseSpec(obj.spec) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

// A factory: the inner functions are the pipeline's steps, sharing its settings and expectations.
export function createReconciler(c: ReconcilerComponents, options: ReconcilerOptions): Reconciler {
  const log = c.logger;
  const settings = {
    clusterDomain: options.clusterDomain ?? 'cluster.local',
    progressingRequeue: options.progressingRequeueMs ?? 5000,
    readyResync: options.readyResyncMs ?? 60_000,
    liveTtlMs: options.liveTtlMs ?? 10_000,
    concurrency: options.concurrency ?? 100,
    statusInterval: options.statusIntervalMs ?? 1000,
    reconcileTimeout: options.reconcileTimeoutMs ?? 10_000,
    policy: options.networkPolicy ?? { byDefault: true },
    peerImage: options.peerImage,
  };
  const expectations = createExpectations();
  const memo = new PeerIdMemo();

  async function reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const obj = c.cache.networks.get(key.slice(0, slash), key.slice(slash + 1));
    if (!obj || obj.metadata.deletionTimestamp) {
      // children go with their owner through garbage collection
      expectations.forget(key);
      return {};
    }
    const e = expectations.of(key);
    const t0 = c.clock.now();
    // the deadline: ends the peer calls in flight, and no new pod write starts after it
    const deadline = new AbortController();
    const timer = c.clock.setTimer(settings.reconcileTimeout, () => deadline.abort());
    try {
      return await converge(key, obj, e, t0, deadline.signal);
    } finally {
      timer.cancel();
    }
  }

  async function converge(
    key: string,
    obj: PeerNetworkObject,
    e: Expectations,
    t0: number,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const took: Record<string, number> = {};
    const mark = (what: string) => (took[what] = c.clock.now() - t0);
    const now = rfc3339(t0);
    const valid = validate(obj);
    if ('error' in valid) return invalid(obj, e, now, valid.error);
    const network: PeerNetwork = { metadata: obj.metadata, spec: valid.spec, status: obj.status };
    const peers = desiredPeers(network);
    const written = await writeChildrenAndPods(key, network, peers, e, signal, mark);
    const observed = await observe(network, peers, e, signal, written.failure === undefined);
    mark('live');
    const status = computeStatus({
      network,
      pods: observed.pods,
      peers,
      peerIds: written.peerIds,
      bootstrap: written.bootstrap,
      live: observed.live,
      ...(obj.status ? { previous: obj.status } : {}),
      now,
      ...(written.failure ? { failure: written.failure } : {}),
      ...(written.waiting ? { waiting: written.waiting } : {}),
      outdated: written.outdated,
      unanswered: observed.unanswered,
    });
    const pace = holdStatus({
      phase: status.phase,
      cached: { phase: obj.status?.phase, resourceVersion: obj.metadata.resourceVersion },
      written: e.written,
      writtenAt: e.writtenAt,
      now: c.clock.now(),
      intervalMs: settings.statusInterval,
    });
    const wrote = pace.hold ? false : await writeStatus(c.kube, obj, status, e);
    if (wrote) e.writtenAt = c.clock.now();
    mark(wrote ? 'status' : 'done');
    log.debug(
      { network: key, phase: status.phase, ready: status.readyText, ms: took },
      'reconciled',
    );
    if (wrote && status.phase !== pace.shown) {
      log.info({ network: key, phase: status.phase, ready: status.readyText }, 'phase changed');
      if (status.phase === 'Ready')
        c.events.emit(eventTarget(network), 'Normal', 'Ready', `${status.readyText} peers ready`);
    }
    if (written.failure) {
      return {
        backoff: written.failure.reason,
        detail: written.failure.message,
        failed: written.failure,
      };
    }
    if (signal.aborted) return stoppedShort(network, e, observed.unanswered);
    e.deadlineNote = undefined;
    if (pace.hold) return { requeueAfterMs: pace.retryInMs };
    return { requeueAfterMs: settled(status) ? settings.readyResync : settings.progressingRequeue };
  }

  /** An invalid spec: the status says why (Failed), and nothing is written until it changes. */
  async function invalid(
    obj: PeerNetworkObject,
    e: Expectations,
    now: string,
    message: string,
  ): Promise<ReconcileResult> {
    const network: PeerNetwork = {
      metadata: obj.metadata,
      spec: parseSpec({ topology: { mode: 'spread' } }),
    };
    network.spec.replicas = 0;
    const status = computeStatus({
      network,
      pods: [],
      peers: [],
      peerIds: new Map(),
      bootstrap: [],
      previous: obj.status,
      now,
      failure: { reason: 'InvalidSpec', message },
    });
    if (await writeStatus(c.kube, obj, status, e))
      c.events.emit(eventTarget(obj), 'Warning', 'InvalidSpec', message);
    return {};
  }

  /**
   * The children and the pods, written together: a pod waits for a missing Secret or ConfigMap
   * (the kubelet retries the mount), so the first pod need not wait for key generation and
   * three writes (~0.1 s of a 200-pod start). What a pod must never mount is someone else's
   * object: that is checked first, and pods made in the moment a foreign object appeared (a
   * create refused as AlreadyExists) are deleted again. Pods are deleted last.
   */
  async function writeChildrenAndPods(
    key: string,
    network: PeerNetwork,
    peers: readonly DesiredPeer[],
    e: Expectations,
    signal: AbortSignal,
    mark: (what: string) => void,
  ): Promise<Written> {
    const { namespace } = network.metadata;
    const found: Written = { outdated: 0, peerIds: new Map(), bootstrap: [] };
    try {
      await ensureMountsOurs(c, network);
      const writeChildren = async (): Promise<void> => {
        const plan = await planChildren(c, settings, memo, network, peers);
        found.peerIds = plan.peerIds;
        found.bootstrap = plan.bootstrap;
        mark('keys');
        await plan.write();
        mark('children');
      };
      const pods = planPods(c, settings, network, e);
      found.waiting = pods.waiting;
      found.outdated = pods.outdated;
      const madeNow: string[] = [];
      const createAll = async (): Promise<void> => {
        await createPods(c, settings, network, e, pods.create, signal, madeNow);
        mark('pods');
        if (pods.create.length > 0) mark(`create${pods.create.length}`);
      };
      const [made, children] = await Promise.allSettled([createAll(), writeChildren()]);
      if (children.status === 'rejected') {
        if (children.reason instanceof ForeignObjectError) {
          await Promise.allSettled(
            madeNow.map((pod) => c.kube.delete(RESOURCES.Pod, namespace, pod)),
          );
        }
        throw children.reason;
      }
      if (made.status === 'rejected') throw made.reason;
      for (const d of pods.deletions) await deletePod(c, network, d, e, signal);
      if (pods.deletions.length > 0) mark(`delete${pods.deletions.length}`);
    } catch (err) {
      if (isNamespaceTerminating(err)) {
        // the namespace is being deleted and takes the network with it: nothing to create
        log.debug({ network: key }, 'namespace terminating: not creating children');
      } else if (isPermanent(err) || err instanceof ForeignObjectError) {
        found.failure = {
          reason: err instanceof ForeignObjectError ? 'ForeignObject' : 'Refused',
          message: (err as Error).message,
        };
        c.events.emit(eventTarget(network), 'Warning', found.failure.reason, found.failure.message);
      } else {
        throw err;
      }
    }
    return found;
  }

  /**
   * The pods and what their peers say. Drained peers of pods that are kept come back in a new
   * pod (same name and keys), unless the network failed. After the deadline, what the peers
   * said last stands.
   */
  async function observe(
    network: PeerNetwork,
    peers: readonly DesiredPeer[],
    e: Expectations,
    signal: AbortSignal,
    repair: boolean,
  ): Promise<Observed> {
    let pods = ownedPods(c, network);
    if (signal.aborted) {
      return {
        pods,
        live: lastKnown(e),
        unanswered: network.status?.unansweredPeers ?? [],
      };
    }
    const found = await liveState(c, settings, e, peers, pods, signal);
    if (repair) {
      const repairs = drainedPods({
        network: network.metadata.name,
        replicas: network.spec.replicas,
        actual: pods,
        drained: found.drained,
        deleting: new Set(e.deleted.keys()),
      });
      let repaired = 0;
      for (const d of repairs) if (await deletePod(c, network, d, e, signal)) repaired++;
      if (repaired > 0) pods = ownedPods(c, network);
    }
    return { pods, live: found.live, unanswered: found.unanswered };
  }

  /** The deadline passed: an event (not repeated) names the peers that had not answered. */
  function stoppedShort(
    network: PeerNetwork,
    e: Expectations,
    unanswered: readonly string[],
  ): ReconcileResult {
    const names = [...unanswered];
    const note =
      `reconcile stopped at its ${settings.reconcileTimeout} ms deadline` +
      (names.length > 0
        ? `; ${names.length} ready peer(s) had not answered GET /v1/status: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`
        : '');
    if (note !== e.deadlineNote)
      c.events.emit(eventTarget(network), 'Warning', 'DeadlineExceeded', note);
    e.deadlineNote = note;
    return { backoff: 'DeadlineExceeded', deadline: { unanswered: names } };
  }

  const settled = (status: PeerNetworkStatus): boolean =>
    status.phase === 'Ready' && !stillJoining(status);

  return { reconcile };
}
