// The parts of @libp2p/kad-dht 16's KadDHT class the records service uses beyond its public
// interface: the routing table (closest known peers), the network (one RPC to one peer) and the
// provider store. They are checked once at start so a library change fails loudly, not subtly.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { KadDHT, QueryEvent, MessageType } from '@libp2p/kad-dht';
import { Libp2pRecord } from '@libp2p/record';
import type { AbortOptions, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { CID } from 'multiformats/cid';

export interface PbPeerInfo {
  id: Uint8Array;
  multiaddrs: Uint8Array[];
}

export interface DhtMessage {
  type: MessageType;
  key?: Uint8Array;
  record?: Uint8Array;
  closer: PbPeerInfo[];
  providers: PbPeerInfo[];
}

export interface QueryPath {
  index: number;
  queued: number;
  running: number;
  total: number;
}

export interface DhtInternals {
  routingTable: {
    size: number;
    closestPeers(kadId: Uint8Array, options?: { count?: number }): PeerId[];
    /** adds a peer (after pinging it when new) */
    add(peer: PeerId, options?: AbortOptions): Promise<void>;
    find(peer: PeerId, options?: AbortOptions): Promise<PeerId | undefined>;
    addEventListener(
      type: 'peer:add' | 'peer:remove',
      fn: (evt: CustomEvent<PeerId>) => void,
    ): void;
    removeEventListener(
      type: 'peer:add' | 'peer:remove',
      fn: (evt: CustomEvent<PeerId>) => void,
    ): void;
  };
  network: {
    sendRequest(
      to: PeerId,
      msg: DhtMessage,
      options: AbortOptions & { path: QueryPath },
    ): AsyncIterable<QueryEvent>;
    sendMessage(
      to: PeerId,
      msg: DhtMessage,
      options: AbortOptions & { path: QueryPath },
    ): AsyncIterable<QueryEvent>;
    /** how the network tells kad-dht (and libp2p's discovery) of the peers an answer names */
    safeDispatchEvent(type: string, detail?: unknown): boolean;
  };
  providers: {
    addProvider(cid: CID, provider: PeerId, options?: AbortOptions): Promise<void>;
    getProviders(cid: CID, options?: AbortOptions): Promise<PeerId[]>;
  };
}

export class UnsupportedDhtError extends Error {
  override name = 'UnsupportedDhtError';
}

export function dhtInternals(dht: KadDHT): DhtInternals {
  const d = dht as unknown as Partial<DhtInternals>;
  const ok =
    typeof d.routingTable?.closestPeers === 'function' &&
    typeof d.routingTable.add === 'function' &&
    typeof d.routingTable.find === 'function' &&
    typeof d.network?.sendRequest === 'function' &&
    typeof d.network?.sendMessage === 'function' &&
    typeof d.network?.safeDispatchEvent === 'function' &&
    typeof d.providers?.addProvider === 'function' &&
    typeof d.providers?.getProviders === 'function';
  if (!ok) {
    throw new UnsupportedDhtError(
      'this @libp2p/kad-dht lacks routingTable/network/providers (built for 16.x)',
    );
  }
  return d as DhtInternals;
}

/**
 * Calls `fn` with the type of every DHT request another peer sends this one, before kad-dht
 * handles it (its RPC's `handleMessage`). False when this kad-dht has no such method: then
 * nothing is observed, and nothing else changes.
 */
export function observeRequests(dht: KadDHT, fn: (type: string) => void): boolean {
  type Handle = (peer: PeerId, msg: { type?: unknown }) => Promise<unknown>;
  const rpc = (dht as unknown as { rpc?: { handleMessage?: Handle } }).rpc;
  const original = rpc?.handleMessage;
  if (rpc == null || typeof original !== 'function') return false;
  rpc.handleMessage = (peer, msg) => {
    fn(typeof msg?.type === 'string' ? msg.type : 'UNKNOWN');
    return original.call(rpc, peer, msg);
  };
  return true;
}

export const NO_PATH: QueryPath = { index: -1, queued: 0, running: 0, total: 0 };

export type DhtRequest = Omit<DhtMessage, 'closer' | 'providers'>;

export interface DhtAnswer {
  record?: Libp2pRecord;
  /** peers the answering peer knows closer to the key */
  closer: PeerId[];
  providers: Array<{ id: PeerId; multiaddrs: Multiaddr[] }>;
}

/**
 * Requests sent inside `quietly.run(true, ...)`: the peers their answers name are not announced.
 * kad-dht's network announces every peer named in any answer ('peer' event), and kad-dht makes
 * each one missing from the routing table a new contact to verify with a ping: a dial when there
 * is no connection. Our lookups stop at the first answer and follow the peers named themselves,
 * so for them that is pure cost: at 100 peers 3 dials per GET (both ends do a handshake and an
 * identify), GET p50 106 ms. kad-dht's own queries (self-query, refresh, the table filler's)
 * still announce theirs: that is how tables grow (suppressing all of them left tables at 4).
 */
const quietly = new AsyncLocalStorage<true>();
const quieted = new WeakSet<object>();

/** Makes the network drop the 'peer' announcements of requests sent quietly (once per network). */
function quietPeerAnnouncements(network: DhtInternals['network']): void {
  if (quieted.has(network)) return;
  quieted.add(network);
  const dispatch = network.safeDispatchEvent.bind(network);
  network.safeDispatchEvent = (type, detail) =>
    type === 'peer' && quietly.getStore() === true ? false : dispatch(type, detail);
}

/**
 * One kad-dht request to one peer and its answer; throws when it fails or times out. `quiet`:
 * the peers the answer names are returned, not announced (see `quietly`).
 */
export async function sendDhtRequest(
  dht: DhtInternals,
  peer: PeerId,
  msg: DhtRequest,
  signal: AbortSignal,
  opts: { quiet?: boolean } = {},
): Promise<DhtAnswer> {
  if (opts.quiet !== true) return request(dht, peer, msg, signal);
  quietPeerAnnouncements(dht.network);
  return quietly.run(true, () => request(dht, peer, msg, signal));
}

async function request(
  dht: DhtInternals,
  peer: PeerId,
  msg: DhtRequest,
  signal: AbortSignal,
): Promise<DhtAnswer> {
  const full: DhtMessage = { ...msg, closer: [], providers: [] };
  for await (const e of dht.network.sendRequest(peer, full, { signal, path: NO_PATH })) {
    if (e.name === 'QUERY_ERROR') throw e.error;
    if (e.name === 'PEER_RESPONSE') {
      return {
        record:
          e.record == null
            ? undefined
            : new Libp2pRecord(e.record.key, e.record.value, e.record.timeReceived ?? new Date()),
        closer: e.closer.map((p) => p.id),
        providers: e.providers,
      };
    }
  }
  throw new Error(`no answer from ${peer.toString()}`);
}

/**
 * A new contact that holds an open connection to this peer enters kad-dht's routing table without
 * the ping kad-dht 16 sends every new contact first. kad-dht adds a peer when identify on a
 * connection shows the DHT protocol, so the connection has just proved it alive; go-libp2p-kad-dht
 * adds such peers without a ping too. The ping cost both ends a stream, and on a busy machine it
 * delayed the entry, or kept the peer out when it timed out. A contact without a connection is
 * still pinged. The tagger of the closest peers learns of skipped pings as of real ones (kad-dht's
 * `peer:ping` event). False when this kad-dht has no such hook: then nothing changes.
 */
export function trustConnectedContacts(dht: KadDHT, connected: (peer: PeerId) => boolean): boolean {
  type Verify = (contact: { peerId: PeerId }, options?: AbortOptions) => Promise<boolean>;
  const table = (
    dht as unknown as {
      routingTable?: {
        kb?: { verify?: Verify };
        safeDispatchEvent?: (type: string, init: { detail: PeerId }) => boolean;
      };
    }
  ).routingTable;
  const kb = table?.kb;
  const original = kb?.verify;
  if (
    kb == null ||
    typeof original !== 'function' ||
    typeof table?.safeDispatchEvent !== 'function'
  )
    return false;
  kb.verify = (contact, options) => {
    if (!connected(contact.peerId)) return original.call(kb, contact, options);
    table.safeDispatchEvent?.('peer:ping', { detail: contact.peerId });
    return Promise.resolve(true);
  };
  return true;
}
