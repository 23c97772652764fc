import { describe, expect, test } from '@jest/globals';
import { parseSwarmKey } from '../../common/identity.js';
import { resolveTopology } from '../api/schema.js';
import {
  bootstrapAddrs,
  bootstrapText,
  contains,
  desiredBootstrapConfigMap,
  desiredClaims,
  desiredExposeServices,
  desiredNetworkPolicy,
  desiredPodDisruptionBudget,
  desiredService,
  desiredSwarmSecret,
  isClaimOf,
  makesSwarmSecret,
  needsApply,
} from './children.js';
import { ANNOTATION_SPEC_HASH, ordinalOf } from './names.js';
import { affinityFor, desiredPeers, desiredPod, desiredPods, loadBalancerAddress } from './pods.js';
import { network } from './testdata.js';

const settings = { peerImage: 'peernet/peer:test' };
const selector = {
  matchLabels: { 'app.kubernetes.io/name': 'peernet', 'app.kubernetes.io/instance': 'net' },
};

describe('affinityFor', () => {
  test.each([
    [
      'colocated: on one node as well (mDNS reaches across pods there)',
      { mode: 'colocated' },
      {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
    ],
    [
      'sameNode: required pod affinity on the hostname',
      { mode: 'sameNode', nodeSelector: { zone: 'a' } },
      {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
    ],
    [
      'spread Required (default)',
      { mode: 'spread' },
      {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
    ],
    [
      'spread Preferred on zones',
      { mode: 'spread', spreadPolicy: 'Preferred', topologyKey: 'topology.kubernetes.io/zone' },
      {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                labelSelector: selector,
                topologyKey: 'topology.kubernetes.io/zone',
              },
            },
          ],
        },
      },
    ],
  ])('%s', (_name, topology, want) => {
    expect(affinityFor(resolveTopology(network({ topology }).spec.topology), 'net')).toEqual(want);
  });
});

