import { describe, expect, it } from '@jest/globals';
import { nextDelay } from './table-filler.js';

describe('TableFiller rounds: nextDelay', () => {
  const opts = { protocol: '/x', target: 40, interval: 1_000, maxInterval: 30_000 };

  it('checks now and then once the table is full', () => {
    expect(nextDelay({ size: 40, progress: 5, delay: 1_000 }, opts)).toBe(30_000);
  });

  it('goes on at once while rounds find new peers', () => {
    expect(nextDelay({ size: 25, progress: 3, delay: 16_000 }, opts)).toBe(1_000);
  });

  it('backs off by doubling when rounds find nothing, up to maxInterval', () => {
    let delay = 1_000;
    const seen: number[] = [];
    for (let i = 0; i < 6; i++)
      seen.push((delay = nextDelay({ size: 25, progress: 0, delay }, opts)));
    expect(seen).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('never waits more than 4 intervals while the table is small', () => {
    let delay = 1_000;
    const seen: number[] = [];
    for (let i = 0; i < 4; i++)
      seen.push((delay = nextDelay({ size: 3, progress: 0, delay }, opts)));
    expect(seen).toEqual([2_000, 4_000, 4_000, 4_000]);
    // "small" is configurable
    expect(nextDelay({ size: 3, progress: 0, delay: 4_000 }, { ...opts, smallTable: 2 })).toBe(
      8_000,
    );
  });
});
