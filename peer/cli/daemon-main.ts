// The daemon's main, loaded by peernet-peer.ts once the V8 flags are in place.
import { flushCompileCache } from 'node:module';
import { pino, type Logger } from 'pino';
import { ConfigError, parseConfig } from '../config.js';
import { USAGE } from '../usage.js';
import { generateIdentity, writeKeyFile } from '../../common/identity.js';
import { startDaemon } from '../daemon.js';
import { readMemoryLimit } from '../quotas.js';
import { packageVersion } from '../../common/version.js';

function fail(message: string, code = 2): never {
  process.stderr.write(`peernet-peer: ${message}\n`);
  process.exit(code);
}

async function keygen(args: string[]): Promise<void> {
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') out = args[++i];
    else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'Usage: peernet-peer keygen --out PATH\nWrites a new Ed25519 key and prints its peer ID.\n',
      );
      return;
    } else fail(`keygen: ${a}: unknown argument`);
  }
  if (out == null || out === '') fail('keygen: --out: expected a path');
  const id = await generateIdentity();
  try {
    await writeKeyFile(out, id);
  } catch (err) {
    fail(`keygen: --out: cannot write ${out}: ${(err as Error).message}`, 1);
  }
  process.stdout.write(`${id.peerId}\n`);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'keygen') return keygen(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  let config;
  try {
    config = parseConfig(argv, process.env, { memory: readMemoryLimit() });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const log: Logger = pino({
    level: config.logLevel,
    base: { service: 'peernet-peer' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  let daemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    log.fatal({ err: (err as Error).message }, 'peer failed to start');
    process.exit(1);
  }
  log.info(
    {
      peerId: daemon.peerId,
      addrs: daemon.node.getMultiaddrs().map(String),
      api: daemon.api.address,
      network: config.network,
      dhtProfile: config.dhtProfile,
    },
    'peer started',
  );
  // Node writes V8's compile cache (enabled by peernet-peer.ts) only when a process exits. Peers
  // started together on a new build would all compile from scratch, and compiling leaves ~12 MiB
  // more of malloc's heap behind in each of them than reading the cache does (measured: [heap]
  // 19.7 vs 7.5 MiB in an idle peer). Written now, the cache serves every peer started after
  // this one. A cache that cannot be written (the image's is read-only) is skipped silently.
  flushCompileCache();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    log.info({ signal }, 'stopping: draining records to the closest peers');
    daemon
      .stop()
      .then(() => {
        log.info('peer stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'error while stopping');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export function run(): void {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`peernet-peer: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
