// durability: what spec.storage costs and buys, on real nodes with the operator from its chart. Two
// spread PeerNetworks of the same size, one with a volume per pod (local-path-provisioner), one
// without, run one after the other. Each: apply -> every pod Ready (the first start, volume
// provisioning included), PUT --records records, scale to 0 and back, then scale-up -> every pod
// Ready and -> every record readable (or, without storage, how many are). With several record
// counts the records are added to (1,000 then 10,000 in all) and the scale cycle repeated.
// Figures are printed, never asserted.
// Long: one benchmark, its phases in the order they run and print.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { V1Secret } from '@kubernetes/client-node';
import { nodeKindLabel, type Cluster } from '../cluster/index.js';
import { apiTokenOf } from '../operator/pods/children.js';
import { apiTokenSecretName, selectorString } from '../operator/pods/names.js';
import { peerApiUrl } from '../operator/status/view.js';
import { createPeerApiClient, type PeerApiClient } from '../peer/api/client.js';
import type { BenchContext, Benchmark } from './benchmark.js';
import { startBenchCluster, watchPods, type SeenPod } from './real-cluster.js';
import { mapLimit, percentile, table } from './stats.js';

const usage = `  --peers N          pods of each network, one peer each (default 3)
  --nodes N          real nodes (default 3)
  --records N,N      record counts in all, one scale cycle each (default 1000,10000)
  --concurrency N    PUTs and GETs in flight (default 8)
  --settle S         without storage: stop reading this long after the pods are Ready (default 30)
  --timeout S        give up waiting for pods or records after this (default 600)`;

const NS = 'default';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Options {
  peers: number;
  records: number[];
  concurrency: number;
  settleS: number;
  timeoutS: number;
}

interface Cycle {
  records: number;
  putS: number;
  /** scale 0 -> N: kubectl scale -> every pod Ready */
  podsReadyS?: number;
  /** kubectl scale -> the last record readable again (undefined: not all were) */
  readableS?: number;
  readable: number;
  /** pod starts (first seen -> Ready) of the scale up */
  startMs: number[];
}

interface SideResult {
  label: string;
  /** apply -> every pod Ready, the network's first start */
  firstReadyS?: number;
  firstStartMs: number[];
  cycles: Cycle[];
}

const clientOf = (p: SeenPod, token?: string): PeerApiClient =>
  createPeerApiClient({
    baseUrl: peerApiUrl({ ip: p.ip ?? '', container: 'peer-0' }) ?? 'http://missing-ip:5001',
    timeoutMs: 10_000,
    ...(token !== undefined ? { token } : {}),
  });

/** Waits until `count` live pods of the watch are Ready; the seconds since t0, or undefined. */
async function podsReady(
  pods: Map<string, SeenPod>,
  count: number,
  t0: number,
  o: Options,
  ctx: BenchContext,
): Promise<number | undefined> {
  const deadline = Date.now() + o.timeoutS * 1000;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const live = [...pods.values()].filter((p) => p.gone !== true);
    const ready = live.filter((p) => p.ready !== undefined);
    if (live.length === count && ready.length === count)
      return (Math.max(...ready.map((p) => p.ready!)) - t0) / 1000;
    if (Date.now() > deadline) return undefined;
    await sleep(200);
  }
}

async function podsGone(pods: Map<string, SeenPod>, o: Options): Promise<void> {
  const deadline = Date.now() + o.timeoutS * 1000;
  while ([...pods.values()].some((p) => p.gone !== true)) {
    if (Date.now() > deadline) throw new Error('pods still there after scaling to 0');
    await sleep(200);
  }
}

/**
 * Reads every key until all are readable (the seconds since t0), or, when some never come back,
 * until `settleS` after `readyAt`; returns how many were.
 */
async function readAll(
  keys: string[],
  pods: SeenPod[],
  t0: number,
  readyAt: number,
  o: Options,
  ctx: BenchContext,
): Promise<{ readableS?: number; readable: number }> {
  let missing = keys;
  const deadline = Date.now() + o.timeoutS * 1000;
  for (let pass = 1; ; pass++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const found = await mapLimit(missing, o.concurrency, async (key, i) => {
      const got = await clientOf(pods[i % pods.length]!)
        .get(key)
        .catch(() => undefined);
      return got !== undefined && new TextDecoder().decode(got.value) === `value of ${key}`;
    });
    missing = missing.filter((_, i) => !found[i]);
    ctx.progress(`  read pass ${pass}: ${keys.length - missing.length}/${keys.length} readable`);
    if (missing.length === 0)
      return { readableS: (performance.now() - t0) / 1000, readable: keys.length };
    if (performance.now() - readyAt > o.settleS * 1000 || Date.now() > deadline)
      return { readable: keys.length - missing.length };
  }
}

