#!/usr/bin/env node
// The local node runtime as a command: `node dist/localnode/cli.js --kubeconfig .cluster/kubeconfig --nodes 3`.
// Development and tests only: a kubelet stand-in that runs peer pods as local processes. Needs root.
import { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';
import { startLocalNodes } from './runtime.js';

const Options = z.object({
  kubeconfig: z.string().min(1),
  nodes: z.coerce.number().int().min(1).max(254),
  namePrefix: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?-?$/),
  podCidr: z.string(),
  stateDir: z.string().min(1),
  network: z.enum(['auto', 'namespaces', 'loopback']),
});

async function main(): Promise<void> {
  const program = new Command('peernet-localnode')
    .description(
      'peernet local node runtime: a kubelet stand-in for development and tests (needs root)',
    )
    .option(
      '--kubeconfig <path>',
      'kubeconfig of the cluster to join',
      process.env.KUBECONFIG ?? '.cluster/kubeconfig',
    )
    .option('--nodes <n>', 'number of local nodes', '3')
    .option('--name-prefix <prefix>', 'node names are <prefix><n>', 'local-')
    .option(
      '--pod-cidr <cidr>',
      'a /16 for pod addresses, or auto (first free of 10.213-10.239)',
      'auto',
    )
    .option('--state-dir <dir>', 'pod directories and container logs', '.cluster/localnode')
    .option(
      '--network <mode>',
      'namespaces (root), loopback (fallback without root) or auto',
      'auto',
    )
    .parse();
  const parsed = Options.safeParse(program.opts());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    console.error(
      `peernet-localnode: invalid --${String(issue?.path[0] ?? '?')}: ${issue?.message ?? ''}`,
    );
    process.exit(2);
  }
  const o = parsed.data;
  const logger = pino({ name: 'peernet:localnode' });
  const runtime = await startLocalNodes({ ...o, logger });
  logger.info(
    { nodes: runtime.nodes },
    'local nodes up; Ctrl-C stops them and removes everything they created',
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(
    `peernet-localnode: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
  );
  process.exit(1);
});
