// libp2p assembly: TCP, Noise, Yamux, identify, ping, Kademlia DHT in server mode on a
// per-network protocol id, mDNS on request, and a pre-shared key on every connection only when a
// swarm key is given (a private network). Networks are kept apart by their protocol ids and mDNS
// service tags, not at the connection: without a swarm key the network is open to any libp2p
// client that speaks its protocols (docs/adr/0003-peer-dht.md, decision 2).
import { createHash } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { kadDHT, passthroughMapper, type KadDHT, type KadDHTInit } from '@libp2p/kad-dht';
import { mdns } from '@libp2p/mdns';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';
import type { Identify } from '@libp2p/identify';
import type { ComponentLogger, Logger, PeerId, PrivateKey } from '@libp2p/interface';
import type { Datastore } from 'interface-datastore';
import type { DhtProfile } from '../config.js';
import { formatSwarmKey } from '../../common/identity.js';
import { NAMESPACE, recordValidator, selectRecord, type ClockCheck } from '../dht/keys.js';

const SOCKET_IDLE_MS = 10 * 60_000;

export type PeerServices = { identify: Identify; ping: Ping; dht: KadDHT };
export type PeerNode = Libp2p<PeerServices>;

export interface PeerNodeOptions {
  privateKey: PrivateKey;
  listen: string[];
  /** announced instead of the listen addresses when given */
  announce?: string[];
  network: string;
  /** the 32 key bytes of a `/key/swarm/psk/1.0.0/` file; none: no connection protector */
  swarmKey?: Uint8Array;
  mdns: boolean;
  datastore: Datastore;
  dhtProfile: DhtProfile;
  /** @default 300 */
  maxConnections?: number;
  /** libp2p's `debug` loggers (DEBUG=libp2p:*); off: a logger that does nothing. @default false */
  libp2pDebug?: boolean;
  /** records dated further ahead of the clock are refused (see keys.ts) */
  records?: RecordChecks;
}

export interface RecordChecks extends ClockCheck {
  /** told of each record refused for its date */
  onFuture?: () => void;
}

/**
 * js-libp2p makes a `debug` logger for every connection, stream and query; each one checks its
 * namespace against DEBUG and whether stderr is a TTY. At 100 peers a node that creates
 * thousands of them spends a few percent of its CPU there even with every namespace off.
 */
const quiet: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: (): Logger => quiet,
});
export const quietLogger: ComponentLogger = { forComponent: () => quiet };

/** `/peernet/<network>/kad/1.0.0`: one DHT per network name. */
/** `node` holds an open connection to `peer`: a request to it needs no dial */
export function isConnected(node: Pick<PeerNode, 'getConnections'>, peer: PeerId): boolean {
  return node.getConnections(peer).some((c) => c.status === 'open');
}

export function dhtProtocol(network: string): string {
  return `/peernet/${network}/kad/1.0.0`;
}

/** mDNS service tag for a network: a DNS-safe label derived from the name. */
export function mdnsServiceTag(network: string): string {
  const h = createHash('sha256').update(network).digest('hex').slice(0, 16);
  return `_peernet-${h}._udp.local`;
}

const DHT_PROTOCOL = /^\/peernet\/(.+)\/kad\/1\.0\.0$/;

/**
 * The peernet network a peer of another network belongs to, from the protocols it announced
 * (identify): it speaks another network's DHT protocol and not ours. Undefined for a peer of this
 * network and for any other libp2p client (those stay connected; they may speak our protocols).
 */
