// A libp2p node that speaks a network's protocols as a client: kad-dht in client mode (it sends
// DHT requests and serves none), identify and ping, no listen address. Tests and benchmarks use
// it to send hand-made requests straight to one peer, as a hostile or buggy peer could.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { dhtInternals, type DhtInternals } from '../dht/internals.js';
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
