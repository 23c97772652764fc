// Getting the run's cluster, without jest's globals (the global setup imports this too).
import { randomBytes } from 'node:crypto';
import {
  attachCluster,
  startCluster,
  type Cluster,
  type ClusterOptionsInput,
} from '../../cluster/index.js';

/** Where the shared cluster lives; set by the global setup for the workers, or by a developer to reuse one. */
export const clusterDirEnv = 'PEERNET_CLUSTER_DIR';

/** Attaches to the run's cluster, or starts one (owned: stopped by the caller). */
export async function acquireCluster(
  options: ClusterOptionsInput = {},
  { own = false }: { own?: boolean } = {},
): Promise<{ cluster: Cluster; owned: boolean }> {
  const dir = process.env[clusterDirEnv];
  if (!own && dir !== undefined && dir !== '') {
    const cluster = attachCluster(dir);
    const down = cluster.status().filter((c) => !c.running);
    if (down.length > 0) {
      throw new Error(
        `${clusterDirEnv}=${dir}: ${down.map((c) => c.name).join(', ')} not running (see ${down[0]?.logPath})`,
      );
    }
    return { cluster, owned: false };
  }
  const started = await startCluster(
    { dir: `.test-output/cluster-${process.pid}-${randomBytes(3).toString('hex')}`, ...options },
    { onProgress: (line) => process.stderr.write(`[cluster] ${line}\n`) },
  );
  killOnExit(started);
  return { cluster: started, owned: true };
}

/**
 * Last resort when the process ends without stopping its cluster (Ctrl-C, a crash): SIGKILL the
 * servers synchronously, so no orphan is left behind.
 */
export function killOnExit(cluster: Cluster): void {
  const kill = (): void => {
    for (const c of cluster.status()) {
      if (c.running && c.pid !== undefined) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  };
  process.once('exit', kill);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      kill();
      process.exit(130);
    });
  }
}
