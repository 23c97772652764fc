// The peer's configuration: flags, each also read from `PEERNET_<FLAG>` (flags win), parsed once
// with zod at start and passed down. A bad value throws ConfigError naming the flag.
import { parseArgs } from 'node:util';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    /** the flag at fault, e.g. `--api` */
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

export const NETWORK_NAME = /^[a-z0-9]([a-z0-9._/-]{0,126}[a-z0-9])?$/;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DHT_PROFILES = ['tuned', 'stock'] as const;
export type DhtProfile = (typeof DHT_PROFILES)[number];

export interface ApiAddress {
  host: string;
  port: number;
}

export interface PeerConfig {
  /** @default ['/ip4/0.0.0.0/tcp/4001'] */
  listen: string[];
  /** @default 127.0.0.1:5001 */
  api: ApiAddress;
  /** multiaddrs with `/p2p/<peerId>` */
  bootstrap: string[];
  bootstrapFile?: string;
  keyFile?: string;
  /** @default 'default' */
  network: string;
  /** @default false */
  mdns: boolean;
  swarmKeyFile?: string;
  dataDir?: string;
  /** @default 'info' */
  logLevel: LogLevel;
  /** `tuned` (ours) or `stock` (kadDHT() defaults, for comparison). @default 'tuned' */
  dhtProfile: DhtProfile;
  /** how many of the closest peers take a copy of each record. @default 20 */
  replication: number;
  /** a PUT answers once this many of the closest peers confirmed. @default 3 */
  writeQuorum: number;
  /** how often held records are re-put to the closest peers, ms. @default 300_000 */
  republishInterval: number;
  /** how long to keep trying to hand records off on drain, ms. @default 10_000 */
  drainTimeout: number;
  /** connection manager limit. @default 300 */
  maxConnections: number;
  /** libp2p's own debug logs, on when the `DEBUG` env var names any (js-libp2p's convention) */
  libp2pDebug: boolean;
}

/** Flag name (without `--`) -> how it is parsed. */
const FLAGS = {
  listen: { type: 'string', multiple: true },
  api: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  'bootstrap-file': { type: 'string' },
  'key-file': { type: 'string' },
  network: { type: 'string' },
  mdns: { type: 'boolean' },
  'swarm-key-file': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'dht-profile': { type: 'string' },
  replication: { type: 'string' },
  'write-quorum': { type: 'string' },
  'republish-interval': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
} as const;
export type FlagName = keyof typeof FLAGS;
export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

/** `--data-dir` -> `PEERNET_DATA_DIR` */
export function envName(flag: string): string {
  return `PEERNET_${flag.toUpperCase().replaceAll('-', '_')}`;
}

type Raw = Partial<Record<FlagName, string | string[] | boolean>>;

/** Reads argv (without node and script) and env into raw strings; flags win over env. */
function collect(argv: string[], env: NodeJS.ProcessEnv): Raw {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw argvError(err as Error & { code?: string });
  }
  const raw: Raw = {};
  for (const flag of FLAG_NAMES) {
    const fromFlag = values[flag] as string | string[] | boolean | undefined;
    if (fromFlag !== undefined) {
      raw[flag] = fromFlag;
      continue;
    }
    const fromEnv = env[envName(flag)];
    if (fromEnv === undefined || fromEnv === '') continue;
    const spec = FLAGS[flag];
    if (spec.type === 'boolean') {
      raw[flag] = parseBool(flag, fromEnv);
    } else if ('multiple' in spec) {
      // repeatable flags take a comma/whitespace/newline separated list from the environment
      raw[flag] = fromEnv.split(/[\s,]+/).filter((s) => s !== '');
    } else {
      raw[flag] = fromEnv;
    }
  }
  return raw;
}

function argvError(err: Error & { code?: string }): ConfigError {
  const flag = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1] ?? 'arguments';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new ConfigError(flag, 'unknown flag (see --help)');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new ConfigError(
        flag,
        /argument missing/.test(err.message) ? 'expects a value' : 'takes no value',
      );
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new ConfigError(
        'arguments',
        `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ''}`.trim(),
      );
    default:
      return new ConfigError(flag, err.message);
  }
}

function parseBool(flag: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(
    `--${flag}`,
    `expected true or false in ${envName(flag)}, got ${JSON.stringify(value)}`,
  );
}

// --- value schemas; each failure message is completed with the flag by parseConfig -----------

const got = (v: unknown): string => `got ${JSON.stringify(v)}`;

function multiaddrSchema(requirePeerId: boolean) {
  return z.string().transform((s, ctx) => {
    let ma: Multiaddr;
    try {
      ma = multiaddr(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected a multiaddr, ${got(s)}` });
      return z.NEVER;
    }
    if (requirePeerId) {
      const id = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (id == null) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a multiaddr ending in /p2p/<peerId>, ${got(s)}`,
        });
        return z.NEVER;
      }
      try {
        peerIdFromString(id);
      } catch {
        ctx.addIssue({ code: 'custom', message: `not a valid peer ID in ${JSON.stringify(s)}` });
        return z.NEVER;
      }
    }
    return ma.toString();
  });
}

export function parseApiAddress(s: string): ApiAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (m == null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

const apiSchema = z.string().transform((s, ctx) => {
  const a = parseApiAddress(s);
  if (a == null) {
    ctx.addIssue({ code: 'custom', message: `expected HOST:PORT (port 0-65535), ${got(s)}` });
    return z.NEVER;
  }
  return a;
});

function durationSchema(min: number) {
  return z.string().transform((s, ctx) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(s.trim());
    if (m == null) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like 500ms, 30s, 10m or 1h, ${got(s)}`,
      });
      return z.NEVER;
    }
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
    const ms = Number(m[1]) * unit;
    if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${min}ms, ${got(s)}` });
      return z.NEVER;
    }
    return ms;
  });
}

