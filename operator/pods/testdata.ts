// Test fixtures shared by the pure builders' table tests.
import type { V1Pod } from '@kubernetes/client-node';
import { parseSpec, type PeerNetwork } from '../api/schema.js';

export function network(spec: unknown, name = 'net', generation = 1): PeerNetwork {
  return { metadata: { name, namespace: 'ns', uid: 'uid-1', generation }, spec: parseSpec(spec) };
}

export interface PodState {
  phase?: string;
  ready?: boolean;
  node?: string;
  ip?: string;
  deleting?: boolean;
  unschedulable?: string;
  containersReady?: boolean[];
}

/** A pod as the API server would show it, built from a desired pod. */
export function observed(pod: V1Pod, s: PodState = {}): V1Pod {
  const ready = s.ready ?? !s.unschedulable;
  const conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
  if (s.unschedulable) {
    conditions.push({
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message: s.unschedulable,
    } as never);
  }
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid: `uid-${pod.metadata?.name}`,
      ...(s.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' as unknown as Date } : {}),
    },
    spec: { ...pod.spec!, ...(s.unschedulable ? {} : { nodeName: s.node ?? 'node-a' }) },
    status: {
      phase: s.phase ?? (s.unschedulable ? 'Pending' : 'Running'),
      ...(s.unschedulable ? {} : { podIP: s.ip ?? '127.200.0.1' }),
      conditions: conditions,
      ...(s.containersReady
        ? {
            containerStatuses: s.containersReady.map((r, i) => ({
              name: `peer-${i}`,
              ready: r,
              image: 'x',
              imageID: '',
              restartCount: 0,
            })),
          }
        : {}),
    },
  };
}
