// Kubernetes Events (core v1) about a PeerNetwork: what the operator did and every failure.
import type { Clock } from '../reconcile/clock.js';
import { rfc3339 } from '../reconcile/clock.js';
import type { Logger } from '../logger.js';
import { isNamespaceTerminating, type KubeClient } from './client.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; resourceVersion?: string };
}

export interface EventRecorder {
  /** fire and forget: an event that cannot be written is logged, never fails a reconcile */
  emit(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** resolves when the events emitted so far are written (tests, shutdown) */
  flush(): Promise<void>;
}

export function createEventRecorder(
  kube: KubeClient,
  clock: Clock,
  logger: Logger,
  instance: string,
): EventRecorder {
  const pending = new Set<Promise<void>>();
  return {
    emit(target, type, reason, message) {
      const now = rfc3339(clock.now());
      const p = kube
        .create({
          apiVersion: 'v1',
          kind: 'Event',
          metadata: {
            generateName: `${target.metadata.name}.`,
            namespace: target.metadata.namespace,
          },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            name: target.metadata.name,
            namespace: target.metadata.namespace,
            uid: target.metadata.uid,
            ...(target.metadata.resourceVersion
              ? { resourceVersion: target.metadata.resourceVersion }
              : {}),
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: 'peernet-operator' },
          reportingComponent: 'peernet-operator',
          reportingInstance: instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        })
        .then(
          () => undefined,
          (err: Error) => {
            // the namespace is going away with the object the event was about
            if (!isNamespaceTerminating(err))
              logger.warn({ err: err.message, reason }, 'could not write event');
          },
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      await Promise.allSettled([...pending]);
    },
  };
}
