// The StatefulSet e2e-spread runs beside a PeerNetwork: the same pod as the operator's (its pod
// builder, so image, args, resources, probes, security and spread are the operator's), with the
// differences a StatefulSet forces. Pure: the keys are drawn by the caller.
import type { V1ConfigMap, V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { parseSpec, type PeerNetwork } from '../operator/api/schema.js';
import {
  bootstrapAddrs,
  bootstrapText,
  desiredApiTokenSecret,
  desiredService,
} from '../operator/pods/children.js';
import {
  BOOTSTRAP_FILE,
  KEYS_MOUNT,
  bootstrapConfigMapName,
  keysSecretName,
  selectorFor,
  serviceName,
} from '../operator/pods/names.js';
import { desiredPeers, desiredPod } from '../operator/pods/pods.js';

export interface StatefulSetBench {
  name: string;
  namespace: string;
  replicas: number;
  nodeSelector: Record<string, string>;
  peerImage: string;
  /** peer ID and key file bytes per ordinal */
  keys: ReadonlyArray<{ peerId: string; bytes: Uint8Array }>;
  /** 32 random bytes: the pods' API token is their hex, as the operator draws it */
  apiKey: Uint8Array;
  clusterDomain?: string;
}

/**
 * What differs from the operator: one template for every pod, so the keys Secret is mounted
 * whole and each pod picks `$(POD_NAME).key` (the downward API) instead of the operator's
 * per-pod items; the keys and the bootstrap list (every pod's DNS name with its peer ID, as the
 * operator writes it) exist before the pods, drawn by whoever applies it, never updated; no
 * NetworkPolicy, no owner reference, no status, no recreation of a drained peer.
 */
export function statefulSetObjects(
  o: StatefulSetBench,
): Array<V1StatefulSet | V1Service | V1Secret | V1ConfigMap> {
  const network: PeerNetwork = {
    metadata: { name: o.name, namespace: o.namespace, uid: 'none' },
    spec: parseSpec({
      replicas: o.replicas,
      topology: { mode: 'spread', spreadPolicy: 'Preferred', nodeSelector: o.nodeSelector },
    }),
  };
  const labels = selectorFor(o.name);
  const meta = (name: string) => ({ name, namespace: o.namespace, labels });
  const pod = desiredPod(network, 0, { peerImage: o.peerImage });
  const spec = { ...pod.spec! };
  delete spec.hostname;
  delete spec.subdomain;
  spec.volumes = spec.volumes!.map((v) =>
    v.name === 'keys'
      ? { name: 'keys', secret: { secretName: keysSecretName(o.name), defaultMode: 0o440 } }
      : v,
  );
  spec.containers = spec.containers.map((c) => ({
    ...c,
    args: c.args!.map((a, i, all) =>
      all[i - 1] === '--key-file' ? `${KEYS_MOUNT}/$(POD_NAME).key` : a,
    ),
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
  }));
  const ids = new Map(o.keys.map((k, i) => [`${o.name}-${i}`, k.peerId]));
  const addrs = bootstrapAddrs(
    network,
    desiredPeers(network),
    ids,
    o.clusterDomain ?? 'cluster.local',
  );
  const service = desiredService(network);
  const keyData: Record<string, string> = {};
  o.keys.forEach(
    (k, i) => (keyData[`${o.name}-${i}.key`] = Buffer.from(k.bytes).toString('base64')),
  );
  const tokenSecret = desiredApiTokenSecret(network, o.apiKey);
  return [
    { ...tokenSecret, metadata: meta(tokenSecret.metadata!.name!) },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: meta(keysSecretName(o.name)),
      data: keyData,
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(bootstrapConfigMapName(o.name)),
      data: { [BOOTSTRAP_FILE]: bootstrapText(addrs) },
    },
    { ...service, metadata: meta(serviceName(o.name)) },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: meta(o.name),
      spec: {
        replicas: o.replicas,
        serviceName: serviceName(o.name),
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec },
      },
    },
  ];
}
