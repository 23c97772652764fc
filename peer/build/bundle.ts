// Bundles a compiled entry point and everything it imports into one ES module.
//
// `node dist/peer/build/bundle.js` (run by `npm run build` after tsc): the daemon,
// dist/peer/cli/daemon-main.js into dist/peer/cli/daemon-main.bundle.js, which peernet-peer.js
// loads when present. One file instead of hundreds of modules halves a peer's start-up CPU (no
// module resolution, no package.json reads), which is what limits how many peers one small
// machine can start.
//
// `node dist/peer/build/bundle.js ENTRY OUTFILE`: any other compiled entry point. The images use
// it (Dockerfile.peer, Dockerfile.operator) so that their last stage needs no node_modules: the
// operator's worker thread (dist/operator/worker.js) is bundled into a worker.js of its own folder.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'cli');
const args = process.argv.slice(2);
if (args.length !== 0 && args.length !== 2) {
  process.stderr.write('usage: node dist/peer/build/bundle.js [ENTRY OUTFILE]\n');
  process.exit(2);
}
const [entry, outfile] =
  args.length === 2
    ? [resolve(args[0]!), resolve(args[1]!)]
    : [join(cli, 'daemon-main.js'), join(cli, 'daemon-main.bundle.js')];

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  // some dependencies are CommonJS and call require(): give the bundle one
  banner: {
    js: "import { createRequire as __peernetCreateRequire } from 'node:module'; const require = __peernetCreateRequire(import.meta.url);",
  },
});
