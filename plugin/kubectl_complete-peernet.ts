#!/usr/bin/env node
// kubectl_complete-peernet: what kubectl (1.26+) runs to complete `kubectl peernet <TAB>`; it
// passes the words typed after `peernet`, the last one partial (see ./completion.ts).
import { runPlugin } from './run.js';

process.exitCode = await runPlugin(['__complete', ...process.argv.slice(2)], {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
