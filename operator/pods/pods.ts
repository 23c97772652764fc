// Pure builders of the peer pods: no I/O, no clock, no randomness (ADR 0001 fixes the shape).
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { V1Affinity, V1Container, V1Pod, V1Service, V1Volume } from '@kubernetes/client-node';
import {
  DEFAULT_BASE_PORT,
  resolveTopology,
  type PeerNetwork,
  type ResolvedTopology,
} from '../api/schema.js';
import {
  ANNOTATION_SPEC_HASH,
  API_BASE_PORT,
  API_TOKEN_FILE,
  API_TOKEN_MOUNT,
  BOOTSTRAP_FILE,
  EXTERNAL_FILE,
  BOOTSTRAP_MOUNT,
  DATA_MOUNT,
  KEYS_MOUNT,
  LABEL_ORDINAL,
  P2P_BASE_PORT,
  SWARM_FILE,
  SWARM_MOUNT,
  bootstrapConfigMapName,
  containerName,
  dataClaimName,
  keyFileName,
  keysSecretName,
  labelsFor,
  ownerReference,
  peerName,
  podName,
  selectorFor,
  serviceName,
  swarmSecretName,
  apiTokenSecretName,
} from './names.js';

export const RUN_AS_USER = 10001;

export interface PodSettings {
  /** image used when spec.image is empty */
  peerImage: string;
  /**
   * spec.expose loadBalancer: the multiaddr prefix of each pod's load balancer address, by
   * ordinal (loadBalancerAddress), which its peers announce. A pod without one is not created.
   */
  loadBalancers?: ReadonlyMap<number, string>;
}

/** Stable JSON: object keys sorted, so equal objects hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function specHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * Placement per mode. sameNode requires every pod on the node of the others (a pod affinity on
 * the hostname that matches the network's own pods, so the first pod picks the node). colocated
 * networks live on one node too: their peers find each other with mDNS, which reaches the other
 * pods of the network only on the same node. spread keeps pods apart on the topology key.
 */
export function affinityFor(topology: ResolvedTopology, network: string): V1Affinity | undefined {
  const term = (topologyKey: string) => ({
    labelSelector: { matchLabels: selectorFor(network) },
    topologyKey,
  });
  switch (topology.mode) {
    case 'colocated':
    case 'sameNode':
      return {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [term('kubernetes.io/hostname')],
        },
      };
    case 'spread':
      return topology.spreadPolicy === 'Required'
        ? {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [term(topology.topologyKey)],
            },
          }
        : {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: term(topology.topologyKey) },
              ],
            },
          };
  }
}

/** The environment variable the kubelet fills with the node's IP (the downward API). */
export const HOST_IP_ENV = 'PEERNET_HOST_IP';

/**
 * How the network's peers are reached from outside: hostNetwork, hostPort, nodePort,
 * loadBalancer, or not at all.
 */
export function exposeType(
  network: PeerNetwork,
): 'hostNetwork' | 'hostPort' | 'nodePort' | 'loadBalancer' | undefined {
  const type = network.spec.expose?.type;
  return type === undefined || type === 'none' ? undefined : type;
}

/**
 * The port peer i of a pod listens on for libp2p: its exposed port with hostNetwork (the pod has
 * the node's network namespace, nothing maps ports), else P2P_BASE_PORT + i in the pod's own.
 */
export function listenPort(
  network: PeerNetwork,
  ordinal: number,
  i: number,
  topology: ResolvedTopology = resolveTopology(network.spec.topology),
): number {
  return exposeType(network) === 'hostNetwork'
    ? exposedPort(network, ordinal, i, topology)!
    : P2P_BASE_PORT + i;
}

/**
 * The port of peer i of pod `ordinal` on its node, with spec.expose hostNetwork, hostPort or
 * nodePort: basePort + ordinal x peersPerPod + i, the same across restarts. Undefined when the
 * network is not exposed on its nodes' ports.
 */
export function exposedPort(
  network: PeerNetwork,
  ordinal: number,
  i: number,
  topology: ResolvedTopology = resolveTopology(network.spec.topology),
): number | undefined {
  const type = exposeType(network);
  if (type === undefined || type === 'loadBalancer') return undefined;
  const base = network.spec.expose?.basePort ?? DEFAULT_BASE_PORT[type];
  return base + ordinal * topology.peersPerPod + i;
}

/**
 * The multiaddr prefix of a LoadBalancer Service's first ingress: /ip4/ or /ip6/ for an IP,
 * /dns/ for a hostname (cloud load balancers that hand out names). Undefined until it has one.
 */
