// What a benchmark module exports, so `bench/run.ts` can list, filter and run it.

export interface BenchContext {
  /** Aborted on Ctrl-C / SIGTERM: stop, clean up, return. */
  signal: AbortSignal;
  /** Prints a line of the report (stdout). */
  print(line?: string): void;
  /** Progress for the operator (stderr, so the report stays clean on stdout). */
  progress(line: string): void;
}

export interface Benchmark {
  /** What `npm run bench -- NAME` selects, e.g. `peer-dht`. */
  name: string;
  /** Other names that select it, e.g. `e2e-real` for `e2e-spread`. */
  aliases?: string[];
  /** One line for `npm run bench -- --list`. */
  description: string;
  /** Its own flags, printed by `--help`. */
  usage?: string;
  /** `args` are the command-line arguments after the benchmark names. */
  run(args: string[], ctx: BenchContext): Promise<void>;
}
