import { describe, expect, it } from '@jest/globals';
import { nextDelay, QUIET_ROUNDS } from './table-filler.js';

describe('TableFiller rounds: nextDelay', () => {
  const opts = { protocol: '/x', target: 40, interval: 1_000, maxInterval: 30_000 };

  it('rests once the table is full', () => {
    expect(nextDelay({ size: 40, progress: 5, delay: 1_000, quiet: 0 }, opts)).toBeUndefined();
  });

  it('rests once rounds in a row learned nothing, whatever the table size', () => {
    for (const size of [3, 25]) {
      const now = { size, progress: 0, delay: 2_000 };
      expect(nextDelay({ ...now, quiet: QUIET_ROUNDS - 1 }, opts)).toBeDefined();
      expect(nextDelay({ ...now, quiet: QUIET_ROUNDS }, opts)).toBeUndefined();
    }
  });

  it('goes on at once while rounds find new peers and the table is small', () => {
    expect(nextDelay({ size: 12, progress: 3, delay: 16_000, quiet: 0 }, opts)).toBe(1_000);
  });

  it('tops a table that holds smallTable peers up at the slower pace', () => {
    expect(nextDelay({ size: 25, progress: 3, delay: 1_000, quiet: 0 }, opts)).toBe(5_000);
    expect(
      nextDelay({ size: 25, progress: 3, delay: 1_000, quiet: 0 }, { ...opts, topUpInterval: 0 }),
    ).toBe(1_000);
  });

  it('backs off by doubling when rounds get no answer, up to maxInterval', () => {
    let delay = 1_000;
    const seen: number[] = [];
    for (let i = 0; i < 6; i++)
      seen.push((delay = nextDelay({ size: 25, progress: 0, delay, quiet: 0 }, opts)!));
    expect(seen).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('never waits more than 4 intervals while the table is small', () => {
    let delay = 1_000;
    const seen: number[] = [];
    for (let i = 0; i < 4; i++)
      seen.push((delay = nextDelay({ size: 3, progress: 0, delay, quiet: 0 }, opts)!));
    expect(seen).toEqual([2_000, 4_000, 4_000, 4_000]);
    // "small" is configurable
    expect(
      nextDelay({ size: 3, progress: 0, delay: 4_000, quiet: 0 }, { ...opts, smallTable: 2 }),
    ).toBe(8_000);
  });
});
