// What the reconciler remembers of one PeerNetwork between two reconciles: the writes it made that
// the informer cache may not show yet (pods created or deleted, the last status), the peers' last
// answers, and the desired pods of the current spec. In memory only: a restarted operator starts
// from the cache alone, which is always safe (the expectations only avoid double work).
import type { V1Pod } from '@kubernetes/client-node';
import type { PeerLive } from '../status/status.js';

/** How long a created pod is expected before the cache is trusted again. */
const CREATED_TTL_MS = 15_000;

export interface Expectations {
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
  desired?: {
    uid: string;
    generation: number | undefined;
    /** spec.expose loadBalancer: the addresses the pods were built with (`ordinal=address,...`) */
    loadBalancers: string;
    pods: V1Pod[];
  };
}

export interface ExpectationsStore {
  /** the network's expectations, made empty on first use */
  of(key: string): Expectations;
  /** the network is gone */
  forget(key: string): void;
}

export function createExpectations(): ExpectationsStore {
  const byKey = new Map<string, Expectations>();
  return {
    of(key) {
      let e = byKey.get(key);
      if (!e) {
        e = { created: new Map(), deleted: new Map(), live: new Map() };
        byKey.set(key, e);
      }
      return e;
    },
    forget: (key) => void byKey.delete(key),
  };
}

/**
 * Forgets the pod writes the cache now shows: a created pod that is listed (or expected for too
 * long), a deleted pod that is gone, replaced or terminating.
 */
export function observePods(e: Expectations, actual: readonly V1Pod[], now: number): void {
  const byName = new Map(actual.map((p) => [p.metadata?.name ?? '', p]));
  for (const [n, at] of e.created) {
    if (byName.has(n) || now - at > CREATED_TTL_MS) e.created.delete(n);
  }
  for (const [n, uidDeleted] of e.deleted) {
    const p = byName.get(n);
    if (!p || p.metadata?.uid !== uidDeleted || p.metadata?.deletionTimestamp) e.deleted.delete(n);
  }
}
