// The verbs of `kubectl peernet`: argv in, output written, an exit code out (0 ok, 1 failed or
// not found, 2 bad usage). Everything reaches the cluster through ./kube.ts.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { PeerNetworkObject } from '../operator/api/schema.js';
import { loadKubeAccess, type KubeAccess } from '../operator/kube/config.js';
import { ordinalOf, selectorString } from '../operator/pods/names.js';
import { mapLimit } from '../common/concurrency.js';
import { apiPortOf } from '../operator/status/view.js';
import { PeerApiError, type PeerApiClient } from '../peer/api/client.js';
import { packageVersion } from '../common/version.js';
import { USAGE, UsageError, parseArgs, type Command } from './args.js';
import { complete, completionScript, scanWords } from './completion.js';
import { ApiServerError, createKube, type Kube, type PodInfo } from './kube.js';
import {
  choosePeers,
  renderPeers,
  renderStatus,
  resolvePeerId,
  statusView,
  targetsOf,
  type Target,
} from './render.js';

export interface PluginIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: AsyncIterable<Buffer | string>;
  env: Readonly<Record<string, string | undefined>>;
  /** ends `logs --follow` */
  signal?: AbortSignal;
}

export interface PluginOptions {
  /** @default loadKubeAccess (operator/kube/config.ts) */
  access?: (env: PluginIO['env'], o: { kubeconfig?: string; context?: string }) => KubeAccess;
  /** how many peers are asked at once (status, logs) @default 8 */
  concurrency?: number;
}

const PROG = 'kubectl-peernet';
/** Ready peers tried in turn when one cannot be reached. */
const MAX_TRIES = 3;

