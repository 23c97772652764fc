// The peer and operator images without a Docker engine or an image registry (`npm run images`):
// the base image `node:24-bookworm-slim` from base-image.sh (Debian from mmdebstrap, Node and npm
// from the npm registry; cached), then `buildah bud --layers` of Dockerfile.peer and
// Dockerfile.operator from the working tree, each exported as a docker-archive into the cache,
// ready for `ctr -n k8s.io images import` (importArchive). Unchanged sources rebuild from
// buildah's layer cache in seconds, and an archive is only written again when its image changed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript } from '../binaries.js';
import { cacheRoot } from '../cache.js';
import { ClusterBuildError } from '../errors.js';
import { HostCommandError, run } from '../exec.js';
import { ImageArchiveError, ImageBuildError } from './errors.js';

/** What `FROM node:24-bookworm-slim` resolves to in buildah's storage. */
export const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim';

/** The repositories of the two images; the tag is the package version. */
export const IMAGE_REPOSITORIES = {
  peer: 'docker.io/peernet/peer',
  operator: 'docker.io/peernet/operator',
} as const;

export type ImageName = keyof typeof IMAGE_REPOSITORIES;

/** The base image's build script, found relative to this module (it runs from `dist/`). */
export const baseImageScript = fileURLToPath(
  new URL('../../../cluster/images/base-image.sh', import.meta.url),
);

/** The repository this module belongs to: the build context and its Dockerfiles. */
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** The host's CA bundle: the npm registry may only be reachable through a TLS-intercepting proxy. */
const HOST_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
/** Where a build step sees it, and where npm (prefix /usr/local) reads its global config. */
const CONTAINER_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
const CONTAINER_NPMRC = '/usr/local/etc/npmrc';

export interface BuiltImage {
  /** The image's name and tag, e.g. `docker.io/peernet/peer:0.1.0`. */
  ref: string;
  /** Its docker-archive (`ctr images import` reads it), tagged `ref`. */
  archive: string;
  /** The archive's size: the image's layers, uncompressed. */
  bytes: number;
  /** The image ID (hex, without `sha256:`). */
  id: string;
  /** False when the image did not change and the archive of a previous run was kept. */
  exported: boolean;
  /** Wall time of this image's build and export. */
  seconds: number;
}

export interface BuildImagesOptions {
  /** The build context holding Dockerfile.peer and Dockerfile.operator. @default this repository */
  root?: string;
  /** The image tag and `org.opencontainers.image.version`. @default package.json's version */
  version?: string;
  /** `org.opencontainers.image.revision`. @default `git rev-parse HEAD`, `-dirty` when modified */
  revision?: string;
  /** Cache root; archives and logs go to its `images/` folder. @default cacheRoot() */
  cacheDir?: string;
  /**
   * CA bundle mounted into every build step, with an npmrc naming it (changes neither the
   * Dockerfiles nor the images). `null`: mount nothing. @default the host's bundle when present
   */
  caFile?: string | null;
  /** Ignore buildah's layer cache. @default false */
  noCache?: boolean;
  /** Progress lines (the base image's, and each build step). */
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Makes sure `node:24-bookworm-slim` is in buildah's storage (base-image.sh: milliseconds when
 * present, seconds from the cached root filesystem, minutes cold) and returns its name.
 */
export async function ensureBaseImage(
  options: Pick<BuildImagesOptions, 'cacheDir' | 'onProgress' | 'env'> = {},
): Promise<string> {
  const env = { ...(options.env ?? process.env) };
  if (options.cacheDir !== undefined) env.PEERNET_CACHE = resolve(options.cacheDir);
  try {
    await runBuildScript(baseImageScript, 'the base image', {
      env,
      onProgress: options.onProgress,
    });
  } catch (e) {
    if (e instanceof ClusterBuildError) throw new ImageBuildError(e.message);
    throw e;
  }
  return BASE_IMAGE;
}

/**
 * Builds the base image if missing, then the peer and the operator images (one after the other:
 * they share build layers), and exports each as a docker-archive under `<cache>/images/<checkout>/`.
 */
export async function buildImages(
  options: BuildImagesOptions = {},
): Promise<{ peer: BuiltImage; operator: BuiltImage }> {
  const root = resolve(options.root ?? repoRoot);
  const env = options.env ?? process.env;
  const cache = resolve(options.cacheDir ?? cacheRoot(env));
  // one folder per checkout: two working trees building at once must not swap each other's
  // archives between an export and the import that follows it
  const dir = join(cache, 'images', createHash('sha256').update(root).digest('hex').slice(0, 12));
  mkdirSync(dir, { recursive: true });
  const version = options.version ?? packageVersion(root);
  const revision = options.revision ?? (await gitRevision(root));

  await ensureBaseImage({ cacheDir: cache, env, onProgress: options.onProgress });

  const volumes: string[] = [];
  const caFile = options.caFile === undefined ? hostCaFile() : options.caFile;
  if (caFile !== null) {
    if (!existsSync(caFile)) throw new ImageBuildError(`no CA bundle at ${caFile}`);
    const npmrc = join(dir, 'npmrc');
    writeFileSync(npmrc, `cafile=${CONTAINER_CA_FILE}\n`);
    volumes.push(
      '-v',
      `${resolve(caFile)}:${CONTAINER_CA_FILE}:ro`,
      '-v',
      `${npmrc}:${CONTAINER_NPMRC}:ro`,
    );
  }

  const build = (name: ImageName) =>
    buildOne(name, { root, dir, version, revision, volumes, env, options });
  const peer = await build('peer');
  const operator = await build('operator');
  return { peer, operator };
}

