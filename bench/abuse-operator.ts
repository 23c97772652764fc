// The abuse benchmark's operator phase: does a network whose peers answer GET /v1/status a byte a
// second slow the reconciles of a healthy one? A private control plane with kwok nodes (cluster/)
// and the operator as a process, as cluster-scale runs them. kwok gives fake pods loopback IPs
// (ADR 0001/0002) and the operator asks each pod's peer at <podIP>:5001, so a server bound on
// each hostile pod's IP, port 5001, is what the operator talks to: it trickles its answer from the
// first byte and never finishes, so every call lasts until the operator's own deadline. The
// healthy network's pods have no process behind them (the calls are refused at once), as in
// cluster-scale. The healthy network is scaled low -> high -> low; each step is timed from the
// spec write to observedGeneration == generation with the pods and ready peers matching.
// Long: one benchmark, its phases in the order they run and print.
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { startCluster, type Cluster } from '../cluster/index.js';
import { API_BASE_PORT, LABEL_INSTANCE } from '../operator/pods/names.js';
import type { BenchContext } from './benchmark.js';
import { createKwokNetwork, group, plural, version } from './networks.js';
import { call, metricSum, repoRoot, startOperator, type OperatorProc } from './procs.js';

export interface OperatorPhaseOptions {
  rounds: number;
  /** hostile networks present in each hostile condition, ascending (e.g. [1, 4]) */
  hostile: number[];
  hostilePods: number;
  /** how often the owner of each hostile network edits its spec (0: never) */
  editEveryMs: number;
  /** the healthy network is scaled low -> high -> low */
  low: number;
  high: number;
  nodes: number;
  /**
   * kwok's pod range: not the default 127.200.0.0/16, so no other cluster's operator on this
   * machine ever reaches our trickling servers
   */
  podCidr: string;
  logDir: string;
}

export interface Condition {
  label: string;
  hostileNetworks: number;
  /** seconds of each timed step (NaN: timed out) */
  up: number[];
  down: number[];
  /** calls the hostile servers took while this condition was timed, and how long each lasted */
  hostileCalls: number;
  hostileHeldMs: number[];
  /** the operator's reconciles while timed: by result, and their mean duration */
  reconciles: Map<string, number>;
  reconcileMeanMs: number;
  load: number;
}

export interface OperatorPhaseResults {
  conditions: Condition[];
  error?: string;
}

const HEALTHY_NS = 'abuse-healthy';
const HOSTILE_NS = 'abuse-hostile';

interface Network {
  metadata?: { generation?: number };
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    readyPeers?: number;
    observedGeneration?: number;
    peers?: unknown[];
  };
}

/** The answer a hostile peer trickles: a status line, headers, and a body that never ends. */
const TRICKLED = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n{"routingTable":',
);

/** A server on ip:port that answers every connection one byte a second, from the first byte. */
class Trickler {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  /** connections taken, and how long each lasted (ms) once it closed */
  calls = 0;
  readonly held: number[] = [];

  constructor(onCall: () => void) {
    this.server = createServer((socket) => {
      this.calls++;
      onCall();
      const since = performance.now();
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.resume(); // the request, ignored
      let i = 0;
      const timer = setInterval(() => {
        const at = i++ % TRICKLED.length;
        socket.write(TRICKLED.subarray(at, at + 1));
      }, 1000);
      socket.once('close', () => {
        clearInterval(timer);
        this.sockets.delete(socket);
        this.held.push(performance.now() - since);
      });
    });
  }

