// The peer's flags described once: `peernet-peer --help` and the flag table of
// docs/reference/peer.md are both rendered from FLAG_HELP (a unit test keeps the document in
// step), beside the flags' parsing in ./config.ts, which names every flag FLAG_HELP must describe.
import { envName, FLAG_NAMES, formatMs, type FlagName } from './config.js';
import { RECORDS_DEFAULTS as D } from './dht/defaults.js';

interface FlagHelp {
  /** the value's placeholder; none for a switch */
  arg?: string;
  /** the default, as the reference table shows it (Markdown) */
  default: string;
  /** `--help`'s lines, the first beside the flag */
  usage: string[];
}

const memory = "(memory limit: the cgroup's memory.max, else 512 MiB)";

export const FLAG_HELP: Record<FlagName, FlagHelp> = {
  listen: {
    arg: 'MULTIADDR',
    default: '`/ip4/0.0.0.0/tcp/4001`',
    usage: ['libp2p listen address, repeatable (default /ip4/0.0.0.0/tcp/4001)'],
  },
  announce: {
    arg: 'MULTIADDR',
    default: 'none (the listen addresses)',
    usage: [
      'an address to announce instead of the listen addresses (behind NAT,',
      'a NodePort or a host port), repeatable',
    ],
  },
  api: {
    arg: 'HOST:PORT',
    default: '`127.0.0.1:5001`',
    usage: ['HTTP API address (default 127.0.0.1:5001; port 0 picks a free port)'],
  },
  bootstrap: {
    arg: 'MULTIADDR',
    default: 'none',
    usage: ['peer to join through, with /p2p/<peerId>, repeatable'],
  },
  'bootstrap-file': {
    arg: 'PATH',
    default: 'none',
    usage: ['one bootstrap multiaddr a line, re-read when it changes'],
  },
  'external-bootstrap-file': {
    arg: 'PATH',
    default: 'none',
    usage: [
      'peers beyond this network (federation), one a line: all dialled and',
      'kept connected; re-read when it changes',
    ],
  },
  'key-file': {
    arg: 'PATH',
    default: 'none (fresh identity)',
    usage: ['private key (peernet-peer keygen); without it a fresh identity'],
  },
  network: {
    arg: 'NAME',
    default: '`default`',
    usage: ['network name: peers of different names never share a DHT (default "default")'],
  },
  mdns: { default: 'off', usage: ['discover peers on the local network with mDNS'] },
  'swarm-key-file': {
    arg: 'PATH',
    default: 'none',
    usage: [
      'private network: a kubo/go-libp2p swarm.key (/key/swarm/psk/1.0.0/),',
      'used as it is; without it the network is open',
    ],
  },
  'api-token-file': {
    arg: 'PATH',
    default: 'none (writes open)',
    usage: [
      'a file holding the API token: PUT/POST writes, drain and ping then',
      'need "Authorization: Bearer <token>" (reads and probes stay open)',
    ],
  },
  'data-dir': {
    arg: 'PATH',
    default: 'none (memory only)',
    usage: ['keep records across restarts (memory only without it)'],
  },
  'log-level': {
    arg: 'LEVEL',
    default: '`info`',
    usage: ['trace, debug, info, warn, error, fatal or silent (default info)'],
  },
  'dht-profile': {
    arg: 'NAME',
    default: '`tuned`',
    usage: ['tuned (default) or stock (kadDHT() defaults, for comparison)'],
  },
  replication: {
    arg: 'N',
    default: `\`${D.replication}\``,
    usage: [`copies of each record on the closest peers (default ${D.replication})`],
  },
  'write-quorum': {
    arg: 'N',
    default: `\`${D.writeQuorum}\` (at most \`--replication\`)`,
    usage: [
      `a PUT answers once N of them confirmed (default ${D.writeQuorum}, at most --replication)`,
    ],
  },
  'read-quorum': {
    arg: 'N',
    default: `\`${D.readQuorum}\` (at most \`--replication\`)`,
    usage: [
      'a GET answers with the newest of N copies, its own among them',
      `(default ${D.readQuorum}, at most --replication; GET ?quorum=N per request)`,
    ],
  },
  'republish-interval': {
    arg: 'DUR',
    default: `\`${formatMs(D.republishInterval)}\``,
    usage: [`how often held records are re-put (default ${formatMs(D.republishInterval)})`],
  },
  'drain-timeout': {
    arg: 'DUR',
    default: `\`${formatMs(D.drainTimeout)}\``,
    usage: [`how long a drain may take to hand records off (default ${formatMs(D.drainTimeout)})`],
  },
  'max-connections': {
    arg: 'N',
    default: '`300`',
    usage: ['connection limit (default 300)'],
  },
  'max-records': {
    arg: 'N',
    default: 'memory / 16 KiB (see [quotas])',
    usage: ['records this peer holds at most (default: memory limit / 16 KiB)'],
  },
  'max-record-bytes': {
    arg: 'SIZE',
    default: 'memory / 4',
    usage: ['bytes of records it holds at most, e.g. 64MiB (default: memory limit / 4)'],
  },
  'max-provider-records': {
    arg: 'N',
    default: 'memory / 8 KiB',
    usage: ['provider records it holds at most (default: memory limit / 8 KiB)'],
  },
  'max-providers-per-key': {
    arg: 'N',
    default: '`100`',
    usage: ['provider records of one key at most (default 100)', memory],
  },
  'max-clock-skew': {
    arg: 'DUR',
    default: `\`${formatMs(D.maxClockSkew)}\``,
    usage: [
      `refuse records dated further ahead of this clock (default ${formatMs(D.maxClockSkew)})`,
    ],
  },
};

const flagText = (flag: FlagName): string =>
  `--${flag}${FLAG_HELP[flag].arg ? ` ${FLAG_HELP[flag].arg}` : ''}`;

/** `--help`'s text. */
export const USAGE = [
  'Usage: peernet-peer [flags]',
  '       peernet-peer keygen --out PATH',
  '',
  'Flags (each also read from PEERNET_<FLAG>, e.g. PEERNET_DATA_DIR; flags win):',
  ...FLAG_NAMES.flatMap((flag) => {
    const [first, ...rest] = FLAG_HELP[flag].usage;
    const name = flagText(flag);
    const lead =
      name.length < 27
        ? [`  ${name.padEnd(27)}${first}`]
        : [`  ${name}`, `${' '.repeat(29)}${first}`];
    return [...lead, ...rest.map((l) => `${' '.repeat(29)}${l}`)];
  }),
  `  ${'--help'.padEnd(27)}this text`,
  `  ${'--version'.padEnd(27)}print the version`,
  '',
].join('\n');

/** The reference's flag table: flag, environment variable, default (Markdown cells). */
export function flagTable(): string[][] {
  return [
    ...FLAG_NAMES.map((flag) => [
      `\`${flagText(flag)}\``,
      `\`${envName(flag)}\``,
      FLAG_HELP[flag].default,
    ]),
    ['`--help`', '', ''],
    ['`--version`', '', ''],
  ];
}
