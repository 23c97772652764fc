// How networks are told apart, with real daemons in this process on 127.0.0.1: open networks take
// any libp2p client, a swarm key is used as it is (a plain @libp2p/pnet node given the same file
// connects, as kubo or go-libp2p would), and a peer of another network is dropped after identify.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { pino } from 'pino';
import { parseConfig } from '../config.js';
import { startDaemon, type Daemon } from '../daemon.js';
import { formatSwarmKey } from '../../common/identity.js';
import { dhtProtocol, otherNetwork, quietLogger } from './index.js';

const log = pino({ level: 'silent' });

async function start(extra: string[] = []): Promise<Daemon> {
  const config = parseConfig([
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--api',
    '127.0.0.1:0',
    '--drain-timeout',
    '0s',
    ...extra,
  ]);
  return startDaemon(config, log);
}

/** A libp2p node that is no peernet peer: identify and ping only, a pnet key file when given. */
async function plainNode(pskFile?: string) {
  return createLibp2p({
    logger: quietLogger,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(pskFile === undefined
      ? {}
      : { connectionProtector: preSharedKey({ psk: new TextEncoder().encode(pskFile) }) }),
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});
async function daemon(extra: string[] = []): Promise<Daemon> {
  const d = await start(extra);
  stops.push(() => d.stop({ drain: false }));
  return d;
}
async function plain(pskFile?: string) {
  const n = await plainNode(pskFile);
  stops.push(async () => {
    await n.stop();
  });
  return n;
}

describe('otherNetwork', () => {
  it.each([
    [[dhtProtocol('a'), '/ipfs/ping/1.0.0'], 'a', undefined],
    [[dhtProtocol('b'), '/ipfs/ping/1.0.0'], 'a', 'b'],
    [[dhtProtocol('ns/net-2')], 'ns/net', 'ns/net-2'],
    [[dhtProtocol('a'), dhtProtocol('b')], 'a', undefined],
    [['/ipfs/kad/1.0.0', '/ipfs/id/1.0.0'], 'a', undefined],
    [[], 'a', undefined],
  ])('%j seen from network %s: %s', (protocols, network, want) => {
    expect(otherNetwork(protocols, network)).toBe(want);
  });
});

describe('networks', () => {
  it('an open network (no --swarm-key-file) takes any libp2p client', async () => {
    const d = await daemon(['--network', 'open-net']);
    const client = await plain();
    const rtt = await client.services.ping.ping(d.node.getMultiaddrs()[0]!, {
      signal: AbortSignal.timeout(10_000),
    });
    expect(rtt).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it('uses the swarm key file as it is: a plain pnet node with the same file connects, others do not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peernet-pnet-'));
    const file = formatSwarmKey(crypto.getRandomValues(new Uint8Array(32)));
    await writeFile(join(dir, 'swarm.key'), file);
    const d = await daemon([
      '--network',
      'private-net',
      '--swarm-key-file',
      join(dir, 'swarm.key'),
    ]);
    const addr = d.node.getMultiaddrs()[0]!;

    const same = await plain(file);
    expect(
      await same.services.ping.ping(addr, { signal: AbortSignal.timeout(10_000) }),
    ).toBeGreaterThanOrEqual(0);

    for (const other of [
      await plain(formatSwarmKey(crypto.getRandomValues(new Uint8Array(32)))),
      await plain(),
    ]) {
      await expect(
        other.services.ping.ping(addr, { signal: AbortSignal.timeout(3_000) }),
      ).rejects.toThrow();
    }
  }, 30_000);

  it('drops a peer of another network once identify shows it, and keeps other clients', async () => {
    const a = await daemon(['--network', 'alpha']);
    const b = await daemon(['--network', 'beta']);
    const client = await plain();
    const addr = a.node.getMultiaddrs()[0]!;
    await client.dial(addr);
    // the dial itself succeeds: networks are apart by protocol, not at the connection
    await b.node.dial(addr).catch(() => undefined);
    await until(
      'the beta peer to be dropped',
      () => a.node.getConnections(b.node.peerId).length === 0,
    );
    await until('the beta side to see it', () => b.node.getConnections(a.node.peerId).length === 0);
    expect(a.records.routingTableSize).toBe(0);
    expect(b.records.routingTableSize).toBe(0);
    expect(a.node.getConnections(client.peerId)).toHaveLength(1);
  }, 30_000);
});
