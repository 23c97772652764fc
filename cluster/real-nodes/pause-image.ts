// The pod sandbox ("pause") image: no registry is reachable, so it is made from our own static
// pause binary (cluster/pause) with buildah and kept as an archive keyed by the binary's hash.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../cache.js';
import { run } from '../exec.js';
import { PAUSE_IMAGE } from './configs.js';

/** Returns the docker-archive of the pause image, building it once per pause binary. */
export async function ensurePauseImage(pauseBinary: string): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(pauseBinary)).digest('hex').slice(0, 16);
  const dir = join(cacheRoot(), 'images');
  const archive = join(dir, `pause-${hash}.tar`);
  if (existsSync(archive)) return archive;
  mkdirSync(dir, { recursive: true });
  const container = (await run('buildah', ['from', 'scratch'])).trim();
  try {
    await run('buildah', ['copy', '--chmod', '0755', container, pauseBinary, '/pause']);
    await run('buildah', [
      'config',
      '--entrypoint',
      '["/pause"]',
      '--user',
      '65535:65535',
      container,
    ]);
    await run('buildah', ['commit', '--quiet', container, PAUSE_IMAGE]);
  } finally {
    await run('buildah', ['rm', container], { allowFail: true });
  }
  const tmp = `${archive}.${process.pid}.tmp`;
  await run('buildah', ['push', '--quiet', PAUSE_IMAGE, `docker-archive:${tmp}:${PAUSE_IMAGE}`]);
  renameSync(tmp, archive);
  return archive;
}
