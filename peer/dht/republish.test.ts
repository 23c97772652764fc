import { describe, expect, it } from '@jest/globals';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { recordKey } from './keys.js';
import { republishDue } from './republish.js';

describe('republishDue', () => {
  const interval = 300_000;

  it('is between one and two intervals, and the same every time for one peer and key', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    for (let i = 0; i < 50; i++) {
      const due = republishDue(interval, peer, recordKey(`k${i}`));
      expect(due).toBeGreaterThanOrEqual(interval);
      expect(due).toBeLessThan(2 * interval);
      expect(republishDue(interval, peer, recordKey(`k${i}`))).toBe(due);
    }
  });

  it('spreads the 20 holders of one key over the window, so one of them comes due first', async () => {
    const key = recordKey('one-key');
    const holders = await Promise.all(
      Array.from({ length: 20 }, async () =>
        peerIdFromPrivateKey(await generateKeyPair('Ed25519')),
      ),
    );
    const dues = holders.map((p) => republishDue(interval, p, key)).sort((a, b) => a - b);
    // distinct times, spread over most of the window rather than bunched together
    expect(new Set(dues).size).toBe(20);
    expect(dues.at(-1)! - dues[0]!).toBeGreaterThan(interval / 2);
  });
});
