// The daemon: config in, a running peer out (libp2p node, records service, bootstrap, HTTP API),
// with a graceful stop that drains first.
// Long: start and stop of every part in one place, so their order is read once (startDaemon).
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MemoryDatastore, MountDatastore } from 'datastore-core';
import { FsDatastore } from 'datastore-fs';
import { Key } from 'interface-datastore';
import type { Logger } from 'pino';
import type { PeerId } from '@libp2p/interface';
import { ConfigError, type PeerConfig } from './config.js';
import { generateIdentity, parseSwarmKey, readKeyFile, type Identity } from '../common/identity.js';
import {
  createPeerNode,
  dhtProtocol,
  isConnected,
  otherNetwork,
  type PeerNode,
} from './node/index.js';
import { Bootstrapper } from './node/bootstrap.js';
import { createRecordsService, type RecordsService } from './dht/records.js';
import { RECORD_PREFIX, RecordStore, type RecordStoreOptions } from './dht/store.js';
import { dhtInternals, observeRequests, trustConnectedContacts } from './dht/internals.js';
import { TableFiller } from './dht/table-filler.js';
import { startApiServer, type ApiServer, type PeerApi } from './api/server.js';
import { watchTokenFile } from './api/token-file.js';
import { MAX_EXTERNAL_LISTED } from './api/types.js';
import { createMetrics, type PeerMetrics } from './metrics.js';

export class UnknownPeerError extends Error {
  override name = 'UnknownPeerError';
}
export class InvalidTargetError extends Error {
  override name = 'InvalidTargetError';
}
export class PingFailedError extends Error {
  override name = 'PingFailedError';
}

export interface Daemon {
  node: PeerNode;
  records: RecordsService;
  /** the datastore: its counters, quotas and guards */
  store: RecordStore;
  api: ApiServer;
  metrics: PeerMetrics;
  peerId: string;
  /** drain (unless told not to), then stop everything; safe to call twice */
  stop(opts?: { drain?: boolean }): Promise<void>;
}

/** Reads `--key-file`; without the flag, a fresh identity (with a warning). */
export async function loadIdentity(path: string | undefined, log: Logger): Promise<Identity> {
  if (path == null) {
    log.warn('no --key-file: using a fresh identity, the peer ID will change on restart');
    return generateIdentity();
  }
  try {
    return await readKeyFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // a key file named but missing is an error, not a fresh identity: the peer ID is the
    // peer's address in the network, and a silently new one (say, a Secret not mounted)
    // would look like a different peer
    if (e.code === 'ENOENT') {
      throw new ConfigError(
        '--key-file',
        `${path} does not exist (make one with: peernet-peer keygen --out ${path})`,
      );
    }
    if (e.name === 'InvalidKeyError') throw new ConfigError('--key-file', `${path}: ${e.message}`);
    throw new ConfigError('--key-file', `cannot read ${path}: ${e.message}`);
  }
}

export async function loadSwarmKey(path: string | undefined): Promise<Uint8Array | undefined> {
  if (path == null) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--swarm-key-file', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseSwarmKey(text);
  } catch (err) {
    throw new ConfigError(
      '--swarm-key-file',
      `${path} is not a swarm key: ${(err as Error).message}`,
    );
  }
}

/** The shortest API token taken: shorter ones are guessable. */
export const MIN_API_TOKEN_LENGTH = 16;

/**
 * Reads `--api-token-file`: the token is the file's text without surrounding whitespace, at
 * least MIN_API_TOKEN_LENGTH visible ASCII characters (it travels in an HTTP header).
 */
export async function loadApiToken(path: string | undefined): Promise<string | undefined> {
  if (path == null) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--api-token-file', `cannot read ${path}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (!/^[\x21-\x7e]+$/.test(token) || token.length < MIN_API_TOKEN_LENGTH) {
    throw new ConfigError(
      '--api-token-file',
      `${path} must hold one token of at least ${MIN_API_TOKEN_LENGTH} visible ASCII characters (no spaces)`,
    );
  }
  return token;
}

