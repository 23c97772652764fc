// What the benchmarks on real nodes share: a private control plane with real nodes running the
// images built from the working tree and the operator installed from its chart, and a watch of
// pods that times when each appears and is Ready.
import { mkdirSync } from 'node:fs';
import { Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { buildImages, type BuiltImage } from '../cluster/images/index.js';
import { startCluster, type Cluster } from '../cluster/index.js';
import { installChart } from '../test/helpers/chart.js';
import type { BenchContext } from './benchmark.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the images (cached), starts a control plane under `dir` with `nodes` real nodes and no
 * kwok nodes, and installs the chart as release `peernet` in `peernet-system`. The caller stops
 * the cluster; a failed install stops it here.
 */
export async function startBenchCluster(
  bench: string,
  dir: string,
  nodes: number,
  ctx: BenchContext,
): Promise<{ cluster: Cluster; images: { peer: BuiltImage; operator: BuiltImage } }> {
  mkdirSync(dir, { recursive: true });
  ctx.progress(`${bench}: building the images (cached: seconds when unchanged)`);
  const images = await buildImages({ onProgress: (l) => ctx.progress(`  ${l}`) });
  ctx.progress(`${bench}: starting a control plane with ${nodes} real nodes`);
  const cluster = await startCluster(
    {
      dir: `${dir}/cluster`,
      nodes: 0,
      realNodes: nodes,
      images: [images.peer.archive, images.operator.archive],
    },
    { onProgress: (l) => ctx.progress(`  ${l}`) },
  );
  ctx.progress(`${bench}: helm install of charts/peernet-operator`);
  try {
    await installChart(cluster, {
      release: 'peernet',
      namespace: 'peernet-system',
      createNamespace: true,
      set: ['logLevel=info'],
    });
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  return { cluster, images };
}

export interface SeenPod {
  name: string;
  uid: string;
  /** performance.now() when the watch first saw it (its creation, give or take the watch) */
  seen: number;
  /** ... first saw it bound to a node */
  scheduled?: number;
  /** ... first saw every container running (what the pod start SLO of Kubernetes times) */
  running?: number;
  /** ... first saw every container started (the startup probe passed) */
  started?: number;
  ready?: number;
  ip?: string;
  node?: string;
  gone?: boolean;
  restarts: number;
}

/** Watches the pods of a selector from before the apply: when each appears, is Ready, goes (by uid). */
export async function watchPods(
  kc: KubeConfig,
  namespace: string,
  selector: string,
): Promise<{ pods: Map<string, SeenPod>; stop(): void }> {
  const pods = new Map<string, SeenPod>();
  let stopped = false;
  let ac: AbortController | undefined;
  const onEvent = (type: string, obj: V1Pod): void => {
    const name = obj.metadata?.name ?? '';
    // by uid: a pod made again under the same name is another pod
    const uid = obj.metadata?.uid ?? name;
    const now = performance.now();
    const p = pods.get(uid) ?? { name, uid, seen: now, restarts: 0 };
    pods.set(uid, p);
    p.ip = obj.status?.podIP ?? p.ip;
    p.node = obj.spec?.nodeName ?? p.node;
    if (p.node !== undefined) p.scheduled ??= now;
    const cs = obj.status?.containerStatuses ?? [];
    if (cs.length > 0 && cs.every((c) => c.state?.running !== undefined)) p.running ??= now;
    if (cs.length > 0 && cs.every((c) => c.started === true)) p.started ??= now;
    const ready = obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready === true) p.ready ??= now;
    p.restarts = Math.max(p.restarts, ...cs.map((c) => c.restartCount));
    if (type === 'DELETED') p.gone = true;
  };
  const start = async (): Promise<void> => {
    if (stopped) return;
    ac = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: selector },
      onEvent,
      () => void sleep(200).then(start),
    );
  };
  await start();
  return {
    pods,
    stop: () => {
      stopped = true;
      ac?.abort();
    },
  };
}
