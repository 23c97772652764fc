// The kinds the operator touches and their REST paths (a fixed table: no discovery needed).
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const RESOURCES = {
  Pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  Secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  Service: { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  PersistentVolumeClaim: {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
  },
  Event: { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  Node: { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  PodDisruptionBudget: {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    namespaced: true,
  },
  NetworkPolicy: {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    namespaced: true,
  },
  Lease: {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    plural: 'leases',
    namespaced: true,
  },
  PeerNetwork: {
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    plural: 'peernetworks',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

export type KindName = keyof typeof RESOURCES;

export function resourceFor(
  apiVersion: string | undefined,
  kind: string | undefined,
): ResourceType {
  const r = Object.values(RESOURCES).find((x) => x.apiVersion === apiVersion && x.kind === kind);
  if (!r) throw new Error(`peernet-operator does not manage ${apiVersion}/${kind}`);
  return r;
}

export function resourcePath(
  r: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const n = name ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${base}${ns}/${r.plural}${n}${sub}`;
}
