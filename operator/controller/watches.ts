// Which informer events bring a PeerNetwork to the work queue: its own changes (not status-only
// updates), and any change to the children it controls, its pods, or the nodes they ran on.
import type { V1Pod } from '@kubernetes/client-node';
import type { PeerNetworkObject } from '../api/schema.js';
import type { KubeObject } from '../kube/client.js';
import type { Informers } from '../kube/informers.js';
import { isPodReady } from '../pods/plan.js';

export type Enqueue = (key: string | undefined, opts?: { now?: boolean }) => void;

export const keyOf = (ns: string | undefined, name: string | undefined) =>
  `${ns ?? ''}/${name ?? ''}`;

/** The key of the PeerNetwork that controls `obj`, if one does. */
function ownerKey(obj: KubeObject): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'PeerNetwork');
  return ref ? keyOf(obj.metadata?.namespace, ref.name) : undefined;
}

export function watchForChanges(informers: Informers, enqueue: Enqueue): void {
  // status-only updates do not requeue: only a new generation, deletion or labels do
  const seen = new Map<string, string>();
  informers.networks.on((kind, n: PeerNetworkObject) => {
    const key = keyOf(n.metadata.namespace, n.metadata.name);
    const mark = `${n.metadata.uid}/${n.metadata.generation}/${n.metadata.deletionTimestamp ? 'd' : ''}`;
    if (kind === 'delete') {
      seen.delete(key);
      enqueue(key);
      return;
    }
    if (kind === 'update' && seen.get(key) === mark) return;
    seen.set(key, mark);
    enqueue(key);
  });
  // The pods of each network that are not Ready. The event that makes the last of them Ready is
  // reconciled at once (phase Ready is what users wait for), not folded into the next interval.
  const notReady = new Map<string, Set<string>>();
  informers.pods.on((kind, pod: V1Pod) => {
    const key = ownerKey(pod);
    if (!key) return;
    const name = pod.metadata?.name ?? '';
    let waiting = notReady.get(key);
    if (kind !== 'delete' && !isPodReady(pod)) {
      if (!waiting) notReady.set(key, (waiting = new Set()));
      waiting.add(name);
      return enqueue(key);
    }
    const last = waiting?.delete(name) === true && waiting.size === 0;
    if (waiting?.size === 0) notReady.delete(key);
    enqueue(key, { now: last && kind !== 'delete' });
  });
  for (const inf of [
    informers.secrets,
    informers.configMaps,
    informers.services,
    informers.pdbs,
    informers.networkPolicies,
    informers.claims,
  ] as const) {
    (inf as { on(cb: (k: string, o: KubeObject) => void): void }).on((_k, o) =>
      enqueue(ownerKey(o)),
    );
  }
  informers.nodes.on((kind, node) => {
    if (kind !== 'delete') return;
    for (const pod of informers.pods.list() as V1Pod[]) {
      if (pod.spec?.nodeName === node.metadata?.name) enqueue(ownerKey(pod));
    }
  });
}
