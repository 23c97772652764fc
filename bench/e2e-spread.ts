// e2e-spread (also e2e-real): the whole stack at 30 peers, as users run it, beside a plain
// StatefulSet of the same pods. A private local control plane with real nodes (kubelet +
// containerd running the images built from our Dockerfiles; root needed), the operator installed
// with `helm install` of charts/peernet-operator. Each round applies a spread PeerNetwork
// (Preferred, pinned to the real nodes) and, after deleting it, a StatefulSet of the same pods
// (bench/statefulset.ts; the order alternates by round), and times each: apply -> every pod
// Ready, apply -> every peer DHT-ready (asked of the peers), each pod's start (watched: first
// seen -> Ready), then PUT/GET through the peers' HTTP APIs on their pod addresses, each GET from
// a peer on another node. Figures are printed, never asserted.
// Long: one benchmark, its phases in the order they run and print.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { V1Secret } from '@kubernetes/client-node';
import { nodeKindLabel, type Cluster } from '../cluster/index.js';
import { apiTokenOf } from '../operator/pods/children.js';
import { apiTokenSecretName, selectorString } from '../operator/pods/names.js';
import { peerApiUrl } from '../operator/status/view.js';
import { createPeerApiClient, type PeerApiClient } from '../peer/api/client.js';
import { generateIdentity } from '../common/identity.js';
import type { BenchContext, Benchmark } from './benchmark.js';
import { machineCpu, millicores, podUsage, type PodUsage } from './kubelet-stats.js';
import { startBenchCluster, watchPods, type SeenPod } from './real-cluster.js';
import { statefulSetObjects } from './statefulset.js';
import { mapLimit, mean, percentile, table } from './stats.js';

const usage = `  --peers N          pods of each side, one peer each (default 30)
  --nodes N          real nodes (default 3)
  --rounds N         network then StatefulSet, alternating which goes first (default 1)
  --ops N            PUTs, then as many GETs from a peer on another node (default 200)
  --concurrency N    operations in flight (default 4)
  --timeout S        give up waiting for DHT-ready after this (default 600)
  --rest S           after DHT-ready, rest this long and read the pods' CPU and memory from
                     the kubelets before the PUTs, at rest over its second half (default 60;
                     0: no rest)`;

const NS = 'default';
const OPERATOR_NS = 'peernet-system';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function timed(fn: () => Promise<boolean>): Promise<{ ms: number; ok: boolean }> {
  const t = performance.now();
  const ok = await fn().catch(() => false);
  return { ms: performance.now() - t, ok };
}

interface SideResult {
  label: string;
  podsReadyMs?: number;
  dhtReadyMs?: number;
  phaseReadyMs?: number;
  startLatencies: number[];
  /** per pod, ms from first seen to: bound to a node, containers running, started, Ready */
  stages: Record<Stage, number[]>;
  /** Warning events of the side's pods, by reason (FailedMount, Unhealthy, ...) */
  warnings: Map<string, number>;
  /** the machine's CPU from apply until DHT-ready, core-seconds, and that window */
  machineBusyS?: number;
  windowS?: number;
  /** the kubelets' figures (bench/kubelet-stats.ts) */
  kubelet?: KubeletFigures;
  /** pods never Ready within --timeout (their start latency is not in startLatencies) */
  notReady: number;
  restarts: number;
  /** gave up at --timeout: what it reached is printed, PUT/GET skipped */
  timedOut: boolean;
  perNode: Map<string, number>;
  puts: Array<{ ms: number; ok: boolean }>;
  gets: Array<{ ms: number; ok: boolean }>;
}

type Stage = 'scheduled' | 'running' | 'started' | 'ready';
const STAGES: Array<[Stage, string]> = [
  ['scheduled', 'bound to a node'],
  ['running', 'containers running'],
  ['started', 'startup probe passed'],
  ['ready', 'Ready'],
];

interface KubeletFigures {
  /** CPU the side's pods used from their start until the kubelets' reading after DHT-ready, s */
  podsStartCpuS: number;
  /** the operator's CPU from before the apply to that reading, s, and the window it covers */
  operatorStartCpuS: number;
  operatorWindowS: number;
  /** at rest (the second half of --rest): millicores per pod, and the operator's */
  restPodMillicores: number[];
  restOperatorMillicores: number;
  /** working set per pod at the end of the rest, MiB */
  workingSetMiB: number[];
}

