// One table of PeerNetwork specs and the verdict the CRD's rules are meant to give. The unit test
// runs it through the zod schema, the cluster test through the real API server.
export interface SpecCase {
  name: string;
  spec: unknown;
  /** the update's previous spec, for the immutability rules */
  old?: unknown;
  /** undefined: accepted; else the field path the refusal must name */
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
];
