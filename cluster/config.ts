import { resolve } from 'node:path';
import { z } from 'zod';
import { ClusterConfigError } from './errors.js';

/** Options of `startCluster`; every field has a default. */
export const clusterOptionsSchema = z
  .object({
    /** Where state, keys, data and logs go. @default `.cluster` under the current directory */
    dir: z.string().min(1).default('.cluster'),
    /** Fake kwok nodes to create. @default 3 */
    nodes: z.number().int().min(0).max(5000).default(3),
    /**
     * Real nodes (kubelet, containerd, kube-proxy, each in its own network namespace) beside the
     * fake ones; needs root. @default 0
     */
    realNodes: z.number().int().min(0).max(20).default(0),
    /** Image archives (docker-archive tars) imported into every real node. @default [] */
    images: z.array(z.string().min(1)).default([]),
    /** Prefix of the fake nodes' names: `<prefix>-<i>`. @default `kwok-node` */
    nodePrefix: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/)
      .default('kwok-node'),
    /** Zones the fake nodes are spread over, round robin. @default zone-a, zone-b, zone-c */
    zones: z.array(z.string().min(1)).min(1).default(['zone-a', 'zone-b', 'zone-c']),
    /** Allocatable resources of each fake node. */
    nodeCpu: z.string().default('32'),
    nodeMemory: z.string().default('256Gi'),
    nodePods: z.string().default('110'),
    /** kwok's pod IP range: loopback, so nothing that tries a fake pod's IP leaves the machine (ADR 0001). */
    podCidr: z.string().default('127.200.0.0/16'),
    /** The Services' ClusterIP range (bookkeeping only: there is no kube-proxy here). */
    serviceCidr: z.string().default('10.96.0.0/16'),
    /** Client QPS and burst of the controller manager, scheduler and kwok. @default 100 / 200 */
    clientQps: z.number().positive().default(100),
    clientBurst: z.number().int().positive().default(200),
    /**
     * What the controller manager speaks to the API server (`--kube-api-content-type`): protobuf
     * by default, as in any cluster; `json` is what a client-node operator speaks (the benchmark
     * compares the two). @default protobuf
     */
    controllerManagerWire: z.enum(['protobuf', 'json']).default('protobuf'),
    /** Record every write (create/update/patch/delete) in `logs/audit.log`. @default true */
    auditLog: z.boolean().default(true),
    /** Folder holding the built servers; when unset, `cluster/build-binaries.sh` is run (cached). */
    binDir: z.string().optional(),
    /** How long each server may take to become healthy. @default 120000 */
    startTimeoutMs: z.number().int().positive().default(120_000),
  })
  .strict();

export type ClusterOptionsInput = z.input<typeof clusterOptionsSchema>;
export type ClusterOptions = z.output<typeof clusterOptionsSchema> & { dir: string };

/** Parses options once at the entry; unknown or bad fields throw a ClusterConfigError naming them. */
export function parseClusterOptions(input: ClusterOptionsInput = {}): ClusterOptions {
  const result = clusterOptionsSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new ClusterConfigError(`invalid cluster option ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return { ...result.data, dir: resolve(result.data.dir) };
}
