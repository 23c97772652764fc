import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { desiredPeers, desiredPods } from '../pods/pods.js';
import { network, observed, type PodState } from '../pods/testdata.js';
import { computeStatus, type StatusInput } from './status.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';

function input(
  spec: unknown,
  states: (PodState | null)[],
  extra: Partial<StatusInput> = {},
): StatusInput {
  const n = network(spec, 'net', 3);
  const pods = desiredPods(network({ ...(spec as object), replicas: states.length }), {
    peerImage: 'img',
  });
  const actual: V1Pod[] = states.flatMap((s, i) =>
    s === null ? [] : [observed(pods[i]!, { ip: `127.200.0.${i + 1}`, ...s })],
  );
  const peers = desiredPeers(n);
  return {
    network: n,
    pods: actual,
    peers,
    peerIds: new Map(peers.map((p) => [p.name, `id-${p.name}`])),
    bootstrap: ['/dns4/x'],
    now: T1,
    ...extra,
  };
}

const spread = (replicas: number) => ({ replicas, topology: { mode: 'spread' } });

describe('computeStatus', () => {
  test.each([
    ['all ready', spread(3), [{}, {}, {}], 'Ready', 3, 'AllPeersReady'],
    ['nothing created yet', spread(2), [null, null], 'Pending', 0, 'PodsPending'],
    [
      'pods pending, none running',
      spread(2),
      [{ ready: false, phase: 'Pending' }, null],
      'Pending',
      0,
      'PodsPending',
    ],
    ['some ready', spread(3), [{}, { ready: false }, {}], 'Progressing', 2, 'PeersNotReady'],
    [
      'unschedulable pods with others ready',
      spread(3),
      [{}, {}, { unschedulable: '0/2 nodes are available' }],
      'Degraded',
      2,
      'Unschedulable',
    ],
    [
      'all unschedulable',
      spread(2),
      [{ unschedulable: 'no nodes' }, { unschedulable: 'no nodes' }],
      'Pending',
      0,
      'Unschedulable',
    ],
    [
      'a failed pod',
      spread(2),
      [{}, { phase: 'Failed', ready: false }],
      'Degraded',
      1,
      'PodFailed',
    ],
    ['scaling down', spread(1), [{}, {}], 'Progressing', 1, 'ScalingDown'],
    ['zero replicas', spread(0), [], 'Ready', 0, 'AllPeersReady'],
  ])('%s -> %s', (_name, spec, states, phase, ready, reason) => {
    const s = computeStatus(input(spec, states));
    expect(s.phase).toBe(phase);
    expect(s.readyPeers).toBe(ready);
    expect(s.readyText).toBe(`${ready}/${(spec as { replicas: number }).replicas}`);
    expect(s.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(reason);
  });

  test('unschedulable: the status says which pods and why', () => {
    const s = computeStatus(
      input(spread(3), [
        {},
        { unschedulable: "didn't match pod anti-affinity rules" },
        { unschedulable: 'x' },
      ]),
    );
    expect(s.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'Unschedulable',
    });
    expect(s.conditions?.[0]?.message).toMatch(
      /2 pod\(s\) cannot be scheduled \(net-1, net-2\): didn't match pod anti-affinity/,
    );
  });

  test('conditions carry observedGeneration; Ready/Progressing/Degraded agree with the phase', () => {
    const s = computeStatus(input(spread(2), [{}, {}]));
    expect(s.observedGeneration).toBe(3);
    expect(s.conditions?.map((c) => [c.type, c.status, c.observedGeneration])).toEqual([
      ['Ready', 'True', 3],
      ['Progressing', 'False', 3],
      ['Degraded', 'False', 3],
    ]);
  });

  test('lastTransitionTime moves only when a condition status changes', () => {
    const before = computeStatus(input(spread(2), [{}, {}], { now: T0 }));
    const same = computeStatus(input(spread(2), [{}, {}], { now: T1, previous: before }));
    expect(same).toEqual(before);
    const changed = computeStatus(
      input(spread(2), [{}, { ready: false }], { now: T1, previous: before }),
    );
    expect(changed.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(T1);
    expect(changed.conditions?.find((c) => c.type === 'Degraded')?.lastTransitionTime).toBe(T0);
  });

  test('per-peer entries: colocated containers, node, IP, live state when known', () => {
    const s = computeStatus(
      input(
        { replicas: 1, topology: { mode: 'colocated' } },
        [{ containersReady: [true, false], node: 'n1' }],
        {
          live: new Map([['net-0-0', { routingTable: 7, connections: 3 }]]),
        },
      ),
    );
    expect(s.peers).toEqual([
      {
        name: 'net-0-0',
        pod: 'net-0',
        container: 'peer-0',
        peerId: 'id-net-0-0',
        node: 'n1',
        ip: '127.200.0.1',
        ready: true,
        routingTable: 7,
        connections: 3,
      },
      {
        name: 'net-0-1',
        pod: 'net-0',
        container: 'peer-1',
        peerId: 'id-net-0-1',
        node: 'n1',
        ip: '127.200.0.1',
        ready: false,
      },
    ]);
    expect(s.readyText).toBe('1/2');
    expect(s.bootstrap).toEqual(['/dns4/x']);
    expect(s.selector).toBe('app.kubernetes.io/name=peernet,app.kubernetes.io/instance=net');
  });

  test('a failure wins: Failed with its reason; an outdated pod keeps it from Ready', () => {
    const failed = computeStatus(
      input(spread(1), [{}], { failure: { reason: 'Refused', message: 'forbidden' } }),
    );
    expect(failed.phase).toBe('Failed');
    expect(failed.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'Refused',
      message: 'forbidden',
    });
    const rolling = computeStatus(input(spread(1), [{}], { outdated: 1 }));
    expect(rolling.phase).toBe('Progressing');
    expect(rolling.conditions?.[0]?.reason).toBe('RollingUpdate');
  });

  test('peers that did not answer are named (at most 100); a drained peer says so; readiness is untouched', () => {
    const names = Array.from({ length: 150 }, (_, i) => `net-${i}`);
    const s = computeStatus(
      input(spread(2), [{}, { ready: false }], {
        live: new Map([['net-1', { routingTable: 1, draining: true }]]),
        unanswered: ['net-0'],
      }),
    );
    expect(s.unansweredPeers).toEqual(['net-0']);
    expect(s.peers?.map((p) => [p.name, p.ready, p.draining])).toEqual([
      ['net-0', true, undefined],
      ['net-1', false, true],
    ]);
    expect(computeStatus(input(spread(1), [{}], { unanswered: names })).unansweredPeers).toEqual(
      names.slice(0, 100),
    );
    // nobody silent: no field (the status is not written again for an empty list)
    expect(computeStatus(input(spread(1), [{}], { unanswered: [] }))).not.toHaveProperty(
      'unansweredPeers',
    );
    expect(computeStatus(input(spread(1), [{}], { unanswered: ['net-0'] })).phase).toBe('Ready');
  });
});

