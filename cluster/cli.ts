#!/usr/bin/env node
// `npm run cluster:up` / `cluster:down`, and `node dist/cluster/cli.js status`.
import { Command, InvalidArgumentError } from 'commander';
import { attachCluster, findRunningCluster, startCluster, type Cluster } from './index.js';

function say(line: string): void {
  process.stderr.write(`[cluster] ${line}\n`);
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

async function printStatus(cluster: Cluster): Promise<void> {
  for (const c of cluster.status()) {
    say(
      `${c.name.padEnd(24)} ${c.running ? 'running' : 'STOPPED'}  pid ${c.pid ?? '-'}  log ${c.logPath}`,
    );
  }
  say(`API server ${cluster.server}`);
  const nodes = await cluster.kubectl([
    'get',
    'nodes',
    '-o',
    'wide',
    '-L',
    'topology.kubernetes.io/zone,peernet.io/node-kind',
  ]);
  process.stdout.write(nodes.code === 0 ? nodes.stdout : nodes.stderr);
  say(`kubectl: ${cluster.dir}/bin/kubectl (or: export KUBECONFIG=${cluster.kubeconfig})`);
}

const program = new Command('cluster')
  .description(
    'the local Kubernetes control plane (etcd, kube-apiserver, controller manager, scheduler, kwok)',
  )
  .option('--dir <path>', 'cluster folder', '.cluster');

program
  .command('up')
  .description('build (cached) and start the control plane with fake kwok nodes')
  .option('--nodes <n>', 'fake kwok nodes', int, 3)
  .option('--real-nodes <n>', 'real nodes: kubelet, containerd and kube-proxy (needs root)', int, 3)
  .action(async (opts: { nodes: number; realNodes: number }) => {
    const { dir } = program.opts<{ dir: string }>();
    const running = findRunningCluster(dir);
    if (running !== undefined) {
      say(`already running in ${running.dir}`);
      await printStatus(running);
      return;
    }
    const started = Date.now();
    const cluster = await startCluster(
      { dir, nodes: opts.nodes, realNodes: opts.realNodes },
      { onProgress: say },
    );
    say(`up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    await printStatus(cluster);
  });

program
  .command('down')
  .description('stop every server this cluster started and remove its folder')
  .action(async () => {
    const { dir } = program.opts<{ dir: string }>();
    let cluster: Cluster;
    try {
      cluster = attachCluster(dir);
    } catch {
      say(`no cluster in ${dir}: nothing to stop`);
      return;
    }
    await cluster.stop();
    say(`stopped and removed ${cluster.dir}`);
  });

program
  .command('status')
  .description('show the servers, their logs and the nodes')
  .action(async () => {
    const { dir } = program.opts<{ dir: string }>();
    let cluster: Cluster;
    try {
      cluster = attachCluster(dir);
    } catch {
      say(`no cluster in ${dir}`);
      process.exitCode = 1;
      return;
    }
    await printStatus(cluster);
    if (cluster.status().some((c) => !c.running)) process.exitCode = 1;
  });

program.parseAsync().catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  say(`${e.name}: ${e.message}`);
  process.exitCode = 1;
});
