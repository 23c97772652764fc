// A work queue keyed `namespace/name`: deduplicated, one worker per key at a time, several keys in
// parallel, exponential backoff with jitter on failure (reset on success), delayed requeues.
import type { Clock, Timer } from './clock.js';

export interface QueueResult {
  /** reconcile the key again after this long (e.g. while the network is progressing) */
  requeueAfterMs?: number;
  /**
   * The run stopped short of its work without failing (e.g. its deadline passed): run the key
   * again with the backoff of a failure (so a key that always stops short takes ever less of
   * the workers), without an error. Says why.
   */
  backoff?: string;
  /** what stopped it, in a sentence (for the log) */
  detail?: string;
}

export type QueueHandler = (key: string) => Promise<QueueResult | void>;

export interface WorkQueueOptions {
  /** keys processed in parallel @default 4 */
  concurrency?: number;
  /** first retry delay @default 500 */
  baseDelayMs?: number;
  /** longest retry delay @default 60000 */
  maxDelayMs?: number;
  /** called with the error of a failed key */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** called when a run asked for backoff (QueueResult.backoff) */
  onBackoff?: (key: string, reason: string, retryInMs: number, detail?: string) => void;
  random?: () => number;
  /**
   * least time between the starts of two runs of one key: events that come faster are folded
   * into one run at the end of the interval (a 200-pod burst brings ~1000 pod events) @default 0
   */
  minIntervalMs?: number;
}

export interface WorkQueue {
  /** `now`: skip the minIntervalMs wait (an event users wait for, such as the last pod Ready) */
  add(key: string, opts?: { now?: boolean }): void;
  addAfter(key: string, ms: number): void;
  /** keys waiting (not counting those being processed) */
  depth(): number;
  start(handler: QueueHandler): void;
  /** stops taking keys and waits for the ones in progress */
  stop(): Promise<void>;
}

// A factory: add, timers and workers share the queue state.
export function createWorkQueue(clock: Clock, options: WorkQueueOptions = {}): WorkQueue {
  const concurrency = options.concurrency ?? 4;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 60_000;
  const random = options.random ?? Math.random;
  const minInterval = options.minIntervalMs ?? 0;
  /** when each key last started a run (while minInterval > 0) */
  const started = new Map<string, number>();
  const queue: string[] = [];
  const queued = new Set<string>();
  const processing = new Set<string>();
  const dirty = new Set<string>();
  /** dirty keys whose rerun must not wait for minIntervalMs */
  const urgent = new Set<string>();
  const failures = new Map<string, number>();
  const timers = new Map<string, { at: number; timer: Timer }>();
  const inFlight = new Set<Promise<void>>();
  let handler: QueueHandler | undefined;
  let stopped = false;

  function add(key: string, opts?: { now?: boolean }): void {
    if (stopped) return;
    if (processing.has(key)) {
      dirty.add(key);
      if (opts?.now) urgent.add(key);
      return;
    }
    if (queued.has(key)) return;
    const last = started.get(key);
    if (last !== undefined && !opts?.now) {
      const wait = last + minInterval - clock.now();
      if (wait > 0) return addAfter(key, wait);
      started.delete(key);
    }
    queued.add(key);
    queue.push(key);
    pump();
  }

  function addAfter(key: string, ms: number): void {
    if (stopped) return;
    if (ms <= 0) return add(key);
    const at = clock.now() + ms;
    const existing = timers.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    timers.set(key, {
      at,
      timer: clock.setTimer(ms, () => {
        timers.delete(key);
        add(key);
      }),
    });
  }

  function pump(): void {
    while (handler && !stopped && processing.size < concurrency && queue.length > 0) {
      const key = queue.shift()!;
      queued.delete(key);
      processing.add(key);
      if (minInterval > 0) {
        if (started.size > 10_000) {
          const old = clock.now() - minInterval;
          for (const [k, at] of started) if (at < old) started.delete(k);
        }
        started.set(key, clock.now());
      }
      const p = run(key, handler).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }

  /** the next delay of a key that failed (or asked for backoff) once more */
  function backoffOf(key: string): number {
    const n = (failures.get(key) ?? 0) + 1;
    failures.set(key, n);
    return Math.round(Math.min(max, base * 2 ** (n - 1)) * (0.8 + 0.4 * random()));
  }

  async function run(key: string, h: QueueHandler): Promise<void> {
    let next: number | undefined;
    try {
      const result = await h(key);
      if (result?.backoff !== undefined) {
        next = backoffOf(key);
        options.onBackoff?.(key, result.backoff, next, result.detail);
      } else {
        failures.delete(key);
        next = result?.requeueAfterMs;
      }
    } catch (err) {
      next = backoffOf(key);
      options.onError?.(key, err, next);
    } finally {
      processing.delete(key);
    }
    if (dirty.delete(key)) add(key, { now: urgent.delete(key) });
    else if (next !== undefined) addAfter(key, next);
    pump();
  }

  return {
    add,
    addAfter,
    depth: () => queue.length,
    start(h) {
      handler = h;
      pump();
    },
    async stop() {
      stopped = true;
      for (const t of timers.values()) t.timer.cancel();
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}
