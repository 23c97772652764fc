// Getting the run's cluster, without jest's globals (the global setup imports this too).
import { randomBytes } from 'node:crypto';
import {
  attachCluster,
  startCluster,
  type Cluster,
  type ClusterOptionsInput,
} from '../../cluster/index.js';
import { buildImages } from '../../cluster/images/index.js';

/** Real nodes of the run's shared cluster. */
export const SHARED_REAL_NODES = 3;

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
  const progress = (line: string): void => void process.stderr.write(`[cluster] ${line}\n`);
  // The run's shared cluster has real nodes running the images built from our Dockerfiles
  // (cached: seconds when unchanged); a file's own cluster says what it needs.
  const shared = !own && options.realNodes === undefined;
  const images = shared ? await buildImages({ onProgress: progress }) : undefined;
  const started = await startCluster(
    {
      dir: `.test-output/cluster-${process.pid}-${randomBytes(3).toString('hex')}`,
      ...(images !== undefined
        ? { realNodes: SHARED_REAL_NODES, images: [images.peer.archive, images.operator.archive] }
        : {}),
      ...options,
    },
    { onProgress: progress },
  );
  killOnExit(started);
  return { cluster: started, owned: true };
}

/** Clusters this process started and has not stopped yet (killed on an abnormal exit). */
const started = new Set<Cluster>();
let handlersInstalled = false;

/**
 * Last resort when the process ends without stopping its clusters (Ctrl-C, a crash, SIGTERM):
 * SIGKILL their servers synchronously, so no orphan is left behind. One handler for all.
 */
export function killOnExit(cluster: Cluster): void {
  started.add(cluster);
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = (): void => {
    for (const c of started) c.killNow();
    started.clear();
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Stops a cluster this process started and forgets it. */
export async function releaseCluster(cluster: Cluster): Promise<void> {
  // The servers' logs stay in .test-output/ for whoever reads a failed run.
  await cluster.stop({ keepLogs: true });
  started.delete(cluster);
}

/** What jest's global setup and teardown share across the `cluster` and `e2e` projects. */
export interface SharedCluster {
  cluster?: Cluster;
  owned?: boolean;
  users?: number;
}
const sharedKey = Symbol.for('peernet.test.cluster');

/** The one SharedCluster of this jest process (setup and teardown run in the same process). */
export function sharedCluster(): SharedCluster {
  const g = globalThis as typeof globalThis & { [sharedKey]?: SharedCluster };
  return (g[sharedKey] ??= {});
}
