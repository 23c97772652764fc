// Jest harness for tests against the real local control plane.
//
// One control plane serves a whole jest run: the `cluster` and `e2e` projects' global setup
// (cluster-global-setup.ts) starts it, or reuses the one named by PEERNET_CLUSTER_DIR, and
// passes its folder to the test workers in PEERNET_CLUSTER_DIR. A test file calls
// `useCluster('name')` at the top: it attaches to that cluster (or starts its own when the
// file runs without the global setup), gets a namespace of its own, and deletes it after.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type Cluster, type ClusterOptionsInput, type KubectlResult } from '../../cluster/index.js';
import { acquireCluster, releaseCluster } from './cluster-acquire.js';

export { acquireCluster, clusterDirEnv, killOnExit, releaseCluster } from './cluster-acquire.js';

export interface TestCluster {
  readonly cluster: Cluster;
  /** This test file's namespace (created before the tests, deleted after). */
  readonly namespace: string;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  /** kubectl with the admin kubeconfig, `-n <namespace>` added. */
  kubectl(args: string[], options?: { input?: string }): Promise<KubectlResult>;
  /** Like kubectl, but throws with stderr when the exit code is not 0. */
  kubectlOk(args: string[], options?: { input?: string }): Promise<string>;
}

/**
 * For a test file: the shared cluster and a fresh namespace `<prefix>-<random>`. Read the
 * returned object's fields inside tests (they are set in beforeAll).
 */
export function useCluster(
  prefix: string,
  options: ClusterOptionsInput = {},
  /** own: a private cluster for this file (it restarts servers, or needs its own nodes). */
  how: { own?: boolean } = {},
): TestCluster {
  let cluster: Cluster | undefined;
  let owned = false;
  let kubeConfig: KubeConfig | undefined;
  let core: CoreV1Api | undefined;
  const namespace = `${prefix}-${randomBytes(3).toString('hex')}`;
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useCluster: the cluster is not up (beforeAll failed?)');
    return v;
  };
  const kubectl = async (args: string[], opts: { input?: string } = {}): Promise<KubectlResult> =>
    need(cluster).kubectl(['-n', namespace, ...args], opts);

  beforeAll(async () => {
    ({ cluster, owned } = await acquireCluster(options, how));
    kubeConfig = cluster.kubeConfig();
    core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({
      body: { metadata: { name: namespace, labels: { 'peernet.io/test': prefix } } },
    });
    // Pods are refused until the namespace's default ServiceAccount exists.
    await waitUntil(
      async () => {
        try {
          await need(core).readNamespacedServiceAccount({ name: 'default', namespace });
          return true;
        } catch {
          return false;
        }
      },
      60_000,
      `the default ServiceAccount of ${namespace}`,
    );
  }, 30 * 60_000);

  afterAll(async () => {
    if (cluster === undefined) return;
    if (owned) {
      await releaseCluster(cluster);
      return;
    }
    // The namespace controller deletes its content (kwok finishes the pods' deletion).
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
  }, 120_000);

  return {
    get cluster() {
      return need(cluster);
    },
    namespace,
    get kubeConfig() {
      return need(kubeConfig);
    },
    get core() {
      return need(core);
    },
    kubectl,
    async kubectlOk(args, opts) {
      const r = await kubectl(args, opts);
      if (r.code !== 0)
        throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    },
  };
}

/** A file's own cluster, once its beforeAll started it. */
export function needCluster(cluster: Cluster | undefined): Cluster {
  if (cluster === undefined) throw new Error('the cluster is not up (beforeAll failed?)');
  return cluster;
}

/** `kubectl ARGS` (admin, no namespace) on a cluster: its stdout; throws on a non-zero exit. */
export async function kubectlOkOn(
  cluster: Cluster,
  args: string[],
  input?: string,
): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Polls `check` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
