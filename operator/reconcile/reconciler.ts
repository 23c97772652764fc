// The PeerNetwork reconciler: level-triggered and idempotent. It reads the informer caches,
// converges the children (keys Secret, swarm Secret, headless Service, bootstrap ConfigMap,
// Pods) and writes the status through the status subresource only when it changed.
import { randomBytes } from 'node:crypto';
import type { V1ConfigMap, V1Node, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { generateIdentity, identityFromBytes } from '../../peer/identity.js';
import {
  API_VERSION,
  KIND,
  checkName,
  parseSpec,
  resolveTopology,
  type PeerNetwork,
  type PeerNetworkObject,
  type PeerNetworkStatus,
} from '../api/schema.js';
import {
  KubeApiError,
  isAlreadyExists,
  isNamespaceTerminating,
  isConflict,
  isPermanent,
  type KubeClient,
  type KubeObject,
} from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { Store } from '../kube/informers.js';
import { RESOURCES } from '../kube/resources.js';
import type { Logger } from '../logger.js';
import {
  bootstrapAddrs,
  desiredBootstrapConfigMap,
  desiredKeysSecret,
  desiredNetworkPolicy,
  desiredPodDisruptionBudget,
  desiredService,
  desiredSwarmSecret,
  desiredApiTokenSecret,
  apiTokenOf,
  makesSwarmSecret,
  needsApply,
  type NetworkPolicySettings,
} from '../pods/children.js';
import {
  API_BASE_PORT,
  SWARM_FILE,
  keyFileName,
  keysSecretName,
  swarmSecretName,
  apiTokenSecretName,
  serviceName,
  bootstrapConfigMapName,
  ordinalOf,
} from '../pods/names.js';
import { desiredPeers, desiredPods, canonicalJson, type DesiredPeer } from '../pods/pods.js';
import {
  containerRuns,
  drainedPods,
  isPodReady,
  plan,
  specChanged,
  type PodDeletion,
} from '../pods/plan.js';
import { computeStatus, containerReady, type PeerLive } from '../status/status.js';
import { rfc3339, type Clock } from './clock.js';
import { askPeers, mapLimit, type PeerStatusClient, type PeerTarget } from './peers.js';
import type { QueueResult } from './queue.js';

export interface ClusterCache {
  networks: Store<PeerNetworkObject>;
  pods: Store<V1Pod>;
  secrets: Store<V1Secret>;
  configMaps: Store<V1ConfigMap>;
  services: Store<V1Service>;
  pdbs: Store<KubeObject>;
  networkPolicies: Store<KubeObject>;
  /** undefined: nodes are not watched (no NodeGone check) */
  nodes?: Store<V1Node> & { synced(): boolean };
}

export interface ReconcilerComponents {
  kube: KubeClient;
  cache: ClusterCache;
  clock: Clock;
  logger: Logger;
  peers: PeerStatusClient;
  events: EventRecorder;
}

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

/** How a reconcile ended. `backoff` is set when its deadline passed (see reconcileTimeoutMs). */
export interface ReconcileResult extends QueueResult {
  /** the deadline passed: the ready peers that had not answered GET /v1/status by then */
  deadline?: { unanswered: string[] };
}

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

/** Retry later: the cache has not caught up with a write, or a child is being replaced. */
export class StaleCacheError extends Error {
  override name = 'StaleCacheError';
}

/** An object with our child's name exists but is not ours. */
export class ForeignObjectError extends Error {
  override name = 'ForeignObjectError';
}

interface Expectations {
  /** pods created but not yet seen in the cache: name -> when */
  created: Map<string, number>;
  /** pods deleted but not yet seen terminating: name -> uid */
  deleted: Map<string, string>;
  /** the last status written, and the resourceVersion it replaced */
  written?: { from: string; json: string; phase: string | undefined };
  /** when a status was last written */
  writtenAt?: number;
  /** each peer's last answer, and the pod (ip, uid) it came from */
  live: Map<string, { at: number; ip: string; uid: string; live: PeerLive | undefined }>;
  /** the last DeadlineExceeded event's message (the same one is not repeated) */
  deadlineNote?: string;
  /** the desired pods of one spec (building and hashing 200 pods is most of a reconcile's CPU) */
  desired?: { uid: string; generation: number | undefined; pods: V1Pod[] };
}

const isOwnedBy = (uid: string) => (o: KubeObject | V1Pod | V1Secret | V1Service | V1ConfigMap) =>
  o.metadata?.ownerReferences?.some((r) => r.uid === uid && r.controller === true) ?? false;

export function createReconciler(c: ReconcilerComponents, options: ReconcilerOptions): Reconciler {
  const log = c.logger;
  const clusterDomain = options.clusterDomain ?? 'cluster.local';
  const progressingRequeue = options.progressingRequeueMs ?? 5000;
  const readyResync = options.readyResyncMs ?? 60_000;
  const liveTtl = options.liveTtlMs ?? 10_000;
  const concurrency = options.concurrency ?? 100;
  const statusInterval = options.statusIntervalMs ?? 1000;
  const reconcileTimeout = options.reconcileTimeoutMs ?? 10_000;
  const policy: NetworkPolicySettings = options.networkPolicy ?? { byDefault: true };
  const expectations = new Map<string, Expectations>();
  const peerIdMemo = new Map<string, string>();

  const exp = (key: string): Expectations => {
    let e = expectations.get(key);
    if (!e) {
      e = { created: new Map(), deleted: new Map(), live: new Map() };
      expectations.set(key, e);
    }
    return e;
  };

  function remember(b64: string, id: string): void {
    if (peerIdMemo.size > 100_000) peerIdMemo.clear();
    peerIdMemo.set(b64, id);
  }

  function peerIdOf(b64: string): string {
    let id = peerIdMemo.get(b64);
    if (!id) {
      id = identityFromBytes(new Uint8Array(Buffer.from(b64, 'base64'))).peerId;
      remember(b64, id);
    }
    return id;
  }

  /** Creates a child, or finds that it exists (cache lag) and checks it is ours. */
  async function createOwned<T extends KubeObject>(obj: T, uid: string): Promise<void> {
    try {
      await c.kube.create(obj);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      const r = RESOURCES[obj.kind as 'Secret'];
      const existing = await c.kube.get<KubeObject>(
        r,
        obj.metadata?.namespace,
        obj.metadata?.name ?? '',
      );
      if (existing && !isOwnedBy(uid)(existing)) {
        throw new ForeignObjectError(
          `${obj.kind} ${obj.metadata?.name} exists and is not owned by this PeerNetwork`,
        );
      }
      throw new StaleCacheError(
        `${obj.kind} ${obj.metadata?.name} exists but is not in the cache yet`,
      );
    }
  }

  /**
   * Keys Secret: a key for every new peer, never replacing a key that exists. The keys are made
   * here, in memory (the peer IDs are known at once); `write` stores them, and can run alongside
   * the other writes of the reconcile (a pod waits for the Secret it mounts).
   */
  async function prepareKeys(
    network: PeerNetwork,
    peers: readonly DesiredPeer[],
  ): Promise<{ ids: Map<string, string>; write: () => Promise<void> }> {
    const { name, namespace, uid } = network.metadata;
    const secret = c.cache.secrets.get(namespace, keysSecretName(name));
    if (secret && !isOwnedBy(uid)(secret)) {
      throw new ForeignObjectError(
        `Secret ${keysSecretName(name)} is not owned by this PeerNetwork`,
      );
    }
    const data: Record<string, string> = { ...(secret?.data ?? {}) };
    const missing = peers.filter((p) => data[keyFileName(p.name)] === undefined);
    for (const p of missing) {
      const made = await generateIdentity();
      const b64 = Buffer.from(made.bytes).toString('base64');
      data[keyFileName(p.name)] = b64;
      remember(b64, made.peerId);
    }
    const ids = new Map<string, string>();
    for (const p of peers) ids.set(p.name, peerIdOf(data[keyFileName(p.name)]!));
    const write = async (): Promise<void> => {
      if (missing.length === 0) return;
      const desired = desiredKeysSecret(network, data);
      if (!secret) {
        await createOwned(desired, uid);
      } else {
        // resourceVersion-checked: a stale cache gets a conflict instead of replacing keys
        desired.metadata!.resourceVersion = secret.metadata?.resourceVersion;
        await c.kube.update(desired);
      }
      c.events.emit(
        target(network),
        'Normal',
        'CreatedKeys',
        `made keys for ${missing.length} new peer(s)`,
      );
    };
    return { ids, write };
  }

  /**
   * Throws when a Secret or ConfigMap by the name of one the pods mount exists and is not this
   * network's: no pod may be created to mount it. The caches hold only objects with our label,
   * so a name missing from them is looked up (one GET each, in parallel; none once they exist).
   */
  async function ensureMountsOurs(network: PeerNetwork): Promise<void> {
    const { name, namespace, uid } = network.metadata;
    const mounted: Array<{
      r: typeof RESOURCES.Secret | typeof RESOURCES.ConfigMap;
      name: string;
    }> = [
      { r: RESOURCES.Secret, name: keysSecretName(name) },
      { r: RESOURCES.ConfigMap, name: bootstrapConfigMapName(name) },
      { r: RESOURCES.Secret, name: apiTokenSecretName(name) },
    ];
    // a user's own swarm key Secret (spec.swarmKeySecret) is theirs: only ours are checked
    if (makesSwarmSecret(network))
      mounted.push({ r: RESOURCES.Secret, name: swarmSecretName(name) });
    await Promise.all(
      mounted.map(async (m) => {
        const store = m.r.kind === 'Secret' ? c.cache.secrets : c.cache.configMaps;
        const obj =
          store.get(namespace, m.name) ?? (await c.kube.get<KubeObject>(m.r, namespace, m.name));
        if (obj && !isOwnedBy(uid)(obj))
          throw new ForeignObjectError(
            `${m.r.kind} ${m.name} exists and is not owned by this PeerNetwork`,
          );
      }),
    );
  }

  /**
   * A Secret holding 32 random bytes the operator draws once and never replaces (the swarm key,
   * the API token; rotating one is the user's act): made when missing or empty, refused when
   * someone else's.
   */
  async function ensureRandomSecret(
    network: PeerNetwork,
    secretName: string,
    make: (network: PeerNetwork, key: Uint8Array) => V1Secret,
    holds: (secret: V1Secret) => boolean,
    reason: string,
    what: string,
  ): Promise<void> {
    const { namespace, uid } = network.metadata;
    const secret = c.cache.secrets.get(namespace, secretName);
    if (secret) {
      if (!isOwnedBy(uid)(secret))
        throw new ForeignObjectError(`Secret ${secretName} is not owned by this PeerNetwork`);
      if (holds(secret)) return;
    }
    await createOwned(make(network, new Uint8Array(randomBytes(32))), uid);
    c.events.emit(target(network), 'Normal', reason, `made ${what} ${secretName}`);
  }

  const ensureSwarmKey = (network: PeerNetwork): Promise<void> =>
    ensureRandomSecret(
      network,
      swarmSecretName(network.metadata.name),
      desiredSwarmSecret,
      (secret) => Boolean(secret.data?.[SWARM_FILE]),
      'CreatedSwarmKey',
      'the private network key',
    );

  const ensureApiToken = (network: PeerNetwork): Promise<void> =>
    ensureRandomSecret(
      network,
      apiTokenSecretName(network.metadata.name),
      desiredApiTokenSecret,
      (secret) => apiTokenOf(secret) !== undefined,
      'CreatedApiToken',
      'the API token',
    );

  async function applyIfNeeded<T extends KubeObject>(
    network: PeerNetwork,
    desired: T,
    actual: T | undefined,
    fields: readonly string[],
  ): Promise<void> {
    if (actual && !isOwnedBy(network.metadata.uid)(actual)) {
      throw new ForeignObjectError(
        `${desired.kind} ${desired.metadata?.name} is not owned by this PeerNetwork`,
      );
    }
    if (!needsApply(desired, actual, fields)) return;
    await c.kube.apply(desired);
    c.events.emit(
      target(network),
      'Normal',
      actual ? 'Updated' : 'Created',
      `${actual ? 'updated' : 'created'} ${desired.kind} ${desired.metadata?.name}`,
    );
  }

  /** An optional child (PodDisruptionBudget, NetworkPolicy): kept while wanted, removed when not. */
  async function ensureOptional(
    network: PeerNetwork,
    r: (typeof RESOURCES)['PodDisruptionBudget' | 'NetworkPolicy'],
    desired: KubeObject | undefined,
    store: Store<KubeObject>,
  ): Promise<void> {
    const { name, namespace, uid } = network.metadata;
    const actual = store.get(namespace, name);
    if (desired) {
      await applyIfNeeded(network, desired, actual, ['spec']);
    } else if (actual && isOwnedBy(uid)(actual)) {
      await c.kube.delete(
        r,
        namespace,
        name,
        actual.metadata?.uid ? { uid: actual.metadata.uid } : {},
      );
      c.events.emit(target(network), 'Normal', 'Deleted', `deleted ${r.kind} ${name}`);
    }
  }

  /** Deletes a pod (draining its peers first when asked); false when the deadline stopped it. */
  async function deletePod(
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
      log.info({ pod: name, handedOff: handed }, 'drained peers before scale down');
    }
    e.deleted.set(name, pod.metadata?.uid ?? '');
    await c.kube.delete(
      RESOURCES.Pod,
      network.metadata.namespace,
      name,
      pod.metadata?.uid ? { uid: pod.metadata.uid } : {},
    );
    c.events.emit(
      target(network),
      d.reason === 'ScaleDown' || d.reason === 'SpecChanged' ? 'Normal' : 'Warning',
      `DeletedPod${d.reason}`,
      `deleted pod ${name}: ${d.message}`,
    );
    return true;
  }

  /**
   * The live state of the peers whose container runs: each is asked `GET /v1/status` (an answer
   * younger than liveTtlMs from the same pod is reused). Peers that are not ready are asked too:
   * a drained peer is NotReady, and only its answer says it was drained. `unanswered` lists the
   * ready peers without an answer (a starting peer's silence is no news).
   */
  async function liveState(
    key: string,
    peers: readonly DesiredPeer[],
    pods: readonly V1Pod[],
    signal: AbortSignal,
  ): Promise<{
    live: Map<string, PeerLive>;
    unanswered: string[];
    drained: Map<string, { pod: string; uid: string }>;
  }> {
    const e = exp(key);
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
      if (cached && cached.ip === ip && cached.uid === uid && now - cached.at < liveTtl) {
        if (cached.live) live.set(p.name, cached.live);
        continue;
      }
      todo.push({ name: p.name, ip, port: API_BASE_PORT + p.index, uid });
    }
    const { answered, unanswered } = await askPeers(c.peers, todo, { concurrency, signal });
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

  async function writeStatus(
    obj: PeerNetworkObject,
    status: PeerNetworkStatus,
    e: Expectations,
  ): Promise<boolean> {
    const json = canonicalJson(status);
    const rv = obj.metadata.resourceVersion ?? '';
    if (obj.status && canonicalJson(obj.status) === json) return false;
    if (e.written && e.written.from === rv && e.written.json === json) return false; // cache lag
    let current: PeerNetworkObject = obj;
    for (let attempt = 0; ; attempt++) {
      try {
        const body = {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: current.metadata,
          spec: current.spec,
          status,
        };
        await c.kube.updateStatus(body);
        e.written = { from: current.metadata.resourceVersion ?? '', json, phase: status.phase };
        return true;
      } catch (err) {
        if (!isConflict(err) || attempt >= 3) throw err;
        const fresh = await c.kube.get<PeerNetworkObject & KubeObject>(
          RESOURCES.PeerNetwork,
          obj.metadata.namespace,
          obj.metadata.name,
        );
        if (!fresh || fresh.metadata.uid !== obj.metadata.uid) return false;
        if (fresh.metadata.generation !== obj.metadata.generation)
          throw new StaleCacheError('spec changed while writing status');
        current = fresh;
      }
    }
  }

  const target = (n: { metadata: PeerNetwork['metadata'] }) => ({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: n.metadata,
  });

  async function reconcile(key: string): Promise<ReconcileResult> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const obj = c.cache.networks.get(namespace, name);
    if (!obj || obj.metadata.deletionTimestamp) {
      // children go with their owner through garbage collection
      expectations.delete(key);
      return {};
    }
    const e = exp(key);
    const t0 = c.clock.now();
    // the deadline: ends the peer calls in flight, and no new pod write starts after it
    const deadline = new AbortController();
    const timer = c.clock.setTimer(reconcileTimeout, () => deadline.abort());
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
    const { namespace, name } = obj.metadata;
    const took: Record<string, number> = {};
    const mark = (what: string) => (took[what] = c.clock.now() - t0);
    const now = rfc3339(t0);
    let spec;
    try {
      const nameError = checkName(name);
      if (nameError) throw new KubeApiError(nameError, 422, 'InvalidName');
      spec = parseSpec(obj.spec);
    } catch (err) {
      const message = (err as Error).message;
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
      if (await writeStatus(obj, status, e))
        c.events.emit(target(obj), 'Warning', 'InvalidSpec', message);
      return {};
    }
    const network: PeerNetwork = { metadata: obj.metadata, spec, status: obj.status };
    const { uid } = obj.metadata;
    const owned = isOwnedBy(uid);
    const peers = desiredPeers(network);
    const pods = () => c.cache.pods.list(namespace).filter(owned);

    let failure: { reason: string; message: string } | undefined;
    let waiting: string | undefined;
    let outdated = 0;
    let peerIds = new Map<string, string>();
    let bootstrap: string[] = [];
    try {
      // The pods go out alongside the children they mount: a pod waits for a missing Secret or
      // ConfigMap (the kubelet retries the mount), so the first pod need not wait for key
      // generation and three writes (~0.1 s of a 200-pod start). What a pod must never mount is
      // someone else's object: that is checked first, and pods made in the moment a foreign
      // object appeared (a create refused as AlreadyExists) are deleted again.
      await ensureMountsOurs(network);
      const writeChildren = async (): Promise<void> => {
        const keys = await prepareKeys(network, peers);
        peerIds = keys.ids;
        mark('keys');
        bootstrap = bootstrapAddrs(network, peers, peerIds, clusterDomain);
        // independent children, written together (each is a no-op when it is already right)
        const written = await Promise.allSettled([
          keys.write(),
          makesSwarmSecret(network) ? ensureSwarmKey(network) : Promise.resolve(),
          ensureApiToken(network),
          applyIfNeeded(
            network,
            desiredService(network),
            c.cache.services.get(namespace, serviceName(name)),
            ['spec'],
          ),
          applyIfNeeded(
            network,
            desiredBootstrapConfigMap(network, bootstrap),
            c.cache.configMaps.get(namespace, bootstrapConfigMapName(name)),
            ['data'],
          ),
          ensureOptional(
            network,
            RESOURCES.PodDisruptionBudget,
            desiredPodDisruptionBudget(network),
            c.cache.pdbs,
          ),
          ensureOptional(
            network,
            RESOURCES.NetworkPolicy,
            desiredNetworkPolicy(network, policy),
            c.cache.networkPolicies,
          ),
        ]);
        const refused = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
        if (refused) throw refused.reason;
        mark('children');
      };
      const createPods = async (madeNow: string[]): Promise<PodDeletion[]> => {
        // expectations: forget what the cache now shows
        const actual = pods();
        const byName = new Map(actual.map((p) => [p.metadata?.name ?? '', p]));
        for (const [n, at] of e.created) {
          if (byName.has(n) || c.clock.now() - at > 15_000) e.created.delete(n);
        }
        for (const [n, uidDeleted] of e.deleted) {
          const p = byName.get(n);
          if (!p || p.metadata?.uid !== uidDeleted || p.metadata?.deletionTimestamp)
            e.deleted.delete(n);
        }
        const nodes =
          c.cache.nodes && c.cache.nodes.synced()
            ? new Set(c.cache.nodes.list().map((n) => n.metadata?.name ?? ''))
            : undefined;
        const gen = obj.metadata.generation;
        if (e.desired?.uid !== uid || e.desired.generation !== gen || gen === undefined)
          e.desired = {
            uid,
            generation: gen,
            pods: desiredPods(network, { peerImage: options.peerImage }),
          };
        const desired = e.desired.pods;
        const p = plan({
          network: name,
          desired,
          actual,
          ...(nodes ? { nodes } : {}),
          deleting: new Set(e.deleted.keys()),
        });
        waiting = p.waiting;
        outdated = actual.filter((pod) => {
          const o = ordinalOf(name, pod.metadata?.name ?? '');
          return o !== undefined && o < desired.length && specChanged(desired[o]!, pod);
        }).length;

        const toCreate = p.create.filter((pod) => !e.created.has(pod.metadata?.name ?? ''));
        if (toCreate.length > 0) {
          let terminating = false;
          const results = await mapLimit(toCreate, concurrency, async (pod) => {
            // after the deadline no new pod goes out: the next reconcile creates the rest
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
              target(network),
              'Normal',
              'CreatedPods',
              `created ${madeNow.length} pod(s): ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`,
            );
          }
          if (errors.length > 0) {
            const first = errors[0] as Error;
            c.events.emit(
              target(network),
              'Warning',
              'CreatePodFailed',
              `${errors.length} pod(s) could not be created: ${first.message}`,
            );
            throw first;
          }
        }
        mark('pods');
        if (toCreate.length > 0) mark(`create${toCreate.length}`);
        return p.delete;
      };
      const madeNow: string[] = [];
      const [made, children] = await Promise.allSettled([createPods(madeNow), writeChildren()]);
      if (children.status === 'rejected') {
        if (children.reason instanceof ForeignObjectError) {
          await Promise.allSettled(
            madeNow.map((pod) => c.kube.delete(RESOURCES.Pod, namespace, pod)),
          );
        }
        throw children.reason;
      }
      if (made.status === 'rejected') throw made.reason;
      for (const d of made.value) await deletePod(network, d, e, signal);
      if (made.value.length > 0) mark(`delete${made.value.length}`);
    } catch (err) {
      if (isNamespaceTerminating(err)) {
        // the namespace is being deleted and takes the network with it: nothing to create
        log.debug({ network: key }, 'namespace terminating: not creating children');
      } else if (isPermanent(err) || err instanceof ForeignObjectError) {
        failure = {
          reason: err instanceof ForeignObjectError ? 'ForeignObject' : 'Refused',
          message: (err as Error).message,
        };
        c.events.emit(target(network), 'Warning', failure.reason, failure.message);
      } else {
        throw err;
      }
    }

    let current = pods();
    let live: Map<string, PeerLive>;
    let unanswered: readonly string[];
    if (signal.aborted) {
      // the deadline passed before the peers could be asked: what they said last stands
      live = new Map();
      for (const [n, l] of e.live) if (l.live) live.set(n, l.live);
      unanswered = obj.status?.unansweredPeers ?? [];
    } else {
      const found = await liveState(key, peers, current, signal);
      live = found.live;
      unanswered = found.unanswered;
      // drained peers of pods that are kept come back in a new pod (same name and keys)
      if (!failure) {
        const repairs = drainedPods({
          network: name,
          replicas: spec.replicas,
          actual: current,
          drained: found.drained,
          deleting: new Set(e.deleted.keys()),
        });
        let repaired = 0;
        for (const d of repairs) if (await deletePod(network, d, e, signal)) repaired++;
        if (repaired > 0) current = pods();
      }
    }
    mark('live');
    const status = computeStatus({
      network,
      pods: current,
      peers,
      peerIds,
      bootstrap,
      live,
      ...(obj.status ? { previous: obj.status } : {}),
      now,
      ...(failure ? { failure } : {}),
      ...(waiting ? { waiting } : {}),
      outdated,
      unanswered,
    });
    // While pods come and go in a burst, the status (one entry per peer: ~80 KB at 200 peers,
    // which the API server validates, diffs for managedFields, stores and sends back) is written
    // at most once every statusIntervalMs; the reconcile comes back when the interval is over to
    // write the latest. Only Pending -> Progressing is held with it: a change to or from Ready,
    // Degraded or Failed is written at once (Ready is what users wait for).
    // The phase shown is the one last written while the cache still holds the object it replaced.
    const lagging = e.written !== undefined && e.written.from === obj.metadata.resourceVersion;
    const shown = lagging ? e.written?.phase : obj.status?.phase;
    const converging = (p: string | undefined) => p === 'Pending' || p === 'Progressing';
    const since = c.clock.now() - (e.writtenAt ?? -Infinity);
    const hold =
      since < statusInterval &&
      (status.phase === shown || (converging(status.phase) && converging(shown)));
    const wrote = hold ? false : await writeStatus(obj, status, e);
    if (wrote) e.writtenAt = c.clock.now();
    mark(wrote ? 'status' : 'done');
    log.debug(
      { network: key, phase: status.phase, ready: status.readyText, ms: took },
      'reconciled',
    );
    if (wrote && status.phase !== shown) {
      log.info({ network: key, phase: status.phase, ready: status.readyText }, 'phase changed');
      if (status.phase === 'Ready')
        c.events.emit(target(network), 'Normal', 'Ready', `${status.readyText} peers ready`);
    }
    if (failure) throw new KubeApiError(failure.message, 0, failure.reason); // retry with backoff
    if (signal.aborted) {
      const names = [...unanswered];
      const note =
        `reconcile stopped at its ${reconcileTimeout} ms deadline` +
        (names.length > 0
          ? `; ${names.length} ready peer(s) had not answered GET /v1/status: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`
          : '');
      if (note !== e.deadlineNote)
        c.events.emit(target(network), 'Warning', 'DeadlineExceeded', note);
      e.deadlineNote = note;
      return { backoff: 'DeadlineExceeded', deadline: { unanswered: names } };
    }
    e.deadlineNote = undefined;
    if (hold) return { requeueAfterMs: Math.max(1, statusInterval - since) };
    // Ready, but a peer of a network of several still reports an empty routing table (it has
    // just (re)joined: ready once connected, its table fills a moment later): look again soon
    // rather than show the empty table until the next resync
    const shownPeers = status.peers ?? [];
    const joining =
      shownPeers.length > 1 && shownPeers.some((p) => p.ready && (p.routingTable ?? 0) === 0);
    const settled = status.phase === 'Ready' && !joining;
    return { requeueAfterMs: settled ? readyResync : progressingRequeue };
  }

  return { reconcile };
}

/** The number of peer containers each pod of the network runs. */
export const peersPerPod = (n: PeerNetwork): number => resolveTopology(n.spec.topology).peersPerPod;
