// The peer's configuration: flags, each also read from `PEERNET_<FLAG>` (flags win), parsed once
// with zod at start and passed down. A bad value throws ConfigError naming the flag.
// Long: one table of flags with their schemas and defaults, and the usage text built from them.
import { parseArgs } from 'node:util';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { z } from 'zod';
import { DHT_PROFILES, RECORDS_DEFAULTS as D, type DhtProfile } from './dht/defaults.js';
import { defaultQuotas, DEFAULT_MEMORY_BYTES, type MemoryBudget, type Quotas } from './quotas.js';

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
export { DHT_PROFILES, type DhtProfile };

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
  /** the addresses other peers are told to dial instead of the listen addresses; none: those */
  announce: string[];
  bootstrapFile?: string;
  /** peers outside this network's own list: all dialled and kept connected (federation) */
  externalBootstrapFile?: string;
  keyFile?: string;
  /** @default 'default' */
  network: string;
  /** @default false */
  mdns: boolean;
  swarmKeyFile?: string;
  /** the bearer token writes, drain and ping need; without it those routes are open */
  apiTokenFile?: string;
  dataDir?: string;
  /** @default 'info' */
  logLevel: LogLevel;
  /** `tuned` (ours) or `stock` (kadDHT() defaults, for comparison). @default 'tuned' */
  dhtProfile: DhtProfile;
  /** how many of the closest peers take a copy of each record (RECORDS_DEFAULTS) */
  replication: number;
  /** a PUT answers once this many of the closest peers confirmed. @default 3 */
  writeQuorum: number;
  /** a GET answers with the newest of this many copies (the local one counts) */
  readQuorum: number;
  /** how often held records are re-put to the closest peers, ms. @default 300_000 */
  republishInterval: number;
  /** how long to keep trying to hand records off on drain, ms. @default 10_000 */
  drainTimeout: number;
  /** connection manager limit. @default 300 */
  maxConnections: number;
  /** what this peer holds for the network; defaults from `memory` (see quotas.ts) */
  quotas: Quotas;
  /** the memory budget the quota defaults were sized from */
  memory: MemoryBudget;
  /**
   * how far ahead of this peer's clock a record's timestamp may be; later ones are refused.
   * @default 300_000
   */
  maxClockSkew: number;
  /** libp2p's own debug logs, on when the `DEBUG` env var names any (js-libp2p's convention) */
  libp2pDebug: boolean;
}

