// A Clock for tests that moves only when told: timers fire in time order inside `advance`, and
// the promises they start settle before it returns, so a test says "60 s later" without waiting.
import type { Clock } from './clock.js';

export interface ManualClock extends Clock {
  /** moves time forward by `ms`, firing each timer that falls due on the way (in order) */
  advance(ms: number): Promise<void>;
  /** timers not yet fired or cancelled */
  pending(): number;
}

/** Lets every promise and callback already scheduled run (one turn of the event loop). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createManualClock(start = 0): ManualClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const setTimer = (ms: number, fn: () => void) => {
    const id = seq++;
    timers.set(id, { at: now + Math.max(0, ms), fn });
    return { cancel: () => void timers.delete(id) };
  };
  return {
    now: () => now,
    setTimer,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const t = setTimer(ms, resolve);
        signal?.addEventListener('abort', () => (t.cancel(), resolve()), { once: true });
      }),
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers) if (!next || entry[1].at < next[1].at) next = entry;
        if (!next || next[1].at > target) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        await settle();
      }
      now = target;
      await settle();
    },
    pending: () => timers.size,
  };
}