// Long: one network's measurements in the order they are taken.
async function measure(
  c: Cluster,
  name: string,
  storage: boolean,
  o: Options,
  ctx: BenchContext,
): Promise<SideResult> {
  const label = storage ? 'storage' : 'memory';
  const result: SideResult = { label, firstStartMs: [], cycles: [] };
  const selector = selectorString(name);
  const watch = await watchPods(c.kubeConfig(), NS, selector);
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await c.kubectl(['-n', NS, ...args], input !== undefined ? { input } : {});
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    ctx.progress(`${label}: kubectl apply of ${o.peers} pods`);
    let t0 = performance.now();
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'peernet.io/v1alpha1',
        kind: 'PeerNetwork',
        metadata: { name, namespace: NS },
        spec: {
          replicas: o.peers,
          topology: {
            mode: 'spread',
            spreadPolicy: 'Preferred',
            nodeSelector: { [nodeKindLabel]: 'real' },
          },
          ...(storage ? { storage: { size: '64Mi', retention: { whenDeleted: 'Delete' } } } : {}),
        },
      }),
    );
    result.firstReadyS = await podsReady(watch.pods, o.peers, t0, o, ctx);
    result.firstStartMs = [...watch.pods.values()]
      .filter((p) => p.ready !== undefined)
      .map((p) => p.ready! - p.seen);
    // the network Ready: every peer knows another
    await kubectl([
      'wait',
      '--for=condition=Ready',
      `peernetwork/${name}`,
      `--timeout=${o.timeoutS}s`,
    ]);
    const secret = JSON.parse(
      await kubectl(['get', 'secret', apiTokenSecretName(name), '-o', 'json']),
    ) as V1Secret;
    const token = apiTokenOf(secret);
    const keys: string[] = [];
    for (const total of o.records) {
      const live = [...watch.pods.values()].filter((p) => p.gone !== true);
      const fresh = Array.from({ length: total - keys.length }, (_, i) => `dur-${keys.length + i}`);
      ctx.progress(`${label}: ${fresh.length} PUTs (${total} records in all)`);
      const tPut = performance.now();
      const puts = await mapLimit(fresh, o.concurrency, (key, i) =>
        clientOf(live[i % live.length]!, token)
          .put(key, `value of ${key}`)
          .then(
            () => true,
            () => false,
          ),
      );
      const putS = (performance.now() - tPut) / 1000;
      keys.push(...fresh.filter((_, i) => puts[i]));

      ctx.progress(`${label}: scale to 0`);
      await kubectl(['scale', 'peernetwork', name, '--replicas=0']);
      await podsGone(watch.pods, o);
      ctx.progress(`${label}: scale to ${o.peers}`);
      t0 = performance.now();
      await kubectl(['scale', 'peernetwork', name, `--replicas=${o.peers}`]);
      const podsReadyS = await podsReady(watch.pods, o.peers, t0, o, ctx);
      const back = [...watch.pods.values()].filter((p) => p.gone !== true);
      const read =
        podsReadyS === undefined
          ? { readable: 0 }
          : await readAll(keys, back, t0, performance.now(), o, ctx);
      result.cycles.push({
        records: keys.length,
        putS,
        ...(podsReadyS !== undefined ? { podsReadyS } : {}),
        ...read,
        startMs: back.filter((p) => p.ready !== undefined).map((p) => p.ready! - p.seen),
      });
    }
    return result;
  } finally {
    ctx.progress(`${label}: deleting, waiting until its pods are gone`);
    await c.kubectl(['delete', '-n', NS, '--wait=true', '--ignore-not-found', 'peernetwork', name]);
    await c.kubectl(['wait', '--for=delete', 'pods', '-l', selector, '-n', NS, '--timeout=180s']);
    watch.stop();
  }
}