// A factory-like closure: one verb() switch over the plugin's verbs around the shared API access.
export async function runPlugin(
  argv: readonly string[],
  io: PluginIO,
  options: PluginOptions = {},
): Promise<number> {
  const out = (s: string) => void io.stdout.write(s);
  const json = (v: unknown) => out(JSON.stringify(v, null, 2) + '\n');
  const fail = (msg: string, code = 1) => {
    io.stderr.write(`${PROG}: ${msg}\n`);
    return code;
  };
  let cmd: Command;
  try {
    cmd = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return fail(e.message, 2);
    throw e;
  }
  switch (cmd.verb) {
    case 'help':
      out(USAGE);
      return 0;
    case 'version':
      out(
        cmd.json ? JSON.stringify({ version: packageVersion() }) + '\n' : `${packageVersion()}\n`,
      );
      return 0;
    case 'completion':
      out(completionScript(cmd.shell));
      return 0;
  }
  if (cmd.verb === '__complete') return completeLine(cmd.words, io, options);
  let kube: Kube | undefined;
  try {
    const access = (options.access ?? loadKubeAccess)(io.env, {
      ...(cmd.kubeconfig !== undefined ? { kubeconfig: cmd.kubeconfig } : {}),
      ...(cmd.context !== undefined ? { context: cmd.context } : {}),
    });
    const namespace = cmd.namespace ?? access.namespace ?? 'default';
    kube = createKube(access, namespace);
    return await verb(cmd, kube, io, options.concurrency ?? 8);
  } catch (e) {
    const err = e as Error;
    const known = [
      'ApiServerError',
      'PeerApiError',
      'PeerSelectionError',
      'KubeConfigError',
      'KubeCredentialsError',
    ];
    return fail(known.includes(err.name) ? err.message : (err.stack ?? err.message));
  } finally {
    kube?.close();
  }

  // Long: one case per verb.
  async function verb(c: Command, k: Kube, io: PluginIO, limit: number): Promise<number> {
    switch (c.verb) {
      case 'help':
      case 'version':
      case 'completion':
      case '__complete':
        return 0; // answered before
      case 'status': {
        const network = await k.network(c.network);
        const targets = targetsOf(network);
        const live = new Map(
          await mapLimit(targets, limit, async (t) => {
            const client = k.proxy(t.pod, t.port);
            return [t.name, await client.status().catch((e: Error) => e)] as const;
          }),
        );
        const view = statusView(network, live);
        if (c.json) json(view);
        else out(renderStatus(view));
        return 0;
      }
      case 'put': {
        const value =
          c.value === '-' ? await readAll(io.stdin) : new Uint8Array(Buffer.from(c.value));
        const network = await k.network(c.network);
        const token = await k.apiToken(c.network);
        const { via, result } = await onePeer(
          k,
          network,
          c.peer,
          (p) => p.put(c.key, value),
          undefined,
          token,
        );
        if (c.json) json({ ...result, via: via.name });
        else
          out(
            `stored ${c.key} on ${result.stored} of ${result.replicas} peers (via ${via.name})\n`,
          );
        return 0;
      }
      case 'get': {
        const network = await k.network(c.network);
        const { via, result } = await onePeer(k, network, c.peer, (p) => p.get(c.key));
        if (result === undefined) {
          if (c.json) json({ key: c.key, found: false, via: via.name });
          return fail(`not found: ${c.key}`);
        }
        if (c.json)
          json({ key: c.key, value: Buffer.from(result.value).toString('utf8'), via: via.name });
        else io.stdout.write(result.value);
        return 0;
      }
      case 'provide': {
        const network = await k.network(c.network);
        const token = await k.apiToken(c.network);
        const { via, result } = await onePeer(
          k,
          network,
          c.peer,
          (p) => p.provide(c.key),
          undefined,
          token,
        );
        if (c.json) json({ ...result, via: via.name });
        else
          out(
            `${via.name} provides ${c.key} (announced to ${result.stored} of ${result.replicas} peers)\n`,
          );
        return 0;
      }
      case 'providers': {
        const network = await k.network(c.network);
        const { via, result } = await onePeer(
          k,
          network,
          c.peer,
          async (p) => (await p.providers(c.key)).providers,
        );
        if (c.json) json({ key: c.key, providers: result, via: via.name });
        else out(renderPeers(network, result, false));
        return 0;
      }
      case 'peers': {
        const network = await k.network(c.network);
        const { via, result } = await onePeer(
          k,
          network,
          c.peer,
          async (p) => (await p.peers()).peers,
        );
        if (c.json) json({ via: via.name, peers: result });
        else out(renderPeers(network, result, true));
        return 0;
      }
      case 'ping': {
        const network = await k.network(c.network);
        const peerId = resolvePeerId(network, c.target);
        // another peer than the one pinged, unless told otherwise
        const { via, result } = await onePeer(
          k,
          network,
          c.peer,
          (p) => p.ping(peerId),
          (t) => t.peerId !== peerId,
          await k.apiToken(c.network),
        );
        const name = (network.status?.peers ?? []).find((p) => p.peerId === result.peerId)?.name;
        if (c.json) json({ ...result, ...(name ? { name } : {}), from: via.name });
        else
          out(
            `${name ? `${name} (${result.peerId})` : result.peerId}: ${result.rttMs} ms from ${via.name}\n`,
          );
        return 0;
      }
      case 'logs':
        return logs(c, k, io, limit);
    }
  }

  /** Runs `fn` on the chosen peer, or on the next ready one while one cannot be reached. */
  async function onePeer<T>(
    k: Kube,
    network: PeerNetworkObject,
    want: string | undefined,
    fn: (p: PeerApiClient) => Promise<T>,
    prefer: (t: Target) => boolean = () => true,
    /** the network's API token, for writes and pings */
    token?: string,
  ): Promise<{ via: Target; result: T }> {
    const all = choosePeers(network, want);
    const ordered = [...all.filter(prefer), ...all.filter((t) => !prefer(t))];
    let last: Error | undefined;
    for (const t of ordered.slice(0, want === undefined ? MAX_TRIES : 1)) {
      try {
        return { via: t, result: await fn(k.proxy(t.pod, t.port, token)) };
      } catch (e) {
        // the proxy could not reach it, or it is draining: another peer serves as well
        const unreachable =
          (e instanceof ApiServerError && e.code !== 403) ||
          (e instanceof PeerApiError && e.status === 503);
        if (!unreachable) throw e;
        last = e;
      }
    }
    throw last ?? new Error('no peer to ask');
  }
}

