import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache outside git for built binaries and images (the build scripts use the same rule). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PEERNET_CACHE) return env.PEERNET_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'peernet');
}
