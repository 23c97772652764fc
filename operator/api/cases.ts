// One table of PeerNetwork specs and the verdict the CRD's rules are meant to give. The unit test
// runs it through the zod schema, the cluster test through the real API server.
// Long: a table of cases, one entry each.
export interface SpecCase {
  name: string;
  spec: unknown;
  /** the update's previous spec, for the immutability rules */
  old?: unknown;
  /** undefined: accepted; else the field path the refusal must name (list items as `.0`) */
  refusedAt?: string;
}

export const SPEC_CASES: SpecCase[] = [
  { name: 'minimal spread', spec: { topology: { mode: 'spread' } } },
  { name: 'colocated default peersPerPod', spec: { replicas: 2, topology: { mode: 'colocated' } } },
  {
    name: 'colocated 4 peers per pod',
    spec: { replicas: 2, topology: { mode: 'colocated', peersPerPod: 4 } },
  },
  {
    name: 'sameNode with nodeSelector',
    spec: {
      replicas: 3,
      topology: { mode: 'sameNode', nodeSelector: { 'peernet.io/node-kind': 'kwok' } },
    },
  },
  {
    name: 'spread Preferred on zones',
    spec: {
      replicas: 5,
      topology: {
        mode: 'spread',
        spreadPolicy: 'Preferred',
        topologyKey: 'topology.kubernetes.io/zone',
      },
    },
  },
  { name: 'spread with peersPerPod 1', spec: { topology: { mode: 'spread', peersPerPod: 1 } } },
  { name: 'zero replicas', spec: { replicas: 0, topology: { mode: 'spread' } } },
  {
    name: 'private network with image and resources',
    spec: {
      topology: { mode: 'spread' },
      privateNetwork: true,
      image: 'peernet/peer:dev',
      resources: { requests: { cpu: '100m' }, limits: { memory: '512Mi' } },
    },
  },
  {
    name: 'private network with its own swarm key Secret',
    spec: {
      topology: { mode: 'spread' },
      privateNetwork: true,
      swarmKeySecret: { name: 'my-swarm.key' },
    },
  },
  {
    name: 'own swarm key Secret with another data key',
    spec: {
      topology: { mode: 'spread' },
      privateNetwork: true,
      swarmKeySecret: { name: 'keys', key: 'kubo_swarm.key' },
    },
  },
  {
    name: 'swarmKeySecret without privateNetwork',
    spec: { topology: { mode: 'spread' }, swarmKeySecret: { name: 'keys' } },
    refusedAt: 'spec.swarmKeySecret',
  },
  {
    name: 'swarmKeySecret with privateNetwork false',
    spec: { topology: { mode: 'spread' }, privateNetwork: false, swarmKeySecret: { name: 'k' } },
    refusedAt: 'spec.swarmKeySecret',
  },
  {
    name: 'swarmKeySecret with a bad Secret name',
    spec: {
      topology: { mode: 'spread' },
      privateNetwork: true,
      swarmKeySecret: { name: 'My_Key' },
    },
    refusedAt: 'spec.swarmKeySecret.name',
  },
  {
    name: 'swarmKeySecret without a name',
    spec: { topology: { mode: 'spread' }, privateNetwork: true, swarmKeySecret: { key: 'k' } },
    refusedAt: 'spec.swarmKeySecret.name',
  },
  {
    name: 'swarmKeySecret with a bad data key',
    spec: {
      topology: { mode: 'spread' },
      privateNetwork: true,
      swarmKeySecret: { name: 'k', key: 'a/b' },
    },
    refusedAt: 'spec.swarmKeySecret.key',
  },
  {
    name: 'disruption budget and network policy',
    spec: {
      topology: { mode: 'spread' },
      podDisruptionBudget: { maxUnavailable: 2 },
      networkPolicy: {},
    },
  },
  {
    name: 'negative maxUnavailable',
    spec: { topology: { mode: 'spread' }, podDisruptionBudget: { maxUnavailable: -1 } },
    refusedAt: 'spec.podDisruptionBudget.maxUnavailable',
  },
  { name: 'bad mode', spec: { topology: { mode: 'mesh' } }, refusedAt: 'spec.topology.mode' },
  { name: 'missing topology', spec: { replicas: 1 }, refusedAt: 'spec.topology' },
  {
    name: 'peersPerPod with spread',
    spec: { topology: { mode: 'spread', peersPerPod: 2 } },
    refusedAt: 'spec.topology.peersPerPod',
  },
  {
    name: 'peersPerPod with sameNode',
    spec: { topology: { mode: 'sameNode', peersPerPod: 3 } },
    refusedAt: 'spec.topology.peersPerPod',
  },
  {
    name: 'peersPerPod above 16',
    spec: { topology: { mode: 'colocated', peersPerPod: 17 } },
    refusedAt: 'spec.topology.peersPerPod',
  },
  {
    name: 'spreadPolicy with colocated',
    spec: { topology: { mode: 'colocated', spreadPolicy: 'Required' } },
    refusedAt: 'spec.topology.spreadPolicy',
  },
  {
    name: 'topologyKey with sameNode',
    spec: { topology: { mode: 'sameNode', topologyKey: 'zone' } },
    refusedAt: 'spec.topology.topologyKey',
  },
  {
    name: 'bad spreadPolicy',
    spec: { topology: { mode: 'spread', spreadPolicy: 'Sometimes' } },
    refusedAt: 'spec.topology.spreadPolicy',
  },
  {
    name: 'negative replicas',
    spec: { replicas: -1, topology: { mode: 'spread' } },
    refusedAt: 'spec.replicas',
  },
  {
    name: 'too many replicas',
    spec: { replicas: 1001, topology: { mode: 'spread' } },
    refusedAt: 'spec.replicas',
  },
  {
    name: 'unknown field',
    spec: { topology: { mode: 'spread' }, colour: 'blue' },
    refusedAt: 'spec.colour',
  },
  {
    name: 'bad quantity',
    spec: { topology: { mode: 'spread' }, resources: { requests: { cpu: 'lots' } } },
    refusedAt: 'spec.resources.requests.cpu',
  },
  {
    name: 'mode changed',
    old: { topology: { mode: 'spread' } },
    spec: { topology: { mode: 'sameNode' } },
    refusedAt: 'spec.topology.mode',
  },
  {
    name: 'peersPerPod changed',
    old: { topology: { mode: 'colocated' } },
    spec: { topology: { mode: 'colocated', peersPerPod: 3 } },
    refusedAt: 'spec.topology.peersPerPod',
  },
  {
    name: 'peersPerPod default made explicit',
    old: { topology: { mode: 'colocated' } },
    spec: { topology: { mode: 'colocated', peersPerPod: 2 } },
  },
  {
    name: 'replicas changed',
    old: { replicas: 1, topology: { mode: 'spread' } },
    spec: { replicas: 7, topology: { mode: 'spread' } },
  },
  {
    name: 'nodeSelector changed',
    old: { topology: { mode: 'sameNode' } },
    spec: { topology: { mode: 'sameNode', nodeSelector: { a: 'b' } } },
  },
  // image references: the grammar of the container runtimes, nothing a shell would act on
  {
    name: 'image with registry port, tag and digest',
    spec: {
      topology: { mode: 'spread' },
      image: `localhost:5000/peernet/peer_x.y:0.1.0-rc.1@sha256:${'ab'.repeat(32)}`,
    },
  },
  {
    name: 'image by digest on docker.io',
    spec: {
      topology: { mode: 'spread' },
      image: `docker.io/peernet/peer@sha256:${'0'.repeat(64)}`,
    },
  },
  {
    name: 'federated: a networkId and external peers',
    spec: {
      topology: { mode: 'spread' },
      networkId: 'shared/fed',
      bootstrap: {
        external: [
          '/dns4/fed-0.fed-peers.other.svc.cluster.local/tcp/4001/p2p/12D3KooWGzBrXQu2r2KNbmBzPh4Gz6eZxX3cYJwh7dZP7hHcnvRa',
          '/ip4/192.0.2.7/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
        ],
      },
    },
  },
  {
    name: 'expose hostPort with a base port',
    spec: {
      replicas: 3,
      topology: { mode: 'spread' },
      expose: { type: 'hostPort', basePort: 42000 },
    },
  },
  {
    name: 'expose nodePort, default base',
    spec: { replicas: 3, topology: { mode: 'spread' }, expose: { type: 'nodePort' } },
  },
  {
    name: 'expose nodePort below the NodePort range',
    spec: { topology: { mode: 'spread' }, expose: { type: 'nodePort', basePort: 20000 } },
    refusedAt: 'spec.expose.basePort',
  },
  {
    name: 'expose nodePort past the end of the NodePort range',
    spec: {
      replicas: 10,
      topology: { mode: 'spread' },
      expose: { type: 'nodePort', basePort: 32760 },
    },
    refusedAt: 'spec.expose.basePort',
  },
  {
    name: 'expose hostPort past port 65535',
    spec: {
      replicas: 4,
      topology: { mode: 'colocated', peersPerPod: 4 },
      expose: { type: 'hostPort', basePort: 65530 },
    },
    refusedAt: 'spec.expose.basePort',
  },
  {
    name: 'expose loadBalancer, any mode, with a class and annotations',
    spec: {
      replicas: 2,
      topology: { mode: 'colocated', peersPerPod: 2 },
      expose: {
        type: 'loadBalancer',
        loadBalancerClass: 'example.com/lb',
        annotations: { 'metallb.io/address-pool': 'peers' },
      },
    },
  },
  {
    name: 'expose loadBalancer with a base port',
    spec: { topology: { mode: 'spread' }, expose: { type: 'loadBalancer', basePort: 42000 } },
    refusedAt: 'spec.expose.basePort',
  },
  {
    name: 'expose nodePort with a load balancer class',
    spec: {
      topology: { mode: 'spread' },
      expose: { type: 'nodePort', loadBalancerClass: 'example.com/lb' },
    },
    refusedAt: 'spec.expose.loadBalancerClass',
  },
  {
    name: 'expose hostPort with annotations',
    spec: { topology: { mode: 'spread' }, expose: { type: 'hostPort', annotations: { a: 'b' } } },
    refusedAt: 'spec.expose.annotations',
  },
  {
    name: 'expose loadBalancer with an annotation key that is not one',
    spec: {
      topology: { mode: 'spread' },
      expose: { type: 'loadBalancer', annotations: { 'not a key': 'b' } },
    },
    refusedAt: 'spec.expose.annotations',
  },
  {
    name: 'expose loadBalancer with 17 annotations',
    spec: {
      topology: { mode: 'spread' },
      expose: {
        type: 'loadBalancer',
        annotations: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`a${i}`, 'x'])),
      },
    },
    refusedAt: 'spec.expose.annotations',
  },
  {
    name: 'expose hostNetwork, spread Required (the default policy)',
    spec: { replicas: 3, topology: { mode: 'spread' }, expose: { type: 'hostNetwork' } },
  },
  {
    name: 'expose hostNetwork with spreadPolicy Preferred (two pods could share a node)',
    spec: {
      topology: { mode: 'spread', spreadPolicy: 'Preferred' },
      expose: { type: 'hostNetwork' },
    },
    refusedAt: 'spec.expose.type',
  },
  {
    name: 'expose hostNetwork on one node (sameNode)',
    spec: { replicas: 2, topology: { mode: 'sameNode' }, expose: { type: 'hostNetwork' } },
    refusedAt: 'spec.expose.type',
  },
  {
    name: 'expose hostNetwork with colocated peers',
    spec: { topology: { mode: 'colocated' }, expose: { type: 'hostNetwork' } },
    refusedAt: 'spec.expose.type',
  },
  {
    name: 'expose hostNetwork past port 65535',
    spec: {
      replicas: 10,
      topology: { mode: 'spread' },
      expose: { type: 'hostNetwork', basePort: 65530 },
    },
    refusedAt: 'spec.expose.basePort',
  },
  {
    name: 'expose type loadBalancer',
    spec: { topology: { mode: 'spread' }, expose: { type: 'loadBalancer' } },
  },
  {
    name: 'expose type that does not exist',
    spec: { topology: { mode: 'spread' }, expose: { type: 'ingress' } },
    refusedAt: 'spec.expose.type',
  },
  // spec.storage: bounded sizes, known retention policies, and nothing that would need a claim
  // resized or replaced
  {
    name: 'storage with the defaults',
    spec: { topology: { mode: 'spread' }, storage: {} },
  },
  {
    name: 'storage with a class and retention',
    spec: {
      topology: { mode: 'spread' },
      storage: {
        size: '256Mi',
        storageClassName: 'local-path',
        retention: { whenDeleted: 'Delete', whenScaled: 'Delete' },
      },
    },
  },
  {
    name: 'storage size below 16Mi',
    spec: { topology: { mode: 'spread' }, storage: { size: '1Mi' } },
    refusedAt: 'spec.storage.size',
  },
  {
    name: 'storage size above 16Ti',
    spec: { topology: { mode: 'spread' }, storage: { size: '20Ti' } },
    refusedAt: 'spec.storage.size',
  },
  {
    name: 'storage size not a quantity',
    spec: { topology: { mode: 'spread' }, storage: { size: 'big' } },
    refusedAt: 'spec.storage.size',
  },
  {
    name: 'storage retention unknown',
    spec: { topology: { mode: 'spread' }, storage: { retention: { whenScaled: 'Archive' } } },
    refusedAt: 'spec.storage.retention.whenScaled',
  },
  {
    name: 'storage added to a network',
    old: { topology: { mode: 'spread' } },
    spec: { topology: { mode: 'spread' }, storage: {} },
    refusedAt: 'spec.storage',
  },
  {
    name: 'storage removed from a network',
    old: { topology: { mode: 'spread' }, storage: {} },
    spec: { topology: { mode: 'spread' } },
    refusedAt: 'spec.storage',
  },
  {
    name: 'storage size changed',
    old: { topology: { mode: 'spread' }, storage: { size: '1Gi' } },
    spec: { topology: { mode: 'spread' }, storage: { size: '2Gi' } },
    refusedAt: 'spec.storage.size',
  },
  {
    name: 'storage class changed',
    old: { topology: { mode: 'spread' }, storage: {} },
    spec: { topology: { mode: 'spread' }, storage: { storageClassName: 'fast' } },
    refusedAt: 'spec.storage.storageClassName',
  },
  {
    name: 'storage retention changed',
    old: { topology: { mode: 'spread' }, storage: {} },
    spec: { topology: { mode: 'spread' }, storage: { retention: { whenDeleted: 'Delete' } } },
  },
  {
    name: 'networkId with upper case',
    spec: { topology: { mode: 'spread' }, networkId: 'Shared' },
    refusedAt: 'spec.networkId',
  },
  {
    name: 'external peer without /p2p/',
    spec: { topology: { mode: 'spread' }, bootstrap: { external: ['/ip4/192.0.2.7/tcp/4001'] } },
    refusedAt: 'spec.bootstrap.external.0',
  },
  {
    name: 'external peer over UDP',
    spec: {
      topology: { mode: 'spread' },
      bootstrap: {
        external: [
          '/ip4/192.0.2.7/udp/4001/quic-v1/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
        ],
      },
    },
    refusedAt: 'spec.bootstrap.external.0',
  },
  {
    name: 'image with a shell command after it',
    spec: { topology: { mode: 'spread' }, image: 'peernet/peer:0.1.0; rm -rf /' },
    refusedAt: 'spec.image',
  },
  {
    name: 'image with a command substitution',
    spec: { topology: { mode: 'spread' }, image: 'peernet/peer:$(id)' },
    refusedAt: 'spec.image',
  },
  {
    name: 'image with backticks',
    spec: { topology: { mode: 'spread' }, image: 'peernet/`id`' },
    refusedAt: 'spec.image',
  },
  {
    name: 'image with a pipe',
    spec: { topology: { mode: 'spread' }, image: 'peernet/peer|sh' },
    refusedAt: 'spec.image',
  },
  {
    name: 'image with an upper case repository',
    spec: { topology: { mode: 'spread' }, image: 'Peernet/Peer:1' },
    refusedAt: 'spec.image',
  },
  // nodeSelector: keys and values as in any label
  {
    name: 'nodeSelector with prefixed, plain and empty-valued labels',
    spec: {
      topology: {
        mode: 'sameNode',
        nodeSelector: {
          'kubernetes.io/hostname': 'node-1',
          'peernet.io/node-kind': 'kwok',
          disk_type: 'SSD.fast',
          spare: '',
        },
      },
    },
  },
  {
    name: 'nodeSelector key with a space',
    spec: { topology: { mode: 'spread', nodeSelector: { 'node kind': 'x' } } },
    refusedAt: 'spec.topology.nodeSelector',
  },
  {
    name: 'nodeSelector key with two slashes',
    spec: { topology: { mode: 'spread', nodeSelector: { 'a.io/b/c': 'x' } } },
    refusedAt: 'spec.topology.nodeSelector',
  },
  {
    name: 'nodeSelector key starting with a dash',
    spec: { topology: { mode: 'spread', nodeSelector: { '-kind': 'x' } } },
    refusedAt: 'spec.topology.nodeSelector',
  },
  {
    name: 'nodeSelector key with an upper case prefix',
    spec: { topology: { mode: 'spread', nodeSelector: { 'Peernet.io/kind': 'x' } } },
    refusedAt: 'spec.topology.nodeSelector',
  },
  {
    name: 'nodeSelector key name over 63 characters',
    spec: { topology: { mode: 'spread', nodeSelector: { [`a.io/${'n'.repeat(64)}`]: 'x' } } },
    refusedAt: 'spec.topology.nodeSelector',
  },
  {
    name: 'nodeSelector key prefix over 253 characters',
    spec: {
      topology: {
        mode: 'spread',
        nodeSelector: { [`${Array.from({ length: 5 }, () => 'p'.repeat(60)).join('.')}/k`]: 'x' },
      },
    },
    refusedAt: 'spec.topology.nodeSelector',
  },
  {
    name: 'nodeSelector value with a space',
    spec: { topology: { mode: 'spread', nodeSelector: { kind: 'a b' } } },
    refusedAt: 'spec.topology.nodeSelector.kind',
  },
  {
    name: 'topologyKey that is no label key',
    spec: { topology: { mode: 'spread', topologyKey: 'zone name' } },
    refusedAt: 'spec.topology.topologyKey',
  },
  // resources: a request above its limit
  {
    name: 'requests equal to limits in other units',
    spec: {
      topology: { mode: 'spread' },
      resources: {
        requests: { cpu: '1', memory: '1Gi' },
        limits: { cpu: '1000m', memory: '1024Mi' },
      },
    },
  },
  {
    name: 'cpu request above the default limit',
    spec: { topology: { mode: 'spread' }, resources: { requests: { cpu: '2' } } },
    refusedAt: 'spec.resources.requests.cpu',
  },
  {
    name: 'memory request above its limit',
    spec: {
      topology: { mode: 'spread' },
      resources: { requests: { memory: '1G' }, limits: { memory: '900Mi' } },
    },
    refusedAt: 'spec.resources.requests.memory',
  },
  // one-node networks fit one node; spread goes to the replicas cap
  { name: 'spread at 1000 pods', spec: { replicas: 1000, topology: { mode: 'spread' } } },
  { name: 'sameNode at 110 pods', spec: { replicas: 110, topology: { mode: 'sameNode' } } },
  {
    name: 'sameNode over 110 pods',
    spec: { replicas: 111, topology: { mode: 'sameNode' } },
    refusedAt: 'spec.replicas',
  },
  {
    name: 'colocated at 110 pods of 2 peers',
    spec: { replicas: 110, topology: { mode: 'colocated' } },
  },
  {
    name: 'colocated over 110 pods',
    spec: { replicas: 111, topology: { mode: 'colocated', peersPerPod: 1 } },
    refusedAt: 'spec.replicas',
  },
  {
    name: 'colocated at 256 peers',
    spec: { replicas: 16, topology: { mode: 'colocated', peersPerPod: 16 } },
  },
  {
    name: 'colocated over 256 peers',
    spec: { replicas: 17, topology: { mode: 'colocated', peersPerPod: 16 } },
    refusedAt: 'spec.replicas',
  },
  {
    name: 'colocated scaled over 256 peers',
    old: { replicas: 16, topology: { mode: 'colocated', peersPerPod: 16 } },
    spec: { replicas: 20, topology: { mode: 'colocated', peersPerPod: 16 } },
    refusedAt: 'spec.replicas',
  },
];
