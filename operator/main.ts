// `npm run operator`: the PeerNetwork operator against the cluster of KUBECONFIG (or in-cluster).
//
// The operator runs in a worker thread so its young generation can be capped: a controller
// allocates in bursts (lists, watch events, status JSON) and Node 24 would otherwise grow the
// young generation to 64 MiB and keep it, doubling the resident set. This thread only forwards
// signals and exits with the worker's exit code; a SIGKILL still ends both at once.
import { SHARE_ENV, Worker } from 'node:worker_threads';

const worker = new Worker(new URL('./worker.js', import.meta.url), {
  argv: process.argv.slice(2),
  env: SHARE_ENV,
  resourceLimits: { maxYoungGenerationSizeMb: 8 },
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => worker.postMessage({ signal }));
}
worker.on('error', (err: Error) => {
  process.stderr.write(`peernet-operator: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
worker.on('exit', (code) => process.exit(process.exitCode ?? code));
