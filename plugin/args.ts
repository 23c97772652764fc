// The command line of `kubectl peernet` (pure: argv in, a Command out, or a UsageError).
//   kubectl peernet [flags] VERB NETWORK [ARGS]   flags go anywhere, as with kubectl
import { NAME_PATTERN } from '../operator/api/schema.js';

export const USAGE = `Usage: kubectl peernet VERB NETWORK [ARGS] [flags]

Verbs:
  status NETWORK               every peer: pod, node, ready, routing table, connections, records
  put NETWORK KEY VALUE        store VALUE under KEY (VALUE "-" reads stdin)
  get NETWORK KEY              print the value of KEY (exit 1 when not found)
  provide NETWORK KEY          announce a peer as a provider of KEY
  providers NETWORK KEY        list the providers of KEY
  peers NETWORK                the peers a peer is connected to
  ping NETWORK PEER            round-trip time to PEER (a peer ID or a peer name)
  logs NETWORK                 the logs of every peer container, each line prefixed [pod/container]
  completion bash|zsh          print a shell completion script
  version                      print the version (also --version)

Flags:
  -n, --namespace NS           the network's namespace (default: the context's, else "default")
      --context NAME           the kubeconfig context to use
      --kubeconfig PATH        the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --peer NAME              the peer that answers (put, get, provide, providers, peers, ping)
                               or whose logs to print (logs): a peer name (<pod> or <pod>-<i>),
                               a pod name or a peer ID (default: the first ready peer)
  -o, --output json            print JSON (same as --json)
      --json                   print JSON, for scripts
  -f, --follow                 logs: keep streaming
      --tail N                 logs: the last N lines of each container
  -h, --help                   print this help

Peers are reached through the API server (pods/proxy and pods/log), with your kubeconfig.
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface GlobalFlags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  json: boolean;
}

export type Command = GlobalFlags &
  (
    | { verb: 'help' }
    | { verb: 'version' }
    | { verb: 'completion'; shell: 'bash' | 'zsh' }
    /** the shell's completion hook: the typed words, the last one partial */
    | { verb: '__complete'; words: string[] }
    | { verb: 'status'; network: string }
    | { verb: 'put'; network: string; key: string; value: string; peer?: string }
    | { verb: 'get' | 'provide' | 'providers'; network: string; key: string; peer?: string }
    | { verb: 'peers'; network: string; peer?: string }
    | { verb: 'ping'; network: string; target: string; peer?: string }
    | { verb: 'logs'; network: string; peer?: string; follow: boolean; tail?: number }
  );

export type Verb = Command['verb'];

/** Positional arguments after the verb, by verb. */
export const VERBS = {
  status: ['NETWORK'],
  put: ['NETWORK', 'KEY', 'VALUE'],
  get: ['NETWORK', 'KEY'],
  provide: ['NETWORK', 'KEY'],
  providers: ['NETWORK', 'KEY'],
  peers: ['NETWORK'],
  ping: ['NETWORK', 'PEER'],
  logs: ['NETWORK'],
  completion: ['bash|zsh'],
  version: [],
} as const satisfies Record<string, readonly string[]>;

/** Flags taking a value (long form), and their short forms. */
export const VALUE_FLAGS = [
  '--namespace',
  '--context',
  '--kubeconfig',
  '--peer',
  '--output',
  '--tail',
];
export const BOOL_FLAGS = ['--json', '--follow', '--help', '--version'];
export const SHORT: Record<string, string> = {
  '-n': '--namespace',
  '-o': '--output',
  '-f': '--follow',
  '-h': '--help',
};
/** Which verbs take a flag that is not global. */
const ONLY: Record<string, readonly string[]> = {
  '--peer': ['put', 'get', 'provide', 'providers', 'peers', 'ping', 'logs'],
  '--follow': ['logs'],
  '--tail': ['logs'],
};

// Long: one pass over argv, one case per flag.
export function parseArgs(argv: readonly string[]): Command {
  const flags = new Map<string, string>();
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    // `__complete` takes the words as they are, flags included
    if (pos[0] === '__complete') {
      pos.push(a);
      continue;
    }
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      pos.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    let name = eq > 0 ? a.slice(0, eq) : a;
    name = SHORT[name] ?? name;
    if (VALUE_FLAGS.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${name}: expects a value`);
      flags.set(name, v);
    } else if (BOOL_FLAGS.includes(name)) {
      if (eq > 0) throw new UsageError(`${name}: takes no value`);
      flags.set(name, 'true');
    } else {
      throw new UsageError(`${a.slice(0, eq > 0 ? eq : undefined)}: unknown flag`);
    }
  }

  const output = flags.get('--output');
  if (output !== undefined && output !== 'json')
    throw new UsageError(`--output: only "json" is supported, not ${JSON.stringify(output)}`);
  const global: GlobalFlags = { json: flags.has('--json') || output === 'json' };
  const ns = flags.get('--namespace');
  if (ns !== undefined) global.namespace = ns;
  const ctx = flags.get('--context');
  if (ctx !== undefined) global.context = ctx;
  const kc = flags.get('--kubeconfig');
  if (kc !== undefined) global.kubeconfig = kc;

  if (flags.has('--help')) return { ...global, verb: 'help' };
  if (pos[0] === '__complete') return { ...global, verb: '__complete', words: pos.slice(1) };
  if (flags.has('--version') && pos.length === 0) return { ...global, verb: 'version' };
  const [verb, ...args] = pos;
  if (verb === undefined) throw new UsageError('no verb given (see kubectl peernet --help)');
  if (verb === 'help') return { ...global, verb: 'help' };
  if (!(verb in VERBS)) throw new UsageError(`${verb}: unknown verb (see kubectl peernet --help)`);
  const v = verb as keyof typeof VERBS;
  const want = VERBS[v] as readonly string[];
  if (args.length !== want.length)
    throw new UsageError(
      `${v}: expected ${want.length === 0 ? 'no arguments' : want.join(' ')}, got ${args.length === 0 ? 'none' : args.map((x) => JSON.stringify(x)).join(' ')}`,
    );
  for (const [flag, verbs] of Object.entries(ONLY)) {
    if (flags.has(flag) && !verbs.includes(v)) throw new UsageError(`${flag}: not a flag of ${v}`);
  }
  const peer = flags.get('--peer');
  const withPeer = peer !== undefined ? { peer } : {};
  const [a0 = '', a1 = '', a2 = ''] = args;
  if (want[0] === 'NETWORK' && !new RegExp(NAME_PATTERN).test(a0))
    throw new UsageError(`${v}: ${JSON.stringify(a0)} is not a PeerNetwork name`);
  if (['put', 'get', 'provide', 'providers'].includes(v) && a1 === '')
    throw new UsageError(`${v}: KEY is empty`);
  switch (v) {
    case 'version':
      return { ...global, verb: v };
    case 'completion':
      if (a0 !== 'bash' && a0 !== 'zsh')
        throw new UsageError(`completion: expected bash or zsh, not ${JSON.stringify(a0)}`);
      return { ...global, verb: v, shell: a0 };
    case 'status':
      return { ...global, verb: v, network: a0 };
    case 'put':
      return { ...global, verb: v, network: a0, key: a1, value: a2, ...withPeer };
    case 'get':
    case 'provide':
    case 'providers':
      return { ...global, verb: v, network: a0, key: a1, ...withPeer };
    case 'peers':
      return { ...global, verb: v, network: a0, ...withPeer };
    case 'ping':
      if (a1.startsWith('/'))
        throw new UsageError('ping: PEER is a peer ID or a peer name, never an address');
      return { ...global, verb: v, network: a0, target: a1, ...withPeer };
    case 'logs': {
      const tailText = flags.get('--tail');
      let tail: number | undefined;
      if (tailText !== undefined) {
        if (!/^(0|[1-9][0-9]*)$/.test(tailText))
          throw new UsageError(
            `--tail: expects a number of lines, not ${JSON.stringify(tailText)}`,
          );
        tail = Number(tailText);
      }
      return {
        ...global,
        verb: v,
        network: a0,
        follow: flags.has('--follow'),
        ...(tail !== undefined ? { tail } : {}),
        ...withPeer,
      };
    }
  }
}
