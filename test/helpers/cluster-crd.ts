import { fileURLToPath } from 'node:url';
import type { Cluster } from '../../cluster/index.js';

/** The repository's `crds/` folder (this module runs from `dist/test/helpers/`). */
export const crdDir = fileURLToPath(new URL('../../../crds', import.meta.url));

/** `kubectl apply -f crds/` and wait until the API server serves the PeerNetwork kind. */
export async function applyCrds(cluster: Cluster): Promise<void> {
  const apply = await cluster.kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    crdDir,
  ]);
  if (apply.code !== 0) throw new Error(`kubectl apply -f crds/ failed: ${apply.stderr}`);
  const wait = await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/peernetworks.peernet.io',
  ]);
  if (wait.code !== 0) throw new Error(`the PeerNetwork CRD was not established: ${wait.stderr}`);
}
