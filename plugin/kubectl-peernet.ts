#!/usr/bin/env node
// kubectl-peernet: the kubectl plugin (`kubectl peernet VERB NETWORK ...`, see ./args.ts and
// docs/reference/kubectl-plugin.md). kubectl finds it on PATH by its name, as Krew installs it.
import { runPlugin } from './run.js';

process.exitCode = await runPlugin(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
