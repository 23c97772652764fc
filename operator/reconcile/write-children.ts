// The children step: the objects the pods mount or sit behind (keys Secret, swarm key Secret, API
// token Secret, headless Service, bootstrap ConfigMap, PodDisruptionBudget, NetworkPolicy, the
// NodePort Services and claims of each pod), each
// written only when missing or different, and never over an object that is not this network's.
import { randomBytes } from 'node:crypto';
import { mapLimit } from '../../common/concurrency.js';
import type { V1Secret } from '@kubernetes/client-node';
import { generateIdentity, identityFromBytes } from '../../common/identity.js';
import type { PeerNetwork } from '../api/schema.js';
import { isAlreadyExists, type KubeObject } from '../kube/client.js';
import type { Store } from '../kube/informers.js';
import { RESOURCES } from '../kube/resources.js';
import {
  apiTokenOf,
  bootstrapAddrs,
  desiredApiTokenSecret,
  desiredBootstrapConfigMap,
  desiredClaims,
  desiredExposeServices,
  desiredKeysSecret,
  desiredNetworkPolicy,
  desiredPodDisruptionBudget,
  desiredService,
  desiredSwarmSecret,
  isClaimOf,
  makesSwarmSecret,
  needsApply,
  type NetworkPolicySettings,
} from '../pods/children.js';
import {
  SWARM_FILE,
  apiTokenSecretName,
  bootstrapConfigMapName,
  keyFileName,
  keysSecretName,
  serviceName,
  swarmSecretName,
} from '../pods/names.js';
import type { DesiredPeer } from '../pods/pods.js';
import {
  ForeignObjectError,
  StaleCacheError,
  eventTarget,
  isOwnedBy,
  type ReconcilerComponents,
} from './context.js';
import { writeClaims } from './write-claims.js';

export interface ChildrenSettings {
  clusterDomain: string;
  policy: NetworkPolicySettings;
  /** parallel writes of one kind (the NodePort Services of many pods) */
  concurrency: number;
}

/** Peer IDs of the keys seen (deriving one parses a private key: ~0.1 ms, 200 per reconcile). */
export class PeerIdMemo {
  private readonly ids = new Map<string, string>();
  remember(b64: string, id: string): void {
    if (this.ids.size > 100_000) this.ids.clear();
    this.ids.set(b64, id);
  }
  of(b64: string): string {
    let id = this.ids.get(b64);
    if (!id) {
      id = identityFromBytes(new Uint8Array(Buffer.from(b64, 'base64'))).peerId;
      this.remember(b64, id);
    }
    return id;
  }
}

/** The children's plan: what the status can show at once, and the writes. */
export interface ChildrenPlan {
  /** peer name -> peer ID (keys made now included) */
  peerIds: Map<string, string>;
  /** every peer's bootstrap multiaddr */
  bootstrap: string[];
  /** writes every child that is missing or different; rejects with the first refusal */
  write(): Promise<void>;
}

/**
 * Plans the children: keys for new peers are made here, in memory (their peer IDs are known at
 * once); `write` stores them with the other children, all in parallel (each is a no-op when the
 * child is already right).
 */
export async function planChildren(
  c: ReconcilerComponents,
  settings: ChildrenSettings,
  memo: PeerIdMemo,
  network: PeerNetwork,
  peers: readonly DesiredPeer[],
): Promise<ChildrenPlan> {
  const { name, namespace } = network.metadata;
  const keys = await prepareKeys(c, memo, network, peers);
  const bootstrap = bootstrapAddrs(network, peers, keys.ids, settings.clusterDomain);
  const write = async (): Promise<void> => {
    const written = await Promise.allSettled([
      keys.write(),
      makesSwarmSecret(network) ? ensureSwarmKey(c, network) : Promise.resolve(),
      ensureApiToken(c, network),
      applyIfNeeded(
        c,
        network,
        desiredService(network),
        c.cache.services.get(namespace, serviceName(name)),
        ['spec'],
      ),
      applyIfNeeded(
        c,
        network,
        desiredBootstrapConfigMap(network, bootstrap),
        c.cache.configMaps.get(namespace, bootstrapConfigMapName(name)),
        ['data'],
      ),
      ensureOptional(
        c,
        network,
        RESOURCES.PodDisruptionBudget,
        desiredPodDisruptionBudget(network),
        c.cache.pdbs,
      ),
      ensureOptional(
        c,
        network,
        RESOURCES.NetworkPolicy,
        desiredNetworkPolicy(network, settings.policy),
        c.cache.networkPolicies,
      ),
      ensureExposeServices(c, settings, network),
      writeClaims(c, settings.concurrency, network),
    ]);
    const refused = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (refused) throw refused.reason;
  };
  return { peerIds: keys.ids, bootstrap, write };
}

