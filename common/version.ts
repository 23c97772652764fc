// The version of the npm package, for `peernet-peer --version` and `peerctl --version`.
import { readFileSync } from 'node:fs';

/**
 * Reads `version` from the nearest package.json named `peernet` above this module. Searching up
 * rather than at a fixed relative path keeps it right wherever the code runs from: tsc's output
 * (dist/peer/cli/), the daemon bundle beside it, or an image that keeps package.json in /app.
 */
export function packageVersion(from: URL = new URL('.', import.meta.url)): string {
  for (let dir = from; ;) {
    const file = new URL('package.json', dir);
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'peernet' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here (or not readable): look further up
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) return 'unknown';
    dir = up;
  }
}