describe('computeStatus: external peers', () => {
  test('counts distinct peers outside the network, not its own, not at all without any', () => {
    const base = input(spread(2), [{}, {}]);
    expect(computeStatus(base).externalPeers).toBeUndefined();
    const live = new Map([
      ['net-0', { routingTable: 3, external: ['ext-a', 'ext-b'] }],
      // ext-a seen by both peers counts once; an own peer ID (a stale list) is not external
      ['net-1', { routingTable: 3, external: ['ext-a', 'id-net-0'] }],
    ]);
    expect(computeStatus({ ...base, live }).externalPeers).toBe(2);
  });
});

describe('computeStatus: exposed peers', () => {
  test('each peer lists the address outside clients dial, once its pod has a node', () => {
    const spec = { ...spread(2), expose: { type: 'hostPort', basePort: 41000 } };
    const base = input(spec, [{}, { ready: false, phase: 'Pending' }]);
    const pods = base.pods.map((p, i) =>
      i === 0 ? { ...p, status: { ...p.status, hostIP: '10.0.0.7' } } : p,
    );
    const peers = computeStatus({ ...base, pods }).peers!;
    expect(peers[0]!.externalAddrs).toEqual(['/ip4/10.0.0.7/tcp/41000/p2p/id-net-0']);
    expect(peers[1]!.externalAddrs).toBeUndefined();
  });
});
