#!/usr/bin/env node
// `npm run images`: builds the base image if missing (cached), the peer and operator images from
// Dockerfile.peer and Dockerfile.operator of the working tree (buildah, no Docker engine), and
// exports each as a docker-archive into the cache; prints each image, its archive and its size.
import { Command } from 'commander';
import { findRunningCluster } from '../index.js';
import { ensureRuntimeBinaries } from '../runtime-binaries.js';
import { buildImages, importArchive, type BuiltImage } from './index.js';

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

const program = new Command('images')
  .description(
    'build docker.io/peernet/peer and docker.io/peernet/operator with buildah and export them as docker-archives',
  )
  .option('--tag <version>', 'image tag (default: the package version)')
  .option('--no-cache', "ignore buildah's layer cache")
  .option('--json', 'print the result as JSON on stdout')
  .option('--dir <path>', 'load them into the real nodes of the cluster running here', '.cluster')
  .action(async (opts: { tag?: string; cache: boolean; json?: boolean; dir: string }) => {
    const started = Date.now();
    const built = await buildImages({
      version: opts.tag,
      noCache: !opts.cache,
      onProgress: say,
    });
    // Into every real node's containerd, when a local cluster runs: pods then use them
    // (imagePullPolicy IfNotPresent; pods already running keep the image they started with).
    const cluster = findRunningCluster(opts.dir);
    if (cluster !== undefined && cluster.realNodes.length > 0) {
      const { ctr } = await ensureRuntimeBinaries();
      for (const node of cluster.realNodes) {
        for (const b of [built.peer, built.operator])
          await importArchive(ctr, cluster.containerdSocket(node), b.archive);
        say(`[images] loaded into ${node}`);
      }
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (opts.json === true) {
      process.stdout.write(`${JSON.stringify({ ...built, seconds: Number(seconds) }, null, 2)}\n`);
      return;
    }
    const line = (b: BuiltImage) =>
      `${b.ref.padEnd(34)} ${(b.bytes / 1e6).toFixed(1).padStart(7)} MB  ${b.archive}`;
    process.stdout.write(`${line(built.peer)}\n${line(built.operator)}\n`);
    say(`[images] done in ${seconds}s`);
  });

program.parseAsync().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  say(`[images] ${e.name}: ${e.message}`);
  process.exitCode = 1;
});
