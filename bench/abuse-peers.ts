// The abuse benchmark's peer phases, against real `peernet-peer` processes on 127.0.0.1: a write
// flood (accepted vs refused, the target's resident memory), writes and drains without the API
// token, a future-dated record sent over the wire, and a drain of many records timed against the
// pod's termination grace period. Figures only; nothing is asserted.
// Long: one benchmark, its phases in the order they run and print.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from './benchmark.js';
import { call, metricValue, rssKiB, sampleRss, startPeer, type PeerProc } from './procs.js';
import { mapLimit } from './stats.js';
import { createWireClient } from '../peer/node/client.js';

export interface PeerPhaseOptions {
  /** MiB of 64 KiB values in each flood */
  floodMiB: number;
  /** PUTs in flight during the flood */
  concurrency: number;
  /** records the draining peer holds */
  records: number;
  /** peers in each network */
  peers: number;
  /** the small record-bytes quota of the flooded network, e.g. `4MiB` */
  quota: string;
  /** requests of each kind without (and with a wrong) token */
  unauthTries: number;
  /** skip the flood against default quotas */
  skipBaseline: boolean;
  logDir: string;
}

const VALUE_BYTES = 64 * 1024;
const YEAR_MS = 365 * 86_400_000;

export interface FloodResult {
  label: string;
  puts: number;
  /** answers by HTTP status ('error' for a request that got none) */
  codes: Map<string, number>;
  bytesAccepted: number;
  bytesRefused: number;
  seconds: number;
  rssBeforeMiB: number;
  rssMaxMiB: number;
  rssAfterMiB: number;
  rssLaterMiB: number;
  /** what the target reports holding afterwards */
  heldRecords: number;
  heldBytes: number;
}

export interface UnauthResult {
  /** `no token` / `wrong token` -> route -> status -> count */
  answers: Map<string, Map<string, Map<string, number>>>;
  readyzAfter: number;
  canaryIntact: boolean;
  drainingAfter: boolean;
}

export interface FutureResult {
  refused: boolean;
  error: string;
  refusedFutureBefore: number;
  refusedFutureAfter: number;
  /** what a GET of the key answered afterwards */
  getAfter: number;
  /** the same path with a record dated now: stored? (the wire path itself works) */
  controlStored: boolean;
}

export interface DrainResult {
  records: number;
  /** what the peer reported holding before the drain */
  held: number;
  fillSeconds: number;
  drainMs: number;
  status: number;
  handedOff: number;
  /** records the other peers held after the drain */
  othersHeld: number[];
}

export interface PeerPhaseResults {
  future?: FutureResult;
  floods: FloodResult[];
  unauth?: UnauthResult;
  drain?: DrainResult;
}

interface Status {
  routingTable: number;
  records: number;
  recordBytes: number;
  draining: boolean;
}

async function status(p: PeerProc): Promise<Status> {
  return JSON.parse((await call(`${p.api}/v1/status`, 'GET')).text) as Status;
}

/** `n` peers of one network, the others bootstrapping from the first; every table full. */
async function startNetwork(
  label: string,
  n: number,
  args: string[],
  o: PeerPhaseOptions,
  ctx: BenchContext,
): Promise<PeerProc[]> {
  const network = `bench/abuse-${label}-${randomBytes(3).toString('hex')}`;
  const peers: PeerProc[] = [];
  try {
    const first = await startPeer({
      name: `${label}-0`,
      logDir: o.logDir,
      args: ['--network', network, ...args],
    });
    peers.push(first);
    peers.push(
      ...(await Promise.all(
        Array.from({ length: n - 1 }, (_, i) =>
          startPeer({
            name: `${label}-${i + 1}`,
            logDir: o.logDir,
            args: ['--network', network, '--bootstrap', first.addr, ...args],
          }),
        ),
      )),
    );
    const deadline = Date.now() + 60_000;
    for (const p of peers) {
      while ((await status(p)).routingTable < n - 1) {
        if (Date.now() > deadline) throw new Error(`${p.name}: routing table not full in 60 s`);
        if (ctx.signal.aborted) throw ctx.signal.reason as Error;
        await sleep(200);
      }
    }
    ctx.progress(`${label}: ${n} peers up (${network})`);
    return peers;
  } catch (err) {
    await Promise.all(peers.map((p) => p.stop(0)));
    throw err;
  }
}

