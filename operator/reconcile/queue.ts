// A work queue keyed `namespace/name`: deduplicated, one worker per key at a time, several keys in
// parallel, exponential backoff with jitter on failure (reset on success), delayed requeues.
import type { Clock, Timer } from './clock.js';

export interface QueueResult {
  /** reconcile the key again after this long (e.g. while the network is progressing) */
  requeueAfterMs?: number;
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
  random?: () => number;
}

export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, ms: number): void;
  /** keys waiting (not counting those being processed) */
  depth(): number;
  /** the key will run (again) soon: it is waiting, or was added while running */
  pending(key: string): boolean;
  start(handler: QueueHandler): void;
  /** stops taking keys and waits for the ones in progress */
  stop(): Promise<void>;
}

export function createWorkQueue(clock: Clock, options: WorkQueueOptions = {}): WorkQueue {
  const concurrency = options.concurrency ?? 4;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 60_000;
  const random = options.random ?? Math.random;
  const queue: string[] = [];
  const queued = new Set<string>();
  const processing = new Set<string>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  const timers = new Map<string, { at: number; timer: Timer }>();
  const inFlight = new Set<Promise<void>>();
  let handler: QueueHandler | undefined;
  let stopped = false;

  function add(key: string): void {
    if (stopped) return;
    if (processing.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
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
      const p = run(key, handler).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }

  async function run(key: string, h: QueueHandler): Promise<void> {
    let next: number | undefined;
    try {
      const result = await h(key);
      failures.delete(key);
      next = result?.requeueAfterMs;
    } catch (err) {
      const n = (failures.get(key) ?? 0) + 1;
      failures.set(key, n);
      const delay = Math.min(max, base * 2 ** (n - 1)) * (0.8 + 0.4 * random());
      next = Math.round(delay);
      options.onError?.(key, err, next);
    } finally {
      processing.delete(key);
    }
    if (dirty.delete(key)) add(key);
    else if (next !== undefined) addAfter(key, next);
    pump();
  }

  return {
    add,
    addAfter,
    depth: () => queue.length,
    pending: (key) => queued.has(key) || dirty.has(key),
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