/**
 * Throws when a Secret, ConfigMap or (spec.storage) PersistentVolumeClaim by the name of one the
 * pods mount exists and is not this network's: no pod may be created to mount it. The caches hold only objects with our label,
 * so a name missing from them is looked up (one GET each, in parallel; none once they exist).
 */
export async function ensureMountsOurs(
  c: ReconcilerComponents,
  network: PeerNetwork,
): Promise<void> {
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
  if (makesSwarmSecret(network)) mounted.push({ r: RESOURCES.Secret, name: swarmSecretName(name) });
  const checks = [
    ...mounted.map((m) => ({
      ...m,
      cached: (m.r.kind === 'Secret' ? c.cache.secrets : c.cache.configMaps).get(namespace, m.name),
      ours: isOwnedBy(uid),
      why: 'exists and is not owned by this PeerNetwork',
    })),
    // spec.storage: a claim is the network's by its labels (a retained one has no owner)
    ...desiredClaims(network).map((d) => {
      const claimName = d.metadata?.name ?? '';
      return {
        r: RESOURCES.PersistentVolumeClaim,
        name: claimName,
        cached: c.cache.claims.get(namespace, claimName),
        ours: (o: KubeObject) => isClaimOf(name, o),
        why: `exists and is not one this operator made for PeerNetwork ${name}`,
      };
    }),
  ];
  await Promise.all(
    checks.map(async (m) => {
      const obj = m.cached ?? (await c.kube.get<KubeObject>(m.r, namespace, m.name));
      if (obj && !m.ours(obj)) throw new ForeignObjectError(`${m.r.kind} ${m.name} ${m.why}`);
    }),
  );
}

/** Creates a child, or finds that it exists (cache lag) and checks it is ours. */
async function createOwned<T extends KubeObject>(
  c: ReconcilerComponents,
  obj: T,
  uid: string,
): Promise<void> {
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

/** Keys Secret: a key for every new peer, never replacing a key that exists. */
async function prepareKeys(
  c: ReconcilerComponents,
  memo: PeerIdMemo,
  network: PeerNetwork,
  peers: readonly DesiredPeer[],
): Promise<{ ids: Map<string, string>; write: () => Promise<void> }> {
  const { name, namespace, uid } = network.metadata;
  const secret = c.cache.secrets.get(namespace, keysSecretName(name));
  if (secret && !isOwnedBy(uid)(secret)) {
    throw new ForeignObjectError(`Secret ${keysSecretName(name)} is not owned by this PeerNetwork`);
  }
  const data: Record<string, string> = { ...(secret?.data ?? {}) };
  const missing = peers.filter((p) => data[keyFileName(p.name)] === undefined);
  for (const p of missing) {
    const made = await generateIdentity();
    const b64 = Buffer.from(made.bytes).toString('base64');
    data[keyFileName(p.name)] = b64;
    memo.remember(b64, made.peerId);
  }
  const ids = new Map<string, string>();
  for (const p of peers) ids.set(p.name, memo.of(data[keyFileName(p.name)]!));
  const write = async (): Promise<void> => {
    if (missing.length === 0) return;
    const desired = desiredKeysSecret(network, data);
    if (!secret) {
      await createOwned(c, desired, uid);
    } else {
      // resourceVersion-checked: a stale cache gets a conflict instead of replacing keys
      desired.metadata!.resourceVersion = secret.metadata?.resourceVersion;
      await c.kube.update(desired);
    }
    c.events.emit(
      eventTarget(network),
      'Normal',
      'CreatedKeys',
      `made keys for ${missing.length} new peer(s)`,
    );
  };
  return { ids, write };
}

/**
 * A Secret holding 32 random bytes the operator draws once and never replaces (the swarm key,
 * the API token; rotating one is the user's act): made when missing or empty, refused when
 * someone else's.
 */
async function ensureRandomSecret(
  c: ReconcilerComponents,
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
  await createOwned(c, make(network, new Uint8Array(randomBytes(32))), uid);
  c.events.emit(eventTarget(network), 'Normal', reason, `made ${what} ${secretName}`);
}

const ensureSwarmKey = (c: ReconcilerComponents, network: PeerNetwork): Promise<void> =>
  ensureRandomSecret(
    c,
    network,
    swarmSecretName(network.metadata.name),
    desiredSwarmSecret,
    (secret) => Boolean(secret.data?.[SWARM_FILE]),
    'CreatedSwarmKey',
    'the private network key',
  );

const ensureApiToken = (c: ReconcilerComponents, network: PeerNetwork): Promise<void> =>
  ensureRandomSecret(
    c,
    network,
    apiTokenSecretName(network.metadata.name),
    desiredApiTokenSecret,
    (secret) => apiTokenOf(secret) !== undefined,
    'CreatedApiToken',
    'the API token',
  );

async function applyIfNeeded<T extends KubeObject>(
  c: ReconcilerComponents,
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
    eventTarget(network),
    'Normal',
    actual ? 'Updated' : 'Created',
    `${actual ? 'updated' : 'created'} ${desired.kind} ${desired.metadata?.name}`,
  );
}