interface Side {
  label: string;
  selector: string;
  manifest: () => Promise<string>;
  /** The PeerNetwork's phase Ready, for the network side. */
  phaseReady?: () => Promise<boolean>;
  /** The API token the pods' writes need (read once the pods are up). */
  token: () => Promise<string>;
  remove: string[];
}

/** The peer API of a pod (one peer a pod on both sides: container peer-0). */
const clientOf = (p: SeenPod, o: { token?: string; timeoutMs: number }): PeerApiClient =>
  createPeerApiClient({
    baseUrl: peerApiUrl({ ip: p.ip ?? '', container: 'peer-0' }) ?? 'http://missing-ip:5001',
    timeoutMs: o.timeoutMs,
    ...(o.token !== undefined ? { token: o.token } : {}),
  });

/** The peer says it is ready and knows another peer. */
async function dhtReady(p: SeenPod): Promise<boolean> {
  if (p.ip === undefined) return false;
  const st = await clientOf(p, { timeoutMs: 2000 })
    .status()
    .catch(() => undefined);
  return st?.ready === true && st.routingTable > 0;
}

const operatorUsage = (all: Map<string, PodUsage>): PodUsage | undefined =>
  [...all.values()].find((u) => u.namespace === OPERATOR_NS);

/** Warning events about the given pods, counted by reason. */
async function warningsOf(cluster: Cluster, uids: Set<string>): Promise<Map<string, number>> {
  const r = await cluster.kubectl([
    'get',
    'events',
    '-n',
    NS,
    '--field-selector',
    'type=Warning',
    '-o',
    'json',
  ]);
  const out = new Map<string, number>();
  if (r.code !== 0) return out;
  const { items } = JSON.parse(r.stdout) as {
    items: Array<{ reason?: string; count?: number; involvedObject?: { uid?: string } }>;
  };
  for (const ev of items) {
    if (!uids.has(ev.involvedObject?.uid ?? '')) continue;
    const reason = ev.reason ?? '?';
    out.set(reason, (out.get(reason) ?? 0) + (ev.count ?? 1));
  }
  return out;
}

/**
 * The kubelets' figures: their first reading after DHT-ready gives the CPU of the start (the
 * pods' own since they started; the operator's since before the apply), then the network rests
 * and a second reading gives millicores at rest and the working set.
 */
async function restFigures(
  cluster: Cluster,
  ctx: BenchContext,
  ps: SeenPod[],
  operatorBefore: PodUsage,
  o: { nodes: string[]; restS: number },
): Promise<KubeletFigures | undefined> {
  const names = new Set(ps.map((p) => `${NS}/${p.name}`));
  const mine = (all: Map<string, PodUsage>): Map<string, PodUsage> =>
    new Map([...all].filter(([k]) => names.has(k)));
  const first = await podUsage(cluster, o.nodes);
  // the first half of the rest still carries the end of the tables' filling: rates are taken
  // over the second half
  ctx.progress(`  resting ${o.restS}s; the kubelets' stats again after half of it and at the end`);
  await sleep((o.restS * 1000) / 2);
  const half = await podUsage(cluster, o.nodes);
  await sleep((o.restS * 1000) / 2);
  const second = await podUsage(cluster, o.nodes);
  const op0 = operatorUsage(first);
  const op1 = operatorUsage(half);
  const op2 = operatorUsage(second);
  if (op0 === undefined || op1 === undefined || op2 === undefined) return undefined;
  const pods0 = mine(first);
  const pods1 = mine(half);
  const pods2 = mine(second);
  return {
    podsStartCpuS: [...pods0.values()].reduce((n, u) => n + u.cpuNs / 1e9, 0),
    operatorStartCpuS: (op0.cpuNs - operatorBefore.cpuNs) / 1e9,
    operatorWindowS: (op0.cpuAt - operatorBefore.cpuAt) / 1000,
    restPodMillicores: [...pods2].flatMap(([k, u]) => {
      const before = pods1.get(k);
      const m = before ? millicores(before, u) : NaN;
      return Number.isNaN(m) ? [] : [m];
    }),
    restOperatorMillicores: millicores(op1, op2),
    workingSetMiB: [...pods2.values()].map((u) => u.workingSet / 2 ** 20),
  };
}