async function readAll(input: AsyncIterable<Buffer | string>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Each peer container of the network's pods (in ordinal order), or only the one --peer names. */
async function logs(
  c: Extract<Command, { verb: 'logs' }>,
  k: Kube,
  io: PluginIO,
  limit: number,
): Promise<number> {
  const network = await k.network(c.network);
  const name = network.metadata.name;
  let streams: { pod: string; container: string }[];
  if (c.peer !== undefined) {
    const [t] = choosePeers(network, c.peer);
    streams = [{ pod: t!.pod, container: t!.container }];
  } else {
    const pods = (await k.pods(selectorString(name)))
      .filter((p): p is PodInfo & { metadata: { name: string } } => !!p.metadata?.name)
      .sort(
        (a, b) =>
          (ordinalOf(name, a.metadata.name) ?? Infinity) -
            (ordinalOf(name, b.metadata.name) ?? Infinity) ||
          a.metadata.name.localeCompare(b.metadata.name),
      );
    streams = pods.flatMap((p) =>
      (p.spec?.containers ?? [])
        .filter((x) => apiPortOf(x.name) !== undefined)
        .map((x) => ({ pod: p.metadata.name, container: x.name })),
    );
  }
  if (streams.length === 0) {
    io.stderr.write(`${PROG}: network ${name} has no peer pods\n`);
    return 0;
  }
  const line = (s: { pod: string; container: string }, text: string) =>
    c.json
      ? JSON.stringify({ pod: s.pod, container: s.container, line: text }) + '\n'
      : `[${s.pod}/${s.container}] ${text}\n`;
  const signal = io.signal ?? new AbortController().signal;
  let failed = 0;
  const open = async (s: { pod: string; container: string }): Promise<Readable | undefined> => {
    try {
      return await k.log(
        s.pod,
        s.container,
        { follow: c.follow, ...(c.tail !== undefined ? { tail: c.tail } : {}) },
        signal,
      );
    } catch (e) {
      if (signal.aborted) return undefined;
      failed++;
      io.stderr.write(`${PROG}: ${(e as Error).message}\n`);
      return undefined;
    }
  };
  const lines = async (body: Readable, each: (l: string) => void) => {
    try {
      for await (const l of createInterface({ input: body, crlfDelay: Infinity })) each(l);
    } catch (e) {
      if (!signal.aborted) throw e;
    }
  };
  if (c.follow) {
    // every container at once, lines printed as they come
    await Promise.all(
      streams.map(async (s) => {
        const body = await open(s);
        if (body) await lines(body, (l) => io.stdout.write(line(s, l)));
      }),
    );
  } else {
    // read concurrently, printed container by container
    const texts = await mapLimit(streams, limit, async (s) => {
      const body = await open(s);
      const got: string[] = [];
      if (body) await lines(body, (l) => got.push(line(s, l)));
      return got.join('');
    });
    for (const t of texts) io.stdout.write(t);
  }
  return failed > 0 ? 1 : 0;
}

/**
 * `__complete`: verbs and flags need no cluster; networks, namespaces and peers are looked up
 * with the kubeconfig, context and namespace typed on the line, with short timeouts (a shell
 * waits), and any failure completes nothing rather than printing an error mid-line.
 */
async function completeLine(
  words: readonly string[],
  io: PluginIO,
  options: PluginOptions,
): Promise<number> {
  const { flags } = scanWords(words);
  let kube: Kube | undefined;
  const k = (): Kube => {
    if (kube) return kube;
    const kubeconfig = flags.get('--kubeconfig');
    const context = flags.get('--context');
    const access = (options.access ?? loadKubeAccess)(io.env, {
      ...(kubeconfig !== undefined ? { kubeconfig } : {}),
      ...(context !== undefined ? { context } : {}),
    });
    const ns = flags.get('--namespace') ?? access.namespace ?? 'default';
    return (kube = createKube(access, ns, { timeoutMs: 3000, proxyTimeoutMs: 3000 }));
  };
  try {
    io.stdout.write(
      await complete(words, {
        networks: () => k().networkNames(),
        namespaces: () => k().namespaces(),
        async peers(network) {
          const n = await k().network(network);
          return [...new Set((n.status?.peers ?? []).flatMap((p) => [p.name, p.pod]))];
        },
      }),
    );
  } finally {
    kube?.close();
  }
  return 0;
}
