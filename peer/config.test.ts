import { describe, expect, it } from '@jest/globals';
import {
  ConfigError,
  envName,
  FLAG_NAMES,
  parseBootstrapLines,
  parseConfig,
  type PeerConfig,
} from './config.js';

const PEER = '12D3KooWKULL2meeS7gDGHdbbkJKxKFC6kL5S7PqFwD8PEpdL6qy';
const BOOT = `/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect((err as Error).name).toBe('ConfigError');
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('has the documented defaults', () => {
    expect(parseConfig([])).toEqual({
      listen: ['/ip4/0.0.0.0/tcp/4001'],
      api: { host: '127.0.0.1', port: 5001 },
      bootstrap: [],
      announce: [],
      bootstrapFile: undefined,
      externalBootstrapFile: undefined,
      keyFile: undefined,
      network: 'default',
      mdns: false,
      swarmKeyFile: undefined,
      dataDir: undefined,
      logLevel: 'info',
      dhtProfile: 'tuned',
      replication: 20,
      writeQuorum: 3,
      readQuorum: 3,
      republishInterval: 300_000,
      drainTimeout: 10_000,
      maxConnections: 300,
      // sized from the 512 MiB budget of a peer without a cgroup memory limit
      quotas: {
        records: 32_768,
        recordBytes: 128 * 1024 * 1024,
        providerRecords: 65_536,
        providersPerKey: 100,
      },
      memory: { bytes: 512 * 1024 * 1024, source: 'default' },
      maxClockSkew: 300_000,
      libp2pDebug: false,
    });
  });

  it('sizes the quota defaults from the memory limit it is given, and flags win', () => {
    const memory = { bytes: 256 * 1024 * 1024, source: 'cgroup' as const };
    expect(parseConfig([], {}, { memory }).quotas).toEqual({
      records: 16_384,
      recordBytes: 64 * 1024 * 1024,
      providerRecords: 32_768,
      providersPerKey: 100,
    });
    const set = parseConfig(
      ['--max-records', '10', '--max-record-bytes', '2MiB'],
      { PEERNET_MAX_PROVIDER_RECORDS: '50', PEERNET_MAX_PROVIDERS_PER_KEY: '5' },
      { memory },
    );
    expect(set.quotas).toEqual({
      records: 10,
      recordBytes: 2 * 1024 * 1024,
      providerRecords: 50,
      providersPerKey: 5,
    });
  });

  it('defaults --write-quorum to 3, or to --replication when that is smaller', () => {
    expect(parseConfig([]).writeQuorum).toBe(3);
    expect(parseConfig(['--replication', '2']).writeQuorum).toBe(2);
    expect(parseConfig(['--replication', '3', '--write-quorum', '3']).writeQuorum).toBe(3);
    expect(parseConfig([]).readQuorum).toBe(3);
    expect(parseConfig(['--replication', '2']).readQuorum).toBe(2);
  });

  // every flag: [argv, the field it sets, the value expected]
  const cases: Array<[string[], keyof PeerConfig, unknown]> = [
    [['--listen', '/ip4/127.0.0.1/tcp/0'], 'listen', ['/ip4/127.0.0.1/tcp/0']],
    [
      ['--listen', '/ip4/127.0.0.1/tcp/1', '--listen', '/ip6/::1/tcp/2'],
      'listen',
      ['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/2'],
    ],
    [['--api', '0.0.0.0:0'], 'api', { host: '0.0.0.0', port: 0 }],
    [['--api', '[::1]:8080'], 'api', { host: '::1', port: 8080 }],
    [['--api', 'localhost:5002'], 'api', { host: 'localhost', port: 5002 }],
    [
      ['--bootstrap', BOOT, '--bootstrap', BOOT.replace('10.0.0.1', '10.0.0.2')],
      'bootstrap',
      [BOOT, BOOT.replace('10.0.0.1', '10.0.0.2')],
    ],
    [
      ['--bootstrap', `/dns4/p-0.n-peers.ns.svc.cluster.local/tcp/4001/p2p/${PEER}`],
      'bootstrap',
      [`/dns4/p-0.n-peers.ns.svc.cluster.local/tcp/4001/p2p/${PEER}`],
    ],
    [
      ['--bootstrap-file', '/etc/peernet/bootstrap/bootstrap.txt'],
      'bootstrapFile',
      '/etc/peernet/bootstrap/bootstrap.txt',
    ],
    [['--announce', '/ip4/192.0.2.7/tcp/30001'], 'announce', ['/ip4/192.0.2.7/tcp/30001']],
    [
      ['--external-bootstrap-file', '/etc/peernet/bootstrap/external.txt'],
      'externalBootstrapFile',
      '/etc/peernet/bootstrap/external.txt',
    ],
    [['--key-file', '/k/p.key'], 'keyFile', '/k/p.key'],
    [['--network', 'ns/my-net.v2'], 'network', 'ns/my-net.v2'],
    [['--mdns'], 'mdns', true],
    [['--swarm-key-file', '/s/swarm.key'], 'swarmKeyFile', '/s/swarm.key'],
    [['--api-token-file', '/t/token'], 'apiTokenFile', '/t/token'],
    [['--data-dir', '/tmp/d'], 'dataDir', '/tmp/d'],
    [['--log-level', 'debug'], 'logLevel', 'debug'],
    [['--dht-profile', 'stock'], 'dhtProfile', 'stock'],
    [['--replication', '5'], 'replication', 5],
    [['--write-quorum', '1'], 'writeQuorum', 1],
    [['--read-quorum', '1'], 'readQuorum', 1],
    [['--republish-interval', '10m'], 'republishInterval', 600_000],
    [['--republish-interval', '1500ms'], 'republishInterval', 1500],
    [['--republish-interval', '30'], 'republishInterval', 30_000],
    [['--drain-timeout', '0'], 'drainTimeout', 0],
    [['--max-connections', '50'], 'maxConnections', 50],
    [['--max-records', '1000'], 'quotas', expect.objectContaining({ records: 1000 })],
    [
      ['--max-record-bytes', '64MiB'],
      'quotas',
      expect.objectContaining({ recordBytes: 64 * 1024 * 1024 }),
    ],
    [
      ['--max-record-bytes', '1Gi'],
      'quotas',
      expect.objectContaining({ recordBytes: 1024 * 1024 * 1024 }),
    ],
    [
      ['--max-record-bytes', '2097152'],
      'quotas',
      expect.objectContaining({ recordBytes: 2 * 1024 * 1024 }),
    ],
    [
      ['--max-provider-records', '500'],
      'quotas',
      expect.objectContaining({ providerRecords: 500 }),
    ],
    [['--max-providers-per-key', '7'], 'quotas', expect.objectContaining({ providersPerKey: 7 })],
    [['--max-clock-skew', '30s'], 'maxClockSkew', 30_000],
    [['--api=127.0.0.1:7000'], 'api', { host: '127.0.0.1', port: 7000 }],
  ];
  it.each(cases)('%j sets %s', (argv, field, want) => {
    expect(parseConfig(argv)[field]).toEqual(want);
  });

  it('covers every flag in the table', () => {
    const tested = new Set(cases.map(([argv]) => argv[0]!.replace(/^--/, '').replace(/=.*/, '')));
    expect(FLAG_NAMES.filter((f) => !tested.has(f))).toEqual([]);
  });

  it('reads PEERNET_<FLAG> from the environment, and flags win', () => {
    const env = {
      PEERNET_API: '127.0.0.1:6001',
      PEERNET_LISTEN: '/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2',
      PEERNET_BOOTSTRAP: `${BOOT}\n${BOOT.replace('10.0.0.1', '10.0.0.3')}`,
      PEERNET_MDNS: 'true',
      PEERNET_DATA_DIR: '/data',
      PEERNET_NETWORK: 'from-env',
      PEERNET_REPUBLISH_INTERVAL: '2m',
    };
    const c = parseConfig([], env);
    expect(c.api).toEqual({ host: '127.0.0.1', port: 6001 });
    expect(c.listen).toEqual(['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2']);
    expect(c.bootstrap).toHaveLength(2);
    expect(c.mdns).toBe(true);
    expect(c.dataDir).toBe('/data');
    expect(c.republishInterval).toBe(120_000);
    const flagsWin = parseConfig(['--api', '127.0.0.1:7001', '--network', 'from-flag'], env);
    expect(flagsWin.api.port).toBe(7001);
    expect(flagsWin.network).toBe('from-flag');
    expect(parseConfig([], { PEERNET_MDNS: '0' }).mdns).toBe(false);
    expect(parseConfig([], { PEERNET_API: '' }).api.port).toBe(5001);
  });

  it('names env variables after the flag', () => {
    expect(envName('swarm-key-file')).toBe('PEERNET_SWARM_KEY_FILE');
  });

  // every bad value: [argv or env, the flag the one-line error must start with]
  const bad: Array<[string[] | Record<string, string>, string]> = [
    [['--api', 'x'], '--api'],
    [['--api', '127.0.0.1:70000'], '--api'],
    [['--api', '127.0.0.1'], '--api'],
    [['--api'], '--api'],
    [['--listen', 'not-a-multiaddr'], '--listen'],
    [['--listen', '/ip4/999.1.1.1/tcp/1'], '--listen'],
    [['--bootstrap', '/ip4/10.0.0.1/tcp/4001'], '--bootstrap'],
    [['--bootstrap', '/ip4/10.0.0.1/tcp/4001/p2p/notapeer'], '--bootstrap'],
    [['--bootstrap', 'garbage'], '--bootstrap'],
    [['--bootstrap-file', ''], '--bootstrap-file'],
    [['--announce', '/ip4/192.0.2.7/udp/1/quic-v1'], '--announce'],
    [
      [
        '--announce',
        '/ip4/192.0.2.7/tcp/1/p2p/12D3KooWGzBrXQu2r2KNbmBzPh4Gz6eZxX3cYJwh7dZP7hHcnvRa',
      ],
      '--announce',
    ],
    [['--external-bootstrap-file', ''], '--external-bootstrap-file'],
    [['--key-file', ''], '--key-file'],
    [['--network', 'UPPER'], '--network'],
    [['--network', '-leading'], '--network'],
    [['--network', 'a'.repeat(129)], '--network'],
    [['--mdns=yes'], '--mdns'],
    [{ PEERNET_MDNS: 'maybe' }, '--mdns'],
    [['--swarm-key-file', ''], '--swarm-key-file'],
    [['--api-token-file', ''], '--api-token-file'],
    [['--data-dir', ''], '--data-dir'],
    [['--log-level', 'loud'], '--log-level'],
    [['--dht-profile', 'fast'], '--dht-profile'],
    [['--replication', '0'], '--replication'],
    [['--replication', 'many'], '--replication'],
    [['--write-quorum', '0'], '--write-quorum'],
    [['--republish-interval', '10 minutes'], '--republish-interval'],
    [['--republish-interval', '10ms'], '--republish-interval'],
    [['--drain-timeout', '-1'], '--drain-timeout'],
    [['--max-connections', '1.5'], '--max-connections'],
    // accepted before, and could never work
    [['--write-quorum', '50', '--replication', '3'], '--write-quorum'],
    [['--read-quorum', '0'], '--read-quorum'],
    [['--read-quorum', '50', '--replication', '3'], '--read-quorum'],
    [{ PEERNET_WRITE_QUORUM: '5', PEERNET_REPLICATION: '4' }, '--write-quorum'],
    [['--listen', '/ip4/127.0.0.1/udp/4001/quic-v1'], '--listen'],
    [['--listen', '/ip4/127.0.0.1/tcp/4001/ws'], '--listen'],
    [['--listen', `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`], '--listen'],
    [['--bootstrap', `/ip4/10.0.0.1/udp/4001/quic-v1/p2p/${PEER}`], '--bootstrap'],
    [['--bootstrap', `/ip4/10.0.0.1/tcp/4001/ws/p2p/${PEER}`], '--bootstrap'],
    [['--bootstrap', `/p2p/${PEER}`], '--bootstrap'],
    // Node's timers overflow past ~24.8 days and fire at once; kad-dht forgets after 48 h
    [['--republish-interval', '13h'], '--republish-interval'],
    [['--republish-interval', '99999999999h'], '--republish-interval'],
    [['--drain-timeout', '30d'], '--drain-timeout'],
    [['--drain-timeout', '2h'], '--drain-timeout'],
    [['--max-records', '0'], '--max-records'],
    [['--max-record-bytes', '1KiB'], '--max-record-bytes'],
    [['--max-record-bytes', 'lots'], '--max-record-bytes'],
    [['--max-record-bytes', '10XB'], '--max-record-bytes'],
    [['--max-provider-records', '-1'], '--max-provider-records'],
    [['--max-providers-per-key', '0'], '--max-providers-per-key'],
    [['--max-clock-skew', '0'], '--max-clock-skew'],
    [['--max-clock-skew', '2d'], '--max-clock-skew'],
    [{ PEERNET_MAX_CLOCK_SKEW: '25h' }, '--max-clock-skew'],
    [{ PEERNET_API: 'nope' }, '--api'],
    [['--no-such-flag'], '--no-such-flag'],
  ];
  it.each(bad)('%j fails naming %s', (input, flag) => {
    const err = configError(() =>
      Array.isArray(input) ? parseConfig(input) : parseConfig([], input),
    );
    expect(err.flag).toBe(flag);
    expect(err.message.startsWith(`${flag}: `)).toBe(true);
    expect(err.message).not.toContain('\n');
  });

  it('quotes the bad value', () => {
    expect(configError(() => parseConfig(['--api', 'x'])).message).toBe(
      '--api: expected HOST:PORT (port 0-65535), got "x"',
    );
  });
});

describe('parseBootstrapLines', () => {
  it('skips blanks and comments and sets bad lines apart', () => {
    const text = `# peers\n\n${BOOT}\n  ${BOOT.replace('10.0.0.1', '10.0.0.9')}  # trailing\nnot an addr\n`;
    expect(parseBootstrapLines(text)).toEqual({
      addrs: [BOOT, BOOT.replace('10.0.0.1', '10.0.0.9')],
      bad: ['not an addr'],
    });
  });
});