interface BuildContext {
  root: string;
  dir: string;
  version: string;
  revision: string;
  volumes: string[];
  env: NodeJS.ProcessEnv;
  options: BuildImagesOptions;
}

async function buildOne(name: ImageName, ctx: BuildContext): Promise<BuiltImage> {
  const started = Date.now();
  const ref = `${IMAGE_REPOSITORIES[name]}:${ctx.version}`;
  const say = (line: string) => ctx.options.onProgress?.(`[images] ${name}: ${line}`);
  const logPath = join(ctx.dir, `build-${name}.log`);
  const iidFile = join(ctx.dir, `.${name}.${process.pid}.iid`);
  say(`buildah bud -f Dockerfile.${name} -t ${ref} (log: ${logPath})`);
  const args = [
    'bud',
    '--layers',
    '--network',
    'host',
    '--pull=never',
    // the Docker image format keeps HEALTHCHECK (the OCI format drops it with a warning)
    '--format',
    'docker',
    ...(ctx.options.noCache === true ? ['--no-cache'] : []),
    ...ctx.volumes,
    '--build-arg',
    `VERSION=${ctx.version}`,
    '--build-arg',
    `REVISION=${ctx.revision}`,
    // buildah 1.28's layer cache ignores build-arg values: the Dockerfiles' LABEL step would keep
    // the version and revision of the first build. A --label is a step of its own, keyed by value.
    '--label',
    `org.opencontainers.image.version=${ctx.version}`,
    '--label',
    `org.opencontainers.image.revision=${ctx.revision}`,
    '--iidfile',
    iidFile,
    '-f',
    join(ctx.root, `Dockerfile.${name}`),
    '-t',
    ref,
    ctx.root,
  ];
  const code = await runLogged('buildah', args, logPath, ctx.env, (line) => {
    // the steps are the progress; the rest (npm, tsc) stays in the log
    if (/^(\[\d+\/\d+\] )?STEP \d+\/\d+/.test(line))
      say(line.length > 110 ? `${line.slice(0, 109)}…` : line);
  });
  if (code !== 0 || !existsSync(iidFile)) {
    throw new ImageBuildError(
      `building ${ref} from Dockerfile.${name} failed (exit ${code}); see ${logPath}:\n${tail(logPath)}`,
      logPath,
    );
  }
  const id = readFileSync(iidFile, 'utf8')
    .trim()
    .replace(/^sha256:/, '');
  rmSync(iidFile, { force: true });

  const archive = join(ctx.dir, `peernet-${name}-${ctx.version}.tar`);
  const idFile = `${archive}.id`;
  let exported = false;
  if (!existsSync(archive) || readIf(idFile) !== id) {
    const tmp = `${archive}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    try {
      await run('buildah', ['push', '--quiet', id, `docker-archive:${tmp}:${ref}`], {
        env: ctx.env,
        timeoutMs: 300_000,
      });
    } catch (e) {
      rmSync(tmp, { force: true });
      if (e instanceof HostCommandError)
        throw new ImageArchiveError(`exporting ${ref} to ${archive}: ${e.message}`);
      throw e;
    }
    renameSync(tmp, archive);
    writeFileSync(idFile, `${id}\n`);
    exported = true;
  }
  const bytes = statSync(archive).size;
  const seconds = (Date.now() - started) / 1000;
  say(
    `${ref} ${id.slice(0, 12)} ${(bytes / 1e6).toFixed(1)} MB, ${exported ? 'exported' : 'unchanged'} (${seconds.toFixed(1)}s)`,
  );
  return { ref, archive, bytes, id, exported, seconds };
}

/**
 * Imports a docker-archive into a containerd's `k8s.io` namespace (the one the CRI and so the
 * kubelet use): `ctr --address ADDRESS -n k8s.io images import ARCHIVE`.
 */
export async function importArchive(
  ctrBinary: string,
  address: string,
  archive: string,
): Promise<void> {
  try {
    await run(ctrBinary, ['--address', address, '-n', 'k8s.io', 'images', 'import', archive], {
      timeoutMs: 300_000,
    });
  } catch (e) {
    if (e instanceof HostCommandError)
      throw new ImageArchiveError(`importing ${archive} into ${address}: ${e.message}`);
    throw e;
  }
}

/** Runs a command with stdout and stderr into a log file, each line also to `onLine`. */
function runLogged(
  cmd: string,
  args: readonly string[],
  logPath: string,
  env: NodeJS.ProcessEnv,
  onLine: (line: string) => void,
): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(logPath);
    log.write(`$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let partial = '';
    const onData = (d: string) => {
      log.write(d);
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('error', (e) => {
      log.end();
      reject(new ImageBuildError(`cannot run ${cmd}: ${e.message}`, logPath));
    });
    child.on('close', (code) => log.end(() => resolvePromise(code ?? 1)));
  });
}

function packageVersion(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string' || pkg.version === '')
    throw new ImageBuildError(`no version in ${join(root, 'package.json')}`);
  return pkg.version;
}

/** HEAD's commit, `-dirty` when tracked files differ from it; `unknown` outside git. */
async function gitRevision(root: string): Promise<string> {
  const head = (await run('git', ['-C', root, 'rev-parse', 'HEAD'], { allowFail: true })).trim();
  if (!/^[0-9a-f]{40}$/.test(head)) return 'unknown';
  const changes = await run('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], {
    allowFail: true,
  });
  return changes.trim() === '' ? head : `${head}-dirty`;
}

function hostCaFile(): string | null {
  return existsSync(HOST_CA_FILE) ? HOST_CA_FILE : null;
}

function readIf(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

function tail(path: string, n = 25): string {
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
}
