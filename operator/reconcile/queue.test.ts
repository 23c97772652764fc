// The work queue on a manual clock: time moves only in `clock.advance`, so each test states the
// delays it expects (a retry comes after 10 ms and not at 9) and none of them sleeps.
import { describe, expect, test } from '@jest/globals';
import { createManualClock, settle } from './manual-clock.js';
import { createWorkQueue } from './queue.js';

describe('work queue', () => {
  test('deduplicates waiting keys and never runs one key twice at once', async () => {
    const q = createWorkQueue(createManualClock(), { concurrency: 1 });
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    q.start(async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs.push(key);
      if (runs.length === 1) await gate;
      running.delete(key);
    });
    q.add('ns/a');
    await settle();
    expect(runs).toEqual(['ns/a']);
    q.add('ns/a'); // while a runs: marked dirty, runs once more after
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/b');
    expect(q.depth()).toBe(1); // b once; a is not queued while it runs
    release();
    await settle();
    await q.stop();
    expect(overlap).toBe(false);
    expect(runs).toEqual(['ns/a', 'ns/b', 'ns/a']);
  });

  test('minIntervalMs folds the events of a burst into one run at the end of the interval', async () => {
    const clock = createManualClock();
    const q = createWorkQueue(clock, { minIntervalMs: 150 });
    const runs: { key: string; at: number }[] = [];
    q.start((key) => {
      runs.push({ key, at: clock.now() });
      return Promise.resolve();
    });
    q.add('ns/a'); // runs at once
    await settle();
    for (let i = 0; i < 20; i++) {
      q.add('ns/a'); // 20 events within the interval: one more run, when it is over
      await clock.advance(2);
    }
    q.add('ns/b'); // another key is not held back by a's interval
    await settle();
    expect(runs).toEqual([
      { key: 'ns/a', at: 0 },
      { key: 'ns/b', at: 40 },
    ]);
    await clock.advance(109); // 149 ms after a's first run: still held
    expect(runs).toHaveLength(2);
    await clock.advance(1);
    await clock.advance(1000);
    await q.stop();
    expect(runs).toEqual([
      { key: 'ns/a', at: 0 },
      { key: 'ns/b', at: 40 },
      { key: 'ns/a', at: 150 },
    ]);
  });

  test('add with `now` is not held back by minIntervalMs, also while the key runs', async () => {
    const clock = createManualClock();
    const q = createWorkQueue(clock, { minIntervalMs: 60_000 });
    const runs: number[] = [];
    let release: () => void = () => {};
    q.start(async () => {
      runs.push(clock.now());
      if (runs.length === 2) await new Promise<void>((r) => (release = r));
    });
    q.add('ns/a');
    await settle();
    q.add('ns/a'); // held for the interval (a minute)
    await clock.advance(10);
    expect(runs).toEqual([0]);
    q.add('ns/a', { now: true }); // the last pod Ready: runs at once
    await settle();
    expect(runs).toEqual([0, 10]);
    q.add('ns/a', { now: true }); // while run 2 is in progress: again as soon as it ends
    release();
    await settle();
    expect(runs).toEqual([0, 10, 10]);
    q.add('ns/a'); // an ordinary event is held again: the interval from run 3
    await clock.advance(59_999);
    expect(runs).toHaveLength(3);
    await q.stop();
  });

  test('retries failures with growing backoff and resets after a success', async () => {
    const clock = createManualClock();
    const delays: number[] = [];
    const q = createWorkQueue(clock, {
      baseDelayMs: 10,
      random: () => 0.5,
      onError: (_k, _e, ms) => delays.push(ms),
    });
    const at: number[] = [];
    q.start(() => {
      at.push(clock.now());
      return at.length <= 3 || at.length === 5
        ? Promise.reject(new Error('boom'))
        : Promise.resolve();
    });
    q.add('ns/x');
    await settle();
    await clock.advance(9); // the first retry is due at 10, not before
    expect(at).toEqual([0]);
    await clock.advance(1 + 20 + 40);
    expect(at).toEqual([0, 10, 30, 70]);
    q.add('ns/x'); // the success reset the count: the next failure waits the base delay again
    await settle();
    await clock.advance(10);
    await q.stop();
    expect(delays).toEqual([10, 20, 40, 10]);
    expect(at).toEqual([0, 10, 30, 70, 70, 80]);
  });

  test('a run that asks for backoff comes back with growing delays, without an error, and a run that completes resets them', async () => {
    const clock = createManualClock();
    const backoffs: [string, string, number][] = [];
    const errors: unknown[] = [];
    const q = createWorkQueue(clock, {
      baseDelayMs: 10,
      random: () => 0.5,
      onBackoff: (k, why, ms) => backoffs.push([k, why, ms]),
      onError: (_k, e) => errors.push(e),
    });
    const at: number[] = [];
    q.start(() => {
      at.push(clock.now());
      // three runs cut short by their deadline, then one that completes, then one more short
      if (at.length <= 3 || at.length === 5) return Promise.resolve({ backoff: 'deadline' });
      return Promise.resolve(at.length === 4 ? { requeueAfterMs: 1 } : {});
    });
    q.add('ns/slow');
    await settle();
    await clock.advance(1000);
    await q.stop();
    expect(errors).toEqual([]);
    expect(backoffs).toEqual([
      ['ns/slow', 'deadline', 10],
      ['ns/slow', 'deadline', 20],
      ['ns/slow', 'deadline', 40],
      ['ns/slow', 'deadline', 10],
    ]);
    expect(at).toEqual([0, 10, 30, 70, 71, 81]);
  });

  test('requeueAfterMs brings a key back; stop() cancels it', async () => {
    const clock = createManualClock();
    const q = createWorkQueue(clock);
    const at: number[] = [];
    q.start(() => {
      at.push(clock.now());
      return Promise.resolve({ requeueAfterMs: 20 });
    });
    q.add('ns/y');
    await settle();
    await clock.advance(19);
    expect(at).toEqual([0]);
    await clock.advance(21);
    expect(at).toEqual([0, 20, 40]);
    await q.stop();
    expect(clock.pending()).toBe(0);
    await clock.advance(1000);
    expect(at).toEqual([0, 20, 40]);
  });
});
