// Time as a dependency, so tests and the pure builders never call Date.now() themselves.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  setTimer(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms, signal) {
    try {
      await sleep(ms, undefined, signal ? { signal } : {});
    } catch {
      // aborted: the caller checks its signal
    }
  },
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** RFC 3339 with seconds, as Kubernetes conditions use. */
export const rfc3339 = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
/** RFC 3339 with microseconds, as Lease MicroTime fields use. */
export const microTime = (ms: number): string =>
  new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