function intSchema(min: number, max: number) {
  return z.string().transform((s, ctx) => {
    const n = /^\d+$/.test(s.trim()) ? Number(s) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `expected an integer ${min}..${max}, ${got(s)}` });
      return z.NEVER;
    }
    return n;
  });
}

const pathSchema = z.string().min(1, 'expected a path, got ""');

function oneOf<T extends string>(values: readonly T[]) {
  const isOne = (s: string): s is T => (values as readonly string[]).includes(s);
  return z.string().transform((s, ctx) => {
    if (!isOne(s)) {
      ctx.addIssue({ code: 'custom', message: `expected one of ${values.join(', ')}, ${got(s)}` });
      return z.NEVER;
    }
    return s;
  });
}

const schema = z.object({
  listen: z.array(multiaddrSchema(false)).min(1).default(['/ip4/0.0.0.0/tcp/4001']),
  api: apiSchema.default({ host: '127.0.0.1', port: 5001 }),
  bootstrap: z.array(multiaddrSchema(true)).default([]),
  'bootstrap-file': pathSchema.optional(),
  'key-file': pathSchema.optional(),
  network: z
    .string()
    .refine((s) => NETWORK_NAME.test(s), {
      error: (issue) =>
        `expected lower-case letters, digits and . _ / - (1-128 chars, starting and ending alphanumeric), ${got(issue.input)}`,
    })
    .default('default'),
  mdns: z.boolean().default(false),
  'swarm-key-file': pathSchema.optional(),
  'data-dir': pathSchema.optional(),
  'log-level': oneOf(LOG_LEVELS).default('info'),
  'dht-profile': oneOf(DHT_PROFILES).default('tuned'),
  replication: intSchema(1, 100).default(20),
  'write-quorum': intSchema(1, 100).default(3),
  'republish-interval': durationSchema(1000).default(300_000),
  'drain-timeout': durationSchema(0).default(10_000),
  'max-connections': intSchema(1, 100_000).default(300),
});

/** Parses flags (argv without node and script) and `PEERNET_*` env. Throws ConfigError. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = {}): PeerConfig {
  const raw = collect(argv, env);
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const flag = String(issue?.path[0] ?? 'arguments');
    throw new ConfigError(`--${flag}`, issue?.message ?? 'invalid value');
  }
  const v = result.data;
  return {
    listen: v.listen,
    api: v.api,
    bootstrap: v.bootstrap,
    bootstrapFile: v['bootstrap-file'],
    keyFile: v['key-file'],
    network: v.network,
    mdns: v.mdns,
    swarmKeyFile: v['swarm-key-file'],
    dataDir: v['data-dir'],
    logLevel: v['log-level'],
    dhtProfile: v['dht-profile'],
    replication: v.replication,
    writeQuorum: v['write-quorum'],
    republishInterval: v['republish-interval'],
    drainTimeout: v['drain-timeout'],
    maxConnections: v['max-connections'],
    libp2pDebug: (env.DEBUG ?? '') !== '',
  };
}

/** Bootstrap file lines: multiaddrs; blank lines and `#` comments ignored. Bad lines are returned apart. */
export function parseBootstrapLines(text: string): { addrs: string[]; bad: string[] } {
  const addrs: string[] = [];
  const bad: string[] = [];
  const one = multiaddrSchema(true);
  for (const line of text.split(/\r?\n/)) {
    const s = line.replace(/#.*/, '').trim();
    if (s === '') continue;
    const r = one.safeParse(s);
    if (r.success) addrs.push(r.data);
    else bad.push(s);
  }
  return { addrs, bad };
}

export const USAGE = `Usage: peernet-peer [flags]
       peernet-peer keygen --out PATH

Flags (each also read from PEERNET_<FLAG>, e.g. PEERNET_DATA_DIR; flags win):
  --listen MULTIADDR         libp2p listen address, repeatable (default /ip4/0.0.0.0/tcp/4001)
  --api HOST:PORT            HTTP API address (default 127.0.0.1:5001; port 0 picks a free port)
  --bootstrap MULTIADDR      peer to join through, with /p2p/<peerId>, repeatable
  --bootstrap-file PATH      one bootstrap multiaddr a line, re-read when it changes
  --key-file PATH            private key (peernet-peer keygen); without it a fresh identity
  --network NAME             network name: peers of different names never share a DHT (default "default")
  --mdns                     discover peers on the local network with mDNS
  --swarm-key-file PATH      private network: a kubo/go-libp2p swarm.key (/key/swarm/psk/1.0.0/),
                             used as it is; without it the network is open
  --data-dir PATH            keep records across restarts (memory only without it)
  --log-level LEVEL          trace, debug, info, warn, error, fatal or silent (default info)
  --dht-profile NAME         tuned (default) or stock (kadDHT() defaults, for comparison)
  --replication N            copies of each record on the closest peers (default 20)
  --write-quorum N           a PUT answers once N of them confirmed (default 3)
  --republish-interval DUR   how often held records are re-put (default 5m)
  --drain-timeout DUR        how long a drain may take to hand records off (default 10s)
  --max-connections N        connection limit (default 300)
  --help                     this text
  --version                  print the version
`;
