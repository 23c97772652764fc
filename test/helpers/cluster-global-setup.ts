// Jest globalSetup of the `cluster` and `e2e` projects: one control plane for the whole run.
// Reuses the cluster in PEERNET_CLUSTER_DIR when set; else starts one (a cold Go build first
// if the binaries are not cached: CI builds them before the tests) and stops it in teardown.
import { acquireCluster, clusterDirEnv, sharedCluster } from './cluster-acquire.js';

export default async function globalSetup(): Promise<void> {
  const shared = sharedCluster();
  shared.users = (shared.users ?? 0) + 1;
  // Both projects run in one jest process: the second finds the first's cluster.
  if (shared.cluster !== undefined) return;
  const started = Date.now();
  const { cluster, owned } = await acquireCluster();
  shared.cluster = cluster;
  shared.owned = owned;
  process.env[clusterDirEnv] = cluster.dir;
  process.stderr.write(
    `\n[cluster] ${owned ? 'started' : 'reusing'} ${cluster.dir} (${cluster.server}) in ${((Date.now() - started) / 1000).toFixed(1)}s\n`,
  );
}
