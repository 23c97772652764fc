// A libp2p node that speaks a network's protocols as a client: kad-dht in client mode (it sends
// DHT requests and serves none), identify and ping, no listen address. Tests and benchmarks use
// it to send hand-made requests straight to one peer, as a hostile or buggy peer could
// (`createWireClient`).
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { kadDHT, MessageType, passthroughMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { peerIdFromString } from '@libp2p/peer-id';
import { Libp2pRecord } from '@libp2p/record';
import { multiaddr } from '@multiformats/multiaddr';
import { randomBytes } from 'node:crypto';
import { createLibp2p } from 'libp2p';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { PeerId } from '@libp2p/interface';
import { dhtInternals, sendDhtRequest, type DhtInternals } from '../dht/internals.js';
import { openValue, recordKey, sealValue } from '../dht/keys.js';
import { callJson } from '../dht/json-protocol.js';
import { dhtProtocol, quietLogger } from './index.js';

export async function createDhtClientNode(network: string) {
  const node = await createLibp2p({
    logger: quietLogger,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: dhtProtocol(network),
        clientMode: true,
        peerInfoMapper: passthroughMapper,
      }),
    },
  });
  const dht: DhtInternals = dhtInternals(node.services.dht);
  return { node, dht };
}

/** A client node with the requests tests and benchmarks send by hand, each to one peer's address. */
export interface WireClient {
  node: Awaited<ReturnType<typeof createDhtClientNode>>['node'];
  /**
   * PUT_VALUE of `key` (a peernet record key) holding `value` dated `timestamp` to the peer at
   * `addr` (ending in /p2p/<peerId>); rejects when the peer refuses it.
   */
  putValue(addr: string, key: string, value: Uint8Array | string, timestamp: number): Promise<void>;
  /** the value the peer at `addr` holds for `key` (GET_VALUE: its own copy, no lookup) */
  heldBy(addr: string, key: string): Promise<string | undefined>;
  /** FIND_NODE of a random key: how many closer peers the peer at `addr` named */
  findNode(addr: string): Promise<number>;
  /** one request on a peernet JSON protocol (length-prefixed JSON); rejects when the peer aborts */
  callJson(addr: string, protocol: string, body: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

export async function createWireClient(network: string): Promise<WireClient> {
  const { node, dht } = await createDhtClientNode(network);
  const deadline = (): AbortSignal => AbortSignal.timeout(10_000);
  const connect = async (addr: string): Promise<PeerId> => {
    const ma = multiaddr(addr);
    const id = ma.getComponents().find((c) => c.name === 'p2p')?.value;
    if (id === undefined) throw new Error(`${addr} names no peer`);
    await node.dial(ma, { signal: deadline() });
    return peerIdFromString(id);
  };
  return {
    node,
    async putValue(addr, key, value, timestamp) {
      const dhtKey = recordKey(key);
      const bytes = typeof value === 'string' ? uint8ArrayFromString(value) : value;
      const record = new Libp2pRecord(dhtKey, sealValue(bytes, timestamp), new Date()).serialize();
      const msg = { type: MessageType.PUT_VALUE, key: dhtKey, record };
      await sendDhtRequest(dht, await connect(addr), msg, deadline());
    },
    async heldBy(addr, key) {
      const msg = { type: MessageType.GET_VALUE, key: recordKey(key) };
      const res = await sendDhtRequest(dht, await connect(addr), msg, deadline());
      return res.record == null ? undefined : uint8ArrayToString(openValue(res.record.value).value);
    },
    async findNode(addr) {
      const msg = { type: MessageType.FIND_NODE, key: randomBytes(32) };
      return (await sendDhtRequest(dht, await connect(addr), msg, deadline())).closer.length;
    },
    async callJson(addr, protocol, body) {
      return callJson(node, await connect(addr), protocol, body, deadline());
    },
    async stop() {
      await node.stop();
    },
  };
}
