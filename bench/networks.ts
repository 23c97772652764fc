// PeerNetworks as the cluster benchmarks create them: spread over the kwok nodes only.
import type { CustomObjectsApi } from '@kubernetes/client-node';

export const group = 'peernet.io';
export const version = 'v1alpha1';
export const plural = 'peernetworks';
export const kwokOnly = { 'peernet.io/node-kind': 'kwok' };

/** Creates PeerNetwork `namespace/name` of `replicas` pods spread over the kwok nodes. */
export async function createKwokNetwork(
  custom: CustomObjectsApi,
  namespace: string,
  name: string,
  replicas: number,
  spreadPolicy = 'Preferred',
): Promise<void> {
  await custom.createNamespacedCustomObject({
    group,
    version,
    plural,
    namespace,
    body: {
      apiVersion: `${group}/${version}`,
      kind: 'PeerNetwork',
      metadata: { name },
      spec: {
        replicas,
        topology: { mode: 'spread', spreadPolicy, nodeSelector: kwokOnly },
      },
    },
  });
}
