// e2e-spread: the whole stack at 30 peers, as users run it. A private local control plane with
// real nodes (kubelet + containerd running the images built from our Dockerfiles; root needed),
// the operator installed with `helm install` of charts/peernet-operator; times `kubectl apply` of
// a spread PeerNetwork (Preferred, pinned to the real nodes) until every peer is DHT-ready, then
// records PUT/GET latency through the peers' HTTP APIs on their pod addresses. Figures are
// printed, never asserted.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildImages } from '../cluster/images/index.js';
import { nodeKindLabel, startCluster, type Cluster } from '../cluster/index.js';
import { installChart } from '../test/helpers/chart.js';
import type { BenchContext, Benchmark } from './benchmark.js';
import { mapLimit, percentile, table } from './stats.js';

interface Peer {
  name: string;
  pod: string;
  node?: string;
  ip?: string;
  container?: string;
  ready?: boolean;
  routingTable?: number;
}
interface Status {
  phase?: string;
  readyPeers?: number;
  peers?: Peer[];
}

const usage = `  --peers N          pods of the spread network, one peer each (default 30)
  --nodes N          real nodes (default 3)
  --ops N            PUTs, then as many GETs from a peer on another node (default 200)
  --concurrency N    operations in flight (default 4)
  --timeout S        give up waiting for DHT-ready after this (default 600)`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function api(p: Peer): string {
  const i = Number(/(\d+)$/.exec(p.container ?? 'peer-0')?.[1] ?? 0);
  return `http://${p.ip ?? ''}:${5001 + i}`;
}

async function timed(fn: () => Promise<boolean>): Promise<{ ms: number; ok: boolean }> {
  const t = performance.now();
  const ok = await fn().catch(() => false);
  return { ms: performance.now() - t, ok };
}

