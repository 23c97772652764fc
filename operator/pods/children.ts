// Pure builders of the network's other children: bootstrap list, headless Service, bootstrap
// ConfigMap and the key Secrets (the keys themselves are made by the reconciler and passed in).
import type {
  V1ConfigMap,
  V1PersistentVolumeClaim,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { formatSwarmKey } from '../../common/identity.js';
import { resolveTopology, type PeerNetwork } from '../api/schema.js';
import {
  API_BASE_PORT,
  API_TOKEN_FILE,
  BOOTSTRAP_FILE,
  EXTERNAL_FILE,
  FIELD_MANAGER,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_ORDINAL,
  P2P_BASE_PORT,
  SWARM_FILE,
  bootstrapConfigMapName,
  dataClaimName,
  exposeServiceName,
  keysSecretName,
  labelsFor,
  ownerReference,
  podName,
  selectorFor,
  serviceName,
  swarmSecretName,
  apiTokenSecretName,
} from './names.js';
import { exposeType, exposedPort, listenPort, type DesiredPeer } from './pods.js';

/**
 * `/dns4/<pod>.<network>-peers.<namespace>.svc.<domain>/tcp/<port>/p2p/<peerId>` for every peer
 * whose ID is known, in ordinal order. Every desired peer is listed, ready or not, so the list
 * changes only when the network is scaled.
 */
export function bootstrapAddrs(
  network: PeerNetwork,
  peers: readonly DesiredPeer[],
  peerIds: ReadonlyMap<string, string>,
  clusterDomain: string,
): string[] {
  const svc = serviceName(network.metadata.name);
  const ns = network.metadata.namespace;
  const out: string[] = [];
  for (const p of peers) {
    const id = peerIds.get(p.name);
    if (id === undefined) continue;
    out.push(
      `/dns4/${p.pod}.${svc}.${ns}.svc.${clusterDomain}/tcp/${listenPort(network, p.ordinal, p.index)}/p2p/${id}`,
    );
  }
  return out;
}

function meta(network: PeerNetwork, name: string) {
  return {
    name,
    namespace: network.metadata.namespace,
    labels: labelsFor(network.metadata.name),
    ownerReferences: [ownerReference(network.metadata)],
  };
}

/** Headless, publishing not-ready addresses: each pod gets its DNS name before it is ready. */
export function desiredService(network: PeerNetwork): V1Service {
  const { peersPerPod } = resolveTopology(network.spec.topology);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(network, serviceName(network.metadata.name)),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorFor(network.metadata.name),
      ports: Array.from({ length: peersPerPod }, (_, i) => ({
        name: `p2p-${i}`,
        port: P2P_BASE_PORT + i,
        targetPort: P2P_BASE_PORT + i,
        protocol: 'TCP',
      })),
    },
  };
}

/**
 * spec.expose.type nodePort: one NodePort Service per pod, its node ports those the pod's peers
 * announce (exposedPort). loadBalancer: one LoadBalancer Service per pod, on the peers' own ports
 * (4001 + i), with the spec's class and annotations; the pod is made once it has an address
 * (write-pods.ts). externalTrafficPolicy Local either way: only the node that runs the pod
 * forwards to it (no second hop), and the peer sees its clients' addresses. Empty otherwise.
 */
export function desiredExposeServices(network: PeerNetwork): V1Service[] {
  const type = exposeType(network);
  if (type !== 'nodePort' && type !== 'loadBalancer') return [];
  const expose = network.spec.expose;
  const topology = resolveTopology(network.spec.topology);
  const name = network.metadata.name;
  return Array.from({ length: network.spec.replicas }, (_, ordinal) => {
    const annotations = type === 'loadBalancer' ? expose?.annotations : undefined;
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        ...meta(network, exposeServiceName(podName(name, ordinal))),
        ...(annotations !== undefined ? { annotations: { ...annotations } } : {}),
      },
      spec: {
        type: type === 'nodePort' ? 'NodePort' : 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        publishNotReadyAddresses: true,
        selector: { ...selectorFor(name), [LABEL_ORDINAL]: String(ordinal) },
        ...(type === 'loadBalancer' && expose?.loadBalancerClass !== undefined
          ? { loadBalancerClass: expose.loadBalancerClass }
          : {}),
        ports: Array.from({ length: topology.peersPerPod }, (_, i) => ({
          name: `p2p-${i}`,
          port: P2P_BASE_PORT + i,
          targetPort: P2P_BASE_PORT + i,
          ...(type === 'nodePort' ? { nodePort: exposedPort(network, ordinal, i, topology)! } : {}),
          protocol: 'TCP',
        })),
      },
    };
  });
}

/**
 * spec.storage: the claim of each pod. Owned by the network (deleted with it by the garbage
 * collector) only with retention.whenDeleted Delete; a retained claim is known by its labels, and
 * a network of the same name made again takes it over.
 */
