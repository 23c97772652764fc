// peer-dht: N real `peernet-peer` processes on this machine, one per peer, run twice: with our
// DHT configuration ("tuned", the daemon's default) and with stock kadDHT() defaults
// (`--dht-profile stock`). Measures how fast routing tables fill, PUT/GET latency from random
// peers, success rate and resident memory, and prints both side by side against the targets
// of issue 2. Figures are printed, never asserted.
// Long: one benchmark, its phases in the order they run and print.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { metricByLabel, metricSum } from '../test/helpers/cluster-operator.js';
import {
  PeerGroup,
  freeFixedPort,
  freePort,
  makeKey,
  sleep,
  type PeerOptions,
  type PeerProcess,
} from '../test/helpers/peers.js';
import type { BenchContext, Benchmark } from './benchmark.js';
import { mapLimit, mean, percentile, table } from './stats.js';

const PROFILES = ['tuned', 'stock'] as const;
type Profile = (typeof PROFILES)[number];

interface Options {
  peers: number;
  ops: number;
  batch: number;
  profiles: Profile[];
  settleTimeoutMs: number;
  restMs: number;
  opTimeoutMs: number;
  opsBudgetMs: number;
  valueSize: number;
  bootstrapPeers: number;
  seed: number;
  peerArgs: string[];
  memFloorMiB: number;
  readyTimeoutMs: number;
}