export function loadBalancerAddress(service: V1Service | undefined): string | undefined {
  const ingress = service?.status?.loadBalancer?.ingress?.[0];
  if (ingress?.ip) return `/${isIPv6(ingress.ip) ? 'ip6' : 'ip4'}/${ingress.ip}`;
  if (ingress?.hostname) return `/dns/${ingress.hostname}`;
  return undefined;
}

/** The address peer i of a pod announces, with spec.expose; undefined when not exposed. */
export function announceAddress(
  network: PeerNetwork,
  ordinal: number,
  i: number,
  topology: ResolvedTopology,
  hostIp: string,
  loadBalancer: string | undefined,
): string | undefined {
  if (exposeType(network) === 'loadBalancer')
    return loadBalancer === undefined ? undefined : `${loadBalancer}/tcp/${P2P_BASE_PORT + i}`;
  const port = exposedPort(network, ordinal, i, topology);
  return port === undefined ? undefined : `/ip4/${hostIp}/tcp/${port}`;
}

export function peerArgs(
  network: PeerNetwork,
  peer: string,
  i: number,
  topology: ResolvedTopology,
  ordinal = 0,
  loadBalancer?: string,
): string[] {
  const args = [
    '--listen',
    `/ip4/0.0.0.0/tcp/${listenPort(network, ordinal, i, topology)}`,
    '--api',
    `0.0.0.0:${API_BASE_PORT + i}`,
    '--key-file',
    `${KEYS_MOUNT}/${keyFileName(peer)}`,
    '--bootstrap-file',
    `${BOOTSTRAP_MOUNT}/${BOOTSTRAP_FILE}`,
    '--network',
    network.spec.networkId ?? `${network.metadata.namespace}/${network.metadata.name}`,
    '--api-token-file',
    `${API_TOKEN_MOUNT}/${API_TOKEN_FILE}`,
  ];
  if (topology.mode === 'colocated') args.push('--mdns');
  if (network.spec.bootstrap !== undefined)
    args.push('--external-bootstrap-file', `${BOOTSTRAP_MOUNT}/${EXTERNAL_FILE}`);
  if (network.spec.privateNetwork) args.push('--swarm-key-file', `${SWARM_MOUNT}/${SWARM_FILE}`);
  // one volume per pod, a folder per peer (the peer makes it)
  if (network.spec.storage !== undefined)
    args.push('--data-dir', `${DATA_MOUNT}/${containerName(i)}`);
  // the kubelet expands $(VAR) in args from the container's environment
  const announce = announceAddress(
    network,
    ordinal,
    i,
    topology,
    `$(${HOST_IP_ENV})`,
    loadBalancer,
  );
  if (announce !== undefined) args.push('--announce', announce);
  return args;
}

function container(
  network: PeerNetwork,
  pod: string,
  ordinal: number,
  i: number,
  topology: ResolvedTopology,
  settings: PodSettings,
): V1Container {
  const peer = peerName(pod, i, topology.peersPerPod);
  const api = `api-${i}`;
  const { resources } = network.spec;
  const exposed = exposedPort(network, ordinal, i, topology);
  const hostPort = exposeType(network) === 'hostPort' ? exposed : undefined;
  return {
    name: containerName(i),
    image: network.spec.image ?? settings.peerImage,
    imagePullPolicy: network.spec.imagePullPolicy,
    args: peerArgs(network, peer, i, topology, ordinal, settings.loadBalancers?.get(ordinal)),
    ...(exposed !== undefined
      ? { env: [{ name: HOST_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }] }
      : {}),
    ports: [
      {
        name: `p2p-${i}`,
        containerPort: listenPort(network, ordinal, i, topology),
        protocol: 'TCP',
        ...(hostPort !== undefined ? { hostPort } : {}),
      },
      { name: api, containerPort: API_BASE_PORT + i, protocol: 'TCP' },
    ],
    resources: {
      requests: { cpu: resources.requests.cpu, memory: resources.requests.memory },
      limits: { cpu: resources.limits.cpu, memory: resources.limits.memory },
    },
    // Liveness waits for the startup probe, so a peer that starts slowly (many peers starting
    // at once on few cores, each under its CPU limit) is not killed and restarted in a loop; an
    // idle machine still sees it up in 2 s. A starved event loop may answer in seconds: the
    // timeouts allow 5 s before a probe counts as failed.
    startupProbe: {
      httpGet: { path: '/healthz', port: api },
      periodSeconds: 2,
      timeoutSeconds: 5,
      failureThreshold: 150,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: api },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: api },
      periodSeconds: 5,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: 'keys', mountPath: KEYS_MOUNT, readOnly: true },
      { name: 'bootstrap', mountPath: BOOTSTRAP_MOUNT, readOnly: true },
      { name: 'api-token', mountPath: API_TOKEN_MOUNT, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      ...(network.spec.privateNetwork
        ? [{ name: 'swarm', mountPath: SWARM_MOUNT, readOnly: true }]
        : []),
      ...(network.spec.storage !== undefined ? [{ name: 'data', mountPath: DATA_MOUNT }] : []),
    ],
  };
}

