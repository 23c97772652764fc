// The daemon: config in, a running peer out (libp2p node, records service, bootstrap, HTTP API),
// with a graceful stop that drains first.
import { mkdir, readFile } from 'node:fs/promises';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { MemoryDatastore, MountDatastore } from 'datastore-core';
import { FsDatastore } from 'datastore-fs';
import { Key, type Datastore } from 'interface-datastore';
import type { Logger } from 'pino';
import type { PeerId } from '@libp2p/interface';
import { ConfigError, type PeerConfig } from './config.js';
import { generateIdentity, readKeyFile, type Identity } from './identity.js';
import { createPeerNode, dhtProtocol, type PeerNode } from './node/index.js';
import { Bootstrapper } from './node/bootstrap.js';
import { RecordsService, RECORD_PREFIX, newestRecordWins } from './dht/records.js';
import { dhtInternals, observeRequests } from './dht/internals.js';
import { TableFiller } from './dht/table-filler.js';
import { startApiServer, type ApiServer, type PeerApi } from './api/server.js';
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

/** Parses a `/key/swarm/psk/1.0.0/` swarm key file into its 32 key bytes. */
export function parseSwarmKey(text: string): Uint8Array {
  const [tag, codec, hex] = text.split(/\r?\n/).map((l) => l.trim());
  if (tag !== '/key/swarm/psk/1.0.0/') throw new Error('first line must be /key/swarm/psk/1.0.0/');
  if (codec !== '/base16/') throw new Error('second line must be /base16/');
  if (hex == null || !/^[0-9a-fA-F]{64}$/.test(hex))
    throw new Error('third line must be 64 hex digits');
  return new Uint8Array(Buffer.from(hex, 'hex'));
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
    throw new ConfigError('--swarm-key-file', `${path}: ${(err as Error).message}`);
  }
}

/** Memory only, or records and provider records on disk under `--data-dir`. */
export async function openDatastore(dataDir: string | undefined): Promise<Datastore> {
  if (dataDir == null) return newestRecordWins(new MemoryDatastore());
  try {
    await mkdir(dataDir, { recursive: true });
    const fs = new FsDatastore(dataDir);
    await fs.open();
    return newestRecordWins(
      new MountDatastore([
        { prefix: new Key(RECORD_PREFIX), datastore: fs },
        { prefix: new Key('/'), datastore: new MemoryDatastore() },
      ]),
    );
  } catch (err) {
    throw new ConfigError('--data-dir', `cannot use ${dataDir}: ${(err as Error).message}`);
  }
}

export async function startDaemon(config: PeerConfig, log: Logger): Promise<Daemon> {
  const identity = await loadIdentity(config.keyFile, log);
  const swarmKey = await loadSwarmKey(config.swarmKeyFile);
  const datastore = await openDatastore(config.dataDir);
  const node = await createPeerNode({
    privateKey: identity.privateKey,
    listen: config.listen,
    network: config.network,
    swarmKey,
    mdns: config.mdns,
    datastore,
    dhtProfile: config.dhtProfile,
    maxConnections: config.maxConnections,
    libp2pDebug: config.libp2pDebug,
  });
  const bootstrap = new Bootstrapper(
    node,
    { addrs: config.bootstrap, file: config.bootstrapFile },
    log.child({ component: 'bootstrap' }),
  );
  const metrics = createMetrics({
    routingTableSize: () => svc.routingTableSize,
    connections: () => node.getConnections().length,
    recordsStored: () => svc.countRecords(),
    providerRecordsStored: () => svc.countProviderRecords(),
  });
  node.addEventListener('connection:open', (evt) => {
    metrics.connectionsOpened.inc({ direction: evt.detail.direction });
  });
  if (!observeRequests(node.services.dht, (type) => metrics.dhtRequestsReceived.inc({ type })))
    log.warn('this kad-dht hides its RPC handler: peernet_dht_requests_received_total stays 0');
  const svc = new RecordsService(
    node,
    datastore,
    {
      profile: config.dhtProfile,
      network: config.network,
      replication: config.replication,
      writeQuorum: config.writeQuorum,
      republishInterval: config.republishInterval,
      drainTimeout: config.drainTimeout,
    },
    log.child({ component: 'records' }),
    metrics,
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

  const api: PeerApi = {
    ready,
    status: async () => ({
      peerId: node.peerId.toString(),
      addrs: node.getMultiaddrs().map(String),
      network: config.network,
      protocol: dhtProtocol(config.network),
      dhtProfile: config.dhtProfile,
      routingTable: svc.routingTableSize,
      connections: node.getConnections().length,
      records: await svc.countRecords(),
      ready: ready(),
      draining: svc.draining,
    }),
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
    get: (key) => svc.get(key),
    provide: async (key) => ({ ...(await svc.provide(key)) }),
    findProviders: (key) => svc.findProviders(key),
    ping: (target) => pingTarget(node, target),
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
  let server: ApiServer;
  try {
    server = await startApiServer({
      host: config.api.host,
      port: config.api.port,
      api,
      log: log.child({ component: 'api' }),
      metrics,
    });
  } catch (err) {
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
      bootstrap.stop();
      filler?.stop();
      await server.close();
      await svc.stop();
      await node.stop();
    })();
    return stopping;
  };

  return { node, records: svc, api: server, metrics, peerId: node.peerId.toString(), stop };
}

/** Pings a peer ID (known to the peer store) or a multiaddr; the round-trip time in ms. */
export async function pingTarget(node: PeerNode, target: string): Promise<Record<string, unknown>> {
  let dest: PeerId | Multiaddr;
  if (target.startsWith('/')) {
    try {
      dest = multiaddr(target);
    } catch (err) {
      throw new InvalidTargetError(
        `not a multiaddr: ${JSON.stringify(target)} (${(err as Error).message})`,
      );
    }
  } else {
    let id: PeerId;
    try {
      id = peerIdFromString(target);
    } catch {
      throw new InvalidTargetError(`not a peer ID or multiaddr: ${JSON.stringify(target)}`);
    }
    if (id.equals(node.peerId)) throw new InvalidTargetError('that is this peer');
    const known =
      node.getConnections(id).length > 0 ||
      ((await node.peerStore.has(id)) && (await node.peerStore.get(id)).addresses.length > 0);
    if (!known)
      throw new UnknownPeerError(`unknown peer: ${target} (no connection and no known address)`);
    dest = id;
  }
  try {
    const rtt = await node.services.ping.ping(dest, { signal: AbortSignal.timeout(10_000) });
    const peerId =
      typeof (dest as PeerId).toMultihash === 'function'
        ? dest.toString()
        : (dest as Multiaddr).getComponents().find((c) => c.name === 'p2p')?.value;
    return { target, peerId, rttMs: rtt };
  } catch (err) {
    throw new PingFailedError(`ping ${target} failed: ${(err as Error).message}`);
  }
}