const usage = `  --peers N              peers, one process each (default 100; env BENCH_PEERS)
  --ops N                PUTs, then as many GETs, each from a random peer (default 300)
  --profiles LIST        tuned,stock (default both, in that order)
  --batch N              peers launched at a time (default 10)
  --bootstrap-peers N    how many of the first peers everyone bootstraps from (default 3); "all":
                         every other peer, as the operator's bootstrap file lists them (each
                         peer connects to 8 of them, in a random order)
  --settle-timeout S     how long to wait for routing tables after the last launch (default 120)
  --rest S               then let the network rest this long before the operations, its CPU
                         reported for each half (default 0: they start while the launch's
                         connections still keep the peers busy)
  --op-timeout MS        one PUT or GET gives up after this (default 10000)
  --ops-budget S         stop issuing operations of one kind after this (default 300)
  --value-size BYTES     value size (default 128)
  --seed N               random seed for peers/keys choice (default 1)
  --peer-arg ARG         extra flag for every peer, repeatable (e.g. --peer-arg=--log-level=warn)
  --ready-timeout S      a peer not answering /readyz by then is counted as never ready (default 180)
  --mem-floor MIB        stop launching when the machine has less memory available (default 2048)`;

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      peers: { type: 'string' },
      ops: { type: 'string' },
      batch: { type: 'string' },
      profiles: { type: 'string' },
      'bootstrap-peers': { type: 'string' },
      'settle-timeout': { type: 'string' },
      rest: { type: 'string' },
      'op-timeout': { type: 'string' },
      'ops-budget': { type: 'string' },
      'value-size': { type: 'string' },
      seed: { type: 'string' },
      'peer-arg': { type: 'string', multiple: true },
      'mem-floor': { type: 'string' },
      'ready-timeout': { type: 'string' },
    },
  });
  const int = (name: string, v: string | undefined, def: number, min: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name}: expected an integer >= ${min}, got ${v}`);
    return n;
  };
  const profiles = (values.profiles ?? PROFILES.join(',')).split(',').map((s) => s.trim());
  for (const p of profiles) {
    if (!(PROFILES as readonly string[]).includes(p))
      throw new Error(`--profiles: unknown profile ${p}`);
  }
  return {
    peers: int('peers', values.peers ?? process.env.BENCH_PEERS, 100, 2),
    ops: int('ops', values.ops, 300, 1),
    batch: int('batch', values.batch, 10, 1),
    profiles: profiles as Profile[],
    bootstrapPeers:
      values['bootstrap-peers'] === 'all'
        ? Number.MAX_SAFE_INTEGER
        : int('bootstrap-peers', values['bootstrap-peers'], 3, 1),
    settleTimeoutMs: int('settle-timeout', values['settle-timeout'], 120, 1) * 1000,
    restMs: int('rest', values.rest, 0, 0) * 1000,
    opTimeoutMs: int('op-timeout', values['op-timeout'], 10_000, 1),
    opsBudgetMs: int('ops-budget', values['ops-budget'], 300, 1) * 1000,
    valueSize: int('value-size', values['value-size'], 128, 1),
    seed: int('seed', values.seed, 1, 0),
    peerArgs: values['peer-arg'] ?? [],
    memFloorMiB: int('mem-floor', values['mem-floor'], 2048, 0),
    readyTimeoutMs: int('ready-timeout', values['ready-timeout'], 180, 1) * 1000,
  };
}

/** A small deterministic PRNG (mulberry32), so two profiles see the same choice of peers. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface OpStats {
  latencies: number[];
  ok: number;
  attempted: number;
  planned: number;
  failures: Map<string, number>;
}

interface Result {
  profile: Profile;
  target: number;
  /** first launch -> every peer answered /readyz */
  launchMs: number;
  /** first launch -> every table >= target (undefined: never within the settle timeout) */
  convergedMs?: number;
  /** the slowest peer, from its own launch to its table >= target */
  slowestPeerMs?: number;
  /**
   * the slowest peer, from when its table could hold `target` peers (its own launch, or the
   * moment target + 1 peers answered /readyz if that came later) to its table >= target
   */
  slowestPossibleMs?: number;
  /** last peer ready -> every table >= target */
  afterLastReadyMs?: number;
  /** all peers' CPU from the first launch until every table held `target`, core-seconds a peer */
  convergeCpuPerPeer?: number;
  /** a peer's own CPU from its spawn until its table held `target`, mean over peers, seconds */
  reachCpuMean?: number;
  reached: number;
  /** peers that never answered /readyz within --ready-timeout */
  notReady: number;
  tables: number[];
  /** 1-minute load average when the network was up, and after the operations */
  loadAtStart: number;
  loadAtEnd: number;
  put: OpStats;
  get: OpStats;
  rssMiB: number[];
  pssMiB: number[];
  /**
   * CPU the peers used in each phase, in cores busy (CPU seconds / wall seconds); `rest` is the
   * first half of --rest (tables may still be filling), `idle` the second
   */
  cores: PhaseFigures;
  /** connections the peers opened (dialled) in each phase */
  dials: PhaseFigures;
  /** a peer launched into the network after the GETs (ms since its spawn; NaN: not reached in 60 s) */
  join: JoinResult;
  /** DHT requests all peers served per second, by phase */
  served: PhaseFigures;
}

/** one figure per phase of a run */
type PhaseFigures = Record<'launch' | 'settle' | 'rest' | 'idle' | 'put' | 'get', number>;

interface JoinResult {
  /** /readyz answered 200 */
  readyMs: number;
  /** the first GET of a record written before answered its value */
  firstGetMs: number;
  /** its routing table held min(20, N - 1) peers */
  tableMs: number;
  /** CPU the process had used when it got ready, ms */
  cpuToReadyMs: number;
  /** each GET until the first that answered the value: status (or error) and duration */
  getAttempts: string[];
}

/** A join not measured (yet): every time NaN. */
function notJoined(): JoinResult {
  return { readyMs: NaN, firstGetMs: NaN, tableMs: NaN, cpuToReadyMs: NaN, getAttempts: [] };
}

/**
 * Launches one more peer into the rested network, bootstrapping like the others, and times it
 * from its spawn: ready, its first GET of `rec` (written by another peer), a full table. Polls
 * /readyz every 10 ms, the rest every 100 ms; gives up on each after 60 s.
 */
async function joinLate(
  group: PeerGroup,
  opts: PeerOptions,
  rec: { key: string; value: string },
  target: number,
): Promise<JoinResult> {
  const apiPort = await freePort();
  const spawn = performance.now();
  const late = await group.start({ ...opts, name: 'late', apiPort, waitReady: false });
  const r = notJoined();
  const since = (): number => performance.now() - spawn;
  while (since() < 60_000 && [r.readyMs, r.firstGetMs, r.tableMs].some(Number.isNaN)) {
    try {
      if (Number.isNaN(r.readyMs)) {
        if (
          (await late.client.request('GET', '/readyz', undefined, { timeoutMs: 1000 })).status ===
          200
        ) {
          r.readyMs = since();
          r.cpuToReadyMs = (late.cpuSeconds() ?? NaN) * 1000;
        }
      }
      if (!Number.isNaN(r.readyMs) && Number.isNaN(r.firstGetMs)) {
        const t = performance.now();
        const got = await late.client
          .request('GET', `/v1/records/${rec.key}`, undefined, { timeoutMs: 5000 })
          .catch((err: unknown) => ({ status: (err as Error).name, text: '' }));
        r.getAttempts.push(`${got.status} in ${Math.round(performance.now() - t)} ms`);
        if (got.status === 200 && got.text === rec.value) r.firstGetMs = since();
      }
      if (!Number.isNaN(r.readyMs) && Number.isNaN(r.tableMs)) {
        if ((await late.client.status()).routingTable >= target) r.tableMs = since();
      }
    } catch {
      // not listening yet
    }
    await sleep(Number.isNaN(r.readyMs) ? 10 : 100);
  }
  return r;
}

function newOps(planned: number): OpStats {
  return { latencies: [], ok: 0, attempted: 0, planned, failures: new Map() };
}
function fail(s: OpStats, why: string): void {
  s.failures.set(why, (s.failures.get(why) ?? 0) + 1);
}

function summary(kind: string, s: OpStats): string {
  const f = (v: number): string => `${v.toFixed(1)} ms`;
  return (
    `${kind} ${s.ok}/${s.planned} ok, p50 ${f(percentile(s.latencies, 50))}, ` +
    `p99 ${f(percentile(s.latencies, 99))}`
  );
}

// Long: one profile's run, phase by phase (start, settle, rest, GETs and PUTs, a late joiner, memory), each printed in order.
async function runProfile(profile: Profile, o: Options, ctx: BenchContext): Promise<Result> {
  const N = o.peers;
  const target = Math.min(20, N - 1);
  const group = await PeerGroup.create(`bench-${profile}-${N}`);
  ctx.progress(`${profile}: ${N} peers, logs in ${group.logDir}`);
  const abort = (): void => {
    for (const p of group.peers) void p.kill();
  };
  ctx.signal.addEventListener('abort', abort);
  try {
    const network = `bench/${profile}-${Date.now().toString(36)}`;
    const keys = await Promise.all(
      Array.from({ length: N }, (_, i) => makeKey(group.path(`p${i}.key`))),
    );
    // Only the bootstrap peers need their port known before they start: picked now, bound a
    // moment later. Every other peer binds port 0. With all peers as bootstrap peers, ports
    // below the ephemeral range: the outbound connections of 100 peers use ephemeral ports too,
    // so ephemeral ports picked minutes ahead get taken.
    const nBootPorts = Math.min(o.bootstrapPeers, N);
    const ports: number[] = [];
    for (let i = 0; i < nBootPorts; i++)
      ports.push(nBootPorts > 3 ? await freeFixedPort() : await freePort());
    const bootAddrs = keys
      .slice(0, nBootPorts)
      .map((k, i) => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${k.peerId}`);

    const launchedAt: number[] = [];
    const readyAt: number[] = [];
    const reachedAt: (number | undefined)[] = new Array<number | undefined>(N).fill(undefined);
    const tables: number[] = new Array<number>(N).fill(0);
    /** per peer: its CPU seconds when its table first held `target` */
    const cpuAtReach: (number | undefined)[] = new Array<number | undefined>(N).fill(undefined);
    /** all peers' CPU seconds when the last table held `target` */
    let cpuAtConverged: number | undefined;
    /** per peer: when its table first held 1, 5, 10, 15 peers (ms since its launch) */
    const steps = [1, 5, 10, 15] as const;
    const firstAt: Map<number, number>[] = Array.from(
      { length: N },
      () => new Map<number, number>(),
    );
    const peers: PeerProcess[] = [];
    const ready = new Set<PeerProcess>();
    let polling = true;

    // poll routing tables from the first launch on, in the background
    const poller = (async () => {
      while (polling && !ctx.signal.aborted) {
        const pending = peers.filter((_, i) => reachedAt[i] === undefined);
        await mapLimit(pending, 8, async (p) => {
          const i = peers.indexOf(p);
          try {
            const st = await p.client.status();
            tables[i] = st.routingTable;
            for (const n of steps)
              if (st.routingTable >= n && !firstAt[i]!.has(n))
                firstAt[i]!.set(n, Date.now() - launchedAt[i]!);
            if (st.routingTable >= target) {
              reachedAt[i] = Date.now();
              cpuAtReach[i] = p.cpuSeconds();
            }
          } catch {
            // not up yet
          }
        });
        if (peers.length === N && reachedAt.every((t) => t !== undefined)) {
          cpuAtConverged = peers.reduce((sum, q) => sum + (q.cpuSeconds() ?? 0), 0);
          return;
        }
        await sleep(500);
      }
    })();

    const t0 = Date.now();
    for (let i = 0; i < N; i += o.batch) {
      if (ctx.signal.aborted) throw ctx.signal.reason as Error;
      const batch: PeerProcess[] = [];
      for (let j = i; j < Math.min(N, i + o.batch); j++) {
        const p = await group.start({
          name: `p${j}`,
          network,
          keyFile: keys[j]!.path,
          p2pPort: ports[j] ?? 0,
          bootstrap: bootAddrs.filter((_, b) => b !== j),
          args: ['--dht-profile', profile, ...o.peerArgs],
          waitReady: false,
        });
        launchedAt[j] = Date.now();
        peers[j] = p;
        batch.push(p);
      }
      // a peer that never gets ready is a figure, not the end of the run
      await Promise.all(
        batch.map((p) =>
          p.waitReady(o.readyTimeoutMs).then(
            () => {
              ready.add(p);
              readyAt.push(Date.now());
            },
            (err: unknown) => {
              p.peerId = keys[peers.indexOf(p)]!.peerId;
              ctx.progress(`${profile}: ${(err as Error).message.split('\n')[0]}`);
            },
          ),
        ),
      );
      // other work shares this machine: stop short rather than push it into the OOM killer
      const avail = memAvailableMiB();
      if (i + o.batch < N && avail < o.memFloorMiB) {
        throw new Error(
          `only ${avail} MiB of memory left after ${peers.length} peers (floor ${o.memFloorMiB} MiB, --mem-floor): stopping`,
        );
      }
      ctx.progress(`${profile}: ${Math.min(N, i + o.batch)}/${N} peers ready`);
    }
    const allReady = Date.now();
    const loadAtStart = loadavg()[0] ?? NaN;
    // CPU of all peers per phase: how much of the machine the network itself takes
    const cpuMark = (() => {
      let at = t0;
      let used = 0;
      return (): number => {
        const now = Date.now();
        const total = peers.reduce((s, p) => s + (p.cpuSeconds() ?? 0), 0);
        const cores = (total - used) / Math.max(0.001, (now - at) / 1000);
        at = now;
        used = total;
        return cores;
      };
    })();
    // from all peers' /metrics, per phase: the connections they dialled (each a TCP + pre-shared
    // key + Noise + Yamux + identify exchange, most of what a peer spends) and the DHT requests
    // they served, by type (who keeps the network busy)
    const scrapeMark = (() => {
      let dialled = 0;
      let served = new Map<string, number>();
      return async (): Promise<{ dials: number; requests: Map<string, number> }> => {
        const texts = await mapLimit(peers, 8, async (p) =>
          p.client.request('GET', '/metrics').then(
            (r) => r.text,
            () => '',
          ),
        );
        let dialsNow = 0;
        const servedNow = new Map<string, number>();
        for (const text of texts) {
          dialsNow += metricSum(text, 'peernet_connections_opened_total{direction="outbound"}');
          for (const [type, n] of metricByLabel(
            text,
            'peernet_dht_requests_received_total',
            'type',
          ))
            servedNow.set(type, (servedNow.get(type) ?? 0) + n);
        }
        const requests = new Map(
          [...servedNow].map(([t, n]): [string, number] => [t, n - (served.get(t) ?? 0)]),
        );
        const d = dialsNow - dialled;
        dialled = dialsNow;
        served = servedNow;
        return { dials: d, requests };
      };
    })();
    // a phase skipped (rest, without --rest) stays NaN: shown as '-'
    const cores: Result['cores'] = { launch: 0, settle: 0, rest: NaN, idle: NaN, put: 0, get: 0 };
    const dials: Result['dials'] = { ...cores };
    const served: Result['served'] = { ...cores };
    let phaseStart = t0;
    const endPhase = async (phase: keyof Result['cores']): Promise<void> => {
      cores[phase] = cpuMark();
      const m = await scrapeMark();
      dials[phase] = m.dials;
      const total = [...m.requests.values()].reduce((a, b) => a + b, 0);
      served[phase] = total / Math.max(0.001, (Date.now() - phaseStart) / 1000);
      phaseStart = Date.now();
      ctx.progress(
        `${profile}: ${phase}: DHT requests served ${total} (` +
          [...m.requests]
            .filter(([, n]) => n > 0)
            .sort((a, b) => b[1] - a[1])
            .map(([t, n]) => `${t} ${n}`)
            .join(', ') +
          ')',
      );
    };
    await endPhase('launch');

    const deadline = allReady + o.settleTimeoutMs;
    while (reachedAt.some((t) => t === undefined) && Date.now() < deadline) {
      if (ctx.signal.aborted) throw ctx.signal.reason as Error;
      await sleep(1000);
    }
    polling = false;
    await poller;
    const reached = reachedAt.filter((t) => t !== undefined).length;
    const all = reached === N;
    const lastReach = Math.max(...reachedAt.map((t) => t ?? 0));
    ctx.progress(
      `${profile}: ${reached}/${N} routing tables >= ${target}` +
        (all ? ` after ${((lastReach - t0) / 1000).toFixed(1)} s` : ''),
    );
    // how the slowest tables grew: stuck at some size, or slow all along?
    const slowest = peers
      .map((_, i) => i)
      .sort(
        (a, b) =>
          (reachedAt[b] ?? Number.MAX_SAFE_INTEGER) -
          launchedAt[b]! -
          ((reachedAt[a] ?? Number.MAX_SAFE_INTEGER) - launchedAt[a]!),
      )
      .slice(0, 3);
    for (const i of slowest) {
      const at = (ms: number | undefined): string =>
        ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;
      ctx.progress(
        `${profile}: p${i} (launch ${i + 1} of ${N}) table reached ` +
          steps.map((n) => `${n}: ${at(firstAt[i]!.get(n))}`).join(', ') +
          `, ${target}: ${at(reachedAt[i] === undefined ? undefined : reachedAt[i] - launchedAt[i]!)} after its launch`,
      );
    }
    // the final sizes, for the report
    await mapLimit(peers, 8, async (p, i) => {
      try {
        tables[i] = (await p.client.status()).routingTable;
      } catch {
        tables[i] = -1;
      }
    });

    await endPhase('settle');
    if (o.restMs > 0) {
      ctx.progress(`${profile}: resting ${o.restMs / 1000} s before the operations`);
      await sleep(o.restMs / 2);
      await endPhase('rest');
      await sleep(o.restMs / 2);
      await endPhase('idle');
    }
    const rand = rng(o.seed);
    // operations go through peers that got ready; the others are reported apart
    const usable = peers.map((_, i) => i).filter((i) => ready.has(peers[i]!));
    if (usable.length < 2) throw new Error(`only ${usable.length} peers got ready`);
    const pick = (): number => usable[Math.floor(rand() * usable.length)]!;
    const put = newOps(o.ops);
    const get = newOps(o.ops);
    const stored: { key: string; value: string; by: number }[] = [];

    let budgetEnd = Date.now() + o.opsBudgetMs;
    for (let i = 0; i < o.ops && Date.now() < budgetEnd; i++) {
      if (ctx.signal.aborted) throw ctx.signal.reason as Error;
      const by = pick();
      const key = `bench-${i}`;
      const value = randomBytes(Math.ceil(o.valueSize / 2))
        .toString('hex')
        .slice(0, o.valueSize);
      put.attempted++;
      const t = performance.now();
      try {
        const r = await peers[by]!.client.request('PUT', `/v1/records/${key}`, value, {
          timeoutMs: o.opTimeoutMs,
        });
        const ms = performance.now() - t;
        if (r.status >= 200 && r.status < 300) {
          put.ok++;
          put.latencies.push(ms);
          stored.push({ key, value, by });
        } else fail(put, `HTTP ${r.status}`);
      } catch (err) {
        fail(put, (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message);
      }
      if ((i + 1) % 100 === 0) ctx.progress(`${profile}: ${i + 1} PUTs`);
    }

    ctx.progress(`${profile}: ${summary('PUT', put)}`);
    await endPhase('put');

    budgetEnd = Date.now() + o.opsBudgetMs;
    for (let i = 0; i < o.ops && stored.length > 0 && Date.now() < budgetEnd; i++) {
      if (ctx.signal.aborted) throw ctx.signal.reason as Error;
      const rec = stored[Math.floor(rand() * stored.length)]!;
      let from = pick();
      while (from === rec.by) from = pick();
      get.attempted++;
      const t = performance.now();
      try {
        const r = await peers[from]!.client.request('GET', `/v1/records/${rec.key}`, undefined, {
          timeoutMs: o.opTimeoutMs,
        });
        const ms = performance.now() - t;
        if (r.status === 200 && r.text === rec.value) {
          get.ok++;
          get.latencies.push(ms);
        } else fail(get, r.status === 200 ? 'wrong value' : `HTTP ${r.status}`);
      } catch (err) {
        fail(get, (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message);
      }
      if ((i + 1) % 100 === 0) ctx.progress(`${profile}: ${i + 1} GETs`);
    }

    ctx.progress(`${profile}: ${summary('GET', get)}`);
    await endPhase('get');

    const join: JoinResult =
      stored.length > 0
        ? await joinLate(
            group,
            { network, bootstrap: bootAddrs, args: ['--dht-profile', profile, ...o.peerArgs] },
            stored[0]!,
            target,
          )
        : notJoined();
    const inSecs = (ms: number): string =>
      Number.isNaN(ms) ? 'never' : `${(ms / 1000).toFixed(2)} s`;
    ctx.progress(
      `${profile}: a peer launched into the network: ready ${inSecs(join.readyMs)} ` +
        `(${Number.isNaN(join.cpuToReadyMs) ? '-' : Math.round(join.cpuToReadyMs)} ms CPU), first GET ${inSecs(join.firstGetMs)}, ` +
        `table >= ${target} ${inSecs(join.tableMs)} after its spawn; ` +
        `GETs: ${join.getAttempts.slice(0, 8).join(', ')}`,
    );

    const rssMiB = peers.map((p) => (p.rssKiB() ?? NaN) / 1024).filter((x) => !Number.isNaN(x));
    const pssMiB = peers.map((p) => (p.pssKiB() ?? NaN) / 1024).filter((x) => !Number.isNaN(x));
    return {
      profile,
      target,
      launchMs: allReady - t0,
      convergedMs: all ? lastReach - t0 : undefined,
      slowestPeerMs: all ? Math.max(...reachedAt.map((t, i) => t! - launchedAt[i]!)) : undefined,
      slowestPossibleMs: all
        ? (() => {
            // target + 1 peers up: from then on a table can hold target others
            const enough = [...readyAt].sort((a, b) => a - b)[target] ?? allReady;
            return Math.max(...reachedAt.map((t, i) => t! - Math.max(launchedAt[i]!, enough)));
          })()
        : undefined,
      afterLastReadyMs: all ? Math.max(0, lastReach - allReady) : undefined,
      convergeCpuPerPeer: cpuAtConverged === undefined ? undefined : cpuAtConverged / N,
      reachCpuMean: mean(cpuAtReach.filter((c): c is number => c !== undefined)),
      reached,
      notReady: N - ready.size,
      tables,
      loadAtStart,
      loadAtEnd: loadavg()[0] ?? NaN,
      put,
      get,
      rssMiB,
      pssMiB,
      cores,
      dials,
      served,
      join,
    };
  } finally {
    ctx.signal.removeEventListener('abort', abort);
    await Promise.all(group.peers.map((p) => p.kill()));
    await group.stop(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  label: string;
  target?: string;
  /** true when the figure meets the target */
  meets?: (v: number) => boolean;
  value: (r: Result) => number | undefined;
  fmt: (v: number) => string;
  /** no stock/tuned ratio for this row */
  noRatio?: boolean;
}

const ms = (v: number): string =>
  v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(1)} ms`;
const secs = (v: number): string => `${(v / 1000).toFixed(1)} s`;
const pct = (v: number): string => `${v.toFixed(1)} %`;
const mib = (v: number): string => `${v.toFixed(1)} MiB`;
const rate = (s: OpStats): number => (s.planned === 0 ? NaN : (100 * s.ok) / s.planned);

// Long: one row per figure of the printed table.
function rows(target: number): Row[] {
  return [
    { label: 'launch: all peers ready', value: (r) => r.launchMs, fmt: secs },
    {
      label: `tables >= ${target}: network, from 1st launch`,
      target: '<= 30 s',
      meets: (v) => v <= 30_000,
      value: (r) => r.convergedMs,
      fmt: secs,
    },
    {
      label: `tables >= ${target}: slowest peer, own launch`,
      target: '<= 30 s',
      meets: (v) => v <= 30_000,
      value: (r) => r.slowestPeerMs,
      fmt: secs,
    },
    {
      label: `tables >= ${target}: slowest peer, from when ${target + 1} were up`,
      target: '<= 30 s',
      meets: (v) => v <= 30_000,
      value: (r) => r.slowestPossibleMs,
      fmt: secs,
    },
    { label: `tables >= ${target}: after last ready`, value: (r) => r.afterLastReadyMs, fmt: secs },
    {
      label: `CPU to every table >= ${target}, all peers, core-s a peer`,
      value: (r) => r.convergeCpuPerPeer,
      fmt: (v) => v.toFixed(2),
    },
    {
      label: `CPU of a peer to its own table >= ${target}, mean (s)`,
      value: (r) => r.reachCpuMean,
      fmt: (v) => v.toFixed(2),
    },
    {
      label: 'peers never ready',
      target: '0',
      meets: (v) => v === 0,
      value: (r) => r.notReady,
      fmt: (v) => String(v),
      noRatio: true,
    },
    { label: `peers reaching ${target} (of N)`, value: (r) => r.reached, fmt: (v) => String(v) },
    {
      label: 'routing table min at end (live peers)',
      value: (r) => Math.min(...r.tables.filter((t) => t >= 0)),
      fmt: (v) => String(v),
    },
    {
      label: 'routing table median at end',
      value: (r) =>
        percentile(
          r.tables.filter((t) => t >= 0),
          50,
        ),
      fmt: (v) => String(v),
    },
    {
      label: 'GET p50',
      target: '<= 30 ms',
      meets: (v) => v <= 30,
      value: (r) => percentile(r.get.latencies, 50),
      fmt: ms,
    },
    {
      label: 'GET p99',
      target: '<= 200 ms',
      meets: (v) => v <= 200,
      value: (r) => percentile(r.get.latencies, 99),
      fmt: ms,
    },
    { label: 'GET max', value: (r) => percentile(r.get.latencies, 100), fmt: ms },
    {
      label: 'PUT p50',
      target: '<= 100 ms',
      meets: (v) => v <= 100,
      value: (r) => percentile(r.put.latencies, 50),
      fmt: ms,
    },
    {
      label: 'PUT p99',
      target: '<= 500 ms',
      meets: (v) => v <= 500,
      value: (r) => percentile(r.put.latencies, 99),
      fmt: ms,
    },
    { label: 'PUT max', value: (r) => percentile(r.put.latencies, 100), fmt: ms },
    {
      label: 'PUT success',
      target: '100 %',
      meets: (v) => v >= 100,
      value: (r) => rate(r.put),
      fmt: pct,
    },
    {
      label: 'GET success',
      target: '100 %',
      meets: (v) => v >= 100,
      value: (r) => rate(r.get),
      fmt: pct,
    },
    {
      label: 'machine load (1 min) when up',
      value: (r) => r.loadAtStart,
      fmt: (v) => v.toFixed(1),
    },
    {
      label: 'machine load (1 min) at the end',
      value: (r) => r.loadAtEnd,
      fmt: (v) => v.toFixed(1),
    },
    {
      label: 'millicores per peer at rest (2nd half)',
      target: '<= 5',
      meets: (v) => v <= 5,
      value: (r) => (r.cores.idle * 1000) / r.tables.length,
      fmt: (v) => (Number.isNaN(v) ? '-' : v.toFixed(1)),
    },
    ...(['launch', 'settle', 'rest', 'idle', 'put', 'get'] as const).map((phase) => ({
      label: `peers' CPU, cores busy: ${phaseLabel(phase)}`,
      value: (r: Result) => r.cores[phase],
      fmt: (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(2)),
    })),
    ...(['launch', 'settle', 'rest', 'idle'] as const).map((phase) => ({
      label: `connections dialled: ${phaseLabel(phase)}`,
      value: (r: Result) => r.dials[phase],
      fmt: (v: number) => (Number.isNaN(v) ? '-' : String(v)),
    })),
    ...(['launch', 'settle', 'rest', 'idle', 'put', 'get'] as const).map((phase) => ({
      label: `DHT requests served per s: ${phaseLabel(phase)}`,
      value: (r: Result) => r.served[phase],
      fmt: (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(0)),
    })),
    ...(['put', 'get'] as const).map((op) => ({
      label: `connections dialled per ${op.toUpperCase()}`,
      value: (r: Result) => r.dials[op] / Math.max(1, r[op].attempted),
      fmt: (v: number) => v.toFixed(1),
    })),
    {
      label: 'join: ready after spawn',
      value: (r) => r.join.readyMs,
      fmt: ms,
    },
    { label: 'join: CPU used to get ready', value: (r) => r.join.cpuToReadyMs, fmt: ms },
    {
      label: 'join: first GET answered after spawn',
      target: '<= 1 s',
      meets: (v) => v <= 1000,
      value: (r) => r.join.firstGetMs,
      fmt: ms,
    },
    {
      label: `join: table >= ${target} after spawn`,
      target: '<= 30 s',
      meets: (v) => v <= 30_000,
      value: (r) => r.join.tableMs,
      fmt: ms,
    },
    { label: 'RSS per peer, mean', value: (r) => mean(r.rssMiB), fmt: mib },
    {
      label: 'RSS per peer, max',
      target: '<= 80 MiB',
      meets: (v) => v <= 80,
      value: (r) => Math.max(...r.rssMiB),
      fmt: mib,
    },
    { label: 'PSS per peer, mean (shared pages split)', value: (r) => mean(r.pssMiB), fmt: mib },
  ];
}

