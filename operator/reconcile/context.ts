// What every reconcile step works with: the API client, the informer caches, the clock, the
// logger, the peers' API client and the event recorder; and the errors the steps signal with.
import type {
  V1ConfigMap,
  V1Node,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { API_VERSION, KIND, type PeerNetwork, type PeerNetworkObject } from '../api/schema.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { Store } from '../kube/informers.js';
import type { Logger } from '../logger.js';
import type { Clock } from './clock.js';
import type { PeerStatusClient } from './peers.js';

export interface ClusterCache {
  networks: Store<PeerNetworkObject>;
  pods: Store<V1Pod>;
  secrets: Store<V1Secret>;
  configMaps: Store<V1ConfigMap>;
  services: Store<V1Service>;
  pdbs: Store<KubeObject>;
  networkPolicies: Store<KubeObject>;
  /** spec.storage: the pods' PersistentVolumeClaims */
  claims: Store<V1PersistentVolumeClaim>;
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

/** Retry later: the cache has not caught up with a write, or a child is being replaced. */
export class StaleCacheError extends Error {
  override name = 'StaleCacheError';
}

/** An object with our child's name exists but is not ours. */
export class ForeignObjectError extends Error {
  override name = 'ForeignObjectError';
}

type Owned = KubeObject | V1Pod | V1Secret | V1Service | V1ConfigMap;

/** Whether the network with this uid is the object's controller. */
export const isOwnedBy =
  (uid: string) =>
  (o: Owned): boolean =>
    o.metadata?.ownerReferences?.some((r) => r.uid === uid && r.controller === true) ?? false;

/** The network as the subject of an Event. */
export const eventTarget = (n: { metadata: PeerNetwork['metadata'] }) => ({
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: n.metadata,
});