describe('desiredPod', () => {
  const colo = network({ replicas: 2, topology: { mode: 'colocated', peersPerPod: 3 } });

  test('names, labels, owner, hostname and subdomain', () => {
    const pod = desiredPod(colo, 1, settings);
    expect(pod.metadata?.name).toBe('net-1');
    expect(pod.metadata?.labels).toEqual({
      'app.kubernetes.io/name': 'peernet',
      'app.kubernetes.io/instance': 'net',
      'app.kubernetes.io/managed-by': 'peernet-operator',
      'peernet.io/ordinal': '1',
    });
    expect(pod.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'peernet.io/v1alpha1',
        kind: 'PeerNetwork',
        name: 'net',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pod.spec?.hostname).toBe('net-1');
    expect(pod.spec?.subdomain).toBe('net-peers');
  });

  test('colocated: one container per peer, distinct ports, mDNS, own keys only', () => {
    const pod = desiredPod(colo, 0, settings);
    const cs = pod.spec!.containers;
    expect(cs.map((c) => c.name)).toEqual(['peer-0', 'peer-1', 'peer-2']);
    expect(cs.map((c) => c.ports?.map((p) => `${p.name}:${p.containerPort}`))).toEqual([
      ['p2p-0:4001', 'api-0:5001'],
      ['p2p-1:4002', 'api-1:5002'],
      ['p2p-2:4003', 'api-2:5003'],
    ]);
    expect(cs[2]!.args).toEqual([
      '--listen',
      '/ip4/0.0.0.0/tcp/4003',
      '--api',
      '0.0.0.0:5003',
      '--key-file',
      '/var/run/peernet/keys/net-0-2.key',
      '--bootstrap-file',
      '/etc/peernet/bootstrap/bootstrap.txt',
      '--network',
      'ns/net',
      '--api-token-file',
      '/var/run/peernet/api/token',
      '--mdns',
    ]);
    expect(cs[1]!.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'api-1' });
    expect(cs[1]!.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'api-1' });
    expect(cs[1]!.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'api-1' });
    const keys = pod.spec!.volumes!.find((v) => v.name === 'keys')!.secret!;
    expect(keys.secretName).toBe('net-keys');
    expect(keys.items?.map((i) => i.key)).toEqual(['net-0-0.key', 'net-0-1.key', 'net-0-2.key']);
  });

  test('one peer per pod: peer name is the pod name, no mDNS; private network adds the swarm key', () => {
    const pod = desiredPod(
      network({ topology: { mode: 'spread' }, privateNetwork: true }),
      0,
      settings,
    );
    const args = pod.spec!.containers[0]!.args!;
    expect(args).toContain('/var/run/peernet/keys/net-0.key');
    expect(args).not.toContain('--mdns');
    expect(args.slice(-2)).toEqual(['--swarm-key-file', '/var/run/peernet/swarm/swarm.key']);
    expect(pod.spec!.volumes!.map((v) => v.name)).toEqual([
      'keys',
      'bootstrap',
      'api-token',
      'tmp',
      'swarm',
    ]);
  });

  test('every peer gets the network API token: a read-only Secret volume and --api-token-file', () => {
    const pod = desiredPod(network({ replicas: 1, topology: { mode: 'colocated' } }), 0, settings);
    expect(pod.spec!.volumes!.find((v) => v.name === 'api-token')).toEqual({
      name: 'api-token',
      secret: { secretName: 'net-api-token', defaultMode: 0o440 },
    });
    for (const c of pod.spec!.containers) {
      expect(c.volumeMounts).toContainEqual({
        name: 'api-token',
        mountPath: '/var/run/peernet/api',
        readOnly: true,
      });
      const at = c.args!.indexOf('--api-token-file');
      expect(c.args![at + 1]).toBe('/var/run/peernet/api/token');
    }
  });

  test('the operator-made swarm Secret is mounted as before: same volume, same spec hash', () => {
    const hash = (spec: unknown) =>
      desiredPod(network(spec), 0, settings).metadata?.annotations?.[ANNOTATION_SPEC_HASH];
    const pod = desiredPod(
      network({ topology: { mode: 'spread' }, privateNetwork: true }),
      0,
      settings,
    );
    expect(pod.spec!.volumes!.find((v) => v.name === 'swarm')).toEqual({
      name: 'swarm',
      secret: { secretName: 'net-swarm', defaultMode: 0o440 },
    });
    // pinned hashes: an upgrade of the operator that changes them rolls every pod. swarmKeySecret
    // left them alone; the API token mount and the startup probe changed them once, on purpose
    // (running pods get the token only by being recreated)
    expect(hash({ topology: { mode: 'spread' }, privateNetwork: true })).toBe('d364e6dc2b6901ed');
    expect(hash({ topology: { mode: 'spread' } })).toBe('371d928b2aafb9e0');
    expect(hash({ replicas: 2, topology: { mode: 'colocated' }, privateNetwork: true })).toBe(
      '70d8d097ce92e480',
    );
  });

  test('spec.swarmKeySecret: the user Secret is mounted instead, its key as swarm.key', () => {
    const spec = (key?: string) => ({
      topology: { mode: 'colocated' },
      privateNetwork: true,
      swarmKeySecret: { name: 'my-swarm', ...(key ? { key } : {}) },
    });
    const pod = desiredPod(network(spec('kubo.key')), 0, settings);
    expect(pod.spec!.volumes!.find((v) => v.name === 'swarm')).toEqual({
      name: 'swarm',
      secret: {
        secretName: 'my-swarm',
        items: [{ key: 'kubo.key', path: 'swarm.key' }],
        defaultMode: 0o440,
      },
    });
    for (const c of pod.spec!.containers) {
      expect(c.args!.slice(-2)).toEqual(['--swarm-key-file', '/var/run/peernet/swarm/swarm.key']);
      expect(c.volumeMounts).toContainEqual({
        name: 'swarm',
        mountPath: '/var/run/peernet/swarm',
        readOnly: true,
      });
    }
    const hash = (s: unknown) =>
      desiredPod(network(s), 0, settings).metadata?.annotations?.[ANNOTATION_SPEC_HASH];
    // another key means other pods: they roll
    expect(hash(spec())).not.toBe(hash(spec('kubo.key')));
    expect(hash(spec())).not.toBe(hash({ topology: { mode: 'colocated' }, privateNetwork: true }));
    expect(hash(spec())).toBe(hash(spec('swarm.key')));
  });

  test('restricted Pod Security, resources, image, read-only root with /tmp', () => {
    const pod = desiredPod(
      network({ topology: { mode: 'spread' }, resources: { limits: { memory: '1Gi' } } }),
      0,
      settings,
    );
    expect(pod.spec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe('peernet/peer:test');
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '500m', memory: '1Gi' },
    });
    expect(c.volumeMounts?.find((m) => m.mountPath === '/tmp')).toBeDefined();
    expect(pod.spec!.volumes!.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
  });

  test('nodeSelector is honoured in every mode', () => {
    for (const mode of ['colocated', 'sameNode', 'spread']) {
      const pod = desiredPod(
        network({ topology: { mode, nodeSelector: { 'peernet.io/node-kind': 'local' } } }),
        0,
        settings,
      );
      expect(pod.spec?.nodeSelector).toEqual({ 'peernet.io/node-kind': 'local' });
    }
  });

  test('the spec hash is deterministic and follows the spec, not the replicas', () => {
    const a = network({ replicas: 2, topology: { mode: 'spread' } });
    const b = network({ replicas: 5, topology: { mode: 'spread' } });
    const c = network({ replicas: 2, topology: { mode: 'spread' }, image: 'other' });
    const hash = (n: typeof a) =>
      desiredPod(n, 1, settings).metadata?.annotations?.[ANNOTATION_SPEC_HASH];
    expect(hash(a)).toBe(hash(a));
    expect(hash(a)).toBe(hash(b));
    expect(hash(a)).not.toBe(hash(c));
    expect(desiredPods(b, settings).map((p) => p.metadata?.name)).toEqual([
      'net-0',
      'net-1',
      'net-2',
      'net-3',
      'net-4',
    ]);
  });
});

