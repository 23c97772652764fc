// Join a peernet network from your own js-libp2p app, with only public libp2p packages (no
// peernet code): the protocol ids, record envelope, validator, selector and provider keys of
// docs/interop.md.
//
//   node dist/examples/join.js --network NAME --bootstrap /ip4/.../tcp/.../p2p/12D3Koo... \
//     [--swarm-key-file swarm.key] put KEY VALUE | get KEY | provide KEY | providers KEY
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';

const { values: flags, positionals } = parseArgs({
  options: {
    network: { type: 'string', default: 'default' },
    bootstrap: { type: 'string', multiple: true, default: [] },
    'swarm-key-file': { type: 'string' },
  },
  allowPositionals: true,
});
const [verb, key, value] = positionals;
if (!verb || !key) throw new Error('usage: put KEY VALUE | get KEY | provide KEY | providers KEY');

// Records: DHT key /peernet/<key>; value [0x01][8-byte big-endian ms timestamp][value bytes].
const enc = new TextEncoder();
const dhtKey = (k: string): Uint8Array => enc.encode(`/peernet/${k}`);
const seal = (v: Uint8Array, ts: number): Uint8Array => {
  const out = new Uint8Array(9 + v.length);
  out[0] = 1;
  new DataView(out.buffer).setBigUint64(1, BigInt(ts));
  out.set(v, 9);
  return out;
};
const timestamp = (s: Uint8Array): number => {
  if (s.length <= 9 || s[0] !== 1) throw new Error('not a peernet record envelope');
  return Number(new DataView(s.buffer, s.byteOffset, s.length).getBigUint64(1));
};
const compare = (a: Uint8Array, b: Uint8Array): number => {
  const d = timestamp(a) - timestamp(b);
  if (d !== 0) return d;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
};
const valid = (s: Uint8Array): boolean => s.length > 9 && s[0] === 1;
// the key and envelope within bounds, dated no more than 5 minutes ahead
const validate = (k: Uint8Array, v: Uint8Array): void => {
  if (k.length <= 9 || k.length > 9 + 256 || !valid(v) || v.length - 9 > 64 * 1024) {
    throw new Error('not a valid peernet record');
  }
  if (timestamp(v) > Date.now() + 300_000) throw new Error('dated in the future');
};
// the newest valid record; equal timestamps: the larger bytes; an invalid one never wins
const select = (records: Uint8Array[]): number => {
  let best = -1;
  records.forEach((r, i) => {
    if (valid(r) && (best < 0 || compare(r, records[best]!) > 0)) best = i;
  });
  return Math.max(best, 0);
};
// Providers: CIDv1, raw codec, sha2-256 of the key's UTF-8 bytes.
const providerCid = async (k: string): Promise<CID> =>
  CID.createV1(raw.code, await sha256.digest(enc.encode(k)));

const swarmKey = flags['swarm-key-file'];
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // @libp2p/pnet reads the key's hex digits in lower case only
  ...(swarmKey
    ? {
        connectionProtector: preSharedKey({
          psk: enc.encode(readFileSync(swarmKey, 'utf8').toLowerCase()),
        }),
      }
    : {}),
  connectionGater: { denyDialMultiaddr: () => false },
  services: {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({
      protocol: `/peernet/${flags.network}/kad/1.0.0`,
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      validators: {
        peernet: (k, v) => Promise.resolve().then(() => validate(k, v)),
      },
      selectors: {
        // the newest valid record; one that is not an envelope never wins
        peernet: (_k, records) => select(records),
      },
    }),
  },
});
for (const b of flags.bootstrap) await node.dial(multiaddr(b));
// let the routing table take in the peers we dialled (identify runs first)
await new Promise((r) => setTimeout(r, 1_000));

const signal = AbortSignal.timeout(30_000);
const routing = node.contentRouting;
if (verb === 'put') {
  await routing.put(dhtKey(key), seal(enc.encode(value ?? ''), Date.now()), { signal });
  console.log('stored');
} else if (verb === 'get') {
  const sealed = await routing.get(dhtKey(key), { signal });
  console.log(new TextDecoder().decode(sealed.subarray(9)));
} else if (verb === 'provide') {
  await routing.provide(await providerCid(key), { signal });
  console.log(`provided by ${node.peerId.toString()}`);
} else if (verb === 'providers') {
  for await (const p of routing.findProviders(await providerCid(key), { signal })) {
    console.log(p.id.toString());
  }
}
await node.stop();