/** Flag name (without `--`) -> how it is parsed. */
const FLAGS = {
  listen: { type: 'string', multiple: true },
  announce: { type: 'string', multiple: true },
  api: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  'bootstrap-file': { type: 'string' },
  'external-bootstrap-file': { type: 'string' },
  'key-file': { type: 'string' },
  network: { type: 'string' },
  mdns: { type: 'boolean' },
  'swarm-key-file': { type: 'string' },
  'api-token-file': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'dht-profile': { type: 'string' },
  replication: { type: 'string' },
  'write-quorum': { type: 'string' },
  'read-quorum': { type: 'string' },
  'republish-interval': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-records': { type: 'string' },
  'max-record-bytes': { type: 'string' },
  'max-provider-records': { type: 'string' },
  'max-providers-per-key': { type: 'string' },
  'max-clock-skew': { type: 'string' },
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

/** Transports this peer has: TCP over IP or DNS. Anything else is accepted by libp2p and never works. */
const HOST_PROTOCOLS = ['ip4', 'ip6', 'dns', 'dns4', 'dns6'];
const TCP_LISTEN =
  'a TCP address /ip4/<ip>/tcp/<port> or /ip6/<ip>/tcp/<port> (this peer speaks TCP only)';
const TCP_ANNOUNCE =
  'a TCP address /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port> (without /p2p/: the peer adds its own)';
const TCP_DIAL =
  'a TCP address /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/p2p/<peerId> or /dnsaddr/<host>/p2p/<peerId> (this peer speaks TCP only)';

/**
 * `listen`: an address to listen on (IP and TCP port); `dial`: a peer to dial (host, TCP port
 * and `/p2p/<peerId>`, or a `/dnsaddr/` name with the peer ID).
 */
function multiaddrSchema(kind: 'listen' | 'dial' | 'announce') {
  return z.string().transform((s, ctx) => {
    let ma: Multiaddr;
    try {
      ma = multiaddr(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected a multiaddr, ${got(s)}` });
      return z.NEVER;
    }
    const names = ma.getComponents().map((c) => c.name);
    if (kind === 'announce') {
      if (names.length !== 2 || !HOST_PROTOCOLS.includes(names[0]!) || names[1] !== 'tcp') {
        ctx.addIssue({ code: 'custom', message: `expected ${TCP_ANNOUNCE}, ${got(s)}` });
        return z.NEVER;
      }
      return ma.toString();
    }
    if (kind === 'listen') {
      if (names.length !== 2 || !['ip4', 'ip6'].includes(names[0]!) || names[1] !== 'tcp') {
        ctx.addIssue({ code: 'custom', message: `expected ${TCP_LISTEN}, ${got(s)}` });
        return z.NEVER;
      }
      return ma.toString();
    }
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
    const tcp = names.length === 3 && HOST_PROTOCOLS.includes(names[0]!) && names[1] === 'tcp';
    const dnsaddr = names.length === 2 && names[0] === 'dnsaddr';
    if ((!tcp && !dnsaddr) || names.at(-1) !== 'p2p') {
      ctx.addIssue({ code: 'custom', message: `expected ${TCP_DIAL}, ${got(s)}` });
      return z.NEVER;
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

/** Longest duration any flag takes: Node's timers overflow past ~24.8 days (then fire at once). */
const DAY = 86_400_000;

export function formatMs(ms: number): string {
  for (const [unit, n] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  }
  return `${ms}ms`;
}

function durationSchema(min: number, max: number) {
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
    if (ms < min || ms > max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration from ${formatMs(min)} to ${formatMs(max)}, ${got(s)}`,
      });
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

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KiB: 1024,
  Ki: 1024,
  MiB: 1024 ** 2,
  Mi: 1024 ** 2,
  GiB: 1024 ** 3,
  Gi: 1024 ** 3,
};

/** A byte count: `1048576`, `512KiB`, `64MiB`, `2GiB` (or Kubernetes' `Ki`, `Mi`, `Gi`). */
function sizeSchema(min: number, max: number) {
  return z.string().transform((s, ctx) => {
    const m = /^(\d+)\s*([A-Za-z]*)$/.exec(s.trim());
    const unit = m == null ? undefined : SIZE_UNITS[m[2] ?? ''];
    const bytes = m == null || unit == null ? NaN : Number(m[1]) * unit;
    if (!Number.isSafeInteger(bytes) || bytes < min || bytes > max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size from ${min / 1024 ** 2}MiB to ${max / 1024 ** 4}TiB such as 64MiB or 1GiB, ${got(s)}`,
      });
      return z.NEVER;
    }
    return bytes;
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

/**
 * kad-dht forgets records and provider records nobody refreshed for 48 h; a record is re-put
 * within one to two intervals, a provider record re-announced every interval.
 */
const MAX_REPUBLISH_MS = 12 * 3_600_000;
/** a record must fit: the largest value, its key and framing */
const MIN_RECORD_BYTES = 1024 ** 2;

const schema = z
  .object({
    listen: z.array(multiaddrSchema('listen')).min(1).default(['/ip4/0.0.0.0/tcp/4001']),
    api: apiSchema.default({ host: '127.0.0.1', port: 5001 }),
    bootstrap: z.array(multiaddrSchema('dial')).default([]),
    announce: z.array(multiaddrSchema('announce')).default([]),
    'bootstrap-file': pathSchema.optional(),
    'external-bootstrap-file': pathSchema.optional(),
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
    'api-token-file': pathSchema.optional(),
    'data-dir': pathSchema.optional(),
    'log-level': oneOf(LOG_LEVELS).default('info'),
    'dht-profile': oneOf(DHT_PROFILES).default('tuned'),
    replication: intSchema(1, 100).default(D.replication),
    // default: D.writeQuorum / D.readQuorum, or --replication when that is smaller
    'write-quorum': intSchema(1, 100).optional(),
    'read-quorum': intSchema(1, 100).optional(),
    'republish-interval': durationSchema(1000, MAX_REPUBLISH_MS).default(D.republishInterval),
    'drain-timeout': durationSchema(0, 3_600_000).default(D.drainTimeout),
    'max-connections': intSchema(1, 100_000).default(300),
    // quotas: defaults from the memory budget (parseConfig)
    'max-records': intSchema(1, 1_000_000_000).optional(),
    'max-record-bytes': sizeSchema(MIN_RECORD_BYTES, 1024 ** 4).optional(),
    'max-provider-records': intSchema(1, 1_000_000_000).optional(),
    'max-providers-per-key': intSchema(1, 1_000_000).optional(),
    'max-clock-skew': durationSchema(1000, DAY).default(D.maxClockSkew),
  })
  .superRefine((v, ctx) => {
    const quorum = v['write-quorum'];
    if (quorum !== undefined && quorum > v.replication) {
      ctx.addIssue({
        code: 'custom',
        path: ['write-quorum'],
        message: `${quorum} is more than --replication ${v.replication}: a PUT would wait for more copies than it makes`,
      });
    }
    const read = v['read-quorum'];
    if (read !== undefined && read > v.replication) {
      ctx.addIssue({
        code: 'custom',
        path: ['read-quorum'],
        message: `${read} is more than --replication ${v.replication}: a GET would wait for more copies than a PUT makes`,
      });
    }
  });

export interface ParseOptions {
  /** the memory budget quota defaults are sized from (readMemoryLimit()); default 512 MiB */
  memory?: MemoryBudget;
}

/** Parses flags (argv without node and script) and `PEERNET_*` env. Throws ConfigError. */
export function parseConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  opts: ParseOptions = {},
): PeerConfig {
  const raw = collect(argv, env);
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const flag = String(issue?.path[0] ?? 'arguments');
    throw new ConfigError(`--${flag}`, issue?.message ?? 'invalid value');
  }
  const v = result.data;
  const memory = opts.memory ?? { bytes: DEFAULT_MEMORY_BYTES, source: 'default' };
  const quotas = defaultQuotas(memory.bytes);
  return {
    listen: v.listen,
    api: v.api,
    bootstrap: v.bootstrap,
    announce: v.announce,
    bootstrapFile: v['bootstrap-file'],
    externalBootstrapFile: v['external-bootstrap-file'],
    keyFile: v['key-file'],
    network: v.network,
    mdns: v.mdns,
    swarmKeyFile: v['swarm-key-file'],
    apiTokenFile: v['api-token-file'],
    dataDir: v['data-dir'],
    logLevel: v['log-level'],
    dhtProfile: v['dht-profile'],
    replication: v.replication,
    writeQuorum: v['write-quorum'] ?? Math.min(D.writeQuorum, v.replication),
    readQuorum: v['read-quorum'] ?? Math.min(D.readQuorum, v.replication),
    republishInterval: v['republish-interval'],
    drainTimeout: v['drain-timeout'],
    maxConnections: v['max-connections'],
    quotas: {
      records: v['max-records'] ?? quotas.records,
      recordBytes: v['max-record-bytes'] ?? quotas.recordBytes,
      providerRecords: v['max-provider-records'] ?? quotas.providerRecords,
      providersPerKey: v['max-providers-per-key'] ?? quotas.providersPerKey,
    },
    memory,
    maxClockSkew: v['max-clock-skew'],
    libp2pDebug: (env.DEBUG ?? '') !== '',
  };
}

/** Bootstrap file lines: multiaddrs; blank lines and `#` comments ignored. Bad lines are returned apart. */
export function parseBootstrapLines(text: string): { addrs: string[]; bad: string[] } {
  const addrs: string[] = [];
  const bad: string[] = [];
  const one = multiaddrSchema('dial');
  for (const line of text.split(/\r?\n/)) {
    const s = line.replace(/#.*/, '').trim();
    if (s === '') continue;
    const r = one.safeParse(s);
    if (r.success) addrs.push(r.data);
    else bad.push(s);
  }
  return { addrs, bad };
}