// Long: one round's measurements in the order they are taken.
async function measure(
  side: Side,
  cluster: Cluster,
  ctx: BenchContext,
  o: {
    peers: number;
    ops: number;
    concurrency: number;
    timeoutS: number;
    restS: number;
    nodes: string[];
  },
): Promise<SideResult> {
  const manifest = await side.manifest();
  const watch = await watchPods(cluster.kubeConfig(), NS, side.selector);
  const result: SideResult = {
    label: side.label,
    startLatencies: [],
    stages: { scheduled: [], running: [], started: [], ready: [] },
    warnings: new Map(),
    notReady: 0,
    restarts: 0,
    timedOut: false,
    perNode: new Map(),
    puts: [],
    gets: [],
  };
  try {
    const operatorBefore = operatorUsage(await podUsage(cluster, o.nodes));
    const cpu0 = await machineCpu();
    ctx.progress(`${side.label}: kubectl apply of ${o.peers} pods`);
    const t0 = performance.now();
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifest });
    if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
    const deadline = Date.now() + o.timeoutS * 1000;
    for (;;) {
      if (ctx.signal.aborted) throw new Error('interrupted');
      const live = [...watch.pods.values()].filter((p) => p.gone !== true);
      const ready = live.filter((p) => p.ready !== undefined);
      if (result.podsReadyMs === undefined && ready.length === o.peers)
        result.podsReadyMs = Math.max(...ready.map((p) => p.ready!)) - t0;
      if (side.phaseReady && result.phaseReadyMs === undefined && (await side.phaseReady()))
        result.phaseReadyMs = performance.now() - t0;
      const dht = (await Promise.all(live.map(dhtReady))).filter(Boolean).length;
      if (result.dhtReadyMs === undefined && dht === o.peers && live.length === o.peers)
        result.dhtReadyMs = performance.now() - t0;
      ctx.progress(
        `  ${((performance.now() - t0) / 1000).toFixed(1)}s ${side.label}: pods ${live.length}, Ready ${ready.length}/${o.peers}, DHT-ready ${dht}`,
      );
      if (
        result.dhtReadyMs !== undefined &&
        result.podsReadyMs !== undefined &&
        (side.phaseReady === undefined || result.phaseReadyMs !== undefined)
      )
        break;
      if (Date.now() > deadline) {
        result.timedOut = true;
        break;
      }
      await sleep(500);
    }
    const cpu1 = await machineCpu();
    result.machineBusyS = cpu1.busy - cpu0.busy;
    result.windowS = (performance.now() - t0) / 1000;
    const ps = [...watch.pods.values()].filter((p) => p.gone !== true);
    result.startLatencies = ps.filter((p) => p.ready !== undefined).map((p) => p.ready! - p.seen);
    for (const [stage] of STAGES)
      result.stages[stage] = ps.flatMap((p) => (p[stage] === undefined ? [] : [p[stage] - p.seen]));
    result.warnings = await warningsOf(cluster, new Set(ps.map((p) => p.uid)));
    if (!result.timedOut && o.restS > 0 && operatorBefore !== undefined)
      result.kubelet = await restFigures(cluster, ctx, ps, operatorBefore, o);
    result.notReady = ps.filter((p) => p.ready === undefined).length;
    result.restarts = ps.reduce((n, p) => n + p.restarts, 0);
    for (const p of ps)
      result.perNode.set(p.node ?? '?', (result.perNode.get(p.node ?? '?') ?? 0) + 1);

    if (result.timedOut) {
      ctx.progress(`${side.label}: gave up after ${o.timeoutS}s; no PUT/GET`);
      return result;
    }
    ctx.progress(`${side.label}: ${o.ops} PUTs then ${o.ops} GETs from a peer on another node`);
    const token = await side.token();
    const keys = Array.from({ length: o.ops }, (_, i) => ({
      key: `bench-${i}-${randomBytes(4).toString('hex')}`,
      writer: ps[i % ps.length]!,
    }));
    result.puts = await mapLimit(keys, o.concurrency, ({ key, writer }) =>
      timed(async () =>
        clientOf(writer, { token, timeoutMs: 10_000 })
          .put(key, `value of ${key}`)
          .then(() => true),
      ),
    );
    result.gets = await mapLimit(keys, o.concurrency, ({ key, writer }, i) => {
      const others = ps.filter((p) => p.node !== writer.node);
      const reader = others[i % others.length] ?? writer;
      return timed(async () => {
        const got = await clientOf(reader, { timeoutMs: 10_000 }).get(key);
        return got !== undefined && new TextDecoder().decode(got.value) === `value of ${key}`;
      });
    });
    return result;
  } finally {
    // Deleted before the other side starts, so the two never share the machine's cores.
    ctx.progress(`${side.label}: deleting, waiting until its pods are gone`);
    await cluster.kubectl(['delete', '--wait=true', '--ignore-not-found', ...side.remove]);
    await cluster.kubectl([
      'wait',
      '--for=delete',
      'pods',
      '-l',
      side.selector,
      '-n',
      NS,
      '--timeout=180s',
    ]);
    watch.stop();
  }
}

