// Bounded parallelism, the one helper of it the operator, the peer, the plugin and the
// benchmarks share.

/** Runs `fn` over `items` with at most `limit` in flight; the results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Runs jobs with at most `limit` at once; a job's failure is its own business. */
export async function runLimited(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  await mapLimit(jobs, limit, (job) => job().catch(() => {}));
}
