// Interop: a go-libp2p + go-libp2p-kad-dht peer (interop/go, built from the Go module proxy and
// cached) joins a network of real peernet peers: it connects, pings and is pinged, reads what
// peernet wrote and the reverse, finds providers both ways, agrees on the newest value, and joins
// a private network with the same swarm.key (and only with it). See docs/interop.md.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureGoPeer, GoPeer } from '../helpers/go-peer.js';
import { PeerGroup, sleep, swarmKeyText, waitFor, type PeerProcess } from '../helpers/peers.js';

// The first run builds the Go peer (a few minutes from empty Go caches).
jest.setTimeout(900_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);

let bin: string;
beforeAll(async () => {
  bin = await ensureGoPeer((line) => process.stderr.write(line + '\n'));
}, 1_800_000);

describe('a go-libp2p peer in an open network', () => {
  const network = `interop-${uniq()}`;
  let group: PeerGroup;
  let js: PeerProcess[];
  let go: GoPeer;

  beforeAll(async () => {
    group = await PeerGroup.create('interop-open');
    js = await group.startMany(3, { network, prefix: 'js' });
    go = await GoPeer.start(bin, {
      network,
      bootstrap: [js[0]!.addr],
      logPath: join(group.logDir, 'go.log'),
    });
    // the Go peer is reachable from every peernet peer: they find it through the DHT
    for (const p of js) {
      await waitFor(`${p.name} to know the Go peer (${group.logHint()})`, async () => {
        await p.client.ping(go.peerId);
        return true;
      });
    }
    await go.must({ cmd: 'connect', addr: js[1]!.addr });
    await go.must({ cmd: 'connect', addr: js[2]!.addr });
  });
  afterAll(async () => {
    await go?.stop();
    await group?.stop();
  });

  test('connects, and pings both ways', async () => {
    expect(await js[0]!.client.peers()).toContain(go.peerId);
    const peers = await go.must({ cmd: 'peers' });
    expect(peers.peers).toEqual(expect.arrayContaining(js.map((p) => p.peerId)));
    for (const p of js) {
      const fromGo = await go.must({ cmd: 'ping', peer: p.peerId });
      expect(typeof fromGo.rttMs).toBe('number');
      const fromJs = await p.client.ping(go.peerId);
      expect(fromJs.peerId).toBe(go.peerId);
      expect(typeof fromJs.rttMs).toBe('number');
    }
  });

  test('PUT in peernet, GET in Go', async () => {
    const key = `from-js/${uniq()}`;
    await js[1]!.client.put(key, 'written by js');
    const got = await go.must({ cmd: 'get', key });
    expect(got.value).toBe('written by js');
  });

  test('PUT in Go, GET in peernet', async () => {
    const key = `from-go/${uniq()}`;
    await go.must({ cmd: 'put', key, value: 'written by go' });
    for (const p of js) expect(await p.client.get(key)).toBe('written by go');
  });

  test('providers both ways', async () => {
    const jsKey = `provided-by-js/${uniq()}`;
    await js[2]!.client.provide(jsKey);
    const found = await go.must({ cmd: 'providers', key: jsKey });
    expect(found.providers).toContain(js[2]!.peerId);

    const goKey = `provided-by-go/${uniq()}`;
    await go.must({ cmd: 'provide', key: goKey });
    for (const p of js) expect(await p.client.providers(goKey)).toContain(go.peerId);
  });

  test('the newest value wins across implementations', async () => {
    const key = `newest/${uniq()}`;
    await js[0]!.client.put(key, 'js first');
    // Go writes a newer one (its own clock, 1 s on): every peernet peer then reads it
    await sleep(50);
    await go.must({ cmd: 'put', key, value: 'go second', timestamp: Date.now() + 1_000 });
    for (const p of js) expect(await p.client.get(key)).toBe('go second');

    // peernet writes a newer one still: Go reads it
    await sleep(1_200);
    await js[2]!.client.put(key, 'js third');
    expect((await go.must({ cmd: 'get', key })).value).toBe('js third');

    // an older value written in Go loses everywhere (refused by Go locally or by the peers)
    await go.send({ cmd: 'put', key, value: 'go stale', timestamp: Date.now() - 60_000 });
    for (const p of js) expect(await p.client.get(key)).toBe('js third');
    expect((await go.must({ cmd: 'get', key })).value).toBe('js third');
  });
});

describe('a go-libp2p peer in a private network', () => {
  const network = `interop-psk-${uniq()}`;
  let group: PeerGroup;
  let js: PeerProcess[];
  const gos: GoPeer[] = [];

  beforeAll(async () => {
    group = await PeerGroup.create('interop-psk');
    await writeFile(group.path('swarm.key'), swarmKeyText());
    await writeFile(group.path('other.key'), swarmKeyText());
    js = await group.startMany(2, { network, prefix: 'js', swarmKeyFile: group.path('swarm.key') });
  });
  afterAll(async () => {
    await Promise.all(gos.map((g) => g.stop()));
    await group?.stop();
  });

  const startGo = async (name: string, swarmKeyFile?: string): Promise<GoPeer> => {
    const g = await GoPeer.start(bin, {
      network,
      swarmKeyFile,
      logPath: join(group.logDir, `${name}.log`),
    });
    gos.push(g);
    return g;
  };

  test('with the same swarm.key it joins: connect, ping, PUT/GET both ways', async () => {
    const go = await startGo('go-same', group.path('swarm.key'));
    await go.must({ cmd: 'connect', addr: js[0]!.addr });
    await go.must({ cmd: 'connect', addr: js[1]!.addr });
    await go.must({ cmd: 'ping', peer: js[1]!.peerId });
    expect((await js[0]!.client.ping(go.peerId)).peerId).toBe(go.peerId);

    const k1 = `psk-js/${uniq()}`;
    await js[0]!.client.put(k1, 'private js');
    expect((await go.must({ cmd: 'get', key: k1 })).value).toBe('private js');
    const k2 = `psk-go/${uniq()}`;
    await go.must({ cmd: 'put', key: k2, value: 'private go' });
    expect(await js[1]!.client.get(k2)).toBe('private go');
  });

  test('with another swarm.key, or none, no connection is made', async () => {
    const wrong = await startGo('go-wrong', group.path('other.key'));
    const none = await startGo('go-none');
    for (const g of [wrong, none]) {
      const r = await g.send({ cmd: 'connect', addr: js[0]!.addr });
      expect(r.ok).toBe(false);
    }
    await sleep(1_000);
    const seen = await js[0]!.client.peers();
    expect(seen).not.toContain(wrong.peerId);
    expect(seen).not.toContain(none.peerId);
  });
});
