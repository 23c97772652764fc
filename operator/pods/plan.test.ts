import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { plan } from './plan.js';
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