  listen(ip: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, ip, () => resolve());
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

class Phase {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  constructor(
    readonly cluster: Cluster,
    readonly ctx: BenchContext,
  ) {
    const kc = cluster.kubeConfig();
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.ctx.signal.aborted) throw this.ctx.signal.reason as Error;
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}`);
      await sleep(100);
    }
  }

  async namespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } });
    await this.until(
      `namespace ${name}`,
      async () => {
        await this.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
        return true;
      },
      60_000,
    );
  }

  createNetwork(namespace: string, name: string, replicas: number): Promise<void> {
    return createKwokNetwork(this.custom, namespace, name, replicas);
  }

  getNetwork(namespace: string, name: string): Promise<Network> {
    return this.custom.getNamespacedCustomObject({
      group,
      version,
      plural,
      namespace,
      name,
    }) as Promise<Network>;
  }

  async pods(namespace: string, network: string): Promise<V1Pod[]> {
    return (
      await this.core.listNamespacedPod({
        namespace,
        labelSelector: `${LABEL_INSTANCE}=${network}`,
      })
    ).items;
  }

  /** observedGeneration caught up with `generation`, `n` peers ready, `n` pods not deleting. */
  async converged(namespace: string, name: string, n: number, generation: number) {
    const pn = await this.getNetwork(namespace, name);
    const s = pn.status;
    if ((s?.observedGeneration ?? 0) < generation) return false;
    if (s?.readyPeers !== n || s.peers?.length !== n) return false;
    const live = (await this.pods(namespace, name)).filter((p) => !p.metadata?.deletionTimestamp);
    return live.length === n;
  }

  /** A merge patch of the spec (no resourceVersion: it never conflicts with a status write). */
  async patchSpec(namespace: string, name: string, spec: Record<string, unknown>) {
    return (await this.custom.patchNamespacedCustomObject(
      { group, version, plural, namespace, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Network;
  }

  /** Writes spec.replicas = n; seconds until converged (NaN after `timeoutMs`). */
  async scale(namespace: string, name: string, n: number, timeoutMs = 120_000): Promise<number> {
    const t0 = performance.now();
    const written = await this.patchSpec(namespace, name, { replicas: n });
    const generation = written.metadata?.generation ?? 0;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.ctx.signal.aborted) throw this.ctx.signal.reason as Error;
      if (await this.converged(namespace, name, n, generation).catch(() => false))
        return (performance.now() - t0) / 1000;
      if (Date.now() > deadline) return NaN;
      await sleep(50);
    }
  }
}

/**
 * Until `signal` aborts, edits each of the first `n` hostile networks every `everyMs` (0: never):
 * spec.podDisruptionBudget.maxUnavailable 1 <-> 2, a new generation that changes no pod.
 * Resolves with the number of edits made.
 */
async function editLoop(
  b: Phase,
  n: number,
  everyMs: number,
  signal: AbortSignal,
): Promise<number> {
  if (everyMs === 0) return 0;
  let made = 0;
  for (let round = 0; !signal.aborted; round++) {
    for (let i = 0; i < n && !signal.aborted; i++) {
      const name = `hostile-${i}`;
      try {
        await b.patchSpec(HOSTILE_NS, name, {
          podDisruptionBudget: { maxUnavailable: 1 + (round % 2) },
        });
        made++;
      } catch {
        // the next round edits it
      }
    }
    await sleep(everyMs, undefined, { signal }).catch(() => {});
  }
  return made;
}

function reconcileCounts(before: string, after: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const result of ['success', 'deadline']) {
    const name = 'peernet_operator_reconcile_total';
    const d =
      metricSum(after, name, `result="${result}"`) - metricSum(before, name, `result="${result}"`);
    out.set(result, d);
  }
  const errors = (t: string): number => metricSum(t, 'peernet_operator_reconcile_errors_total');
  out.set('error', errors(after) - errors(before));
  return out;
}

function meanReconcileMs(before: string, after: string): number {
  const d = (name: string): number => metricSum(after, name) - metricSum(before, name);
  const n = d('peernet_operator_reconcile_duration_seconds_count');
  return n > 0 ? (1000 * d('peernet_operator_reconcile_duration_seconds_sum')) / n : NaN;
}

// Long: the phase's steps in order (cluster, operator, networks, the slow peer, the figures).
export async function runOperatorPhase(
  o: OperatorPhaseOptions,
  ctx: BenchContext,
  results: OperatorPhaseResults,
): Promise<void> {
  ctx.progress(`operator phase: a private control plane with ${o.nodes} kwok nodes`);
  const cluster = await startCluster(
    { dir: join(o.logDir, 'cluster'), nodes: o.nodes, podCidr: o.podCidr },
    { onProgress: (line) => ctx.progress(line) },
  );
  let operator: OperatorProc | undefined;
  const tricklers: Trickler[] = [];
  const boundIps = new Set<string>();
  let counting = false;
  let editing: AbortController | undefined;
  let edits: Promise<number> = Promise.resolve(0);
  let calls = 0;
  try {
    const crds = join(repoRoot, 'crds');
    const apply = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      crds,
    ]);
    if (apply.code !== 0) throw new Error(`kubectl apply -f crds/ failed: ${apply.stderr}`);
    const est = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/peernetworks.peernet.io',
    ]);
    if (est.code !== 0) throw new Error(`the PeerNetwork CRD was not established: ${est.stderr}`);
    const b = new Phase(cluster, ctx);
    mkdirSync(o.logDir, { recursive: true });
    operator = startOperator({
      kubeconfig: cluster.kubeconfigFor('peernet-operator'),
      logPath: join(o.logDir, 'operator.log'),
    });
    const op = operator;
    await b.until(
      'the operator to lead',
      async () => (await op.metrics()).includes('peernet_operator_leader 1'),
      120_000,
    );
    await b.until(
      "the operator's caches to sync",
      async () =>
        (await call(`http://127.0.0.1:${op.port()}/readyz`, 'GET', { timeoutMs: 5000 })).status ===
        200,
      120_000,
    );
    ctx.progress(`operator leading and synced (log: ${op.logPath})`);

    // the healthy network, through to Ready untimed: it warms the operator and the CRD's cache
    await b.namespace(HEALTHY_NS);
    await b.createNetwork(HEALTHY_NS, 'healthy', o.low);
    await b.until(
      'the healthy network to be Ready',
      async () => {
        const pn = await b.getNetwork(HEALTHY_NS, 'healthy');
        return pn.status?.phase === 'Ready' && pn.status.readyPeers === o.low;
      },
      120_000,
    );
    // and one untimed round of scaling
    await b.scale(HEALTHY_NS, 'healthy', o.high);
    await b.scale(HEALTHY_NS, 'healthy', o.low);

    const measure = async (label: string, hostileNetworks: number): Promise<Condition> => {
      const m0 = await op.metrics();
      calls = 0;
      const heldFrom = tricklers.map((t) => t.held.length);
      counting = true;
      const up: number[] = [];
      const down: number[] = [];
      for (let r = 0; r < o.rounds; r++) {
        up.push(await b.scale(HEALTHY_NS, 'healthy', o.high));
        down.push(await b.scale(HEALTHY_NS, 'healthy', o.low));
      }
      counting = false;
      const m1 = await op.metrics();
      const held = tricklers.flatMap((t, i) => t.held.slice(heldFrom[i]));
      const c: Condition = {
        label,
        hostileNetworks,
        up,
        down,
        hostileCalls: calls,
        hostileHeldMs: held,
        reconciles: reconcileCounts(m0, m1),
        reconcileMeanMs: meanReconcileMs(m0, m1),
        load: loadavg()[0] ?? NaN,
      };
      results.conditions.push(c);
      ctx.progress(
        `${label}: ${o.low}->${o.high} ${up.map((s) => s.toFixed(2)).join(', ')} s; ` +
          `${o.high}->${o.low} ${down.map((s) => s.toFixed(2)).join(', ')} s; hostile calls ${calls}`,
      );
      return c;
    };

    await measure('no hostile network', 0);

    if (o.hostile.length > 0) await b.namespace(HOSTILE_NS);
    let made = 0;
    for (const h of o.hostile) {
      for (; made < h; made++) await b.createNetwork(HOSTILE_NS, `hostile-${made}`, o.hostilePods);
      // bind a trickling server on every hostile pod's IP once kwok has given it one
      for (let i = 0; i < made; i++) {
        const name = `hostile-${i}`;
        let pods: V1Pod[] = [];
        await b.until(
          `${name}'s pods to have IPs`,
          async () => {
            pods = await b.pods(HOSTILE_NS, name);
            return pods.length === o.hostilePods && pods.every((p) => p.status?.podIP);
          },
          120_000,
        );
        for (const p of pods) {
          const ip = p.status!.podIP!;
          if (boundIps.has(ip)) continue;
          boundIps.add(ip);
          const t = new Trickler(() => {
            if (counting) calls++;
          });
          await t.listen(ip, API_BASE_PORT);
          tricklers.push(t);
        }
      }
      // A Ready network is reconciled again only on its 60 s resync, an edit of its spec or an
      // event of its pods: its owner edits it, so the operator keeps coming back to its peers.
      editing?.abort();
      editing = new AbortController();
      edits = editLoop(b, made, o.editEveryMs, editing.signal);
      ctx.progress(
        `${h} hostile network(s) of ${o.hostilePods} pods trickling` +
          (o.editEveryMs > 0 ? `, each edited every ${o.editEveryMs / 1000} s` : '') +
          '; settling 10 s',
      );
      await sleep(10_000, undefined, { signal: ctx.signal });
      const label =
        `${h} hostile network(s) x ${o.hostilePods} pods` +
        (o.editEveryMs > 0 ? `, edited every ${o.editEveryMs / 1000} s` : '');
      await measure(label, h);
    }
    editing?.abort();
    const editCount = await edits;
    if (o.hostile.length > 0)
      ctx.progress(`the hostile networks' spec was edited ${editCount} times`);

    if (o.hostile.length > 0) {
      for (const t of tricklers.splice(0)) await t.close();
      boundIps.clear();
      await cluster.kubectl(['delete', 'namespace', HOSTILE_NS, '--wait=true', '--timeout=300s']);
      ctx.progress('hostile networks deleted');
      await measure('no hostile network (again, after)', 0);
    }
  } catch (err) {
    results.error = (err as Error).message.split('\n')[0];
    throw err;
  } finally {
    editing?.abort();
    await edits;
    for (const t of tricklers) await t.close();
    await operator?.stop(15_000);
    await cluster.stop();
  }
}
