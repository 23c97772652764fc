// Jest globalTeardown of the `cluster` and `e2e` projects: stops the run's cluster when the
// global setup started it and no other project still uses it.
import { clusterDirEnv, releaseCluster, sharedCluster } from './cluster-acquire.js';

export default async function globalTeardown(): Promise<void> {
  const shared = sharedCluster();
  if (shared.cluster === undefined) return;
  shared.users = (shared.users ?? 1) - 1;
  if (shared.users > 0) return;
  if (shared.owned === true) {
    await releaseCluster(shared.cluster);
    process.stderr.write(`[cluster] stopped ${shared.cluster.dir}\n`);
  }
  delete process.env[clusterDirEnv];
  shared.cluster = undefined;
}