/**
 * The swarm key volume of a private network: the user's Secret (spec.swarmKeySecret), its key
 * mounted as swarm.key, or else the one the operator makes. The second keeps the shape it always
 * had, so pods made before swarmKeySecret existed keep their spec hash (no roll on upgrade).
 */
export function swarmVolume(network: PeerNetwork): V1Volume {
  const own = network.spec.swarmKeySecret;
  if (own === undefined) {
    return {
      name: 'swarm',
      secret: { secretName: swarmSecretName(network.metadata.name), defaultMode: 0o440 },
    };
  }
  return {
    name: 'swarm',
    secret: {
      secretName: own.name,
      items: [{ key: own.key, path: SWARM_FILE }],
      defaultMode: 0o440,
    },
  };
}

/** The desired pod of one ordinal, with the spec-hash annotation of everything in it. */
export function desiredPod(network: PeerNetwork, ordinal: number, settings: PodSettings): V1Pod {
  const topology = resolveTopology(network.spec.topology);
  const name = network.metadata.name;
  const pod = podName(name, ordinal);
  const peers = Array.from({ length: topology.peersPerPod }, (_, i) =>
    peerName(pod, i, topology.peersPerPod),
  );
  const volumes: V1Volume[] = [
    {
      name: 'keys',
      // only this pod's own keys, group-readable by the peer's group
      secret: {
        secretName: keysSecretName(name),
        items: peers.map((p) => ({ key: keyFileName(p), path: keyFileName(p) })),
        defaultMode: 0o440,
      },
    },
    { name: 'bootstrap', configMap: { name: bootstrapConfigMapName(name) } },
    // the network's API token: writes, drain and ping need it; peerctl in the pod finds it here
    {
      name: 'api-token',
      secret: { secretName: apiTokenSecretName(name), defaultMode: 0o440 },
    },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  if (network.spec.privateNetwork) volumes.push(swarmVolume(network));
  if (network.spec.storage !== undefined)
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: dataClaimName(pod) } });
  const spec: V1Pod['spec'] = {
    hostname: pod,
    subdomain: serviceName(name),
    containers: Array.from({ length: topology.peersPerPod }, (_, i) =>
      container(network, pod, ordinal, i, topology, settings),
    ),
    volumes,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      fsGroup: RUN_AS_USER,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  if (Object.keys(topology.nodeSelector).length > 0)
    spec.nodeSelector = { ...topology.nodeSelector };
  const affinity = affinityFor(topology, name);
  if (affinity) spec.affinity = affinity;
  if (exposeType(network) === 'hostNetwork') {
    // the node's network namespace; cluster DNS still resolves the bootstrap list's names
    spec.hostNetwork = true;
    spec.dnsPolicy = 'ClusterFirstWithHostNet';
  }
  if (network.spec.tolerations?.length)
    spec.tolerations = network.spec.tolerations.map((t) => ({ ...t }));
  const labels = { ...labelsFor(name), [LABEL_ORDINAL]: String(ordinal) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod,
      namespace: network.metadata.namespace,
      labels,
      annotations: { [ANNOTATION_SPEC_HASH]: specHash({ labels, spec }) },
      ownerReferences: [ownerReference(network.metadata)],
    },
    spec,
  };
}

/** One pod per ordinal 0..replicas-1. */
export function desiredPods(network: PeerNetwork, settings: PodSettings): V1Pod[] {
  return Array.from({ length: network.spec.replicas }, (_, o) => desiredPod(network, o, settings));
}

/** Every peer the network should have, in ordinal then container order. */
export interface DesiredPeer {
  name: string;
  pod: string;
  ordinal: number;
  container: string;
  index: number;
}

export function desiredPeers(network: PeerNetwork): DesiredPeer[] {
  const { peersPerPod } = resolveTopology(network.spec.topology);
  const out: DesiredPeer[] = [];
  for (let o = 0; o < network.spec.replicas; o++) {
    const pod = podName(network.metadata.name, o);
    for (let i = 0; i < peersPerPod; i++) {
      out.push({
        name: peerName(pod, i, peersPerPod),
        pod,
        ordinal: o,
        container: containerName(i),
        index: i,
      });
    }
  }
  return out;
}