function report(ctx: BenchContext, net: SideResult, sts: SideResult): void {
  const s = (ms: number | undefined): string => (ms === undefined ? '-' : (ms / 1000).toFixed(1));
  const ms = (x: number | undefined): string =>
    x === undefined || Number.isNaN(x) ? '-' : x.toFixed(0);
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || b === 0
      ? '-'
      : (a / b).toFixed(2);
  const okMs = (xs: Array<{ ms: number; ok: boolean }>): number[] =>
    xs.filter((x) => x.ok).map((x) => x.ms);
  const pct = (xs: Array<{ ms: number; ok: boolean }>): string =>
    `${((100 * xs.filter((x) => x.ok).length) / Math.max(1, xs.length)).toFixed(1)}%`;
  const rows: string[][] = [['measure', 'PeerNetwork', 'StatefulSet', 'net/sts']];
  const add = (name: string, a: number | undefined, b: number | undefined, f: typeof s): void => {
    rows.push([name, f(a), f(b), ratio(a, b)]);
  };
  add('apply -> all pods Ready (s)', net.podsReadyMs, sts.podsReadyMs, s);
  add('apply -> every peer DHT-ready (s)', net.dhtReadyMs, sts.dhtReadyMs, s);
  rows.push(['apply -> PeerNetwork phase Ready (s)', s(net.phaseReadyMs), '', '']);
  for (const [stage, what] of STAGES)
    for (const p of [50, 99])
      add(
        `pod start, seen -> ${what} p${p} (ms)`,
        percentile(net.stages[stage], p),
        percentile(sts.stages[stage], p),
        ms,
      );
  const f1 = (x: number | undefined): string =>
    x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1);
  const busy = (r: SideResult): number | undefined =>
    r.machineBusyS === undefined || !r.windowS ? undefined : r.machineBusyS / r.windowS;
  add('machine cores busy, apply -> DHT-ready', busy(net), busy(sts), (x) => x?.toFixed(2) ?? '-');
  add('machine CPU, apply -> DHT-ready (core-s)', net.machineBusyS, sts.machineBusyS, f1);
  const kAdd = (name: string, get: (f: KubeletFigures) => number, f: typeof s): void =>
    add(name, net.kubelet && get(net.kubelet), sts.kubelet && get(sts.kubelet), f);
  kAdd("kubelet: the pods' CPU, start -> DHT-ready (core-s)", (x) => x.podsStartCpuS, f1);
  kAdd("kubelet: the operator's CPU meanwhile (core-s)", (x) => x.operatorStartCpuS, f1);
  kAdd('kubelet: ... over a window of (s)', (x) => x.operatorWindowS, f1);
  kAdd('kubelet: at rest, millicores per pod p50', (x) => percentile(x.restPodMillicores, 50), f1);
  kAdd('kubelet: at rest, millicores per pod mean', (x) => mean(x.restPodMillicores), f1);
  kAdd("kubelet: at rest, the operator's millicores", (x) => x.restOperatorMillicores, f1);
  kAdd('kubelet: working set per pod mean (MiB)', (x) => mean(x.workingSetMiB), f1);
  kAdd('kubelet: working set per pod max (MiB)', (x) => Math.max(...x.workingSetMiB), f1);
  const reasons = [...new Set([...net.warnings.keys(), ...sts.warnings.keys()])].sort();
  for (const r of reasons)
    rows.push([
      `Warning events: ${r}`,
      String(net.warnings.get(r) ?? 0),
      String(sts.warnings.get(r) ?? 0),
      '',
    ]);
  for (const [op, k] of [
    ['PUT', 'puts'],
    ['GET other node', 'gets'],
  ] as const) {
    for (const p of [50, 99])
      add(`${op} p${p} (ms)`, percentile(okMs(net[k]), p), percentile(okMs(sts[k]), p), ms);
    rows.push([`${op} success`, pct(net[k]), pct(sts[k]), '']);
  }
  rows.push([
    'pods never Ready (within --timeout)',
    String(net.notReady),
    String(sts.notReady),
    '',
  ]);
  rows.push(['container restarts', String(net.restarts), String(sts.restarts), '']);
  rows.push(['gave up at --timeout', net.timedOut ? 'yes' : 'no', sts.timedOut ? 'yes' : 'no', '']);
  const nodes = (r: SideResult): string =>
    [...r.perNode.entries()].map(([n, c]) => `${n}:${c}`).join(' ');
  rows.push(['pods per node', nodes(net), nodes(sts), '']);
  for (const line of table(rows)) ctx.print(`  ${line}`);
}

