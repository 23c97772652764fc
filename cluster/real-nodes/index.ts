// Real nodes beside kwok's fake ones: per node a network namespace with its own address, its
// own containerd 2.x (runc, Debian's CNI plugins), a kubelet of the control plane's version and
// kube-proxy; CoreDNS on the host bridge serves cluster.local. ADR 0005 says why it is built so.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigYaml } from '../components.js';
import { run } from '../exec.js';
import { importArchive } from '../images/index.js';
import { probe, waitFor } from '../health.js';
import { isRunning, spawnDetached, stopProcess, tailFile, type CommandSpec } from '../process.js';
import type { RealNodeState } from '../state.js';
import {
  cniConflist,
  containerdConfigToml,
  corefile,
  kubeletConfigYaml,
  kubeProxyConfigYaml,
} from './configs.js';
import { createCgroupRoot, setUpNodeNetwork } from './host.js';
import { nodeLayout, type NodeLayout, type SlotLayout } from './layout.js';

export { claimSlot, ownsSlot, setUpSlotNetwork, teardownNode, teardownSlot } from './host.js';
export {
  slotLayout,
  nodeLayout,
  MAX_REAL_NODES,
  type SlotLayout,
  type NodeLayout,
} from './layout.js';

/** The label every real node carries (kwok's carry `kwok`). */
export const REAL_NODE_KIND = 'real';
export const realNodeComponents = ['containerd', 'kubelet', 'kube-proxy'] as const;
export type RealNodeComponent = (typeof realNodeComponents)[number];

export interface RealNodeBinaries {
  kubelet: string;
  kubeProxy: string;
  containerd: string;
  ctr: string;
  coredns: string;
  /** folder of containerd-shim-runc-v2 (put on containerd's PATH) */
  shimDir: string;
}

/** One token user per node (group system:nodes), kube-proxy and CoreDNS. */
export function realNodeUsers(count: number): Array<{ user: string; groups: string[] }> {
  return [
    ...Array.from({ length: count }, (_, i) => ({
      user: `system:node:real-node-${i + 1}`,
      groups: ['system:nodes'],
    })),
    // bound to system:node-proxier by the API server's default bindings
    { user: 'system:kube-proxy', groups: [] },
    { user: 'coredns', groups: ['system:masters'] },
  ];
}

export interface RealNodesContext {
  slot: SlotLayout;
  clusterDir: string;
  logs: string;
  server: string;
  caPem: string;
  caFile: string;
  tokens: Record<string, string>;
  zones: readonly string[];
  bins: RealNodeBinaries;
  /** Image archives (docker-archive tars) to import into every node's containerd. */
  images: readonly string[];
  timeoutMs: number;
  progress: (line: string) => void;
}

const nsenter = (
  node: NodeLayout,
  bin: string,
  args: string[],
  logPath: string,
  name: string,
  env?: Record<string, string>,
): CommandSpec => ({
  name,
  command: 'nsenter',
  args: [`--net=/run/netns/${node.netns}`, '--', bin, ...args],
  exe: bin,
  logPath,
  ...(env !== undefined ? { env } : {}),
});

/** Command lines of one node's servers. Pure. */
export function realNodeCommands(
  ctx: Pick<RealNodesContext, 'bins' | 'logs'>,
  node: NodeLayout,
  extraLabels: Record<string, string> = {},
): Record<RealNodeComponent, CommandSpec> {
  const log = (c: string): string => join(ctx.logs, `${node.name}-${c}.log`);
  const labels = [
    `peernet.io/node-kind=${REAL_NODE_KIND}`,
    `topology.kubernetes.io/zone=${node.zone}`,
    'topology.kubernetes.io/region=local',
    ...Object.entries(extraLabels).map(([k, v]) => `${k}=${v}`),
  ].join(',');
  return {
    containerd: nsenter(
      node,
      ctx.bins.containerd,
      ['--config', node.containerdConfig],
      log('containerd'),
      'containerd',
      {
        PATH: `${ctx.bins.shimDir}:/usr/sbin:/usr/bin:/sbin:/bin`,
      },
    ),
    kubelet: nsenter(
      node,
      ctx.bins.kubelet,
      [
        `--config=${node.kubeletConfig}`,
        `--kubeconfig=${node.kubeletKubeconfig}`,
        `--root-dir=${join(node.dir, 'kubelet')}`,
        `--hostname-override=${node.name}`,
        `--node-ip=${node.ip}`,
        `--node-labels=${labels}`,
        '--v=1',
      ],
      log('kubelet'),
      'kubelet',
    ),
    'kube-proxy': nsenter(
      node,
      ctx.bins.kubeProxy,
      [`--config=${node.kubeProxyConfig}`, '--v=1'],
      log('kube-proxy'),
      'kube-proxy',
    ),
  };
}

/** Cluster DNS on the host bridge. */
export async function startCoreDns(
  ctx: RealNodesContext,
  healthPort: number,
): Promise<CommandSpec> {
  const dir = join(ctx.clusterDir, 'coredns');
  mkdirSync(dir, { recursive: true });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    kubeconfigYaml(ctx.server, ctx.caPem, ctx.tokens.coredns ?? '', 'coredns'),
    { mode: 0o600 },
  );
  writeFileSync(join(dir, 'Corefile'), corefile(ctx.slot, kubeconfig, healthPort));
  const spec: CommandSpec = {
    name: 'coredns',
    command: ctx.bins.coredns,
    args: ['-conf', join(dir, 'Corefile')],
    logPath: join(ctx.logs, 'coredns.log'),
  };
  await startAndWait(
    spec,
    () => probe(`http://${ctx.slot.hostIp}:${healthPort}/health`).then((c) => c === 200),
    ctx.timeoutMs,
  );
  return spec;
}

