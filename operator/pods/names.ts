// Deterministic names and the contract labels of everything the operator creates.
import { API_VERSION, KIND, type ObjectMeta } from '../api/schema.js';

export const FIELD_MANAGER = 'peernet-operator';
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_ORDINAL = 'peernet.io/ordinal';
export const ANNOTATION_SPEC_HASH = 'peernet.io/spec-hash';
export const MANAGED_BY_SELECTOR = `${LABEL_MANAGED_BY}=${FIELD_MANAGER}`;

export const P2P_BASE_PORT = 4001;
export const API_BASE_PORT = 5001;
export const KEYS_MOUNT = '/var/run/peernet/keys';
export const SWARM_MOUNT = '/var/run/peernet/swarm';
/** peerctl looks for API_TOKEN_MOUNT/API_TOKEN_FILE by itself (peer/cli/peerctl.ts) */
export const API_TOKEN_MOUNT = '/var/run/peernet/api';
export const API_TOKEN_FILE = 'token';
export const BOOTSTRAP_MOUNT = '/etc/peernet/bootstrap';
export const BOOTSTRAP_FILE = 'bootstrap.txt';
/** spec.bootstrap.external, beside BOOTSTRAP_FILE in the bootstrap ConfigMap */
export const EXTERNAL_FILE = 'external.txt';
export const SWARM_FILE = 'swarm.key';
/** spec.storage: the pod's volume; peer i keeps its records in DATA_MOUNT/peer-<i> */
export const DATA_MOUNT = '/var/lib/peernet';

export const podName = (network: string, ordinal: number): string => `${network}-${ordinal}`;
export const serviceName = (network: string): string => `${network}-peers`;
export const keysSecretName = (network: string): string => `${network}-keys`;
/** spec.expose.type nodePort: the NodePort Service of one pod */
export const exposeServiceName = (pod: string): string => `${pod}-p2p`;
/** spec.storage: the PersistentVolumeClaim of one pod (kept across its restarts) */
export const dataClaimName = (pod: string): string => `${pod}-data`;
export const swarmSecretName = (network: string): string => `${network}-swarm`;
export const apiTokenSecretName = (network: string): string => `${network}-api-token`;
export const bootstrapConfigMapName = (network: string): string => `${network}-bootstrap`;
export const containerName = (i: number): string => `peer-${i}`;
/** `<pod>` with one peer per pod, else `<pod>-<i>` (ADR 0001). */
export const peerName = (pod: string, i: number, peersPerPod: number): string =>
  peersPerPod === 1 ? pod : `${pod}-${i}`;
export const keyFileName = (peer: string): string => `${peer}.key`;

export function labelsFor(network: string): Record<string, string> {
  return {
    [LABEL_NAME]: 'peernet',
    [LABEL_INSTANCE]: network,
    [LABEL_MANAGED_BY]: FIELD_MANAGER,
  };
}

/** The pods' selector (Service, affinity, scale subresource). */
export function selectorFor(network: string): Record<string, string> {
  return { [LABEL_NAME]: 'peernet', [LABEL_INSTANCE]: network };
}

export function selectorString(network: string): string {
  return Object.entries(selectorFor(network))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export function ownerReference(meta: Pick<ObjectMeta, 'name' | 'uid'>): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: meta.name,
    uid: meta.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The ordinal of a pod named `<network>-<n>`, or undefined for any other name. */
export function ordinalOf(network: string, pod: string): number | undefined {
  const prefix = `${network}-`;
  if (!pod.startsWith(prefix)) return undefined;
  const rest = pod.slice(prefix.length);
  if (!/^(0|[1-9][0-9]*)$/.test(rest)) return undefined;
  return Number(rest);
}