// Long: the benchmark's rounds in the order they run and print.
async function run(args: string[], ctx: BenchContext): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      peers: { type: 'string', default: '30' },
      nodes: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '1' },
      ops: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '4' },
      timeout: { type: 'string', default: '600' },
      rest: { type: 'string', default: '60' },
    },
  });
  const peers = Number(values.peers);
  const nodeCount = Number(values.nodes);
  const o = {
    peers,
    ops: Number(values.ops),
    concurrency: Number(values.concurrency),
    timeoutS: Number(values.timeout),
    restS: Number(values.rest),
    nodes: [] as string[],
  };
  if (process.getuid?.() !== 0) {
    ctx.print('e2e-spread: skipped, real nodes need root');
    return;
  }
  let cluster: Cluster | undefined;
  try {
    const started = await startBenchCluster('e2e-spread', '.test-output/bench-e2e', nodeCount, ctx);
    const { images } = started;
    const c = started.cluster;
    cluster = c;
    o.nodes = [...c.realNodes];
    const nodeSelector = { [nodeKindLabel]: 'real' };
    const network: Side = {
      label: 'PeerNetwork',
      selector: selectorString('bench'),
      manifest: () =>
        Promise.resolve(`apiVersion: peernet.io/v1alpha1
kind: PeerNetwork
metadata: {name: bench, namespace: ${NS}}
spec:
  replicas: ${peers}
  topology:
    mode: spread
    spreadPolicy: Preferred
    nodeSelector: {${nodeKindLabel}: real}
`),
      phaseReady: async () => {
        const r = await c.kubectl(['get', 'peernetwork', 'bench', '-n', NS, '-o', 'json']);
        if (r.code !== 0) return false;
        return (JSON.parse(r.stdout) as { status?: { phase?: string } }).status?.phase === 'Ready';
      },
      token: async () => {
        const name = apiTokenSecretName('bench');
        const r = await c.kubectl(['get', 'secret', name, '-n', NS, '-o', 'json']);
        const token = apiTokenOf(r.code === 0 ? (JSON.parse(r.stdout) as V1Secret) : undefined);
        if (token === undefined) throw new Error(`no API token in Secret ${name}`);
        return token;
      },
      remove: ['-n', NS, 'peernetwork', 'bench'],
    };
    const stsApiKey = randomBytes(32);
    const sts: Side = {
      label: 'StatefulSet',
      token: () => Promise.resolve(stsApiKey.toString('hex')),
      selector: selectorString('bench-sts'),
      manifest: async () => {
        // What `peernet-peer keygen` does, drawn before the apply (not timed).
        const keys = await Promise.all(Array.from({ length: peers }, () => generateIdentity()));
        const items = statefulSetObjects({
          apiKey: stsApiKey,
          name: 'bench-sts',
          namespace: NS,
          replicas: peers,
          nodeSelector,
          peerImage: images.peer.ref,
          keys,
        });
        return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
      },
      remove: ['-n', NS, 'statefulset,service,secret,configmap', '-l', selectorString('bench-sts')],
    };
    const rounds = Math.max(1, Number(values.rounds));
    for (let r = 1; r <= rounds; r++) {
      const order = r % 2 === 1 ? [network, sts] : [sts, network];
      ctx.progress(`e2e-spread: round ${r}/${rounds}: ${order.map((s) => s.label).join(' then ')}`);
      const results = new Map<string, SideResult>();
      for (const side of order) results.set(side.label, await measure(side, c, ctx, o));
      ctx.print(
        `e2e-spread round ${r}/${rounds}: ${peers} peers a side (spread, Preferred) on ${nodeCount} real nodes; ${order.map((s) => s.label).join(' first, then ')} (the first deleted before the second); load average now ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      );
      report(ctx, results.get('PeerNetwork')!, results.get('StatefulSet')!);
    }
  } finally {
    ctx.progress('e2e-spread: cleaning up');
    await cluster?.stop().catch(() => undefined);
  }
}

const description =
  'a 30-peer spread PeerNetwork on real nodes (operator from its chart) beside a StatefulSet of the same pods: apply -> Ready, -> DHT-ready, pod start p50/p99, PUT/GET p50/p99';

export const e2eSpread: Benchmark = {
  name: 'e2e-spread',
  aliases: ['e2e-real'],
  description,
  usage,
  run,
};
