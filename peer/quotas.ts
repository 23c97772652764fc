// What one peer may hold for the network: records (count and bytes) and provider records (in
// total and per key). The defaults follow the memory the peer may use: the cgroup memory limit
// of its container when one is set, else a fixed budget. Pure but for `readMemoryLimit`.
import { readFileSync } from 'node:fs';

export interface Quotas {
  /** records held (every key under kad-dht's record prefix) */
  records: number;
  /** bytes of those records as stored (key, value envelope and record framing) */
  recordBytes: number;
  /** provider records held, all keys together */
  providerRecords: number;
  /** provider records held for one key (CID) */
  providersPerKey: number;
}

/** Which quota a write went beyond, named after its flag. */
export type QuotaName =
  'max-records' | 'max-record-bytes' | 'max-provider-records' | 'max-providers-per-key';

export interface MemoryBudget {
  bytes: number;
  /** `cgroup`: the container's memory limit; `default`: no limit was set */
  source: 'cgroup' | 'default';
}

const MiB = 1024 * 1024;
/** The budget of a peer whose cgroup sets no memory limit. */
export const DEFAULT_MEMORY_BYTES = 512 * MiB;
/** cgroup v2's limit, then v1's (paths as a container sees its own cgroup) */
export const CGROUP_MEMORY_FILES = [
  '/sys/fs/cgroup/memory.max',
  '/sys/fs/cgroup/memory/memory.limit_in_bytes',
] as const;
/** cgroup v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages, ~2^63) */
const NO_LIMIT_FROM = 2 ** 60;
/** Provider records one key may have: bounds one GET_PROVIDERS answer, whatever the memory. */
export const DEFAULT_PROVIDERS_PER_KEY = 100;

/**
 * The memory limit from the cgroup files' text (`read` returns undefined for a missing file):
 * the first file that holds a number below "unlimited". `max` (v2) and v1's huge number mean
 * no limit.
 */
export function memoryLimitFrom(read: (path: string) => string | undefined): MemoryBudget {
  for (const path of CGROUP_MEMORY_FILES) {
    const text = read(path)?.trim();
    if (text == null || !/^\d+$/.test(text)) continue;
    const bytes = Number(text);
    if (bytes > 0 && bytes < NO_LIMIT_FROM) return { bytes, source: 'cgroup' };
  }
  return { bytes: DEFAULT_MEMORY_BYTES, source: 'default' };
}

/** The memory limit of this process's cgroup (reads the files of CGROUP_MEMORY_FILES). */
export function readMemoryLimit(): MemoryBudget {
  return memoryLimitFrom((path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  });
}

/**
 * Default quotas for a memory budget M (a peer keeps records in memory without --data-dir):
 * - record bytes: M/4, at least 1 MiB. An idle peer is ~90-130 MiB RSS; M/4 of records leaves
 *   the rest for Node, libp2p, connections and requests in flight;
 * - records: M/16 KiB, at least 64. Each record also costs ~1 KiB of bookkeeping beyond its
 *   bytes (keys, maps, objects), so a store of tiny records stays within ~M/16;
 * - provider records: M/8 KiB, at least 64 (~0.5 KiB each, so ~M/16 as well);
 * - provider records per key: 100, fixed: it bounds one GET_PROVIDERS answer, not memory.
 * For M = 512 MiB (no cgroup limit): 128 MiB, 32768 records, 65536 provider records.
 */
export function defaultQuotas(memoryBytes: number): Quotas {
  const providerRecords = Math.max(64, Math.floor(memoryBytes / (8 * 1024)));
  return {
    recordBytes: Math.max(MiB, Math.floor(memoryBytes / 4)),
    records: Math.max(64, Math.floor(memoryBytes / (16 * 1024))),
    providerRecords,
    providersPerKey: Math.min(DEFAULT_PROVIDERS_PER_KEY, providerRecords),
  };
}
