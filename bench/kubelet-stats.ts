// Per-pod CPU and memory as the kubelet reports them (its Summary API, read through the API
// server's node proxy): the figures `kubectl top` and a metrics pipeline would show for the same
// pods. The kubelet refreshes them every few seconds (cAdvisor housekeeping), so every figure
// carries the time it was taken, and rates are computed between those times, not ours.
import { readFile } from 'node:fs/promises';
import type { Cluster } from '../cluster/index.js';
import { mapLimit } from '../common/concurrency.js';

export interface PodUsage {
  namespace: string;
  name: string;
  /** CPU the pod's cgroup has used since it started, ns */
  cpuNs: number;
  /** when the kubelet took `cpuNs` (ms since the epoch) */
  cpuAt: number;
  /** memory working set (what the kubelet evicts on and `kubectl top` shows), bytes */
  workingSet: number;
}

interface SummaryPod {
  podRef?: { name?: string; namespace?: string };
  cpu?: { time?: string; usageCoreNanoSeconds?: number };
  memory?: { workingSetBytes?: number };
}

/** The pods of one Summary answer that have CPU figures. */
export function parseSummary(text: string): PodUsage[] {
  const body = JSON.parse(text) as { pods?: SummaryPod[] };
  const out: PodUsage[] = [];
  for (const p of body.pods ?? []) {
    const { name, namespace } = p.podRef ?? {};
    const cpuNs = p.cpu?.usageCoreNanoSeconds;
    const cpuAt = Date.parse(p.cpu?.time ?? '');
    if (!name || !namespace || typeof cpuNs !== 'number' || Number.isNaN(cpuAt)) continue;
    out.push({ namespace, name, cpuNs, cpuAt, workingSet: p.memory?.workingSetBytes ?? NaN });
  }
  return out;
}

/** Every pod on `nodes`, by `namespace/name`; a node that does not answer is left out. */
export async function podUsage(cluster: Cluster, nodes: string[]): Promise<Map<string, PodUsage>> {
  const answers = await mapLimit(nodes, 4, async (n) => {
    const r = await cluster.kubectl([
      'get',
      '--raw',
      `/api/v1/nodes/${n}/proxy/stats/summary?only_cpu_and_memory=true`,
    ]);
    return r.code === 0 ? parseSummary(r.stdout) : [];
  });
  return new Map(answers.flat().map((u) => [`${u.namespace}/${u.name}`, u]));
}

/** Millicores a pod used between two readings (NaN when the kubelet had not refreshed). */
export function millicores(before: PodUsage, after: PodUsage): number {
  const ms = after.cpuAt - before.cpuAt;
  return ms > 0 ? (after.cpuNs - before.cpuNs) / 1e3 / ms : NaN;
}

/** The machine's CPU busy since boot from /proc/stat, in core-seconds. */
export async function machineCpu(): Promise<{ busy: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  // USER_HZ is 100 on Linux
  return { busy: (total - idle) / 100 };
}
