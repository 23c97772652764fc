import { describe, expect, it } from '@jest/globals';
import { defaultQuotas, memoryLimitFrom } from './quotas.js';

const MiB = 1024 * 1024;
const V2 = '/sys/fs/cgroup/memory.max';
const V1 = '/sys/fs/cgroup/memory/memory.limit_in_bytes';

describe('memoryLimitFrom', () => {
  it.each([
    ['cgroup v2 with a limit', { [V2]: '268435456\n' }, { bytes: 256 * MiB, source: 'cgroup' }],
    ['cgroup v2 without one', { [V2]: 'max\n' }, { bytes: 512 * MiB, source: 'default' }],
    ['cgroup v1 with a limit', { [V1]: '134217728\n' }, { bytes: 128 * MiB, source: 'cgroup' }],
    [
      'cgroup v1 without one (its huge number)',
      { [V1]: '9223372036854771712\n' },
      { bytes: 512 * MiB, source: 'default' },
    ],
    ['no cgroup files', {}, { bytes: 512 * MiB, source: 'default' }],
    ['garbage', { [V2]: 'lots' }, { bytes: 512 * MiB, source: 'default' }],
    [
      'v2 first when both are there',
      { [V2]: '268435456', [V1]: '134217728' },
      { bytes: 256 * MiB, source: 'cgroup' },
    ],
  ])('%s', (_what, files: Record<string, string>, want) => {
    expect(memoryLimitFrom((path) => files[path])).toEqual(want);
  });
});

describe('defaultQuotas', () => {
  it.each([
    [512 * MiB, { recordBytes: 128 * MiB, records: 32_768, providerRecords: 65_536 }],
    [256 * MiB, { recordBytes: 64 * MiB, records: 16_384, providerRecords: 32_768 }],
    [2048 * MiB, { recordBytes: 512 * MiB, records: 131_072, providerRecords: 262_144 }],
    // a tiny limit still leaves room for some records
    [1 * MiB, { recordBytes: 1 * MiB, records: 64, providerRecords: 128 }],
  ])('for %i bytes of memory', (memory, want) => {
    expect(defaultQuotas(memory)).toEqual({ ...want, providersPerKey: 100 });
  });

  it('keeps the records and their bookkeeping within about half the memory', () => {
    for (const memory of [128 * MiB, 256 * MiB, 1024 * MiB]) {
      const q = defaultQuotas(memory);
      // ~1 KiB of bookkeeping a record, ~0.5 KiB a provider record
      const worst = q.recordBytes + q.records * 1024 + q.providerRecords * 512;
      expect(worst).toBeLessThanOrEqual(memory / 2);
    }
  });
});
