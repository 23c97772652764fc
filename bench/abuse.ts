// abuse (issue 16): what a hostile client or network costs. Peer phases on real `peernet-peer`
// processes (a write flood against a small quota and against default quotas, writes and drains
// without the API token, a future-dated record over the wire, a drain of many records against
// the pod's termination grace period), then the operator phase (a healthy network's reconcile
// latency while hostile networks trickle their answers, beside none). Figures are printed,
// never asserted.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseSpec } from '../operator/api/schema.js';
import { desiredPod } from '../operator/pods/pods.js';
import { parseSettings } from '../operator/settings.js';
import { parseConfig } from '../peer/config.js';
import { runOperatorPhase, type OperatorPhaseResults } from './abuse-operator.js';
import { parseAbuseOptions, usage, type AbuseOptions } from './abuse-options.js';
import { runPeerPhases, type PeerPhaseResults } from './abuse-peers.js';
import type { BenchContext, Benchmark } from './benchmark.js';
import { repoRoot } from './procs.js';
import { mean, percentile, table } from './stats.js';

/** The deadlines a drain meets in a cluster, from the code's own defaults. */
function drainDeadlines(): { peerDrainS: number; operatorDrainS: number; graceS: number } {
  const pod = desiredPod(
    {
      metadata: { name: 'x', namespace: 'x', uid: 'x', generation: 1 },
      spec: parseSpec({ topology: { mode: 'spread' } }),
    },
    0,
    { peerImage: 'x' },
  );
  return {
    peerDrainS: parseConfig([]).drainTimeout / 1000,
    operatorDrainS: parseSettings([], {}).drainTimeoutMs / 1000,
    graceS: pod.spec?.terminationGracePeriodSeconds ?? NaN,
  };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const f1 = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(1));
const f2 = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));
const counts = (m: Map<string, number> | undefined): string =>
  m === undefined
    ? '-'
    : [...m]
        .sort()
        .map(([c, n]) => `${n}x ${c}`)
        .join(', ');

// Long: one printed line per figure of the peer phases.
function reportPeers(o: AbuseOptions, r: PeerPhaseResults, ctx: BenchContext): void {
  if (r.floods.length > 0) {
    ctx.print(
      `Write flood: ${r.floods[0]!.puts} PUTs of 64 KiB values (${o.floodMiB} MiB) with the token, ` +
        `${o.concurrency} in flight, to one of ${o.peers} peers`,
    );
    const rows = [['', ...r.floods.map((f) => f.label)]];
    const row = (label: string, fn: (f: (typeof r.floods)[number]) => string): void => {
      rows.push([label, ...r.floods.map(fn)]);
    };
    row('200 accepted', (f) => String(f.codes.get('200') ?? 0));
    row('507 refused (quota)', (f) => String(f.codes.get('507') ?? 0));
    row(
      'other answers',
      (f) => counts(new Map([...f.codes].filter(([c]) => c !== '200' && c !== '507'))) || '0',
    );
    row('MiB accepted / refused', (f) => `${mib(f.bytesAccepted)} / ${mib(f.bytesRefused)}`);
    row('flood took (s)', (f) => f1(f.seconds));
    row('target RSS before (MiB)', (f) => f1(f.rssBeforeMiB));
    row('target RSS max (MiB)', (f) => f1(f.rssMaxMiB));
    row('target RSS right after (MiB)', (f) => f1(f.rssAfterMiB));
    row('target RSS 5 s later (MiB)', (f) => f1(f.rssLaterMiB));
    row('target holds: records / MiB', (f) => `${f.heldRecords} / ${mib(f.heldBytes)}`);
    for (const l of table(rows)) ctx.print(`  ${l}`);
    ctx.print();
  }
  if (r.unauth) {
    const u = r.unauth;
    ctx.print(`Unauthenticated requests to the flooded peer (${o.unauthTries} of each)`);
    const variants = [...u.answers.keys()];
    const routes = [...(u.answers.get(variants[0]!)?.keys() ?? [])];
    const rows = [['route', ...variants]];
    for (const route of routes)
      rows.push([route, ...variants.map((v) => counts(u.answers.get(v)?.get(route)))]);
    for (const l of table(rows)) ctx.print(`  ${l}`);
    ctx.print(
      `  afterwards: /readyz ${u.readyzAfter}; the record written before intact: ${u.canaryIntact ? 'yes' : 'NO'}; ` +
        `draining: ${u.drainingAfter ? 'YES' : 'no'}`,
    );
    ctx.print();
  }
  if (r.future) {
    const x = r.future;
    ctx.print('Future-dated record (100 years ahead), PUT_VALUE over libp2p to one peer');
    const rows = [
      ['refused', x.refused ? `yes (${x.error})` : 'NO'],
      [
        'peernet_records_refused_total{reason="future"}',
        `${x.refusedFutureBefore} -> ${x.refusedFutureAfter}`,
      ],
      ['GET of its key afterwards', String(x.getAfter)],
      ['control: a record dated now, same path, stored', x.controlStored ? 'yes' : 'no'],
    ];
    for (const l of table(rows)) ctx.print(`  ${l}`);
    ctx.print();
  }
  if (r.drain) {
    const d = r.drain;
    const dl = drainDeadlines();
    const s = d.drainMs / 1000;
    ctx.print(`Drain: one of ${o.peers} peers holding ${d.records} records (100-byte values)`);
    // the drain stops at --drain-timeout: what it handed off by then gives its rate, and the rate
    // the time all of them would take
    const rate = d.handedOff / s;
    const allS = d.handedOff >= d.held ? s : d.held / rate;
    const fits = (limit: number): string =>
      `${limit} s: ${allS <= limit ? 'fits' : 'DOES NOT FIT'}`;
    const rows = [
      ['records placed (PUT_VALUE to that peer only)', `${d.held} held, in ${f1(d.fillSeconds)} s`],
      ['POST /v1/drain answered', `${d.status} in ${f2(s)} s`],
      ['handedOff', `${d.handedOff} of ${d.held} (${f1(rate)} a second)`],
      ['records the other peers hold after', d.othersHeld.join(', ')],
      [
        `all ${d.held}`,
        `${d.handedOff >= d.held ? 'took' : 'would take, at that rate,'} ${f1(allS)} s`,
      ],
      ['peer --drain-timeout (default)', fits(dl.peerDrainS)],
      ["operator's drain call deadline (default)", fits(dl.operatorDrainS)],
      ['pod terminationGracePeriodSeconds', fits(dl.graceS)],
    ];
    for (const l of table(rows)) ctx.print(`  ${l}`);
    ctx.print();
  }
}