async function flood(
  label: string,
  target: PeerProc,
  token: string,
  o: PeerPhaseOptions,
  ctx: BenchContext,
): Promise<FloodResult> {
  const puts = Math.ceil((o.floodMiB * 1024 * 1024) / VALUE_BYTES);
  const codes = new Map<string, number>();
  let accepted = 0;
  let refused = 0;
  const value = new Uint8Array(randomBytes(VALUE_BYTES));
  const rssBefore = rssKiB(target.pid);
  const sampler = sampleRss(target.pid);
  const t0 = performance.now();
  await mapLimit(
    Array.from({ length: puts }, (_, i) => i),
    o.concurrency,
    async (i) => {
      if (ctx.signal.aborted) return;
      let code: string;
      try {
        const r = await call(`${target.api}/v1/records/flood-${i}`, 'PUT', { body: value, token });
        code = String(r.status);
        if (r.status === 200) accepted += VALUE_BYTES;
        if (r.status === 507) refused += VALUE_BYTES;
      } catch (err) {
        code = `error (${(err as Error).name})`;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const rssMax = sampler.stop();
  const rssAfter = rssKiB(target.pid);
  await sleep(5000, undefined, { signal: ctx.signal });
  const held = await status(target);
  ctx.progress(
    `${label}: ${puts} PUTs in ${seconds.toFixed(1)} s: ${[...codes].map(([c, n]) => `${n}x ${c}`).join(', ')}`,
  );
  return {
    label,
    puts,
    codes,
    bytesAccepted: accepted,
    bytesRefused: refused,
    seconds,
    rssBeforeMiB: rssBefore / 1024,
    rssMaxMiB: rssMax / 1024,
    rssAfterMiB: rssAfter / 1024,
    rssLaterMiB: rssKiB(target.pid) / 1024,
    heldRecords: held.records,
    heldBytes: held.recordBytes,
  };
}

async function unauthenticated(
  target: PeerProc,
  other: PeerProc,
  canary: { key: string; value: string },
  o: PeerPhaseOptions,
): Promise<UnauthResult> {
  const answers: UnauthResult['answers'] = new Map();
  const variants: [string, string | undefined][] = [
    ['no token', undefined],
    ['wrong token', randomBytes(32).toString('hex')],
  ];
  for (const [variant, token] of variants) {
    const byRoute = new Map<string, Map<string, number>>();
    answers.set(variant, byRoute);
    const routes: [string, string, (i: number) => string, string | undefined][] = [
      ['PUT /v1/records/{key}', 'PUT', (i) => `/v1/records/unauth-${i}`, 'x'.repeat(1024)],
      ['PUT (overwrite a record)', 'PUT', () => `/v1/records/${canary.key}`, 'overwritten'],
      ['POST /v1/providers/{key}', 'POST', (i) => `/v1/providers/unauth-${i}`, undefined],
      ['POST /v1/ping/{peerId}', 'POST', () => `/v1/ping/${other.peerId}`, undefined],
      ['POST /v1/drain', 'POST', () => '/v1/drain', undefined],
    ];
    for (const [name, method, path, body] of routes) {
      const counts = new Map<string, number>();
      byRoute.set(name, counts);
      for (let i = 0; i < o.unauthTries; i++) {
        let code: string;
        try {
          code = String((await call(`${target.api}${path(i)}`, method, { body, token })).status);
        } catch (err) {
          code = `error (${(err as Error).name})`;
        }
        counts.set(code, (counts.get(code) ?? 0) + 1);
      }
    }
  }
  const readyz = await call(`${target.api}/readyz`, 'GET').then(
    (r) => r.status,
    () => 0,
  );
  const got = await call(`${target.api}/v1/records/${canary.key}`, 'GET');
  return {
    answers,
    readyzAfter: readyz,
    canaryIntact: got.status === 200 && got.text === canary.value,
    drainingAfter: (await status(target)).draining,
  };
}

const refusedFuture = async (p: PeerProc): Promise<number> =>
  metricValue(
    (await call(`${p.api}/metrics`, 'GET')).text,
    'peernet_records_refused_total{reason="future"}',
  );

async function futureDated(network: string, target: PeerProc): Promise<FutureResult> {
  const client = await createWireClient(network);
  try {
    const before = await refusedFuture(target);
    let error = '';
    const key = `future-${randomBytes(4).toString('hex')}`;
    await client
      .putValue(
        target.addr,
        key,
        new TextEncoder().encode('from the future'),
        Date.now() + 100 * YEAR_MS,
      )
      .catch((err: unknown) => (error = (err as Error).message.split('\n')[0] ?? 'refused'));
    const after = await refusedFuture(target);
    const getAfter = (await call(`${target.api}/v1/records/${key}`, 'GET')).status;
    const control = `control-${randomBytes(4).toString('hex')}`;
    let controlStored = true;
    await client
      .putValue(target.addr, control, new TextEncoder().encode('dated now'), Date.now())
      .catch(() => (controlStored = false));
    if (controlStored)
      controlStored = (await call(`${target.api}/v1/records/${control}`, 'GET')).status === 200;
    return {
      refused: error !== '',
      error,
      refusedFutureBefore: before,
      refusedFutureAfter: after,
      getAfter,
      controlStored,
    };
  } finally {
    await client.stop();
  }
}

/** The network name a peer serves (from its status). */
async function networkOf(p: PeerProc): Promise<string> {
  return (JSON.parse((await call(`${p.api}/v1/status`, 'GET')).text) as { network: string })
    .network;
}

async function drain(
  peers: PeerProc[],
  token: string,
  o: PeerPhaseOptions,
  ctx: BenchContext,
): Promise<DrainResult> {
  const target = peers[0]!;
  // The fast path that is still real: PUT_VALUE straight to the draining peer over libp2p, as a
  // replica receives its copies (an HTTP PUT would also place copies on the others first).
  const client = await createWireClient(await networkOf(target));
  const t0 = performance.now();
  let failed = 0;
  try {
    const value = new Uint8Array(randomBytes(100));
    await mapLimit(
      Array.from({ length: o.records }, (_, i) => i),
      32,
      async (i) => {
        if (ctx.signal.aborted) return;
        await client
          .putValue(target.addr, `drain-${i}`, value, Date.now())
          .catch(() => void failed++);
        if ((i + 1) % 2000 === 0) ctx.progress(`drain: ${i + 1}/${o.records} records placed`);
      },
    );
  } finally {
    await client.stop();
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  if (failed > 0) ctx.progress(`drain: ${failed} records were not placed`);
  const held = (await status(target)).records;
  ctx.progress(`drain: ${held} records held; POST /v1/drain`);
  const d0 = performance.now();
  const r = await call(`${target.api}/v1/drain`, 'POST', { token, timeoutMs: 600_000 });
  const drainMs = performance.now() - d0;
  const handedOff = r.status === 200 ? (JSON.parse(r.text) as { handedOff: number }).handedOff : 0;
  const othersHeld = await Promise.all(peers.slice(1).map(async (p) => (await status(p)).records));
  return {
    records: o.records,
    held,
    fillSeconds,
    drainMs,
    status: r.status,
    handedOff,
    othersHeld,
  };
}

/** Fills `results` as the phases end, so a failed or interrupted run keeps what it measured. */
export async function runPeerPhases(
  o: PeerPhaseOptions,
  ctx: BenchContext,
  results: PeerPhaseResults,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'peernet-abuse-'));
  const token = randomBytes(32).toString('hex');
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const withToken = ['--api-token-file', tokenFile, '--log-level', 'info'];
  let peers: PeerProc[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(peers.map((p) => p.stop()));
    peers = [];
  };
  const onAbort = (): void => void stopAll();
  ctx.signal.addEventListener('abort', onAbort);
  try {
    // 1. the small quota: a future-dated record first (its control record needs room), then the
    // flood, then the unauthenticated requests against the full peer
    peers = await startNetwork(
      'quota',
      o.peers,
      [...withToken, '--max-record-bytes', o.quota],
      o,
      ctx,
    );
    const [target, other] = [peers[0]!, peers[1]!];
    const canary = { key: 'canary', value: `written before the abuse ${Date.now()}` };
    const put = await call(`${target.api}/v1/records/${canary.key}`, 'PUT', {
      body: canary.value,
      token,
    });
    if (put.status !== 200) throw new Error(`the canary PUT answered ${put.status}: ${put.text}`);
    results.future = await futureDated(await networkOf(target), target);
    ctx.progress(`future-dated record: refused ${results.future.refused ? 'yes' : 'no'}`);
    results.floods.push(await flood(`quota ${o.quota}`, target, token, o, ctx));
    results.unauth = await unauthenticated(target, other, canary, o);
    ctx.progress('unauthenticated requests sent');
    await stopAll();

    // 2. the same flood against default quotas
    if (!o.skipBaseline && !ctx.signal.aborted) {
      peers = await startNetwork('baseline', o.peers, withToken, o, ctx);
      results.floods.push(await flood('default quotas', peers[0]!, token, o, ctx));
      await stopAll();
    }

    // 3. a drain of many records
    if (!ctx.signal.aborted) {
      peers = await startNetwork('drain', o.peers, withToken, o, ctx);
      results.drain = await drain(peers, token, o, ctx);
      await stopAll();
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