export function otherNetwork(protocols: readonly string[], network: string): string | undefined {
  if (protocols.includes(dhtProtocol(network))) return undefined;
  for (const p of protocols) {
    const m = DHT_PROTOCOL.exec(p);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The `@libp2p/pnet` protector for a swarm key: the key as it is, so kubo and go-libp2p nodes
 * given the same swarm.key file connect. The file is written out again from the parsed bytes
 * because @libp2p/pnet reads lower-case hex only.
 */
export function swarmProtector(swarmKey: Uint8Array) {
  return preSharedKey({ psk: new TextEncoder().encode(formatSwarmKey(swarmKey)), timeout: 10_000 });
}

/**
 * kad-dht options for a profile. `stock` is kadDHT() with only what our network needs to work at
 * all (server mode, our protocol, private addresses, our record namespace); `tuned` is what we
 * run: see docs/adr/0003-peer-dht.md for each figure.
 */
export function dhtInit(
  profile: DhtProfile,
  network: string,
  records: RecordChecks = {},
): KadDHTInit {
  const base: KadDHTInit = {
    protocol: dhtProtocol(network),
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    validators: { [NAMESPACE]: recordValidator(records) },
    selectors: { [NAMESPACE]: selectRecord },
  };
  if (profile === 'stock') return base;
  return {
    ...base,
    // Lookups we leave to kad-dht (self-query, table refresh, fallbacks) walk fewer paths:
    // 10 disjoint paths x alpha 10 spends CPU every peer on this machine shares.
    alpha: 3,
    disjointPaths: 2,
    // Fill the table fast at start; after that kad-dht's own 5 minutes (every self-query asks
    // ~20 peers: 100 peers resting after the launch took 0.83 cores with a 60 s interval, 0.48
    // with 5 min; the table filler keeps small tables growing meanwhile).
    initialQuerySelfInterval: 500,
    querySelfInterval: 300_000,
    // Under load on a shared CPU a ping can take a while; a short timeout evicts live peers.
    pingNewContactTimeout: { minTimeout: 2_000, maxTimeout: 10_000 },
    pingOldContactTimeout: { minTimeout: 2_000, maxTimeout: 10_000 },
    networkDialTimeout: { minTimeout: 2_000, maxTimeout: 10_000 },
    // Our own layer re-provides on its republish interval (records/index.ts).
    reprovide: { interval: 3_600_000 },
  };
}

export async function createPeerNode(opts: PeerNodeOptions): Promise<PeerNode> {
  return createLibp2p({
    privateKey: opts.privateKey,
    datastore: opts.datastore,
    ...(opts.libp2pDebug ? {} : { logger: quietLogger }),
    addresses: {
      listen: opts.listen,
      ...(opts.announce?.length ? { announce: opts.announce } : {}),
    },
    // A connection idle this long closes. @libp2p/tcp's default, 2 minutes, closed most of the
    // connections a peer made while filling its table before it used them: every PUT then dialled
    // ~8 of its 20 closest peers again (a handshake on both ends each). Connections cost memory,
    // not CPU, while idle (no pings: see connectionMonitor); maxConnections still bounds them.
    transports: [
      tcp({
        inboundSocketInactivityTimeout: SOCKET_IDLE_MS,
        outboundSocketInactivityTimeout: SOCKET_IDLE_MS,
      }),
    ],
    connectionEncrypters: [noise()],
    // yamux's keep-alive pings every connection every 30 s and never acts on a missing answer:
    // it only kept idle connections from timing out (see connectionMonitor below)
    streamMuxers: [yamux({ enableKeepAlive: false })],
    ...(opts.swarmKey ? { connectionProtector: swarmProtector(opts.swarmKey) } : {}),
    // Pod and loopback addresses are how peers reach each other here: allow them all.
    connectionGater: {
      denyDialMultiaddr: () => false,
    },
    // No connection monitor: its pings (every 10 s by default, a stream each) kept every
    // connection a peer ever made busy. Without them a connection idle for SOCKET_IDLE_MS closes
    // and one that broke fails its next stream. At 100 peers on 2 cores: idle CPU per peer
    // 1.2 % -> 0.6 % (measured with the 2-minute idle timeout).
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: opts.maxConnections ?? 300,
      // Every peer of a node (or of this test machine) shares one IP: the per-host rate limit
      // (5/s by default) would refuse most of them.
      inboundConnectionThreshold: 10_000,
      maxIncomingPendingConnections: 256,
      maxParallelDials: 100,
    },
    peerDiscovery: opts.mdns
      ? [mdns({ serviceTag: mdnsServiceTag(opts.network), interval: 2_000 })]
      : [],
    services: {
      identify: identify(),
      // libp2p's connection monitor pings every connection too: with ping's default of one
      // outbound stream, `POST /v1/ping` racing a monitor ping fails with "Too many outbound
      // protocol streams".
      ping: ping({ maxOutboundStreams: 8, maxInboundStreams: 8 }),
      dht: kadDHT(dhtInit(opts.dhtProfile, opts.network, opts.records)),
    },
  });
}
