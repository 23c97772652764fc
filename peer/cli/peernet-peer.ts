#!/usr/bin/env node
// peernet-peer: the peer daemon (see `peernet-peer --help` and the README section "The peer").
//
// Startup log line (the interface for tests and tools): logs are JSON, one object a line, on
// stdout. Once the peer is listening it prints exactly one line with `"msg":"peer started"` and
//   peerId  string    base58 peer ID, e.g. "12D3KooW..."
//   addrs   string[]  libp2p multiaddrs it listens on, each ending in /p2p/<peerId>
//   api     string    the HTTP API address actually bound, "HOST:PORT" (port 0 resolved)
//   network string    the --network name
// e.g. {"level":"info","time":"...","service":"peernet-peer","peerId":"12D3KooW...",
//       "addrs":["/ip4/127.0.0.1/tcp/40123/p2p/12D3KooW..."],"api":"127.0.0.1:40777",
//       "network":"default","dhtProfile":"tuned","msg":"peer started"}
// Bad configuration: exit code 2 and one line on stderr, `peernet-peer: --flag: what is wrong`.
// SIGTERM/SIGINT: drain (hand records to the closest peers), log "peer stopped", exit 0.
//
// Memory and CPU: this file first replaces itself (same PID, execve) with a Node started with a
// small young generation, which saves ~17 MiB per peer, and with Maglev as the top JIT tier
// (`--max-opt=2`, no TurboFan): a peer runs a little of much code, and TurboFan compiled it over
// and over in every peer process (8-12 % of the peers' CPU during a 100-peer benchmark's
// operations; with Maglev only, PUTs p50 99 -> 76-84 ms, an idle peer ~11 MiB smaller).
// Nothing heavy is imported before that. PEERNET_REEXEC=0 turns it off. The peer image passes
// these flags in its ENTRYPOINT, so a pod's peer starts node once.
//
// The re-exec also gives the peer a small heap, as a pod's peer has (ADR 0003, decision 14):
// - an old generation of a quarter of the peer's memory budget (the container's limit, else
//   512 MiB: the budget the quotas are sized from). In a pod Node sizes the heap from the
//   cgroup limit itself (259 MiB for the default 256 MiB limit); seeing a large machine's memory
//   instead, it took a 4 GiB limit, and V8 let the heap grow further past what is live
//   (~1.3 MiB more PSS a peer at 100 peers);
// - MALLOC_ARENA_MAX=2 (the image sets it too): glibc would give each of V8's helper threads
//   an arena of its own, and memory freed there stays with the process (~3 MiB a peer).

const V8_FLAGS = ['--max-semi-space-size=1', '--max-opt=2'];
const HEAP_FLAG = '--max-old-space-size';

const wanted = V8_FLAGS.filter((f) => !process.execArgv.includes(f));
if (
  wanted.length > 0 &&
  process.env.PEERNET_REEXEC !== '0' &&
  typeof process.execve === 'function'
) {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!given.some((f) => f.startsWith(HEAP_FLAG))) {
    const { readMemoryLimit } = await import('../quotas.js');
    wanted.push(`${HEAP_FLAG}=${Math.floor(readMemoryLimit().bytes / 4 / 2 ** 20)}`);
  }
  const script = process.argv[1] ?? '';
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...wanted, script, ...process.argv.slice(2)],
    {
      MALLOC_ARENA_MAX: '2',
      ...process.env,
      PEERNET_REEXEC: '0',
    },
  );
}

// V8's on-disk compile cache (under the OS temp dir) roughly halves the start-up CPU of the
// second and later peers on a machine: libp2p is many small modules.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();

// `npm run build` bundles the daemon into one module (peer/build/bundle.ts); without the bundle
// the modules tsc wrote are loaded one by one.
const { existsSync } = await import('node:fs');
const bundle = new URL('./daemon-main.bundle.js', import.meta.url);
const { run } = (
  existsSync(bundle) ? await import(bundle.href) : await import('./daemon-main.js')
) as typeof import('./daemon-main.js');
run();
