import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterBuildError } from './errors.js';

/** Paths of the servers and tools built from Go modules by `cluster/build-binaries.sh`. */
export interface ClusterBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kubelet: string;
  kubeProxy: string;
  kwok: string;
  helm: string;
  /** kwok's stage definitions (copied from the kwok module's `kustomize/stage`). */
  kwokStages: string;
}

/** The build script, found relative to this module (it runs from `dist/cluster/`). */
export const buildScript = fileURLToPath(
  new URL('../../cluster/build-binaries.sh', import.meta.url),
);

/** The binaries inside a build folder (no check that they exist). */
export function binariesIn(dir: string): ClusterBinaries {
  return {
    dir,
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubeScheduler: join(dir, 'kube-scheduler'),
    kubectl: join(dir, 'kubectl'),
    kubelet: join(dir, 'kubelet'),
    kubeProxy: join(dir, 'kube-proxy'),
    kwok: join(dir, 'kwok'),
    helm: join(dir, 'helm'),
    kwokStages: join(dir, 'kwok-stages'),
  };
}

export interface EnsureBinariesOptions {
  /** Each progress line of the build (it can take 20+ minutes cold). */
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs the build script (a no-op printing the folder when everything is cached, else the Go
 * build under a lock) and returns the binaries. Progress lines go to `onProgress`.
 */
export async function ensureBinaries(
  options: EnsureBinariesOptions = {},
): Promise<ClusterBinaries> {
  const dir = await runBuildScript(buildScript, "the control plane's servers", options);
  return binariesIn(dir);
}

/**
 * Runs one of the `cluster/build-*.sh` scripts and returns the folder it prints on its last
 * stdout line. Its own `[build-...]` stderr lines (and errors) go to `onProgress`.
 */
export async function runBuildScript(
  script: string,
  what: string,
  options: EnsureBinariesOptions = {},
): Promise<string> {
  const onProgress = options.onProgress ?? (() => undefined);
  const tag = `[${basename(script, '.sh')}]`;
  const tail: string[] = [];
  let stdout = '';
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('bash', [script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        // The go tool's "downloading" chatter is noise; our own lines are the progress.
        if (line.startsWith(tag) || /error|fail/i.test(line)) onProgress(line);
      }
    });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || dir === '' || !existsSync(dir)) {
    throw new ClusterBuildError(
      `building ${what} failed (exit ${code}); last lines:\n${tail.join('\n')}`,
    );
  }
  return dir;
}
