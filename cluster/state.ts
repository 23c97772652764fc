import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { componentNames, clusterUsers } from './components.js';

const commandSchema = z.object({
  name: z.string(),
  command: z.string(),
  args: z.array(z.string()),
  logPath: z.string(),
  exe: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
  pid: z.number().int().optional(),
});

/** A real node: its index in the slot and its servers (containerd, kubelet, kube-proxy). */
const realNodeSchema = z.object({
  name: z.string(),
  index: z.number().int(),
  components: z.record(z.string(), commandSchema),
});

/** `.cluster/state.json`: enough for another process to find, restart and stop every server. */
export const clusterStateSchema = z.object({
  version: z.literal(1),
  dir: z.string(),
  binDir: z.string(),
  server: z.string(),
  ports: z.object({
    etcdClient: z.number().int(),
    etcdPeer: z.number().int(),
    apiserver: z.number().int(),
    controllerManager: z.number().int(),
    scheduler: z.number().int(),
    kwok: z.number().int(),
  }),
  tokens: z.record(z.enum(clusterUsers), z.string()),
  components: z.partialRecord(z.enum(componentNames), commandSchema),
  nodes: z.array(z.string()),
  /** Real nodes (kubelet + containerd) and cluster DNS, in a claimed network slot. */
  real: z
    .object({
      slot: z.number().int(),
      nodes: z.array(realNodeSchema),
      coredns: commandSchema.optional(),
      /** the volume provisioner (local-path-provisioner) */
      storage: commandSchema.optional(),
      /** the load balancer's controller (MetalLB); its speakers are node components */
      loadBalancer: commandSchema.optional(),
      /** token per user of the nodes, kube-proxy and CoreDNS */
      tokens: z.record(z.string(), z.string()),
      zones: z.array(z.string()),
      /** image archives imported into every node */
      images: z.array(z.string()),
    })
    .optional(),
  startedAt: z.string(),
});
export type ClusterState = z.infer<typeof clusterStateSchema>;
export type RealNodeState = z.infer<typeof realNodeSchema>;

export function readState(path: string): ClusterState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return clusterStateSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

/** Written atomically (rename), so a reader never sees half a file. */
export function writeState(path: string, state: ClusterState): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}