/**
 * spec.expose nodePort or loadBalancer: a Service per pod (desiredExposeServices); those of pods
 * scaled away, or of a network no longer exposed that way, are deleted. A node port another
 * Service holds is refused by the API server (422): the status then says Refused and names the
 * port.
 */
async function ensureExposeServices(
  c: ReconcilerComponents,
  settings: ChildrenSettings,
  network: PeerNetwork,
): Promise<void> {
  const { name, namespace, uid } = network.metadata;
  const desired = desiredExposeServices(network);
  const wanted = new Set(desired.map((d) => d.metadata?.name));
  // one per pod: written like the pods, `concurrency` at a time, not one after another
  await mapLimit(desired, settings.concurrency, (d) =>
    applyIfNeeded(c, network, d, c.cache.services.get(namespace, d.metadata?.name ?? ''), ['spec']),
  );
  const ours = new RegExp(`^${name}-\\d+-p2p$`);
  for (const svc of c.cache.services.list(namespace)) {
    const svcName = svc.metadata?.name ?? '';
    if (!ours.test(svcName) || wanted.has(svcName) || !isOwnedBy(uid)(svc)) continue;
    await c.kube.delete(
      RESOURCES.Service,
      namespace,
      svcName,
      svc.metadata?.uid ? { uid: svc.metadata.uid } : {},
    );
    c.events.emit(eventTarget(network), 'Normal', 'Deleted', `deleted Service ${svcName}`);
  }
}

/** An optional child (PodDisruptionBudget, NetworkPolicy): kept while wanted, removed when not. */
async function ensureOptional(
  c: ReconcilerComponents,
  network: PeerNetwork,
  r: (typeof RESOURCES)['PodDisruptionBudget' | 'NetworkPolicy'],
  desired: KubeObject | undefined,
  store: Store<KubeObject>,
): Promise<void> {
  const { name, namespace, uid } = network.metadata;
  const actual = store.get(namespace, name);
  if (desired) {
    await applyIfNeeded(c, network, desired, actual, ['spec']);
  } else if (actual && isOwnedBy(uid)(actual)) {
    await c.kube.delete(
      r,
      namespace,
      name,
      actual.metadata?.uid ? { uid: actual.metadata.uid } : {},
    );
    c.events.emit(eventTarget(network), 'Normal', 'Deleted', `deleted ${r.kind} ${name}`);
  }
}
