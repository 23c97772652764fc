// The largest network the schema admits, built with the real builders: its bootstrap ConfigMap
// (the API server refuses a ConfigMap over 1 MiB) and its PeerNetwork with a full status (etcd
// refuses an object over 1.5 MiB by default) must stay well under those limits, with the longest
// names allowed everywhere.
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { generateIdentity } from '../../common/identity.js';
import {
  MAX_NAME_LENGTH,
  MAX_PEERS_PER_POD,
  MAX_REPLICAS,
  TOPOLOGY_MODES,
  parseSpec,
  specSchema,
  type PeerNetwork,
  type TopologyMode,
} from '../api/schema.js';
import { parseSettings } from '../settings.js';
import { computeStatus } from '../status/status.js';
import { bootstrapAddrs, desiredBootstrapConfigMap } from './children.js';
import { desiredPeers, desiredPods } from './pods.js';

const MiB = 1 << 20;
/** "well under": half the API server's limit of a ConfigMap */
const BOOTSTRAP_BUDGET = MiB / 2;
/** etcd's default request limit is 1.5 MiB: the whole object stays under 1 MiB */
const OBJECT_BUDGET = MiB;

const NAME = `n${'a'.repeat(MAX_NAME_LENGTH - 1)}`;
const NAMESPACE = `ns${'b'.repeat(61)}`;
/** the longest --cluster-domain the operator takes */
const DOMAIN = `${'c'.repeat(40)}.${'d'.repeat(22)}`;
const NODE = 'e'.repeat(253);
const IP = 'fd00:1234:5678:9abc:def0:1234:5678:9abc';

let ids: string[] = [];
beforeAll(async () => {
  // real Ed25519 peer IDs (all of one length); the IDs are reused round robin
  ids = await Promise.all(
    Array.from({ length: 16 }, async () => (await generateIdentity()).peerId),
  );
});

const admitted = (spec: unknown): boolean => specSchema.safeParse(spec).success;

/** The most replicas the schema admits for this mode and peersPerPod. */
function maxReplicas(mode: TopologyMode, peersPerPod: number): number {
  const spec = (replicas: number) => ({
    replicas,
    topology: { mode, ...(mode === 'colocated' ? { peersPerPod } : {}) },
  });
  let lo = 0;
  let hi = MAX_REPLICAS + 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (admitted(spec(mid))) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The largest network of a mode: most peers, then most peers per pod (longest ports). */
function largest(mode: TopologyMode): { replicas: number; peersPerPod: number } {
  const choices = mode === 'colocated' ? MAX_PEERS_PER_POD : 1;
  let best = { replicas: 0, peersPerPod: 1 };
  for (let ppp = 1; ppp <= choices; ppp++) {
    const replicas = maxReplicas(mode, ppp);
    if (replicas * ppp >= best.replicas * best.peersPerPod) best = { replicas, peersPerPod: ppp };
  }
  return best;
}

function networkOf(mode: TopologyMode, replicas: number, peersPerPod: number): PeerNetwork {
  return {
    metadata: { name: NAME, namespace: NAMESPACE, uid: 'u'.repeat(36), generation: 1 },
    spec: parseSpec({
      replicas,
      topology: { mode, ...(mode === 'colocated' ? { peersPerPod } : {}) },
    }),
  };
}

function bootstrapBytes(network: PeerNetwork): number {
  const peers = desiredPeers(network);
  const peerIds = new Map(peers.map((p, i) => [p.name, ids[i % ids.length]!]));
  const addrs = bootstrapAddrs(network, peers, peerIds, DOMAIN);
  expect(addrs).toHaveLength(peers.length);
  return Buffer.byteLength(JSON.stringify(desiredBootstrapConfigMap(network, addrs)));
}

describe('sizes at the largest network the schema admits', () => {
  test('the names are the longest allowed', () => {
    expect(admitted({ topology: { mode: 'spread' } })).toBe(true);
    expect(NAME).toHaveLength(MAX_NAME_LENGTH);
    expect(NAMESPACE).toHaveLength(63);
    expect(parseSettings(['--cluster-domain', DOMAIN], {}).clusterDomain).toBe(DOMAIN);
    expect(() => parseSettings(['--cluster-domain', `x${DOMAIN}`], {})).toThrow(/cluster-domain/);
  });

  test.each(TOPOLOGY_MODES.map((m) => [m]))(
    '%s: the bootstrap ConfigMap stays under half a MiB',
    (mode) => {
      const { replicas, peersPerPod } = largest(mode);
      const bytes = bootstrapBytes(networkOf(mode, replicas, peersPerPod));
      process.stdout.write(
        `${mode}: ${replicas} pods x ${peersPerPod} peers, bootstrap ConfigMap ${bytes} bytes\n`,
      );
      expect(bytes).toBeLessThan(BOOTSTRAP_BUDGET);
    },
  );

  test('without the one-node caps a colocated network would need more than a ConfigMap holds', () => {
    // what the schema admitted before the caps: 1000 pods of 16 peers
    const n = networkOf('colocated', 1, MAX_PEERS_PER_POD);
    n.spec.replicas = MAX_REPLICAS;
    expect(bootstrapBytes(n)).toBeGreaterThan(MiB);
  });

  test.each(TOPOLOGY_MODES.map((m) => [m]))(
    '%s: the PeerNetwork with every status field filled stays under 1 MiB',
    (mode) => {
      const { replicas, peersPerPod } = largest(mode);
      const network = networkOf(mode, replicas, peersPerPod);
      const peers = desiredPeers(network);
      const peerIds = new Map(peers.map((p, i) => [p.name, ids[i % ids.length]!]));
      const pods: V1Pod[] = desiredPods(network, { peerImage: 'x' }).map((p) => ({
        ...p,
        spec: { ...p.spec!, nodeName: NODE },
        status: {
          phase: 'Running',
          podIP: IP,
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      }));
      const status = computeStatus({
        network,
        pods,
        peers,
        peerIds,
        bootstrap: bootstrapAddrs(network, peers, peerIds, DOMAIN),
        live: new Map(
          peers.map((p) => [p.name, { routingTable: 99999, connections: 99999, draining: true }]),
        ),
        unanswered: peers.map((p) => p.name),
        now: '2026-12-31T23:59:59Z',
        waiting: 'x'.repeat(1024),
      });
      const object = {
        apiVersion: 'peernet.io/v1alpha1',
        kind: 'PeerNetwork',
        metadata: network.metadata,
        spec: network.spec,
        status,
      };
      const bytes = Buffer.byteLength(JSON.stringify(object));
      process.stdout.write(`${mode}: PeerNetwork with status ${bytes} bytes\n`);
      expect(bytes).toBeLessThan(OBJECT_BUDGET);
    },
  );
});