async function startAndWait(
  spec: CommandSpec,
  healthy: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const pid = spawnDetached(spec);
  spec.pid = pid;
  const exe = spec.exe ?? spec.command;
  const result = await waitFor(healthy, {
    timeoutMs,
    alive: () => isRunning(pid, exe),
    intervalMs: 250,
  });
  if (result !== 'ok') {
    const why = result === 'died' ? 'exited' : `was not healthy after ${timeoutMs / 1000}s`;
    throw new Error(
      `${spec.name} ${why}; its log is ${spec.logPath}; last lines:\n${tailFile(spec.logPath)}`,
    );
  }
  return pid;
}

function writeNodeFiles(ctx: RealNodesContext, node: NodeLayout): void {
  for (const d of [node.dir, node.runDir, node.cniConfDir, join(node.dir, 'pod-logs')])
    mkdirSync(d, { recursive: true, mode: 0o700 });
  const resolvConf = join(node.dir, 'resolv.conf');
  writeFileSync(resolvConf, '');
  writeFileSync(node.containerdConfig, containerdConfigToml(node));
  writeFileSync(join(node.cniConfDir, '10-peernet.conflist'), cniConflist(node));
  writeFileSync(
    node.kubeletConfig,
    kubeletConfigYaml({ node, slot: ctx.slot, caFile: ctx.caFile, resolvConf }),
  );
  writeFileSync(node.kubeProxyConfig, kubeProxyConfigYaml(node, ctx.slot));
  const user = `system:node:${node.name}`;
  writeFileSync(
    node.kubeletKubeconfig,
    kubeconfigYaml(ctx.server, ctx.caPem, ctx.tokens[user] ?? '', user),
    { mode: 0o600 },
  );
  writeFileSync(
    node.kubeProxyKubeconfig,
    kubeconfigYaml(
      ctx.server,
      ctx.caPem,
      ctx.tokens['system:kube-proxy'] ?? '',
      'system:kube-proxy',
    ),
    { mode: 0o600 },
  );
}

/**
 * Starts the nodes `indices` of the slot beside those already running (`existing`), each with
 * `labels` added; reports each node's state (pids included) for the cluster's state file.
 */
export async function startRealNodes(
  ctx: RealNodesContext,
  indices: readonly number[],
  existing: readonly NodeLayout[],
  onStarted: (node: RealNodeState) => void,
  labels: Record<string, string> = {},
): Promise<RealNodeState[]> {
  const nodes = indices.map((i) => nodeLayout(ctx.slot, ctx.clusterDir, i, ctx.zones));
  const started: RealNodeState[] = [];
  const present = [...existing];
  for (const node of nodes) {
    ctx.progress(`real node ${node.name}: address ${node.ip}, pods ${node.podCidr}, ${node.zone}`);
    setUpNodeNetwork(ctx.slot, node, present);
    createCgroupRoot(node.cgroupRoot);
    present.push(node);
    writeNodeFiles(ctx, node);
    const commands = realNodeCommands(ctx, node, labels);
    const state: RealNodeState = { name: node.name, index: node.index, components: commands };
    started.push(state);
    onStarted(state);
    await startAndWait(
      commands.containerd,
      () =>
        run(ctx.bins.ctr, ['--address', node.containerdSocket, 'version'], {
          timeoutMs: 5_000,
        }).then(
          () => true,
          () => false,
        ),
      ctx.timeoutMs,
    );
    onStarted(state);
  }
  // images into every node at once: the slowest step of a start
  ctx.progress(
    `importing ${ctx.images.length} images into the containerd of ${nodes.length} nodes`,
  );
  await Promise.all(
    nodes.map(async (n) => {
      for (const archive of ctx.images)
        await importArchive(ctx.bins.ctr, n.containerdSocket, archive);
    }),
  );
  // kubelet and kube-proxy answer health checks only inside the node's namespace: the
  // caller waits for the Node objects to be Ready instead (deadServer fails it early)
  for (const state of started) {
    for (const name of ['kubelet', 'kube-proxy'] as const) {
      const c = state.components[name]!;
      c.pid = spawnDetached(c);
    }
    onStarted(state);
  }
  return started;
}

/** A node server that has exited (for a start that waits on the API server), or undefined. */
export function deadServer(nodes: readonly RealNodeState[]): CommandSpec | undefined {
  for (const n of nodes) {
    for (const c of Object.values(n.components)) {
      if (c.pid === undefined || !isRunning(c.pid, c.exe ?? c.command)) return c;
    }
  }
  return undefined;
}

/** Stops one node's servers (kubelet first, so it starts nothing new). */
export async function stopRealNode(node: RealNodeState): Promise<void> {
  for (const name of ['kubelet', 'kube-proxy', 'containerd']) {
    const c = node.components[name];
    if (c?.pid !== undefined) await stopProcess(c.pid, c.exe ?? c.command, 5_000);
  }
}