function report(ctx: BenchContext, vol: SideResult, mem: SideResult): void {
  const s = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(1));
  const ms = (xs: number[], p: number): string => (xs.length ? percentile(xs, p).toFixed(0) : '-');
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined || b === 0 ? '-' : (a / b).toFixed(2);
  const rows: string[][] = [['measure', 'storage', 'no storage', 'storage/none']];
  rows.push([
    'first apply -> all pods Ready (s)',
    s(vol.firstReadyS),
    s(mem.firstReadyS),
    ratio(vol.firstReadyS, mem.firstReadyS),
  ]);
  for (const p of [50, 99]) {
    const a = vol.firstStartMs.length ? percentile(vol.firstStartMs, p) : undefined;
    const b = mem.firstStartMs.length ? percentile(mem.firstStartMs, p) : undefined;
    rows.push([
      `first pod start p${p} (ms)`,
      ms(vol.firstStartMs, p),
      ms(mem.firstStartMs, p),
      ratio(a, b),
    ]);
  }
  for (const [i, v] of vol.cycles.entries()) {
    const m = mem.cycles[i];
    const n = v.records;
    rows.push([`${n} records: PUT all (s)`, s(v.putS), s(m?.putS), ratio(v.putS, m?.putS)]);
    rows.push([
      `${n} records: scale 0 -> ${'N'}: pods Ready (s)`,
      s(v.podsReadyS),
      s(m?.podsReadyS),
      ratio(v.podsReadyS, m?.podsReadyS),
    ]);
    rows.push([
      `${n} records: pod start p50 (ms)`,
      ms(v.startMs, 50),
      m ? ms(m.startMs, 50) : '-',
      '',
    ]);
    rows.push([`${n} records: scale -> all readable (s)`, s(v.readableS), s(m?.readableS), '']);
    rows.push([
      `${n} records: readable after scale 0 -> N`,
      `${((100 * v.readable) / Math.max(1, n)).toFixed(1)}%`,
      m ? `${((100 * m.readable) / Math.max(1, m.records)).toFixed(1)}%` : '-',
      '',
    ]);
  }
  for (const line of table(rows)) ctx.print(`  ${line}`);
}

// Long: the benchmark's setup, then the two networks in the order they run.
async function run(args: string[], ctx: BenchContext): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      peers: { type: 'string', default: '3' },
      nodes: { type: 'string', default: '3' },
      records: { type: 'string', default: '1000,10000' },
      concurrency: { type: 'string', default: '8' },
      settle: { type: 'string', default: '30' },
      timeout: { type: 'string', default: '600' },
    },
  });
  const o: Options = {
    peers: Number(values.peers),
    records: values.records.split(',').map(Number),
    concurrency: Number(values.concurrency),
    settleS: Number(values.settle),
    timeoutS: Number(values.timeout),
  };
  for (const [flag, ok] of [
    ['--peers', Number.isInteger(o.peers) && o.peers >= 1],
    ['--records', o.records.every((n, i) => Number.isInteger(n) && n > (o.records[i - 1] ?? 0))],
    ['--concurrency', Number.isInteger(o.concurrency) && o.concurrency >= 1],
  ] as const)
    if (!ok) throw new Error(`${flag}: a positive integer (increasing counts for --records)`);
  if (process.getuid?.() !== 0) {
    ctx.print('durability: skipped, real nodes need root');
    return;
  }
  const nodeCount = Number(values.nodes);
  let cluster: Cluster | undefined;
  try {
    cluster = (
      await startBenchCluster('durability', '.test-output/bench-durability', nodeCount, ctx)
    ).cluster;
    const vol = await measure(cluster, 'dur-volume', true, o, ctx);
    const mem = await measure(cluster, 'dur-memory', false, o, ctx);
    ctx.print(
      `durability: ${o.peers} pods (spread, Preferred) on ${nodeCount} real nodes, with and without a 64Mi local-path volume a pod, storage first; records ${o.records.join(', ')} in all; load average now ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    report(ctx, vol, mem);
  } finally {
    ctx.progress('durability: cleaning up');
    await cluster?.stop().catch(() => undefined);
  }
}

export const durability: Benchmark = {
  name: 'durability',
  description:
    'spec.storage on real nodes: scale 0 -> N -> every record readable (1,000 and 10,000 records), and the start time a volume adds, beside the same network without storage',
  usage,
  run,
};
