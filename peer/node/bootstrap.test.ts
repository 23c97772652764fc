import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import { pino } from 'pino';
import { Bootstrapper, pickBootstrap } from './bootstrap.js';
import type { PeerNode } from './index.js';

describe('Bootstrapper: pickBootstrap', () => {
  const listed = Array.from({ length: 199 }, (_, i) => `p${i}`);
  const none = (): boolean => false;

  it('dials every listed peer when there are few', () => {
    expect(pickBootstrap(['a', 'b', 'c'], none, 8).sort()).toEqual(['a', 'b', 'c']);
  });

  it('dials at most max of a long list, each once', () => {
    const chosen = pickBootstrap(listed, none, 8);
    expect(chosen).toHaveLength(8);
    expect(new Set(chosen).size).toBe(8);
    for (const p of chosen) expect(listed).toContain(p);
  });

  it('counts listed peers already connected against max and never re-dials them', () => {
    const connected = new Set(['p1', 'p2', 'p3', 'p4', 'p5']);
    const chosen = pickBootstrap(listed, (p) => connected.has(p), 8);
    expect(chosen).toHaveLength(3);
    for (const p of chosen) expect(connected.has(p)).toBe(false);
    expect(pickBootstrap(listed, (p) => p < 'p2', 8)).toHaveLength(0); // p0, p1, p10..p199
  });

  it('draws a different sample each time, so peers listed by all are not all dialled first', () => {
    const first = new Set<string>();
    for (let i = 0; i < 50; i++) for (const p of pickBootstrap(listed, none, 8)) first.add(p);
    // 50 draws of 8 from 199: uniform sampling reaches well over 100 distinct peers
    expect(first.size).toBeGreaterThan(100);
  });

  it('is a uniform draw given the random source', () => {
    // random() = 0 always swaps in the current place: the first max of the list, in order
    expect(pickBootstrap(listed, none, 3, () => 0)).toEqual(['p0', 'p1', 'p2']);
    // random() just below 1 swaps the last free one into each place
    expect(pickBootstrap(['a', 'b', 'c', 'd'], none, 2, () => 0.999)).toEqual(['d', 'a']);
  });
});

describe('Bootstrapper: dials', () => {
  // A stand-in for the libp2p node with just what the bootstrapper uses: peers in `up` accept a
  // dial (and are connected after), the rest refuse it.
  function fakeNode(up: Set<string>) {
    const connected = new Set<string>();
    const dialled: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const node = {
      peerId: { toString: () => 'self' },
      getConnections: () => [...connected].map((id) => ({ remotePeer: { toString: () => id } })),
      dial: async (ma: Multiaddr) => {
        const id = ma.getComponents().find((c) => c.name === 'p2p')!.value!;
        dialled.push(id);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(2);
        inFlight--;
        if (!up.has(id)) throw new Error('connection refused');
        connected.add(id);
      },
    };
    return {
      node: node as unknown as PeerNode,
      connected,
      dialled,
      maxInFlight: () => maxInFlight,
    };
  }

  async function listedPeers(n: number): Promise<string[]> {
    return Promise.all(
      Array.from({ length: n }, async () =>
        peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
      ),
    );
  }

  it('goes on down its random order past failed dials until max are connected', async () => {
    const ids = await listedPeers(40);
    const up = new Set(ids.slice(0, 10)); // the other 30 are listed but not up yet
    const fake = fakeNode(up);
    const b = new Bootstrapper(
      fake.node,
      { addrs: ids.map((id, i) => `/ip4/127.0.0.1/tcp/${4000 + i}/p2p/${id}`), maxDials: 4 },
      pino({ level: 'silent' }),
    );
    await b.start();
    try {
      for (let i = 0; i < 200 && fake.connected.size < 4; i++) await sleep(5);
      await sleep(20); // no dials after the fourth connection
      expect(fake.connected.size).toBe(4);
      for (const id of fake.connected) expect(up.has(id)).toBe(true);
      expect(fake.maxInFlight()).toBeLessThanOrEqual(4);
      expect(new Set(fake.dialled).size).toBe(fake.dialled.length); // each peer dialled once
    } finally {
      b.stop();
    }
  });
});
