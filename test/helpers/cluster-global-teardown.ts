// Jest globalTeardown of the `cluster` and `e2e` projects: stops the run's cluster when the
// global setup started it and no other project still uses it.
import { clusterDirEnv, releaseCluster } from './cluster-acquire.js';
import type { Cluster } from '../../cluster/index.js';

interface Shared {
  cluster?: Cluster;
  owned?: boolean;
  users?: number;
}
const key = Symbol.for('peernet.test.cluster');
type WithShared = typeof globalThis & { [key]?: Shared };

export default async function globalTeardown(): Promise<void> {
  const shared = (globalThis as WithShared)[key];
  if (shared?.cluster === undefined) return;
  shared.users = (shared.users ?? 1) - 1;
  if (shared.users > 0) return;
  if (shared.owned === true) {
    await releaseCluster(shared.cluster);
    process.stderr.write(`[cluster] stopped ${shared.cluster.dir}\n`);
  }
  delete process.env[clusterDirEnv];
  shared.cluster = undefined;
}
