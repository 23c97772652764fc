// The three demos of the original Rust program, with real peers in separate processes:
// ping (one peer given the other's address, then each pings the other by peer ID), mDNS discovery
// with nothing else, and a DHT network of six peers.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import {
  PeerGroup,
  createNetns,
  peerctl,
  waitFor,
  type Netns,
  type PeerProcess,
} from '../helpers/peers.js';

jest.setTimeout(180_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);

describe('demo 1: two peers ping each other, one given the other’s address', () => {
  let group: PeerGroup;
  let a: PeerProcess;
  let b: PeerProcess;

  beforeAll(async () => {
    group = await PeerGroup.create('demo-ping');
    const network = `test/ping-${uniq()}`;
    // b is given a's address (no mDNS); a learns of b when b connects
    a = await group.start({ name: 'a', network });
    b = await group.start({ name: 'b', network, bootstrap: [a.addr] });
  });
  afterAll(() => group?.stop());

  test('POST /v1/ping/{peerId}, both ways', async () => {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const r = await from.client.request('POST', `/v1/ping/${to.peerId}`);
      expect({ status: r.status, body: r.text, log: from.logPath }).toMatchObject({ status: 200 });
      expect(JSON.parse(r.text)).toEqual({ peerId: to.peerId, rttMs: expect.any(Number) });
    }
  });

  test('POST /v1/ping with an address is refused: ping reaches peers of the network only', async () => {
    const r = await a.client.request('POST', `/v1/ping/${encodeURIComponent(b.addr)}`);
    expect({ status: r.status, body: r.text }).toMatchObject({ status: 400 });
  });

  test('peerctl ping PEERID, both ways; an address is a usage error', async () => {
    const ab = await peerctl(a, ['ping', b.peerId]);
    expect({ ...ab, log: a.logPath }).toMatchObject({ code: 0 });
    expect(ab.stdout).toMatch(new RegExp(`^${b.peerId}: \\d+(\\.\\d+)? ms`));
    const ba = await peerctl(b, ['ping', a.peerId]);
    expect({ ...ba, log: b.logPath }).toMatchObject({ code: 0 });
    expect((await peerctl(b, ['ping', a.addr])).code).toBe(2);
  });
});

describe('demo 2: co-located peers find each other by mDNS alone', () => {
  let group: PeerGroup;
  let ns: Netns | undefined;
  let peers: PeerProcess[];

  beforeAll(async () => {
    group = await PeerGroup.create('demo-mdns');
    // As in one pod: the peers share a network namespace of their own, which also keeps this
    // test's multicast away from any other peer on the machine. Without root, the host's own.
    ns = createNetns('mdns');
    const network = `test/mdns-${uniq()}`;
    peers = await Promise.all(
      [0, 1, 2].map((i) => group.start({ name: `m${i}`, network, mdns: true, netns: ns?.name })),
    );
  });
  afterAll(async () => {
    await group?.stop();
    ns?.remove();
  });

  test('every peer ends up connected to every other, with no bootstrap', async () => {
    for (const p of peers) {
      const others = peers.filter((q) => q !== p).map((q) => q.peerId);
      await waitFor(
        `${p.name} to discover ${others.join(', ')} by mDNS (${group.logHint()}, netns ${ns?.name ?? 'none'})`,
        async () => {
          const seen = await p.client.peers();
          return others.every((id) => seen.includes(id));
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
    }
  });

  test('and they share one DHT: a record PUT on one is GET on the others', async () => {
    await peers[0]!.client.put('mdns-key', 'found by multicast');
    for (const p of peers.slice(1)) {
      const v = await waitFor(`${p.name} to GET mdns-key (${group.logHint()})`, () =>
        p.client.get('mdns-key'),
      );
      expect(v).toBe('found by multicast');
    }
  });
});

describe('demo 3: six peers in separate processes share records and providers', () => {
  const N = 6;
  let group: PeerGroup;
  let peers: PeerProcess[];

  beforeAll(async () => {
    group = await PeerGroup.create('demo-dht');
    peers = await group.startMany(N, { network: `test/dht-${uniq()}`, prefix: 'd' });
    // every routing table holds every other peer
    for (const p of peers) {
      await waitFor(
        `${p.name}'s routing table to hold ${N - 1} peers (${group.logHint()})`,
        async () => (await p.client.status()).routingTable >= N - 1,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }
  });
  afterAll(() => group?.stop());

  test('a record PUT on each peer is GET on every other (HTTP)', async () => {
    for (const [i, p] of peers.entries()) {
      await p.client.put(`http-key-${i}`, `value from ${p.name}`);
    }
    for (const [i, putter] of peers.entries()) {
      for (const q of peers.filter((x) => x !== putter)) {
        const v = await waitFor(`${q.name} to GET http-key-${i} (${group.logHint()})`, () =>
          q.client.get(`http-key-${i}`),
        );
        expect(v).toBe(`value from ${putter.name}`);
      }
    }
  });

  test('a record PUT with peerctl is GET with peerctl on every other', async () => {
    const put = await peerctl(peers[2]!, ['put', 'cli-key', 'cli value']);
    expect({ ...put, log: peers[2]!.logPath }).toMatchObject({ code: 0 });
    for (const q of peers.filter((_, i) => i !== 2)) {
      const got = await peerctl(q, ['get', 'cli-key']);
      expect({ ...got, log: q.logPath }).toMatchObject({ code: 0 });
      expect(got.stdout.trim()).toBe('cli value');
    }
  });

  test('a binary value round-trips unchanged', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const r = await peers[0]!.client.request('PUT', '/v1/records/binary', bytes, {
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(r.status).toBeLessThan(300);
    const g = await fetch(`${peers[4]!.apiUrl}/v1/records/binary`);
    expect(g.status).toBe(200);
    expect(new Uint8Array(await g.arrayBuffer())).toEqual(bytes);
  });

  test('a provider announced on one peer is found from every other (HTTP and peerctl)', async () => {
    const provider = peers[1]!;
    await provider.client.provide('some-content');
    for (const q of peers.filter((x) => x !== provider)) {
      await waitFor(
        `${q.name} to find ${provider.peerId} providing (${group.logHint()})`,
        async () => (await q.client.providers('some-content')).includes(provider.peerId),
      );
    }

    const cliProvider = peers[5]!;
    const prov = await peerctl(cliProvider, ['provide', 'cli-content']);
    expect({ ...prov, log: cliProvider.logPath }).toMatchObject({ code: 0 });
    for (const q of peers.filter((x) => x !== cliProvider)) {
      const r = await peerctl(q, ['providers', 'cli-content']);
      expect({ ...r, log: q.logPath }).toMatchObject({ code: 0 });
      expect(r.stdout).toContain(cliProvider.peerId);
    }
  });

  test('peerctl peers and status --json tell the same story as the API', async () => {
    const p = peers[3]!;
    const st = await peerctl(p, ['--json', 'status']);
    expect(st.code).toBe(0);
    const json = JSON.parse(st.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      peerId: p.peerId,
      addrs: expect.any(Array),
      network: expect.any(String),
      routingTable: expect.any(Number),
      connections: expect.any(Number),
    });
    const ps = await peerctl(p, ['peers']);
    expect(ps.code).toBe(0);
    for (const q of peers.filter((x) => x !== p)) expect(ps.stdout).toContain(q.peerId);
  });
});
