// Bundles the compiled daemon (dist/peer/cli/daemon-main.js and everything it imports) into one
// ES module, dist/peer/cli/daemon-main.bundle.js, which peernet-peer.js loads when present.
// One file instead of hundreds of modules halves a peer's start-up CPU (no module resolution,
// no package.json reads), which is what limits how many peers one small machine can start.
// Run by `npm run build` after tsc.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'cli');

await build({
  entryPoints: [join(cli, 'daemon-main.js')],
  outfile: join(cli, 'daemon-main.bundle.js'),
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