/** 127.0.0.0/8, ::1 and localhost: only this host reaches an API bound there. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * `mkdir -p` by hand: Node's recursive mkdir loops forever, at 100 % CPU, under /proc (where
 * mkdir answers ENOENT), so each missing directory is made on its own.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(dir); ;) {
    try {
      if (!(await stat(p)).isDirectory()) throw new Error(`${p} is not a directory`);
      break;
    } catch (err) {
      const parent = dirname(p);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === p) throw err;
      missing.unshift(p);
      p = parent;
    }
  }
  for (const d of missing) {
    await mkdir(d).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** Throws unless a file can be written, read back and removed in `dir`. */
async function probeWritable(dir: string): Promise<void> {
  const probe = join(dir, `.peernet-probe-${process.pid}`);
  await writeFile(probe, 'peernet');
  try {
    if ((await readFile(probe, 'utf8')) !== 'peernet')
      throw new Error('a file written reads back wrong');
  } finally {
    await rm(probe, { force: true });
  }
}

/**
 * The store of records and provider records: in memory, or records on disk under `--data-dir`
 * (which must be a directory this peer can write: checked here, at start). Either way behind the
 * RecordStore, which counts what is held and refuses what is older or over a quota.
 */
export async function openDatastore(
  dataDir: string | undefined,
  opts: RecordStoreOptions,
): Promise<RecordStore> {
  if (dataDir == null) {
    const store = new RecordStore(new MemoryDatastore(), opts);
    await store.open();
    return store;
  }
  try {
    await makeDirs(dataDir);
    await probeWritable(dataDir);
    const fs = new FsDatastore(dataDir);
    await fs.open();
    const store = new RecordStore(
      new MountDatastore([
        { prefix: new Key(RECORD_PREFIX), datastore: fs },
        { prefix: new Key('/'), datastore: new MemoryDatastore() },
      ]),
      opts,
    );
    await store.open();
    return store;
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    throw new ConfigError('--data-dir', `cannot use ${dataDir}: ${why}`);
  }
}

/**
 * `--bootstrap-file` must be a file this peer can read. One that does not exist yet is waited
 * for (the bootstrapper polls it); a directory or an unreadable file never works.
 */
