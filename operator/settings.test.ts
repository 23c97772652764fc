import { describe, expect, test } from '@jest/globals';
import { parseSettings } from './settings.js';

describe('operator settings', () => {
  test('defaults', () => {
    const s = parseSettings([], {});
    expect(s).toMatchObject({
      namespaces: [],
      peerImage: 'peernet/peer:0.1.0',
      logLevel: 'info',
      kubeQps: 100,
      kubeBurst: 200,
      metricsAddress: ':8080',
      clusterDomain: 'cluster.local',
      leaderElect: true,
      leaseNamespace: 'default',
      leaseName: 'peernet-operator',
    });
  });

  test('flags win over PEERNET_OPERATOR_* variables; POD_NAMESPACE picks the lease namespace', () => {
    const s = parseSettings(
      ['--namespaces', 'a, b', '--leader-elect', 'false', '--kube-qps', '20'],
      {
        PEERNET_OPERATOR_KUBE_QPS: '5',
        PEERNET_OPERATOR_PEER_IMAGE: 'x/y:1',
        POD_NAMESPACE: 'peernet-system',
        POD_NAME: 'op-1',
      },
    );
    expect(s.namespaces).toEqual(['a', 'b']);
    expect(s.leaderElect).toBe(false);
    expect(s.kubeQps).toBe(20);
    expect(s.peerImage).toBe('x/y:1');
    expect(s.leaseNamespace).toBe('peernet-system');
    expect(s.identity).toBe('op-1');
  });

  test.each([
    [['--kube-qps', 'fast'], {}, /--kube-qps \(PEERNET_OPERATOR_KUBE_QPS\)/],
    [[], { PEERNET_OPERATOR_LOG_LEVEL: 'loud' }, /--log-level/],
    [['--metrics-address', 'nope'], {}, /--metrics-address/],
    [['--namespaces', 'Bad_NS'], {}, /--namespaces/],
    [['--kube-qps', '50', '--kube-burst', '10'], {}, /--kube-burst/],
    [['--no-such-flag', '1'], {}, /no-such-flag/],
  ])('%j %j is refused naming the setting', (argv, env, want) => {
    let err: Error | undefined;
    try {
      parseSettings(argv, env);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('SettingsError');
    expect(err?.message).toMatch(want);
    expect(err?.message.split('\n')).toHaveLength(1);
  });
});