function phaseLabel(phase: keyof Result['cores']): string {
  if (phase === 'put' || phase === 'get') return `${phase.toUpperCase()}s`;
  if (phase === 'rest') return 'rest, 1st half';
  if (phase === 'idle') return 'rest, 2nd half';
  return phase;
}

function report(o: Options, results: Result[], memBefore: number, ctx: BenchContext): void {
  const target = Math.min(20, o.peers - 1);
  const byProfile = new Map(results.map((r) => [r.profile, r]));
  const tuned = byProfile.get('tuned');
  const stock = byProfile.get('stock');
  const header = ['metric', 'target', ...results.map((r) => r.profile)];
  if (tuned && stock) header.push('stock/tuned');
  header.push(...results.map((r) => r.profile));
  const out: string[][] = [header];
  for (const row of rows(target)) {
    const vals = results.map((r) => row.value(r));
    const line = [row.label, row.target ?? ''];
    line.push(...vals.map((v) => (v === undefined || Number.isNaN(v) ? 'never' : row.fmt(v))));
    if (tuned && stock && row.noRatio) {
      line.push('');
    } else if (tuned && stock) {
      const a = row.value(tuned);
      const b = row.value(stock);
      line.push(
        a !== undefined && b !== undefined && a > 0 && Number.isFinite(b / a)
          ? `${(b / a).toFixed(2)}x`
          : '-',
      );
    }
    line.push(
      ...vals.map((v) =>
        row.meets ? (v !== undefined && !Number.isNaN(v) && row.meets(v) ? 'PASS' : 'MISS') : '',
      ),
    );
    out.push(line);
  }
  ctx.print(
    `${o.peers} peers, one process each, ${cpus().length} cores, Node ${process.versions.node}; ` +
      `${o.ops} PUTs then ${o.ops} GETs of ${o.valueSize}-byte values, one at a time, from random peers` +
      (o.restMs > 0 ? `, after the network rested ${o.restMs / 1000} s` : '') +
      `; bootstrap: ${o.bootstrapPeers >= o.peers ? 'every other peer listed' : `the first ${o.bootstrapPeers} peers`}`,
  );
  ctx.print(`memory available before the run: ${memBefore} MiB`);
  ctx.print();
  for (const l of table(out)) ctx.print(l);
  for (const r of results) {
    for (const [kind, s] of [
      ['PUT', r.put],
      ['GET', r.get],
    ] as const) {
      const notRun = s.planned - s.attempted;
      if (s.failures.size > 0 || notRun > 0) {
        const why = [...s.failures].map(([k, n]) => `${n} ${k}`);
        if (notRun > 0) why.push(`${notRun} not run (ops budget spent)`);
        ctx.print(`${r.profile} ${kind} failures: ${why.join(', ')}`);
      }
    }
  }
}

function memAvailableMiB(): number {
  try {
    const m = /MemAvailable:\s+(\d+)\s+kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

export const peerDht: Benchmark = {
  name: 'peer-dht',
  description:
    'N peer processes: routing-table fill time, PUT/GET latency, success, RSS; tuned vs stock kadDHT()',
  usage,
  async run(args, ctx) {
    const o = parseOptions(args);
    const before = memAvailableMiB();
    if (before < o.peers * 100) {
      ctx.progress(`warning: ${before} MiB available for ${o.peers} peers (~100 MiB each)`);
    }
    const results: Result[] = [];
    try {
      for (const profile of o.profiles) {
        if (ctx.signal.aborted) break;
        results.push(await runProfile(profile, o, ctx));
        // let the machine settle before the next network
        await sleep(2000);
      }
    } finally {
      // an interrupted run still reports the profiles it finished
      if (results.length > 0) report(o, results, before, ctx);
    }
  },
};