describe('names', () => {
  test.each([
    ['net-0', 0],
    ['net-12', 12],
    ['net-01', undefined],
    ['net-x', undefined],
    ['other-1', undefined],
    ['net-peers', undefined],
  ])('ordinalOf(%s) = %s', (pod, want) => {
    expect(ordinalOf('net', pod)).toBe(want);
  });
});

describe('bootstrap and children', () => {
  const n = network({ replicas: 2, topology: { mode: 'colocated' } });
  const peers = desiredPeers(n);
  const ids = new Map(peers.map((p, i) => [p.name, `12D3Koo${i}`]));

  test('bootstrapAddrs: one dns4 multiaddr per peer, with its port and peer ID', () => {
    expect(bootstrapAddrs(n, peers, ids, 'cluster.local')).toEqual([
      '/dns4/net-0.net-peers.ns.svc.cluster.local/tcp/4001/p2p/12D3Koo0',
      '/dns4/net-0.net-peers.ns.svc.cluster.local/tcp/4002/p2p/12D3Koo1',
      '/dns4/net-1.net-peers.ns.svc.cluster.local/tcp/4001/p2p/12D3Koo2',
      '/dns4/net-1.net-peers.ns.svc.cluster.local/tcp/4002/p2p/12D3Koo3',
    ]);
    expect(bootstrapAddrs(n, peers, new Map([['net-1-1', 'X']]), 'example.org')).toEqual([
      '/dns4/net-1.net-peers.ns.svc.example.org/tcp/4002/p2p/X',
    ]);
  });

  test('the headless Service publishes not-ready addresses', () => {
    const svc = desiredService(n);
    expect(svc.metadata?.name).toBe('net-peers');
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(svc.spec?.ports?.map((p) => p.port)).toEqual([4001, 4002]);
  });

  test('the swarm Secret holds swarm.key, the standard file of the key it is given', () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const secret = desiredSwarmSecret(
      network({ topology: { mode: 'spread' }, privateNetwork: true }),
      key,
    );
    expect(secret.metadata?.name).toBe('net-swarm');
    expect(Object.keys(secret.data ?? {})).toEqual(['swarm.key']);
    const text = Buffer.from(secret.data!['swarm.key']!, 'base64').toString('utf8');
    expect(text).toBe(`/key/swarm/psk/1.0.0/\n/base16/\n${Buffer.from(key).toString('hex')}\n`);
    expect(parseSwarmKey(text)).toEqual(key);
  });

  test.each([
    [{ topology: { mode: 'spread' } }, false],
    [{ topology: { mode: 'spread' }, privateNetwork: true }, true],
    [{ topology: { mode: 'spread' }, privateNetwork: true, swarmKeySecret: { name: 's' } }, false],
  ])('makesSwarmSecret(%j) = %s', (spec, want) => {
    expect(makesSwarmSecret(network(spec))).toBe(want);
  });

  test('the ConfigMap holds bootstrap.txt, one address a line', () => {
    const cm = desiredBootstrapConfigMap(n, ['/a', '/b']);
    expect(cm.metadata?.name).toBe('net-bootstrap');
    expect(cm.data?.['bootstrap.txt']).toBe(bootstrapText(['/a', '/b']));
    expect(cm.data?.['bootstrap.txt']?.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      '/a',
      '/b',
    ]);
  });

  test('a federated network: networkId is --network, external peers in external.txt', () => {
    const external = [
      '/dns4/fed-0.fed-peers.a.svc.cluster.local/tcp/4001/p2p/12D3KooWGzBrXQu2r2KNbmBzPh4Gz6eZxX3cYJwh7dZP7hHcnvRa',
    ];
    const fed = network({
      topology: { mode: 'spread' },
      networkId: 'shared/fed',
      bootstrap: { external },
    });
    const args = desiredPod(fed, 0, settings).spec!.containers[0]!.args!;
    expect(args[args.indexOf('--network') + 1]).toBe('shared/fed');
    expect(args[args.indexOf('--external-bootstrap-file') + 1]).toBe(
      '/etc/peernet/bootstrap/external.txt',
    );
    const cm = desiredBootstrapConfigMap(fed, ['/a']);
    expect(cm.data?.['external.txt']).toBe(bootstrapText(external));
    // without spec.bootstrap: no file, no flag (existing networks' pods are unchanged)
    const plain = desiredPod(n, 0, settings).spec!.containers[0]!.args!;
    expect(plain).not.toContain('--external-bootstrap-file');
    expect(desiredBootstrapConfigMap(n, ['/a']).data).not.toHaveProperty('external.txt');
  });

  test('spec.expose hostPort: each peer maps basePort + ordinal x peersPerPod + i and announces it', () => {
    const net = network({
      replicas: 2,
      topology: { mode: 'colocated', peersPerPod: 2 },
      expose: { type: 'hostPort', basePort: 41000 },
    });
    const c = desiredPod(net, 1, settings).spec!.containers[1]!;
    expect(c.ports?.[0]).toEqual({
      name: 'p2p-1',
      containerPort: 4002,
      protocol: 'TCP',
      hostPort: 41003,
    });
    expect(c.env).toEqual([
      { name: 'PEERNET_HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    ]);
    expect(c.args!.slice(-2)).toEqual(['--announce', '/ip4/$(PEERNET_HOST_IP)/tcp/41003']);
    expect(desiredExposeServices(net)).toEqual([]);
  });

  test("spec.expose hostNetwork: the node's network, each peer listens on and announces basePort + ordinal", () => {
    const net = network({
      replicas: 3,
      topology: { mode: 'spread' },
      expose: { type: 'hostNetwork', basePort: 42000 },
    });
    const pod = desiredPod(net, 2, settings).spec!;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    const c = pod.containers[0]!;
    expect(c.ports?.[0]).toEqual({ name: 'p2p-0', containerPort: 42002, protocol: 'TCP' });
    const args = c.args!;
    expect(args[args.indexOf('--listen') + 1]).toBe('/ip4/0.0.0.0/tcp/42002');
    expect(args.slice(-2)).toEqual(['--announce', '/ip4/$(PEERNET_HOST_IP)/tcp/42002']);
    // the bootstrap list names the port each peer listens on
    const ids = new Map(desiredPeers(net).map((p) => [p.name, `id-${p.name}`]));
    expect(bootstrapAddrs(net, desiredPeers(net), ids, 'cluster.local')[2]).toBe(
      '/dns4/net-2.net-peers.ns.svc.cluster.local/tcp/42002/p2p/id-net-2',
    );
    expect(desiredExposeServices(net)).toEqual([]);
    // other modes keep the pod's own network
    expect(desiredPod(n, 0, settings).spec!.hostNetwork).toBeUndefined();
  });

  test('spec.expose nodePort: one NodePort Service per pod, its ports the ones announced', () => {
    const net = network({
      replicas: 2,
      topology: { mode: 'spread' },
      expose: { type: 'nodePort' },
    });
    const c = desiredPod(net, 1, settings).spec!.containers[0]!;
    expect(c.ports?.[0]?.hostPort).toBeUndefined();
    expect(c.args!.slice(-2)).toEqual(['--announce', '/ip4/$(PEERNET_HOST_IP)/tcp/30001']);
    const svcs = desiredExposeServices(net);
    expect(svcs.map((x) => x.metadata?.name)).toEqual(['net-0-p2p', 'net-1-p2p']);
    expect(svcs[1]!.spec).toMatchObject({
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      selector: { 'app.kubernetes.io/instance': 'net', 'peernet.io/ordinal': '1' },
      ports: [{ name: 'p2p-0', port: 4001, targetPort: 4001, nodePort: 30001, protocol: 'TCP' }],
    });
    // not exposed: no env, no announce, no Services
    const plain = desiredPod(n, 0, settings).spec!.containers[0]!;
    expect(plain.env).toBeUndefined();
    expect(plain.args).not.toContain('--announce');
    expect(desiredExposeServices(n)).toEqual([]);
  });

  test('spec.expose loadBalancer: a LoadBalancer Service per pod; peers announce its address on their own ports', () => {
    const net = network({
      replicas: 2,
      topology: { mode: 'colocated', peersPerPod: 2 },
      expose: {
        type: 'loadBalancer',
        loadBalancerClass: 'example.com/lb',
        annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' },
      },
    });
    const svcs = desiredExposeServices(net);
    expect(svcs.map((x) => x.metadata?.name)).toEqual(['net-0-p2p', 'net-1-p2p']);
    expect(svcs[1]!.metadata?.annotations).toEqual({
      'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
    });
    expect(svcs[1]!.spec).toEqual({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      publishNotReadyAddresses: true,
      selector: expect.objectContaining({ 'peernet.io/ordinal': '1' }),
      loadBalancerClass: 'example.com/lb',
      ports: [
        { name: 'p2p-0', port: 4001, targetPort: 4001, protocol: 'TCP' },
        { name: 'p2p-1', port: 4002, targetPort: 4002, protocol: 'TCP' },
      ],
    });
    const pod = desiredPod(net, 1, {
      ...settings,
      loadBalancers: new Map([[1, '/ip4/192.0.2.7']]),
    }).spec!;
    const c = pod.containers[1]!;
    expect(c.args!.slice(-2)).toEqual(['--announce', '/ip4/192.0.2.7/tcp/4002']);
    expect(c.env).toBeUndefined();
    expect(c.ports?.[0]).toEqual({ name: 'p2p-1', containerPort: 4002, protocol: 'TCP' });
    expect(pod.hostNetwork).toBeUndefined();
  });

  test.each([
    [{ ip: '192.0.2.7' }, '/ip4/192.0.2.7'],
    [{ ip: '2001:db8::7' }, '/ip6/2001:db8::7'],
    [{ hostname: 'abc.elb.example.com' }, '/dns/abc.elb.example.com'],
    [undefined, undefined],
  ])('loadBalancerAddress of ingress %j is %s', (ingress, want) => {
    expect(
      loadBalancerAddress({ status: { loadBalancer: { ingress: ingress ? [ingress] : [] } } }),
    ).toBe(want);
  });

  test('needsApply ignores what the API server adds, sees what we changed', () => {
    const want = desiredBootstrapConfigMap(n, ['/a']);
    const server = {
      ...want,
      metadata: {
        ...want.metadata,
        resourceVersion: '5',
        labels: { ...want.metadata!.labels, extra: 'x' },
      },
    };
    expect(needsApply(want, server, ['data'])).toBe(false);
    expect(needsApply(want, undefined, ['data'])).toBe(true);
    expect(needsApply(desiredBootstrapConfigMap(n, ['/b']), server, ['data'])).toBe(true);
    // an annotation we set and the object lacks (a load balancer Service's), or has another value
    const annotated = { ...want, metadata: { ...want.metadata, annotations: { a: '1' } } };
    expect(needsApply(annotated, server, ['data'])).toBe(true);
    const serverAnnotated = {
      ...server,
      metadata: { ...server.metadata, annotations: { a: '1', b: '2' } },
    };
    expect(needsApply(annotated, serverAnnotated, ['data'])).toBe(false);
    expect(
      needsApply(want, { ...server, metadata: { ...server.metadata, ownerReferences: [] } }, [
        'data',
      ]),
    ).toBe(true);
    const svc = desiredService(n);
    const svcServer = {
      ...svc,
      spec: {
        ...svc.spec,
        clusterIPs: ['None'],
        sessionAffinity: 'None',
        ports: svc.spec!.ports!.map((p) => ({ ...p })),
      },
    };
    expect(needsApply(svc, svcServer, ['spec'])).toBe(false);
    expect(contains({ a: 1, b: [1, 2] }, { b: [1, 2] })).toBe(true);
    expect(contains({ b: [1, 2, 3] }, { b: [1, 2] })).toBe(false);
  });
});

describe('optional children', () => {
  test('a PodDisruptionBudget only when asked for', () => {
    const plain = network({ topology: { mode: 'colocated' } });
    expect(desiredPodDisruptionBudget(plain)).toBeUndefined();
    const off = network({ topology: { mode: 'spread' }, podDisruptionBudget: { enabled: false } });
    expect(desiredPodDisruptionBudget(off)).toBeUndefined();
    const on = network({ topology: { mode: 'colocated' }, podDisruptionBudget: {} });
    expect(desiredPodDisruptionBudget(on)?.spec).toEqual({ selector, maxUnavailable: 1 });
  });

  const operatorPods = {
    namespace: 'peernet-system',
    podLabels: { 'app.kubernetes.io/name': 'peernet-operator', 'app.kubernetes.io/instance': 'pn' },
  };

  test('a NetworkPolicy by default: libp2p from the network, the API from the operator only', () => {
    const np = desiredNetworkPolicy(network({ topology: { mode: 'spread' } }), {
      byDefault: true,
      operator: operatorPods,
    })!;
    expect(np.metadata.name).toBe('net');
    expect(np.spec.podSelector).toEqual(selector);
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress).toEqual([
      { from: [{ podSelector: selector }], ports: [{ protocol: 'TCP', port: 4001 }] },
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'peernet-system' } },
            podSelector: { matchLabels: operatorPods.podLabels },
          },
        ],
        ports: [{ protocol: 'TCP', port: 5001 }],
      },
    ]);
    // no rule without a source: a rule with ports and no `from` would admit everyone
    for (const rule of np.spec.ingress) expect(rule.from?.length).toBeGreaterThan(0);
  });

  test('a federated or exposed network: its libp2p ports from any source, its API ports as before', () => {
    const external = [
      '/dns4/fed-0.fed-peers.a.svc.cluster.local/tcp/4001/p2p/12D3KooWGzBrXQu2r2KNbmBzPh4Gz6eZxX3cYJwh7dZP7hHcnvRa',
    ];
    for (const spec of [
      { topology: { mode: 'spread' }, networkId: 'shared/fed' },
      { topology: { mode: 'spread' }, bootstrap: { external } },
      { topology: { mode: 'spread' }, expose: { type: 'hostPort' } },
    ]) {
      const np = desiredNetworkPolicy(network(spec), { byDefault: true, operator: operatorPods })!;
      expect(np.spec.ingress[0]).toEqual({ ports: [{ protocol: 'TCP', port: 4001 }] });
      expect(np.spec.ingress[1]!.from).toHaveLength(1);
    }
  });

  test('colocated: every peer port, and mDNS between the pods of the network', () => {
    const np = desiredNetworkPolicy(network({ topology: { mode: 'colocated' } }), {
      byDefault: true,
      operator: operatorPods,
    })!;
    expect(np.spec.ingress.map((r) => r.ports)).toEqual([
      [
        { protocol: 'TCP', port: 4001 },
        { protocol: 'TCP', port: 4002 },
        { protocol: 'UDP', port: 5353 },
      ],
      [
        { protocol: 'TCP', port: 5001 },
        { protocol: 'TCP', port: 5002 },
      ],
    ]);
  });

  test('the metrics scraper and CIDRs from the settings reach the API ports too', () => {
    const np = desiredNetworkPolicy(network({ topology: { mode: 'spread' } }), {
      byDefault: true,
      metrics: { namespace: 'monitoring', podLabels: {} },
      apiCidrs: ['10.0.0.0/24', 'fd00::/64'],
    })!;
    expect(np.spec.ingress[1]).toEqual({
      from: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
          podSelector: {},
        },
        { ipBlock: { cidr: '10.0.0.0/24' } },
        { ipBlock: { cidr: 'fd00::/64' } },
      ],
      ports: [{ protocol: 'TCP', port: 5001 }],
    });
    // with no source at all the API ports admit nothing
    const closed = desiredNetworkPolicy(network({ topology: { mode: 'spread' } }), {
      byDefault: true,
    })!;
    expect(closed.spec.ingress).toHaveLength(1);
  });

  test.each([
    ['default on, spec silent', true, undefined, true],
    ['default on, spec turns it off', true, { enabled: false }, false],
    ['default off, spec silent', false, undefined, false],
    ['default off, spec asks for it', false, {}, true],
  ])('%s', (_n, byDefault, networkPolicy, made) => {
    const n = network({
      topology: { mode: 'spread' },
      ...(networkPolicy ? { networkPolicy } : {}),
    });
    expect(desiredNetworkPolicy(n, { byDefault }) !== undefined).toBe(made);
  });
});