export function desiredClaims(network: PeerNetwork): V1PersistentVolumeClaim[] {
  const storage = network.spec.storage;
  if (storage === undefined) return [];
  const name = network.metadata.name;
  return Array.from({ length: network.spec.replicas }, (_, ordinal) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: dataClaimName(podName(name, ordinal)),
      namespace: network.metadata.namespace,
      labels: { ...labelsFor(name), [LABEL_ORDINAL]: String(ordinal) },
      ...(storage.retention.whenDeleted === 'Delete'
        ? { ownerReferences: [ownerReference(network.metadata)] }
        : {}),
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      resources: { requests: { storage: storage.size } },
      ...(storage.storageClassName !== undefined
        ? { storageClassName: storage.storageClassName }
        : {}),
    },
  }));
}

/** Whether a claim is one this operator made for the network of this name (its labels). */
export function isClaimOf(
  network: string,
  claim: { metadata?: { labels?: Record<string, string> } },
): boolean {
  const l = claim.metadata?.labels ?? {};
  return l[LABEL_INSTANCE] === network && l[LABEL_MANAGED_BY] === FIELD_MANAGER;
}

export function bootstrapText(addrs: readonly string[]): string {
  return [
    '# peernet bootstrap list, maintained by peernet-operator: one multiaddr a line',
    ...addrs,
    '',
  ].join('\n');
}

/**
 * The network may meet peers outside it: its peers dial spec.bootstrap.external, or it shares a
 * networkId that other networks may use. Its libp2p ports are then open to any source.
 */
export function federates(network: PeerNetwork): boolean {
  return network.spec.networkId !== undefined || network.spec.bootstrap !== undefined;
}

export function desiredBootstrapConfigMap(
  network: PeerNetwork,
  addrs: readonly string[],
): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(network, bootstrapConfigMapName(network.metadata.name)),
    data: {
      [BOOTSTRAP_FILE]: bootstrapText(addrs),
      ...(federates(network)
        ? { [EXTERNAL_FILE]: bootstrapText(network.spec.bootstrap?.external ?? []) }
        : {}),
    },
  };
}

/** The keys Secret with base64 data (existing keys are passed back unchanged). */
export function desiredKeysSecret(
  network: PeerNetwork,
  data: Readonly<Record<string, string>>,
): V1Secret {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(data).sort()) sorted[k] = data[k]!;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: meta(network, keysSecretName(network.metadata.name)),
    data: sorted,
  };
}

/** A private network without spec.swarmKeySecret: the operator makes (and owns) its swarm key. */
export function makesSwarmSecret(network: PeerNetwork): boolean {
  return network.spec.privateNetwork && network.spec.swarmKeySecret === undefined;
}

/**
 * The swarm Secret of a private network without spec.swarmKeySecret: `swarm.key`, the standard
 * file (kubo and go-libp2p read it too) of `key`, 32 random bytes the reconciler draws once.
 */
export function desiredSwarmSecret(network: PeerNetwork, key: Uint8Array): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: meta(network, swarmSecretName(network.metadata.name)),
    data: { [SWARM_FILE]: Buffer.from(formatSwarmKey(key)).toString('base64') },
  };
}

/**
 * The network's API token Secret: `token`, the hex of `key` (32 random bytes the reconciler
 * draws once, and never replaces). Writes, drain and ping on the peers' APIs need it.
 */
export function desiredApiTokenSecret(network: PeerNetwork, key: Uint8Array): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: meta(network, apiTokenSecretName(network.metadata.name)),
    data: { [API_TOKEN_FILE]: Buffer.from(Buffer.from(key).toString('hex')).toString('base64') },
  };
}

/** The token in an API token Secret, or undefined when it has none. */
export function apiTokenOf(secret: V1Secret | undefined): string | undefined {
  const b64 = secret?.data?.[API_TOKEN_FILE];
  if (b64 === undefined) return undefined;
  const token = Buffer.from(b64, 'base64').toString('utf8').trim();
  return token === '' ? undefined : token;
}

/**
 * True when `actual` lacks something `desired` sets (labels, annotations, owner, the given
 * top-level fields). Fields the API server adds are ignored, so an unchanged child is never
 * written again.
 */
export function needsApply(
  desired: object,
  actual: object | undefined,
  fields: readonly string[],
): boolean {
  if (!actual) return true;
  type Meta = {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; controller?: boolean }[];
  };
  const d = desired as Record<string, unknown> & { metadata?: Meta };
  const a = actual as Record<string, unknown> & { metadata?: Meta };
  for (const [k, v] of Object.entries(d.metadata?.labels ?? {})) {
    if (a.metadata?.labels?.[k] !== v) return true;
  }
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (a.metadata?.annotations?.[k] !== v) return true;
  }
  const owner = d.metadata?.ownerReferences?.[0];
  if (owner && !a.metadata?.ownerReferences?.some((o) => o.uid === owner.uid && o.controller))
    return true;
  for (const f of fields) {
    if (!contains(a[f], d[f])) return true;
  }
  return false;
}

