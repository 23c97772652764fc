import { describe, expect, it } from '@jest/globals';
import { pickBootstrap } from './bootstrap.js';

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
