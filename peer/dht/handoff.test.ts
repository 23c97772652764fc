import { describe, expect, it } from '@jest/globals';
import { handoffBatches } from './handoff.js';

describe('handoffBatches', () => {
  const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

  it('keeps every index once, in order', () => {
    const batches = handoffBatches(indices(4500), () => 100);
    expect(batches.flat()).toEqual(indices(4500));
  });

  it('cuts at 2000 items', () => {
    expect(handoffBatches(indices(4500), () => 10).map((b) => b.length)).toEqual([2000, 2000, 500]);
  });

  it('cuts at a quarter of the 4 MiB message limit', () => {
    // 64 KiB values, base64: ~87 KiB a record; 11 fit under 1 MiB
    const batches = handoffBatches(indices(30), () => 87_400);
    expect(batches.map((b) => b.length)).toEqual([11, 11, 8]);
    for (const b of batches) expect(b.length * (87_400 + 4)).toBeLessThanOrEqual(1024 * 1024);
  });

  it('sends an item larger than a batch alone rather than dropping it', () => {
    expect(handoffBatches([0, 1, 2], (i) => (i === 1 ? 2_000_000 : 10))).toEqual([[0], [1], [2]]);
  });

  it('makes no batch of nothing', () => {
    expect(handoffBatches([], () => 1)).toEqual([]);
  });
});
