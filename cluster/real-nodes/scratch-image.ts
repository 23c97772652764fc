// Images the real nodes run that no registry can give us here (the pod sandbox, the volume
// helper, MetalLB's speaker): made FROM scratch with buildah from a root file system staged in a
// folder, and kept in the cache as docker-archives keyed by the hash of what goes in, ready for
// `ctr images import`.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot } from '../cache.js';
import { run } from '../exec.js';

export interface ScratchImage {
  /** the image reference the pods name */
  image: string;
  /** the archive's name in the cache: `<prefix>-<hash>.tar` */
  prefix: string;
  /** the files whose bytes key the cache (what `fill` copies in) */
  inputs: readonly string[];
  /** puts the root file system into `stage` (modes as they should be in the image) */
  fill(stage: string): void | Promise<void>;
  /** `buildah config` arguments: entrypoint, cmd, user */
  config: readonly string[];
}

/** Returns the docker-archive of the image, building it once per content of its inputs. */
export async function ensureScratchImage(spec: ScratchImage): Promise<string> {
  const h = createHash('sha256');
  for (const f of spec.inputs) h.update(readFileSync(f));
  const dir = join(cacheRoot(), 'images');
  const archive = join(dir, `${spec.prefix}-${h.digest('hex').slice(0, 16)}.tar`);
  if (existsSync(archive)) return archive;
  mkdirSync(dir, { recursive: true });
  const stage = mkdtempSync(join(tmpdir(), `peernet-${spec.prefix}-`));
  const container = (await run('buildah', ['from', 'scratch'])).trim();
  try {
    await spec.fill(stage);
    await run('buildah', ['copy', container, stage, '/']);
    await run('buildah', ['config', ...spec.config, container]);
    await run('buildah', ['commit', '--quiet', container, spec.image]);
  } finally {
    await run('buildah', ['rm', container], { allowFail: true });
    rmSync(stage, { recursive: true, force: true });
  }
  const tmp = `${archive}.${process.pid}.tmp`;
  await run('buildah', ['push', '--quiet', spec.image, `docker-archive:${tmp}:${spec.image}`]);
  renameSync(tmp, archive);
  return archive;
}
