// `npm run bench [-- NAME... [FLAGS]]`: runs the benchmarks named (every registered one when none
// is), passing the remaining flags to each. `--list` names them; `--help` shows their flags.
// Figures are printed, never asserted. Ctrl-C stops the run and ends every process it started.
import { killAllNow } from '../test/helpers/peers.js';
import type { BenchContext } from './benchmark.js';
import { benchmarks } from './registry.js';

async function main(argv: string[]): Promise<number> {
  const names: string[] = [];
  while (argv.length > 0 && !argv[0]!.startsWith('-')) names.push(argv.shift()!);
  const named = (b: (typeof benchmarks)[number], n: string): boolean =>
    b.name === n || (b.aliases ?? []).includes(n);
  const unknown = names.filter((n) => !benchmarks.some((b) => named(b, n)));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}\n`,
    );
    return 2;
  }
  const selected =
    names.length > 0 ? benchmarks.filter((b) => names.some((n) => named(b, n))) : benchmarks;

  if (argv.includes('--list')) {
    for (const b of benchmarks) process.stdout.write(`${b.name.padEnd(16)} ${b.description}\n`);
    return 0;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('Usage: npm run bench -- [NAME...] [FLAGS]\n\n');
    for (const b of selected) {
      process.stdout.write(`${b.name}: ${b.description}\n${b.usage ?? ''}\n`);
    }
    return 0;
  }

  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(`\n${sig}: stopping, cleaning up (again to kill at once)\n`);
      ac.abort(new Error(`interrupted by ${sig}`));
    } else {
      killAllNow();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const ctx: BenchContext = {
    signal: ac.signal,
    print: (line = '') => process.stdout.write(`${line}\n`),
    progress: (line) => process.stderr.write(`  ... ${line}\n`),
  };
  let failed = 0;
  for (const b of selected) {
    if (ac.signal.aborted) break;
    ctx.print(`== ${b.name}: ${b.description}`);
    try {
      await b.run([...argv], ctx);
    } catch (err) {
      failed++;
      process.stderr.write(`${b.name} failed: ${(err as Error).message}\n`);
    }
    ctx.print();
  }
  return ac.signal.aborted ? 130 : failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    killAllNow();
    process.exit(code);
  },
  (err: unknown) => {
    killAllNow();
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