async function run(args: string[], ctx: BenchContext): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      peers: { type: 'string', default: '30' },
      nodes: { type: 'string', default: '3' },
      ops: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '4' },
      timeout: { type: 'string', default: '600' },
    },
  });
  const peers = Number(values.peers);
  const nodeCount = Number(values.nodes);
  const ops = Number(values.ops);
  if (process.getuid?.() !== 0) {
    ctx.print('e2e-spread: skipped, real nodes need root');
    return;
  }
  const dir = '.test-output/bench-e2e';
  mkdirSync(dir, { recursive: true });
  let cluster: Cluster | undefined;
  try {
    ctx.progress('e2e-spread: building the images (cached: seconds when unchanged)');
    const images = await buildImages({ onProgress: (l) => ctx.progress(`  ${l}`) });
    ctx.progress(`e2e-spread: starting a control plane with ${nodeCount} real nodes`);
    cluster = await startCluster(
      {
        dir: `${dir}/cluster`,
        nodes: 0,
        realNodes: nodeCount,
        images: [images.peer.archive, images.operator.archive],
      },
      { onProgress: (l) => ctx.progress(`  ${l}`) },
    );
    ctx.progress('e2e-spread: helm install of charts/peernet-operator');
    await installChart(cluster, {
      release: 'peernet',
      namespace: 'peernet-system',
      createNamespace: true,
      set: ['logLevel=info'],
    });
    const manifest = `apiVersion: peernet.io/v1alpha1
kind: PeerNetwork
metadata: {name: bench, namespace: default}
spec:
  replicas: ${peers}
  topology:
    mode: spread
    spreadPolicy: Preferred
    nodeSelector: {${nodeKindLabel}: real}
`;
    ctx.progress(
      `e2e-spread: kubectl apply of a ${peers}-peer spread network on ${nodeCount} real nodes`,
    );
    const t0 = performance.now();
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifest });
    if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr}`);
    let readyPhaseMs: number | undefined;
    let allDhtMs: number | undefined;
    let status: Status = {};
    const deadline = Date.now() + Number(values.timeout) * 1000;
    for (;;) {
      if (ctx.signal.aborted) return;
      const r = await cluster.kubectl(['get', 'peernetwork', 'bench', '-o', 'json']);
      status = r.code === 0 ? ((JSON.parse(r.stdout) as { status?: Status }).status ?? {}) : {};
      const ps = status.peers ?? [];
      if (status.phase === 'Ready' && readyPhaseMs === undefined)
        readyPhaseMs = performance.now() - t0;
      // DHT-ready is asked of each peer itself: the operator's status.peers figures can lag.
      const live = await Promise.all(
        ps.map(async (p) => {
          if (p.ip === undefined) return false;
          const res = await fetch(`${api(p)}/v1/status`, {
            signal: AbortSignal.timeout(2000),
          }).catch(() => undefined);
          if (res?.ok !== true) return false;
          const st = (await res.json()) as { ready?: boolean; routingTable?: number };
          return st.ready === true && (st.routingTable ?? 0) > 0;
        }),
      );
      const dhtReady = live.filter(Boolean).length;
      if (dhtReady === peers && ps.length === peers && allDhtMs === undefined)
        allDhtMs = performance.now() - t0;
      const statusDht = ps.filter((p) => p.ready === true && (p.routingTable ?? 0) > 0).length;
      ctx.progress(
        `  ${((performance.now() - t0) / 1000).toFixed(1)}s phase ${status.phase ?? '-'} ready ${status.readyPeers ?? 0}/${peers}, DHT-ready ${dhtReady} (per status.peers ${statusDht})`,
      );
      if (allDhtMs !== undefined && readyPhaseMs !== undefined) break;
      if (Date.now() > deadline)
        throw new Error(`not every peer DHT-ready after ${values.timeout}s`);
      await sleep(500);
    }
    const allReadyMs = allDhtMs ?? performance.now() - t0;
    const ps = status.peers ?? [];
    const perNode = new Map<string, number>();
    for (const p of ps) perNode.set(p.node ?? '?', (perNode.get(p.node ?? '?') ?? 0) + 1);

    ctx.progress(`e2e-spread: ${ops} PUTs then ${ops} GETs from a peer on another node`);
    const keys = Array.from({ length: ops }, (_, i) => ({
      key: `bench-${i}-${randomBytes(4).toString('hex')}`,
      writer: ps[i % ps.length] as Peer,
    }));
    const puts = await mapLimit(keys, Number(values.concurrency), ({ key, writer }) =>
      timed(
        async () =>
          (
            await fetch(`${api(writer)}/v1/records/${key}`, {
              method: 'PUT',
              body: `value of ${key}`,
              signal: AbortSignal.timeout(10_000),
            })
          ).ok,
      ),
    );
    const gets = await mapLimit(keys, Number(values.concurrency), ({ key, writer }, i) => {
      const others = ps.filter((p) => p.node !== writer.node);
      const reader = others[i % others.length] ?? writer;
      return timed(async () => {
        const res = await fetch(`${api(reader)}/v1/records/${key}`, {
          signal: AbortSignal.timeout(10_000),
        });
        return res.ok && (await res.text()) === `value of ${key}`;
      });
    });
    const row = (name: string, xs: Array<{ ms: number; ok: boolean }>): string[] => {
      const ok = xs.filter((x) => x.ok).map((x) => x.ms);
      return [
        name,
        String(xs.length),
        `${((100 * ok.length) / Math.max(1, xs.length)).toFixed(1)}%`,
        percentile(ok, 50).toFixed(1),
        percentile(ok, 99).toFixed(1),
      ];
    };
    ctx.print(
      `e2e-spread: ${peers} peers (spread, Preferred) on ${nodeCount} real nodes [${[...perNode.entries()].map(([n, c]) => `${n}:${c}`).join(' ')}]`,
    );
    ctx.print(
      `  kubectl apply -> PeerNetwork phase Ready:     ${((readyPhaseMs ?? allReadyMs) / 1000).toFixed(1)} s`,
    );
    ctx.print(
      `  kubectl apply -> every peer DHT-ready (asked): ${(allReadyMs / 1000).toFixed(1)} s`,
    );
    for (const line of table([
      ['op', 'count', 'ok', 'p50 ms', 'p99 ms'],
      row('PUT', puts),
      row('GET (other node)', gets),
    ]))
      ctx.print(`  ${line}`);
  } finally {
    ctx.progress('e2e-spread: cleaning up');
    await cluster?.stop().catch(() => undefined);
  }
}

export const e2eSpread: Benchmark = {
  name: 'e2e-spread',
  description:
    'kubectl apply of a 30-peer spread network on real nodes (operator from its chart) -> every peer DHT-ready; PUT/GET p50/p99 through the stack',
  usage,
  run,
};