export async function checkBootstrapFile(
  path: string | undefined,
  flag = '--bootstrap-file',
): Promise<void> {
  if (path == null) return;
  try {
    if (!(await stat(path)).isFile()) throw new Error('not a regular file');
    await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError(flag, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * libp2p's error when a listen address cannot be bound names each address and its reason over
 * several lines: one line, naming the flag, for the first of them.
 */
export function listenError(err: Error, listen: string[]): ConfigError {
  const m = /^\s+(\/\S+): (?:[A-Za-z]*Error: )?(.+)$/m.exec(err.message);
  const reason =
    m == null ? `cannot listen on ${listen.join(', ')}` : `cannot listen on ${m[1]}: ${m[2]}`;
  return new ConfigError('--listen', reason);
}

// Long: the daemon's parts in start order (store, node, records, API), each needing the one before, and their stop in one place.
export async function startDaemon(config: PeerConfig, log: Logger): Promise<Daemon> {
  const swarmKey = await loadSwarmKey(config.swarmKeyFile);
  const apiToken = await loadApiToken(config.apiTokenFile);
  if (apiToken === undefined && !isLoopback(config.api.host)) {
    log.warn(
      { api: `${config.api.host}:${config.api.port}` },
      'the API listens beyond this host without --api-token-file: anyone who reaches it may write records, drain and ping',
    );
  }
  const identity = await loadIdentity(config.keyFile, log);
  await checkBootstrapFile(config.bootstrapFile);
  await checkBootstrapFile(config.externalBootstrapFile, '--external-bootstrap-file');
  const metrics = createMetrics({
    routingTableSize: () => svc.routingTableSize,
    connections: () => node.getConnections().length,
    stored: () => datastore.counts(),
    quotas: config.quotas,
  });
  const datastore = await openDatastore(config.dataDir, {
    quotas: config.quotas,
    maxClockSkew: config.maxClockSkew,
    onRefused: (reason) => metrics.refused.inc({ reason }),
  });
  log.info(
    { quotas: config.quotas, memory: config.memory, held: datastore.counts() },
    'record quotas',
  );
  let node: PeerNode;
  try {
    node = await createPeerNode({
      privateKey: identity.privateKey,
      listen: config.listen,
      announce: config.announce,
      network: config.network,
      swarmKey,
      mdns: config.mdns,
      datastore,
      dhtProfile: config.dhtProfile,
      maxConnections: config.maxConnections,
      libp2pDebug: config.libp2pDebug,
      records: {
        maxClockSkew: config.maxClockSkew,
        onFuture: () => metrics.refused.inc({ reason: 'future' }),
      },
    });
  } catch (err) {
    if ((err as Error).name === 'UnsupportedListenAddressesError') {
      throw listenError(err as Error, config.listen);
    }
    throw err;
  }
  const bootstrap = new Bootstrapper(
    node,
    {
      addrs: config.bootstrap,
      ...(config.bootstrapFile != null ? { file: config.bootstrapFile } : {}),
      ...(config.externalBootstrapFile != null
        ? { externalFile: config.externalBootstrapFile }
        : {}),
    },
    log.child({ component: 'bootstrap' }),
  );
  // Networks share no DHT (each has its own protocol), but a peer of another network can still
  // connect, say through a bootstrap address of the wrong network: drop it once identify shows
  // it, so it takes no connection slot and does not count as a neighbour for /readyz.
  node.addEventListener('peer:identify', (evt) => {
    const other = otherNetwork(evt.detail.protocols, config.network);
    if (other === undefined) return;
    log.debug({ peer: evt.detail.peerId.toString(), network: other }, 'closing: another network');
    evt.detail.connection.close().catch((err: unknown) => {
      evt.detail.connection.abort(err as Error);
    });
  });
  node.addEventListener('connection:open', (evt) => {
    metrics.connectionsOpened.inc({ direction: evt.detail.direction });
  });
  if (!observeRequests(node.services.dht, (type) => metrics.dhtRequestsReceived.inc({ type })))
    log.warn('this kad-dht hides its RPC handler: peernet_dht_requests_received_total stays 0');
  if (
    config.dhtProfile === 'tuned' &&
    !trustConnectedContacts(node.services.dht, (peer) => isConnected(node, peer))
  )
    log.warn('this kad-dht hides its routing table: every new contact is pinged first');
  const svc = createRecordsService(
    { node, datastore, logger: log.child({ component: 'records' }), metrics },
    {
      profile: config.dhtProfile,
      network: config.network,
      replication: config.replication,
      writeQuorum: config.writeQuorum,
      readQuorum: config.readQuorum,
      republishInterval: config.republishInterval,
      drainTimeout: config.drainTimeout,
      maxClockSkew: config.maxClockSkew,
    },
  );

  if (config.mdns) {
    // discovered peers are only remembered by libp2p; connect so the DHT can use them
    node.addEventListener('peer:discovery', (evt) => {
      const id = evt.detail.id;
      if (id.equals(node.peerId) || node.getConnections(id).length > 0) return;
      node.dial(id, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
        log.debug(
          { peer: id.toString(), err: (err as Error).message },
          'dial of discovered peer failed',
        );
      });
    });
  }

  const knowsPeer = (): boolean => svc.routingTableSize > 0 || node.getConnections().length > 0;
  const ready = (): boolean =>
    !svc.draining && (knowsPeer() || (!config.mdns && bootstrap.peers().length === 0));

  /**
   * Connected peers the network's own list (the operator's bootstrap file) does not name: peers
   * of federated networks, and clients (at most MAX_EXTERNAL_LISTED).
   */
  const externalPeers = (): string[] => {
    const own = bootstrap.ownIds();
    const out = new Set<string>();
    for (const c of node.getConnections()) {
      const id = c.remotePeer.toString();
      if (!own.has(id)) out.add(id);
      if (out.size >= MAX_EXTERNAL_LISTED) break;
    }
    return [...out];
  };

  const api: PeerApi = {
    ready,
    status: () => {
      const held = svc.counts();
      return Promise.resolve({
        peerId: node.peerId.toString(),
        addrs: node.getMultiaddrs().map(String),
        network: config.network,
        protocol: dhtProtocol(config.network),
        dhtProfile: config.dhtProfile,
        routingTable: svc.routingTableSize,
        connections: node.getConnections().length,
        records: held.records,
        recordBytes: held.recordBytes,
        providerRecords: held.providerRecords,
        quotas: config.quotas,
        ready: ready(),
        draining: svc.draining,
        ...(config.bootstrapFile != null ? { externalPeers: externalPeers() } : {}),
      });
    },
    peers: () => {
      const byPeer = new Map<string, { peerId: string; addrs: string[] }>();
      for (const c of node.getConnections()) {
        const id = c.remotePeer.toString();
        const entry = byPeer.get(id) ?? { peerId: id, addrs: [] };
        entry.addrs.push(c.remoteAddr.toString());
        byPeer.set(id, entry);
      }
      return Promise.resolve([...byPeer.values()]);
    },
    put: async (key, value) => ({ ...(await svc.put(key, value)) }),
    get: (key, opts) => svc.get(key, opts),
    provide: async (key) => ({ ...(await svc.provide(key)) }),
    findProviders: (key) => svc.findProviders(key),
    ping: (peer) => pingPeer(node, config.network, peer, log),
    drain: () => svc.drain(),
  };

  const filler =
    config.dhtProfile === 'tuned'
      ? new TableFiller(
          node,
          dhtInternals(node.services.dht),
          { protocol: dhtProtocol(config.network) },
          log.child({ component: 'table' }),
        )
      : undefined;

  await node.start();
  await svc.start();
  filler?.start();
  await bootstrap.start();
  const tokenFile =
    apiToken !== undefined && config.apiTokenFile !== undefined
      ? watchTokenFile(config.apiTokenFile, apiToken, loadApiToken, log.child({ component: 'api' }))
      : undefined;
  let server: ApiServer;
  try {
    server = await startApiServer({
      host: config.api.host,
      port: config.api.port,
      api,
      log: log.child({ component: 'api' }),
      metrics,
      ...(tokenFile !== undefined ? { token: () => tokenFile.current() } : {}),
    });
  } catch (err) {
    tokenFile?.stop();
    bootstrap.stop();
    filler?.stop();
    await svc.stop();
    await node.stop();
    throw new ConfigError(
      '--api',
      `cannot listen on ${config.api.host}:${config.api.port}: ${(err as Error).message}`,
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = (opts: { drain?: boolean } = {}): Promise<void> => {
    stopping ??= (async () => {
      if (opts.drain !== false) {
        try {
          const { handedOff } = await svc.drain();
          log.info({ handedOff }, 'drained');
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'drain failed');
        }
      }
      tokenFile?.stop();
      bootstrap.stop();
      filler?.stop();
      await server.close();
      await svc.stop();
      await node.stop();
    })();
    return stopping;
  };

  return {
    node,
    records: svc,
    store: datastore,
    api: server,
    metrics,
    peerId: node.peerId.toString(),
    stop,
  };
}

/**
 * Pings a peer of this network: one that identify showed speaking this network's DHT protocol
 * (the peer store keeps what identify learned; every peer in the routing table got there that
 * way). It is reached over its connection or at the addresses it announced, never at an address
 * the caller gives. A failure says no more than that: the caller learns nothing about ports.
 */
export async function pingPeer(
  node: PeerNode,
  network: string,
  peer: PeerId,
  log: Logger,
): Promise<{ peerId: string; rttMs: number }> {
  const id = peer.toString();
  if (peer.equals(node.peerId)) throw new InvalidTargetError(`${id} is this peer`);
  const known =
    (await node.peerStore.has(peer)) &&
    (await node.peerStore.get(peer)).protocols.includes(dhtProtocol(network));
  if (!known) throw new UnknownPeerError(`not a known peer of network ${network}: ${id}`);
  try {
    const rttMs = await node.services.ping.ping(peer, { signal: AbortSignal.timeout(10_000) });
    return { peerId: id, rttMs };
  } catch (err) {
    log.debug({ peer: id, err: (err as Error).message }, 'ping failed');
    throw new PingFailedError(`ping ${id}: no answer`);
  }
}
