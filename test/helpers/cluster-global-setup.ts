// Jest globalSetup of the `cluster` and `e2e` projects: one control plane for the whole run.
// Reuses the cluster in PEERNET_CLUSTER_DIR when set; else starts one (a cold Go build first
// if the binaries are not cached: CI builds them before the tests) and stops it in teardown.
import { acquireCluster, clusterDirEnv } from './cluster-acquire.js';
import type { Cluster } from '../../cluster/index.js';

interface Shared {
  cluster?: Cluster;
  owned?: boolean;
  users?: number;
}
const key = Symbol.for('peernet.test.cluster');
type WithShared = typeof globalThis & { [key]?: Shared };

export default async function globalSetup(): Promise<void> {
  const g = globalThis as WithShared;
  const shared = (g[key] ??= {});
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
