import { describe, expect, test } from '@jest/globals';
import { systemClock } from './clock.js';
import { createWorkQueue } from './queue.js';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('work queue', () => {
  test('deduplicates waiting keys and never runs one key twice at once', async () => {
    const q = createWorkQueue(systemClock, { concurrency: 1 });
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
    await until(() => runs.length === 1);
    q.add('ns/a'); // while a runs: marked dirty, runs once more after
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/b');
    release();
    await until(() => runs.length === 3);
    await q.stop();
    expect(overlap).toBe(false);
    expect(runs.sort()).toEqual(['ns/a', 'ns/a', 'ns/b']);
  });

  test('minIntervalMs folds the events of a burst into one run at the end of the interval', async () => {
    const q = createWorkQueue(systemClock, { minIntervalMs: 150 });
    const runs: { key: string; at: number }[] = [];
    q.start((key) => {
      runs.push({ key, at: Date.now() });
      return Promise.resolve();
    });
    q.add('ns/a'); // runs at once
    await until(() => runs.length === 1);
    for (let i = 0; i < 20; i++) {
      q.add('ns/a'); // 20 events within the interval: one more run, when it is over
      await new Promise((r) => setTimeout(r, 2));
    }
    q.add('ns/b'); // another key is not held back by a's interval
    await until(() => runs.length === 3);
    await new Promise((r) => setTimeout(r, 200));
    await q.stop();
    expect(runs.map((r) => r.key)).toEqual(['ns/a', 'ns/b', 'ns/a']);
    expect(runs[2]!.at - runs[0]!.at).toBeGreaterThanOrEqual(145);
  });

  test('add with `now` is not held back by minIntervalMs, also while the key runs', async () => {
    const q = createWorkQueue(systemClock, { minIntervalMs: 60_000 });
    const runs: number[] = [];
    let release: () => void = () => {};
    q.start(async () => {
      runs.push(Date.now());
      if (runs.length === 2) await new Promise<void>((r) => (release = r));
    });
    q.add('ns/a');
    await until(() => runs.length === 1);
    q.add('ns/a'); // held for the interval (a minute)
    q.add('ns/a', { now: true }); // the last pod Ready: runs at once
    await until(() => runs.length === 2, 1000);
    q.add('ns/a', { now: true }); // while run 2 is in progress: again as soon as it ends
    release();
    await until(() => runs.length === 3, 1000);
    q.add('ns/a'); // an ordinary event is held again
    await new Promise((r) => setTimeout(r, 100));
    await q.stop();
    expect(runs).toHaveLength(3);
  });

  test('retries failures with growing backoff and resets after a success', async () => {
    const delays: number[] = [];
    const q = createWorkQueue(systemClock, {
      baseDelayMs: 10,
      random: () => 0.5,
      onError: (_k, _e, ms) => delays.push(ms),
    });
    let calls = 0;
    q.start(() => {
      calls++;
      return calls <= 3 ? Promise.reject(new Error('boom')) : Promise.resolve();
    });
    q.add('ns/x');
    await until(() => calls === 4);
    await q.stop();
    expect(delays).toEqual([10, 20, 40]);
  });

  test('a run that asks for backoff comes back with growing delays, without an error, and a run that completes resets them', async () => {
    const backoffs: [string, string, number][] = [];
    const errors: unknown[] = [];
    const q = createWorkQueue(systemClock, {
      baseDelayMs: 10,
      random: () => 0.5,
      onBackoff: (k, why, ms) => backoffs.push([k, why, ms]),
      onError: (_k, e) => errors.push(e),
    });
    const at: number[] = [];
    q.start(() => {
      at.push(Date.now());
      // three runs cut short by their deadline, then one that completes, then one more short
      if (at.length <= 3 || at.length === 5) return Promise.resolve({ backoff: 'deadline' });
      return Promise.resolve(at.length === 4 ? { requeueAfterMs: 1 } : {});
    });
    q.add('ns/slow');
    await until(() => at.length === 6);
    await q.stop();
    expect(errors).toEqual([]);
    expect(backoffs).toEqual([
      ['ns/slow', 'deadline', 10],
      ['ns/slow', 'deadline', 20],
      ['ns/slow', 'deadline', 40],
      ['ns/slow', 'deadline', 10],
    ]);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(35);
  });

  test('requeueAfterMs brings a key back; stop() cancels it', async () => {
    const q = createWorkQueue(systemClock);
    let calls = 0;
    q.start(() => {
      calls++;
      return Promise.resolve({ requeueAfterMs: 20 });
    });
    q.add('ns/y');
    await until(() => calls >= 2);
    await q.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toBe(after);
  });
});
