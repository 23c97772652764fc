import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { containerRuns, drainedPods, plan } from './plan.js';
import { desiredPods } from './pods.js';
import { network, observed, type PodState } from './testdata.js';

const settings = { peerImage: 'img' };
const names = (pods: readonly V1Pod[]) => pods.map((p) => p.metadata?.name);

/** actual pods for ordinals from a network of `replicas`, each with optional state */
function actualOf(spec: unknown, states: (PodState | null)[]): V1Pod[] {
  const pods = desiredPods(network(spec), settings);
  return states.flatMap((s, i) => (s === null ? [] : [observed(pods[i]!, s)]));
}

describe('plan', () => {
  const spec3 = { replicas: 3, topology: { mode: 'spread' } };
  const desired3 = desiredPods(network(spec3), settings);

  test.each([
    ['nothing exists: create every ordinal', [], ['net-0', 'net-1', 'net-2']],
    ['one missing: create it', [{}, null, {}], ['net-1']],
    ['all there: nothing', [{}, {}, {}], []],
    ['a terminating pod still holds its name', [{}, { deleting: true }, {}], []],
  ])('%s', (_name, states, create) => {
    const p = plan({
      network: 'net',
      desired: desired3,
      actual: actualOf({ replicas: 3, topology: { mode: 'spread' } }, states),
    });
    expect(names(p.create)).toEqual(create);
    expect(p.delete).toEqual([]);
  });

  test('scale down: the highest ordinal first, one at a time, drained', () => {
    const actual = actualOf({ replicas: 6, topology: { mode: 'spread' } }, [
      {},
      {},
      {},
      {},
      {},
      {},
    ]);
    const p = plan({ network: 'net', desired: desired3, actual });
    expect(p.delete.map((d) => [d.pod.metadata?.name, d.reason, d.drain])).toEqual([
      ['net-5', 'ScaleDown', true],
    ]);
    const next = plan({ network: 'net', desired: desired3, actual, deleting: new Set(['net-5']) });
    expect(next.delete).toEqual([]);
    const after = plan({ network: 'net', desired: desired3, actual: actual.slice(0, 5) });
    expect(after.delete.map((d) => d.pod.metadata?.name)).toEqual(['net-4']);
  });

  test.each([
    [
      'Failed pods come back at once',
      [{ phase: 'Failed' }, {}, { phase: 'Failed' }],
      undefined,
      [
        ['net-0', 'PodFailed'],
        ['net-2', 'PodFailed'],
      ],
    ],
    [
      'a pod on a node that is gone comes back',
      [{ node: 'gone' }, {}, {}],
      new Set(['node-a']),
      [['net-0', 'NodeGone']],
    ],
    ['unknown nodes: no NodeGone check', [{ node: 'gone' }, {}, {}], undefined, []],
  ])('%s', (_name, states, nodes, want) => {
    const p = plan({
      network: 'net',
      desired: desired3,
      actual: actualOf(spec3, states),
      ...(nodes ? { nodes } : {}),
    });
    expect(p.delete.map((d) => [d.pod.metadata?.name, d.reason])).toEqual(want);
  });

  describe('a spec change rolls one pod at a time', () => {
    const newSpec = { replicas: 3, topology: { mode: 'spread' }, image: 'new' };
    const desiredNew = desiredPods(network(newSpec), settings);

    test('highest ordinal first when all are ready', () => {
      const p = plan({
        network: 'net',
        desired: desiredNew,
        actual: actualOf(spec3, [{}, {}, {}]),
      });
      expect(p.delete.map((d) => [d.pod.metadata?.name, d.reason])).toEqual([
        ['net-2', 'SpecChanged'],
      ]);
      expect(p.delete[0]!.message).toMatch(/older spec/);
    });

    test.each([
      ['another pod is not ready', [{}, { ready: false }, {}], /net-1 is not ready/],
      ['another pod is terminating', [{ deleting: true }, {}, {}], /terminating/],
      ['a pod is still to create', [{}, null, {}], /still to create/],
    ])('waits while %s', (_name, states, why) => {
      const p = plan({ network: 'net', desired: desiredNew, actual: actualOf(spec3, states) });
      expect(p.delete.filter((d) => d.reason === 'SpecChanged')).toEqual([]);
      expect(p.waiting).toMatch(why);
    });

    test('continues with the next pod once the first is up to date', () => {
      const actual = [...actualOf(spec3, [{}, {}]), observed(desiredNew[2]!, {})];
      const p = plan({ network: 'net', desired: desiredNew, actual });
      expect(p.delete.map((d) => d.pod.metadata?.name)).toEqual(['net-1']);
    });
  });
});