function reportOperator(o: AbuseOptions, r: OperatorPhaseResults, ctx: BenchContext): void {
  if (r.conditions.length === 0) return;
  ctx.print(
    `Operator: a healthy network scaled ${LOW} -> ${HIGH} -> ${LOW} (${o.rounds} rounds), seconds from the spec write ` +
      'to observedGeneration == generation with pods and ready peers matching; hostile networks of ' +
      `${o.hostilePods} kwok pods whose peer API answers a byte a second`,
  );
  const base = r.conditions.find((c) => c.hostileNetworks === 0);
  const all = (c: (typeof r.conditions)[number]): number[] =>
    [...c.up, ...c.down].filter((x) => !Number.isNaN(x));
  const rows = [
    [
      'condition',
      'up p50/max',
      'down p50/max',
      'mean',
      'vs none',
      'timeouts',
      'hostile calls',
      'held ms',
      'reconciles ok/deadline/err',
      'reconcile ms',
      'load',
    ],
  ];
  for (const c of r.conditions) {
    const m = mean(all(c));
    const timeouts = [...c.up, ...c.down].filter((x) => Number.isNaN(x)).length;
    rows.push([
      c.label,
      `${f2(percentile(c.up, 50))}/${f2(Math.max(...c.up))}`,
      `${f2(percentile(c.down, 50))}/${f2(Math.max(...c.down))}`,
      f2(m),
      base && c !== base ? `${f2(m / mean(all(base)))}x` : '',
      String(timeouts),
      c.hostileNetworks > 0 ? String(c.hostileCalls) : '',
      c.hostileNetworks > 0 ? f1(mean(c.hostileHeldMs)) : '',
      ['success', 'deadline', 'error'].map((k) => c.reconciles.get(k) ?? 0).join('/'),
      f1(c.reconcileMeanMs),
      f2(c.load),
    ]);
  }
  for (const l of table(rows)) ctx.print(`  ${l}`);
  if (r.error) ctx.print(`  stopped early: ${r.error}`);
  ctx.print();
}

/** One line of an error: client-node puts the API server's whole answer in its message. */
function oneLine(err: unknown): string {
  const text = (err as Error).message;
  const status = /\\"message\\":\\"(.*?)\\"/.exec(text)?.[1];
  return [text.split('\n')[0], status].filter(Boolean).join(': ');
}

const LOW = 5;
const HIGH = 10;

async function run(args: string[], ctx: BenchContext): Promise<void> {
  const o = parseAbuseOptions(args);
  const started = Date.now();
  const loadAtStart = load();
  const logDir = join(repoRoot, '.test-output', `bench-abuse-${process.pid}`);
  const peers: PeerPhaseResults = { floods: [] };
  const operator: OperatorPhaseResults = { conditions: [] };
  const failures: string[] = [];
  try {
    if (!o.skipPeers) {
      await runPeerPhases(
        {
          floodMiB: o.floodMiB,
          concurrency: o.concurrency,
          records: o.records,
          peers: o.peers,
          quota: o.quota,
          unauthTries: o.unauthTries,
          skipBaseline: !o.baseline,
          logDir: join(logDir, 'peers'),
        },
        ctx,
        peers,
      ).catch((err: unknown) => failures.push(`peer phases: ${oneLine(err)}`));
    }
    if (!o.skipOperator && !ctx.signal.aborted) {
      await runOperatorPhase(
        {
          rounds: o.rounds,
          hostile: o.hostile,
          hostilePods: o.hostilePods,
          editEveryMs: o.editEverySeconds * 1000,
          low: LOW,
          high: HIGH,
          nodes: o.nodes,
          podCidr: '127.213.0.0/16',
          logDir: join(logDir, 'operator'),
        },
        ctx,
        operator,
      ).catch((err: unknown) => failures.push(`operator phase: ${oneLine(err)}`));
    }
  } finally {
    // an interrupted or failed run still reports what it measured
    ctx.print(
      `abuse: ${cpus().length} cores, Node ${process.versions.node}; load average (1/5/15 min) ` +
        `at start ${loadAtStart}, at end ${load()}; logs in ${logDir}`,
    );
    ctx.print();
    reportPeers(o, peers, ctx);
    reportOperator(o, operator, ctx);
    ctx.print(`(whole benchmark: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  if (failures.length > 0) throw new Error(failures.join('; '));
}

export const abuse: Benchmark = {
  name: 'abuse',
  description:
    'write flood vs quota, unauthenticated writes/drains, a future-dated record, a 10k-record drain, reconciles beside hostile networks',
  usage,
  run,
};
