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
      reconcileTimeoutMs: 10_000,
      peerStatusTimeoutMs: 1000,
      networkPolicy: true,
      networkPolicyOperatorNamespace: '',
      networkPolicyOperatorLabels: { 'app.kubernetes.io/name': 'peernet-operator' },
      networkPolicyMetricsNamespace: '',
      networkPolicyMetricsLabels: {},
      networkPolicyApiCidrs: [],
    });
  });

  test('NetworkPolicy sources: labels, namespaces and CIDRs; in a pod, its namespace', () => {
    const s = parseSettings(
      [
        '--network-policy-operator-labels',
        'app.kubernetes.io/name=peernet-operator, app.kubernetes.io/instance=pn',
        '--network-policy-metrics-namespace',
        'monitoring',
        '--network-policy-metrics-labels',
        'app=prometheus,empty=',
        '--network-policy-api-cidrs',
        '10.0.0.0/8, fd00::/64',
        '--network-policy',
        'false',
      ],
      { POD_NAMESPACE: 'peernet-system' },
    );
    expect(s.networkPolicy).toBe(false);
    expect(s.networkPolicyOperatorNamespace).toBe('peernet-system');
    expect(s.networkPolicyOperatorLabels).toEqual({
      'app.kubernetes.io/name': 'peernet-operator',
      'app.kubernetes.io/instance': 'pn',
    });
    expect(s.networkPolicyMetricsNamespace).toBe('monitoring');
    expect(s.networkPolicyMetricsLabels).toEqual({ app: 'prometheus', empty: '' });
    expect(s.networkPolicyApiCidrs).toEqual(['10.0.0.0/8', 'fd00::/64']);
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
    [['--reconcile-timeout-ms', '10'], {}, /--reconcile-timeout-ms/],
    [['--network-policy-operator-labels', 'app'], {}, /--network-policy-operator-labels.*"app"/],
    [['--network-policy-metrics-labels', 'a b=c'], {}, /--network-policy-metrics-labels/],
    [['--network-policy-metrics-namespace', 'Mon'], {}, /--network-policy-metrics-namespace/],
    [['--network-policy-api-cidrs', '10.0.0.0'], {}, /--network-policy-api-cidrs/],
    [['--network-policy-api-cidrs', '10.0.0.0/33'], {}, /--network-policy-api-cidrs/],
    [['--cluster-domain', 'x'.repeat(64)], {}, /--cluster-domain/],
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