describe('drainedPods: which drained peers to restore', () => {
  const spec = { replicas: 3, topology: { mode: 'colocated', peersPerPod: 2 } };
  // uids as observed() makes them: uid-<pod>
  const drained = (...peers: [string, string][]) =>
    new Map(peers.map(([peer, pod]) => [peer, { pod, uid: `uid-${pod}` }]));
  const decide = (
    states: (PodState | null)[],
    d: Map<string, { pod: string; uid: string }>,
    replicas = 3,
    deleting?: Set<string>,
  ) =>
    drainedPods({
      network: 'net',
      replicas,
      actual: actualOf({ ...spec, replicas: states.length }, states),
      drained: d,
      ...(deleting ? { deleting } : {}),
    }).map((x) => [x.pod.metadata?.name, x.reason, x.drain]);

  test.each([
    ['nothing drained: nothing to do', [{}, {}, {}], drained(), 3, undefined, []],
    [
      'a drained peer of a kept pod: its pod is recreated (not drained again)',
      [{}, { ready: false }, {}],
      drained(['net-1-0', 'net-1']),
      3,
      undefined,
      [['net-1', 'Drained', false]],
    ],
    [
      'two peers of one pod: one recreation; pods in ordinal order',
      [{ ready: false }, {}, { ready: false }],
      drained(['net-2-1', 'net-2'], ['net-0-0', 'net-0'], ['net-2-0', 'net-2']),
      3,
      undefined,
      [
        ['net-0', 'Drained', false],
        ['net-2', 'Drained', false],
      ],
    ],
    [
      'a pod being scaled away was drained on purpose: left alone',
      [{}, {}, {}, { ready: false }],
      drained(['net-3-0', 'net-3']),
      3,
      undefined,
      [],
    ],
    [
      'a terminating pod drains itself on SIGTERM: left alone',
      [{}, { deleting: true }, {}],
      drained(['net-1-0', 'net-1']),
      3,
      undefined,
      [],
    ],
    [
      'a pod this operator already deleted: not deleted twice',
      [{}, {}, {}],
      drained(['net-1-0', 'net-1']),
      3,
      new Set(['net-1']),
      [],
    ],
  ])('%s', (_n, states, d, replicas, deleting, want) => {
    expect(decide(states, d, replicas, deleting)).toEqual(want);
  });

  test('an answer from a pod since replaced (another uid) counts for nothing', () => {
    const stale = new Map([['net-1-0', { pod: 'net-1', uid: 'uid-of-the-old-net-1' }]]);
    expect(decide([{}, {}, {}], stale)).toEqual([]);
  });

  test('the message names the peers and the pod', () => {
    const [d] = drainedPods({
      network: 'net',
      replicas: 3,
      actual: actualOf(spec, [{}, {}, {}]),
      drained: drained(['net-1-1', 'net-1'], ['net-1-0', 'net-1']),
    });
    expect(d!.message).toMatch(/net-1-0, net-1-1 of pod net-1 were drained/);
  });
});

describe('containerRuns: whose API may answer', () => {
  const pod = desiredPods(network({ replicas: 1, topology: { mode: 'spread' } }), settings)[0]!;
  test.each<[string, PodState, boolean]>([
    ['running and ready', { containersReady: [true] }, true],
    ['not ready, not shown running (starting)', { ready: false, containersReady: [false] }, false],
    ['kwok: only the pod phase', {}, true],
    ['pending', { phase: 'Pending' }, false],
    ['terminating', { deleting: true }, false],
  ])('%s', (_n, state, runs) => {
    expect(containerRuns(observed(pod, state), 'peer-0')).toBe(runs);
  });

  test('a container that runs but is not ready', () => {
    // a drained peer: its container runs, its readiness probe fails
    const p = observed(pod, { ready: false, containersReady: [false] });
    p.status!.containerStatuses![0]!.state = { running: { startedAt: new Date(0) } };
    expect(containerRuns(p, 'peer-0')).toBe(true);
  });
});
