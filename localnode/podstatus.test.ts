import { describe, expect, test } from '@jest/globals';
import {
  buildPodStatus,
  microTime,
  podPhase,
  rfc3339,
  type ContainerView,
  type PodView,
} from './podstatus.js';

const running = (over: Partial<ContainerView> = {}): ContainerView => ({
  name: 'peer-0',
  image: 'peernet/peer:0.1.0',
  state: { running: { startedAt: '2026-01-01T00:00:00Z' } },
  ready: true,
  started: true,
  restartCount: 0,
  willRestart: true,
  everStarted: true,
  ...over,
});

const view = (over: Partial<PodView> = {}): PodView => ({
  podUid: 'u1',
  sandboxReady: true,
  podIp: '10.213.1.2',
  hostIp: '10.213.1.1',
  containers: [running()],
  foreignConditions: [{ type: 'PodScheduled', status: 'True' }],
  transitions: new Map(),
  now: '2026-01-01T00:00:10Z',
  ...over,
});

describe('podPhase', () => {
  test.each<[string, Partial<PodView>, string]>([
    ['no sandbox yet', { sandboxReady: false }, 'Pending'],
    ['all running', {}, 'Running'],
    [
      'a container never started (image refused)',
      {
        containers: [
          running(),
          running({
            name: 'x',
            everStarted: false,
            state: { waiting: { reason: 'ErrImageNeverPull' } },
          }),
        ],
      },
      'Pending',
    ],
    [
      'crash looping counts as running',
      {
        containers: [running({ state: { waiting: { reason: 'CrashLoopBackOff' } }, ready: false })],
      },
      'Running',
    ],
    [
      'finished with 0, no restart',
      {
        containers: [
          running({
            willRestart: false,
            state: {
              terminated: { exitCode: 0, reason: 'Completed', startedAt: 'a', finishedAt: 'b' },
            },
          }),
        ],
      },
      'Succeeded',
    ],
    [
      'finished with 1, no restart',
      {
        containers: [
          running({
            willRestart: false,
            state: {
              terminated: { exitCode: 1, reason: 'Error', startedAt: 'a', finishedAt: 'b' },
            },
          }),
        ],
      },
      'Failed',
    ],
  ])('%s', (_name, over, phase) => {
    expect(podPhase(view(over))).toBe(phase);
  });
});

describe('buildPodStatus', () => {
  test('keeps the scheduler condition, reports Ready from container readiness, addresses', () => {
    const s = buildPodStatus(view());
    expect(s).toMatchObject({
      phase: 'Running',
      podIP: '10.213.1.2',
      podIPs: [{ ip: '10.213.1.2' }],
      hostIP: '10.213.1.1',
    });
    const conditions = s.conditions as Array<{ type: string; status: string }>;
    expect(conditions.map((c) => `${c.type}=${c.status}`)).toEqual([
      'PodScheduled=True',
      'PodReadyToStartContainers=True',
      'Initialized=True',
      'ContainersReady=True',
      'Ready=True',
    ]);
  });

  test('a not ready container makes the pod not Ready; transition times only move on change', () => {
    const transitions = new Map<string, { status: string; at: string }>();
    buildPodStatus(view({ transitions, now: 't1' }));
    const unready = buildPodStatus(
      view({ transitions, now: 't2', containers: [running({ ready: false })] }),
    );
    const again = buildPodStatus(
      view({ transitions, now: 't3', containers: [running({ ready: false })] }),
    );
    const ready = (s: Record<string, unknown>) =>
      (s.conditions as Array<{ type: string; status: string; lastTransitionTime: string }>).find(
        (c) => c.type === 'Ready',
      );
    expect(ready(unready)).toMatchObject({
      status: 'False',
      lastTransitionTime: 't2',
      reason: 'ContainersNotReady',
    });
    expect(ready(again)?.lastTransitionTime).toBe('t2');
  });

  test('container statuses carry restarts and the last termination', () => {
    const last = { exitCode: 137, signal: 9, reason: 'Error', startedAt: 'a', finishedAt: 'b' };
    const s = buildPodStatus(
      view({ containers: [running({ restartCount: 2, lastTerminated: last })] }),
    );
    expect((s.containerStatuses as unknown[])[0]).toMatchObject({
      name: 'peer-0',
      restartCount: 2,
      ready: true,
      started: true,
      lastState: { terminated: last },
    });
  });
});

test('time formats the API server parses', () => {
  const d = new Date('2026-11-23T19:20:21.123Z');
  expect(rfc3339(d)).toBe('2026-11-23T19:20:21Z');
  expect(microTime(d)).toBe('2026-11-23T19:20:21.123000Z');
});
