import { describe, expect, it } from '@jest/globals';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PeerId } from '@libp2p/interface';
import { xor as uint8ArrayXor } from 'uint8arrays/xor';
import { xorCompare as uint8ArrayXorCompare } from 'uint8arrays/xor-compare';
import { kadId, lookup } from './lookup.js';

async function peers(n: number): Promise<PeerId[]> {
  return Promise.all(
    Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))),
  );
}

describe('lookup', () => {
  it('stops at the first peer that has the answer', async () => {
    const [self, a, b, c] = await peers(4);
    const asked: string[] = [];
    const target = await kadId(new Uint8Array([1]));
    const r = await lookup<string>({
      target,
      start: [a!, b!, c!],
      self: self!,
      alpha: 1,
      ask: (peer) => {
        asked.push(peer.toString());
        return Promise.resolve({ closer: [], result: peer.equals(b!) ? 'found' : undefined });
      },
    });
    expect(r.result).toBe('found');
    // With alpha 1 the peers are asked nearest first, and nobody after the one that answered:
    // exactly the start peers up to b in order of XOR distance to the target.
    const byDistance = await Promise.all(
      [a!, b!, c!].map(async (p) => ({
        id: p.toString(),
        d: uint8ArrayXor(await kadId(p.toMultihash().bytes), target),
      })),
    );
    byDistance.sort((x, y) => uint8ArrayXorCompare(x.d, y.d));
    const order = byDistance.map((x) => x.id);
    expect(asked).toEqual(order.slice(0, order.indexOf(b!.toString()) + 1));
  });

  it('with a quorum, goes on past the first result until it has that many', async () => {
    const [self, ...others] = await peers(6);
    const holders = new Set([others[0]!, others[2]!, others[4]!].map(String));
    const asked: string[] = [];
    const r = await lookup<string>({
      target: await kadId(new Uint8Array([2])),
      start: others,
      self: self!,
      quorum: 2,
      hedgeMs: 50,
      ask: (peer) => {
        asked.push(peer.toString());
        const has = holders.has(peer.toString());
        return Promise.resolve({ closer: [], result: has ? peer.toString() : undefined });
      },
    });
    expect(r.results).toHaveLength(2);
    expect(r.result).toBe(r.results[0]);
    for (const x of r.results) expect(holders.has(x)).toBe(true);
    expect(asked.length).toBeLessThan(others.length + 1);
  });

  it('with a quorum it cannot reach, answers with what it found and does not widen', async () => {
    const [self, ...others] = await peers(4);
    const asked: string[] = [];
    const r = await lookup<string>({
      target: await kadId(new Uint8Array([4])),
      start: others,
      self: self!,
      quorum: 3,
      count: 2,
      widenTo: 4,
      ask: (peer) => {
        asked.push(peer.toString());
        // the first peer asked holds the only copy
        return Promise.resolve({
          closer: [],
          result: asked.length === 1 ? 'only copy' : undefined,
        });
      },
    });
    expect(r.results).toEqual(['only copy']);
    // the 2 closest asked; widening to 4 is for a lookup that found nothing
    expect(asked).toHaveLength(2);
  });

  it('asks preferred peers first, but only among the `count` closest', async () => {
    const [self, ...others] = await peers(9);
    const target = await kadId(new Uint8Array([3]));
    const byDistance = (
      await Promise.all(
        others.map(async (p) => ({
          p,
          d: uint8ArrayXor(await kadId(p.toMultihash().bytes), target),
        })),
      )
    )
      .sort((x, y) => uint8ArrayXorCompare(x.d, y.d))
      .map((x) => x.p);
    // the 3rd and 4th closest, and the farthest (outside a window of 4), are "connected"
    const preferred = new Set([byDistance[2]!, byDistance[3]!, byDistance[7]!]);
    const asked: PeerId[] = [];
    await lookup<string>({
      target,
      start: others,
      self: self!,
      alpha: 1,
      count: 4,
      prefer: (p) => preferred.has(p),
      ask: (peer) => {
        asked.push(peer);
        return Promise.resolve({ closer: [] });
      },
    });
    expect(asked).toEqual([byDistance[2], byDistance[3], byDistance[0], byDistance[1]]);
  });

  it('holds the other peers back while a preferred one is younger than hedgeMs', async () => {
    const [self, fast, slow, other] = await peers(4);
    const target = await kadId(new Uint8Array([4]));
    const run = async (preferred: PeerId, answersAfterMs: number, hedgeMs: number) => {
      const asked: string[] = [];
      const r = await lookup<string>({
        target,
        start: [fast!, slow!, other!],
        self: self!,
        alpha: 3,
        prefer: (p) => p.equals(preferred),
        hedgeMs,
        ask: async (peer, signal) => {
          asked.push(peer.toString());
          if (!peer.equals(preferred)) return { closer: [], result: 'elsewhere' };
          await new Promise((r) => setTimeout(r, answersAfterMs));
          signal.throwIfAborted();
          return { closer: [], result: 'preferred' };
        },
      });
      return { asked, result: r.result };
    };
    // answers within the hedge: nobody else is asked
    expect(await run(fast!, 30, 1000)).toEqual({ asked: [fast!.toString()], result: 'preferred' });
    // hangs past the hedge: the others are asked and answer
    const late = await run(slow!, 1000, 30);
    expect(late.result).toBe('elsewhere');
    expect(late.asked.length).toBeGreaterThan(1);
  });

  it('hedges: one request at a time while each answers within hedgeMs, preferred or not', async () => {
    const [self, ...others] = await peers(4);
    const target = await kadId(new Uint8Array([5]));
    const run = async (firstAnswersAfterMs: number, hedgeMs: number, prefer: boolean) => {
      const asked: number[] = [];
      const t0 = Date.now();
      const r = await lookup<string>({
        target,
        start: others,
        self: self!,
        alpha: 3,
        ...(prefer ? { prefer: () => true } : {}),
        hedgeMs,
        ask: async (_peer, signal) => {
          const n = asked.push(Date.now() - t0);
          await new Promise((r) => setTimeout(r, n === 1 ? firstAnswersAfterMs : 20));
          signal.throwIfAborted();
          return { closer: [], result: `answer ${n}` };
        },
      });
      return { asked, result: r.result };
    };
    for (const prefer of [true, false]) {
      // the first answers within the hedge: nobody else is asked
      const quick = await run(20, 1000, prefer);
      expect(quick).toEqual({ asked: [expect.any(Number)], result: 'answer 1' });
      // the first is slow: a second is asked once the first is hedgeMs old, and answers first
      const slow = await run(1000, 50, prefer);
      expect(slow.result).toBe('answer 2');
      expect(slow.asked).toHaveLength(2);
      expect(slow.asked[1]!).toBeGreaterThanOrEqual(45);
    }
    // without hedging, alpha requests go at once
    const all = await run(1000, 0, false);
    expect(all.asked).toHaveLength(3);
  });

  it('follows closer peers, skips itself, and counts failures', async () => {
    const [self, a, b, far] = await peers(4);
    const asked = new Set<string>();
    const r = await lookup<string>({
      target: await kadId(new Uint8Array([2])),
      start: [a!],
      self: self!,
      ask: (peer) => {
        asked.add(peer.toString());
        if (peer.equals(a!)) return Promise.resolve({ closer: [self!, b!, far!] });
        if (peer.equals(far!)) return Promise.reject(new Error('down'));
        return Promise.resolve({ closer: [], result: peer.equals(b!) ? 'from b' : undefined });
      },
    });
    expect(r.result).toBe('from b');
    expect(asked.has(self!.toString())).toBe(false);
  });

  it('answers nothing when no one has it', async () => {
    const [self, ...rest] = await peers(6);
    const r = await lookup<string>({
      target: await kadId(new Uint8Array([3])),
      start: rest,
      self: self!,
      ask: () => Promise.resolve({ closer: rest }),
    });
    expect(r.result).toBeUndefined();
    expect(r.answered).toBe(5);
  });

  it('widens past the count closest when they have nothing, asking nobody twice', async () => {
    const [self, ...rest] = await peers(9);
    const target = await kadId(new Uint8Array([4]));
    const byDistance = (
      await Promise.all(
        rest.map(async (p) => ({
          p,
          d: uint8ArrayXor(await kadId(p.toMultihash().bytes), target),
        })),
      )
    ).sort((x, y) => uint8ArrayXorCompare(x.d, y.d));
    // only the 6th closest has it: a lookup of the 4 closest misses, one widened to 8 finds it
    const holder = byDistance[5]!.p;
    const asked: string[] = [];
    const run = (widenTo?: number) =>
      lookup<string>({
        target,
        start: rest,
        self: self!,
        count: 4,
        ...(widenTo ? { widenTo } : {}),
        alpha: 1,
        ask: (peer) => {
          asked.push(peer.toString());
          return Promise.resolve({ closer: rest, result: peer.equals(holder) ? 'far' : undefined });
        },
      });
    expect((await run()).result).toBeUndefined();
    asked.length = 0;
    expect((await run(8)).result).toBe('far');
    expect(asked).toEqual(byDistance.slice(0, 6).map((x) => x.p.toString()));
  });
});
