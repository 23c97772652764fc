// A libp2p node in this process that speaks a network's DHT protocol as a client: it sends
// hand-made records (any timestamp) straight to one peer with PUT_VALUE, as a hostile or buggy
// peer could, and serves nothing.
import { MessageType } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import { Libp2pRecord } from '@libp2p/record';
import { multiaddr } from '@multiformats/multiaddr';
import { sendDhtRequest } from '../peer/dht/internals.js';
import { recordKey, sealValue } from '../peer/dht/keys.js';
import { createDhtClientNode } from '../peer/node/client.js';

export interface WireClient {
  /**
   * PUT_VALUE of `key` (a peernet record key) holding `value` dated `timestamp` to the peer at
   * `addr` (ending in /p2p/<peerId>); rejects when the peer refuses it.
   */
  putValue(addr: string, key: string, value: Uint8Array, timestamp: number): Promise<void>;
  stop(): Promise<void>;
}

export async function createWireClient(network: string): Promise<WireClient> {
  const { node, dht } = await createDhtClientNode(network);
  return {
    async putValue(addr, key, value, timestamp) {
      const ma = multiaddr(addr);
      const id = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (id === undefined) throw new Error(`${addr} names no peer`);
      await node.dial(ma, { signal: AbortSignal.timeout(10_000) });
      const dhtKey = recordKey(key);
      const record = new Libp2pRecord(dhtKey, sealValue(value, timestamp), new Date()).serialize();
      await sendDhtRequest(
        dht,
        peerIdFromString(id),
        { type: MessageType.PUT_VALUE, key: dhtKey, record },
        AbortSignal.timeout(10_000),
      );
    },
    async stop() {
      await node.stop();
    },
  };
}