describe('storage', () => {
  test('no claims, volume or --data-dir without spec.storage', () => {
    const n = network({ topology: { mode: 'colocated', peersPerPod: 2 } });
    expect(desiredClaims(n)).toEqual([]);
    const pod = desiredPod(n, 0, settings);
    expect(pod.spec?.volumes?.some((v) => v.persistentVolumeClaim)).toBe(false);
    for (const c of pod.spec?.containers ?? []) expect(c.args).not.toContain('--data-dir');
  });

  test('a claim per pod, mounted by every container, a folder per peer', () => {
    const n = network({
      replicas: 2,
      topology: { mode: 'colocated', peersPerPod: 2 },
      storage: { size: '2Gi', storageClassName: 'fast' },
    });
    const claims = desiredClaims(n);
    expect(claims.map((c) => c.metadata?.name)).toEqual(['net-0-data', 'net-1-data']);
    expect(claims[1]!.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      resources: { requests: { storage: '2Gi' } },
      storageClassName: 'fast',
    });
    expect(claims[1]!.metadata?.labels?.['peernet.io/ordinal']).toBe('1');
    // retained by default: no owner, so deleting the network leaves the data
    expect(claims[0]!.metadata?.ownerReferences).toBeUndefined();
    expect(claims.every((c) => isClaimOf('net', c))).toBe(true);
    expect(isClaimOf('other', claims[0]!)).toBe(false);

    const pod = desiredPod(n, 1, settings);
    expect(pod.spec?.volumes).toContainEqual({
      name: 'data',
      persistentVolumeClaim: { claimName: 'net-1-data' },
    });
    const dirs = (pod.spec?.containers ?? []).map((c) => {
      expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/peernet' });
      const args = c.args ?? [];
      return args[args.indexOf('--data-dir') + 1];
    });
    expect(dirs).toEqual(['/var/lib/peernet/peer-0', '/var/lib/peernet/peer-1']);
  });

  test('whenDeleted Delete: the network owns its claims; the default class when none is named', () => {
    const n = network({
      topology: { mode: 'spread' },
      storage: { retention: { whenDeleted: 'Delete' } },
    });
    const [claim] = desiredClaims(n);
    expect(claim!.spec?.resources?.requests).toEqual({ storage: '1Gi' });
    expect(claim!.spec?.storageClassName).toBeUndefined();
    expect(claim!.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PeerNetwork', name: 'net', uid: 'uid-1', controller: true }),
    ]);
  });
});
