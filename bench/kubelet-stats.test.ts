import { describe, expect, test } from '@jest/globals';
import { millicores, parseSummary } from './kubelet-stats.js';

// The shape of a kubelet's /stats/summary?only_cpu_and_memory=true, trimmed.
const summary = (cpuNs: number, time: string) =>
  JSON.stringify({
    node: { nodeName: 'n1', cpu: { time, usageCoreNanoSeconds: 9e12 } },
    pods: [
      {
        podRef: { name: 'demo-0', namespace: 'default', uid: 'u0' },
        cpu: { time, usageCoreNanoSeconds: cpuNs },
        memory: { time, workingSetBytes: 50 * 2 ** 20 },
      },
      // a pod whose stats are not collected yet has no cpu
      { podRef: { name: 'demo-1', namespace: 'default', uid: 'u1' }, memory: {} },
    ],
  });

describe('kubelet stats', () => {
  test('reads the pods that have CPU figures, with the time the kubelet took them', () => {
    expect(parseSummary(summary(2e9, '2026-12-07T10:00:00Z'))).toEqual([
      {
        namespace: 'default',
        name: 'demo-0',
        cpuNs: 2e9,
        cpuAt: Date.parse('2026-12-07T10:00:00Z'),
        workingSet: 50 * 2 ** 20,
      },
    ]);
  });

  test('millicores between two readings use the readings own times', () => {
    const [a] = parseSummary(summary(2e9, '2026-12-07T10:00:00Z'));
    const [b] = parseSummary(summary(2.5e9, '2026-12-07T10:00:10Z'));
    // 0.5 s of CPU over 10 s
    expect(millicores(a!, b!)).toBeCloseTo(50);
    // the kubelet had not refreshed: no rate rather than a made-up one
    expect(millicores(a!, a!)).toBeNaN();
  });
});
