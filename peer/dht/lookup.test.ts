import { describe, expect, it } from '@jest/globals';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PeerId } from '@libp2p/interface';
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
    const r = await lookup<string>({
      target: await kadId(new Uint8Array([1])),
      start: [a!, b!, c!],
      self: self!,
      alpha: 1,
      ask: (peer) => {
        asked.push(peer.toString());
        return Promise.resolve({ closer: [], result: peer.equals(b!) ? 'found' : undefined });
      },
    });
    expect(r.result).toBe('found');
    expect(asked).toContain(b!.toString());
    expect(asked.length).toBeLessThanOrEqual(2);
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
});
