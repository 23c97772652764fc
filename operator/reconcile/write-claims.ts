// The claims step (spec.storage): a PersistentVolumeClaim per pod, written beside the pods like the
// other children (the scheduler holds a pod until its claim exists). Its owner reference follows
// retention.whenDeleted; with retention.whenScaled Delete, the claim of a pod scaled away is
// deleted once that pod is gone (the StatefulSet's persistentVolumeClaimRetentionPolicy, done by
// the operator).
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { mapLimit } from '../../common/concurrency.js';
import type { PeerNetwork } from '../api/schema.js';
import { isAlreadyExists } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import { desiredClaims, isClaimOf } from '../pods/children.js';
import { ordinalOf, podName } from '../pods/names.js';
import { StaleCacheError, eventTarget, type ReconcilerComponents } from './context.js';

const peerNetworkRefs = (c: V1PersistentVolumeClaim): string =>
  (c.metadata?.ownerReferences ?? [])
    .filter((r) => r.kind === 'PeerNetwork')
    .map((r) => r.uid)
    .sort()
    .join(',');

/** Makes missing claims, sets their owner, deletes those of pods scaled away (whenScaled Delete). */
export async function writeClaims(
  c: ReconcilerComponents,
  concurrency: number,
  network: PeerNetwork,
): Promise<void> {
  const { name, namespace } = network.metadata;
  const storage = network.spec.storage;
  if (storage === undefined) return;
  const made: string[] = [];
  await mapLimit(desiredClaims(network), concurrency, async (d) => {
    const claimName = d.metadata?.name ?? '';
    const actual = c.cache.claims.get(namespace, claimName);
    if (actual === undefined) {
      try {
        await c.kube.create(d);
        made.push(claimName);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        throw new StaleCacheError(
          `PersistentVolumeClaim ${claimName} exists but is not in the cache yet`,
        );
      }
      return;
    }
    // (a claim by this name that is not ours stopped the reconcile in ensureMountsOurs)
    // the owner follows whenDeleted (a retained claim of an earlier network of this name
    // included); resourceVersion-checked, so a stale cache conflicts instead of overwriting
    if (peerNetworkRefs(actual) !== peerNetworkRefs(d)) {
      const others = (actual.metadata?.ownerReferences ?? []).filter(
        (r) => r.kind !== 'PeerNetwork',
      );
      const refs = [...others, ...(d.metadata?.ownerReferences ?? [])];
      await c.kube.update({
        ...actual,
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { ...actual.metadata, ownerReferences: refs },
      });
    }
  });
  if (made.length > 0)
    c.events.emit(
      eventTarget(network),
      'Normal',
      'CreatedClaims',
      `created ${made.length} PersistentVolumeClaim(s): ${made.slice(0, 10).join(', ')}${made.length > 10 ? ', ...' : ''}`,
    );
  if (storage.retention.whenScaled !== 'Delete') return;
  const pods = new Set(c.cache.pods.list(namespace).map((p) => p.metadata?.name));
  for (const claim of c.cache.claims.list(namespace)) {
    if (!isClaimOf(name, claim)) continue;
    const claimName = claim.metadata?.name ?? '';
    const ordinal = ordinalOf(name, claimName.replace(/-data$/, ''));
    if (ordinal === undefined || ordinal < network.spec.replicas) continue;
    // only once its pod is gone: the peers hand their records off while it drains
    if (pods.has(podName(name, ordinal)) || claim.metadata?.deletionTimestamp) continue;
    await c.kube.delete(
      RESOURCES.PersistentVolumeClaim,
      namespace,
      claimName,
      claim.metadata?.uid ? { uid: claim.metadata.uid } : {},
    );
    c.events.emit(
      eventTarget(network),
      'Normal',
      'DeletedClaim',
      `deleted PersistentVolumeClaim ${claimName} (retention.whenScaled Delete)`,
    );
  }
}