/** Does `actual` contain every value of `desired` (objects compared field by field)? */
export function contains(actual: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return false;
    return desired.every((d, i) => contains(actual[i], d));
  }
  if (desired !== null && typeof desired === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) =>
      v === undefined ? true : contains((actual as Record<string, unknown>)[k], v),
    );
  }
  return actual === desired;
}

export interface PodDisruptionBudget {
  apiVersion: 'policy/v1';
  kind: 'PodDisruptionBudget';
  metadata: ReturnType<typeof meta>;
  spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable: number };
}

export function desiredPodDisruptionBudget(network: PeerNetwork): PodDisruptionBudget | undefined {
  const pdb = network.spec.podDisruptionBudget;
  if (!pdb?.enabled) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(network, network.metadata.name),
    spec: {
      selector: { matchLabels: selectorFor(network.metadata.name) },
      maxUnavailable: pdb.maxUnavailable,
    },
  };
}

/** Where the API ports of the peers are reached from, and whether networks get a policy at all. */
export interface NetworkPolicySettings {
  /** a policy for networks whose spec.networkPolicy is not set (the operator's --network-policy) */
  byDefault: boolean;
  /** the operator's own pods, which ask the peers for their status and drain them */
  operator?: { namespace: string; podLabels: Readonly<Record<string, string>> };
  /** the metrics scraper (the peers serve /metrics on their API ports); empty labels: every pod */
  metrics?: { namespace: string; podLabels: Readonly<Record<string, string>> };
  /** addresses admitted to the API ports too (the control plane's pod proxy for kubectl peernet) */
  apiCidrs?: readonly string[];
}

export const MDNS_PORT = 5353;

type PolicyPeer =
  | { podSelector: { matchLabels: Record<string, string> } }
  | {
      namespaceSelector: { matchLabels: Record<string, string> };
      podSelector: { matchLabels?: Record<string, string> };
    }
  | { ipBlock: { cidr: string } };

export interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: ReturnType<typeof meta>;
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: ['Ingress'];
    ingress: { from?: PolicyPeer[]; ports: { protocol: 'TCP' | 'UDP'; port: number }[] }[];
  };
}

/** spec.networkPolicy.enabled when the spec says, else the operator's default. */
export const wantsNetworkPolicy = (network: PeerNetwork, byDefault: boolean): boolean =>
  network.spec.networkPolicy?.enabled ?? byDefault;

/** Pods of a namespace (by its immutable kubernetes.io/metadata.name label) with these labels. */
const podsIn = (namespace: string, labels: Readonly<Record<string, string>>): PolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  // an empty selector, not an empty matchLabels (which the API server would not store back)
  podSelector: Object.keys(labels).length > 0 ? { matchLabels: { ...labels } } : {},
});

/**
 * Ingress to the peer pods: the libp2p ports (and mDNS, with colocated) only from this network's
 * pods; the HTTP API ports (status, drain, records, /metrics) only from the operator's pods, the
 * metrics scraper and the CIDRs named in the settings. With none of those the API ports admit
 * nothing (the kubelet's probes come from the node, which NetworkPolicy implementations admit).
 */
export function desiredNetworkPolicy(
  network: PeerNetwork,
  settings: NetworkPolicySettings,
): NetworkPolicy | undefined {
  if (!wantsNetworkPolicy(network, settings.byDefault)) return undefined;
  const { mode, peersPerPod } = resolveTopology(network.spec.topology);
  const ports = (base: number) =>
    Array.from({ length: peersPerPod }, (_, i) => ({ protocol: 'TCP' as const, port: base + i }));
  const own = selectorFor(network.metadata.name);
  const ingress: NetworkPolicy['spec']['ingress'] = [
    {
      // a federated or exposed network's peers meet peers from other namespaces, clusters or
      // outside the cluster
      ...(federates(network) || exposeType(network) !== undefined
        ? {}
        : { from: [{ podSelector: { matchLabels: own } }] }),
      ports: [
        ...ports(P2P_BASE_PORT),
        ...(mode === 'colocated' ? [{ protocol: 'UDP' as const, port: MDNS_PORT }] : []),
      ],
    },
  ];
  const api: PolicyPeer[] = [];
  if (settings.operator) api.push(podsIn(settings.operator.namespace, settings.operator.podLabels));
  if (settings.metrics) api.push(podsIn(settings.metrics.namespace, settings.metrics.podLabels));
  for (const cidr of settings.apiCidrs ?? []) api.push({ ipBlock: { cidr } });
  if (api.length > 0) ingress.push({ from: api, ports: ports(API_BASE_PORT) });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(network, network.metadata.name),
    spec: { podSelector: { matchLabels: own }, policyTypes: ['Ingress'], ingress },
  };
}
