// `npm run operator`: the PeerNetwork operator against the cluster of KUBECONFIG (or in-cluster).
//
// The operator runs in a worker thread so its young generation can be capped: a controller
// allocates in bursts (lists, watch events, status JSON) and Node 24 would otherwise grow the
// young generation to 64 MiB and keep it, doubling the resident set. This thread only forwards
// signals and exits with the worker's exit code; a SIGKILL still ends both at once.
//
// Before that, this process replaces itself (same PID, execve) with one whose glibc malloc keeps
// at most 2 arenas (MALLOC_ARENA_MAX=2, unless set already): with the default (8 per core) what
// native code (HTTP/2, TLS, V8's own tables) allocated during a burst and freed after stayed held
// by many arenas: after six 200-pod rounds the resident set outside the JS heap was 55 MiB, and
// 35-44 MiB with 2 arenas (RSS 157-167 vs 137-144 MiB; `npm run bench -- cluster-scale`).
// PEERNET_REEXEC=0 turns it off; where execve or glibc is missing it does nothing.
import { SHARE_ENV, Worker } from 'node:worker_threads';

if (
  process.env.MALLOC_ARENA_MAX === undefined &&
  process.env.PEERNET_REEXEC !== '0' &&
  typeof process.execve === 'function'
) {
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      ...process.env,
      MALLOC_ARENA_MAX: '2',
      PEERNET_REEXEC: '0',
    },
  );
}

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
