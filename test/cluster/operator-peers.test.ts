// The operator's HTTP conversation with its peers, against the real control plane: kwok runs
// the pods without processes, so this file serves a peer API (`GET /v1/status`,
// `POST /v1/drain`) on the pod IPs kwok assigned (loopback addresses) and checks that the
// status shows each peer's live routing table and connections, and that a scale down asks the
// leaving peer to drain before its pod is deleted.
import http from 'node:http';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import type { PeerNetworkStatus } from '../../operator/api/schema.js';
import { kubeAccessFromClientNode } from '../../operator/kube/config.js';
import { createLogger } from '../../operator/logger.js';
import { createOperator, type Operator } from '../../operator/operator.js';
import { parseSettings } from '../../operator/settings.js';
import { applyCrds } from '../helpers/cluster-crd.js';
import { useCluster, waitUntil } from '../helpers/cluster.js';

const env = useCluster('op-peers');
let operator: Operator | undefined;
const servers: http.Server[] = [];
const calls: string[] = [];

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status?: { podIP?: string };
}
interface PeerNetworkObj {
  status?: PeerNetworkStatus;
}

async function json<T>(args: string[]): Promise<T> {
  return JSON.parse(await env.kubectlOk([...args, '-o', 'json'])) as T;
}

/** A peer API on ip:5001 that answers for `peer`, recording what it was asked. */
async function servePeerApi(ip: string, peer: string, routingTable: number): Promise<void> {
  const server = http.createServer((req, res) => {
    calls.push(`${peer} ${req.method} ${req.url}`);
    res.setHeader('Content-Type', 'application/json');
    if (req.method === 'GET' && req.url === '/v1/status') {
      res.end(
        JSON.stringify({
          peerId: `id-${peer}`,
          addrs: [],
          network: 'x',
          routingTable,
          connections: 1,
          ready: true,
        }),
      );
    } else if (req.method === 'POST' && req.url === '/v1/drain') {
      res.end(JSON.stringify({ handedOff: 5 }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(5001, ip, () => resolve());
  });
  servers.push(server);
}

beforeAll(async () => {
  await applyCrds(env.cluster);
  const settings = parseSettings(
    [
      '--namespaces',
      env.namespace,
      '--leader-elect',
      'false',
      '--metrics-address',
      '127.0.0.1:0',
      '--progressing-requeue-seconds',
      '1',
      // an hour: the peers' tables reach the status because a Ready network whose peers report
      // no routing table yet is looked at again at the progressing pace, not by a resync
      '--ready-resync-seconds',
      '3600',
      '--peer-status-timeout-ms',
      '500',
    ],
    {},
  );
  operator = createOperator(
    { access: await kubeAccessFromClientNode(env.kubeConfig), logger: createLogger('warn') },
    settings,
  );
  await operator.start();
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
}, 60_000);

test('live peer state fills status.peers; scale down drains the leaving peer before deleting it', async () => {
  const name = 'talk';
  await env.kubectlOk(['apply', '-f', '-'], {
    input: stringify({
      apiVersion: 'peernet.io/v1alpha1',
      kind: 'PeerNetwork',
      metadata: { name },
      spec: {
        replicas: 2,
        topology: {
          mode: 'spread',
          spreadPolicy: 'Preferred',
          nodeSelector: { 'peernet.io/node-kind': 'kwok' },
        },
      },
    }),
  });
  await env.kubectlOk(['wait', '--for=condition=Ready', `peernetwork/${name}`, '--timeout=60s']);
  const pods = (
    await json<{ items: Pod[] }>(['get', 'pods', '-l', `app.kubernetes.io/instance=${name}`])
  ).items;
  expect(pods).toHaveLength(2);
  for (const p of pods)
    await servePeerApi(p.status!.podIP!, p.metadata.name, p.metadata.name.endsWith('-0') ? 7 : 9);

  await waitUntil(
    async () => {
      const pn = await json<PeerNetworkObj>(['get', 'peernetwork', name]);
      const byName = new Map(pn.status?.peers?.map((p) => [p.name, p]));
      return (
        byName.get(`${name}-0`)?.routingTable === 7 && byName.get(`${name}-1`)?.routingTable === 9
      );
    },
    60_000,
    'routingTable from the peers in status.peers',
  );
  const pn = await json<PeerNetworkObj>(['get', 'peernetwork', name]);
  expect(pn.status?.peers?.map((p) => p.connections)).toEqual([1, 1]);
  expect(calls).toContain(`${name}-0 GET /v1/status`);

  await env.kubectlOk(['scale', `peernetwork/${name}`, '--replicas=1']);
  await waitUntil(
    async () =>
      (await json<{ items: Pod[] }>(['get', 'pods', '-l', `app.kubernetes.io/instance=${name}`]))
        .items.length === 1,
    60_000,
    `${name}-1 deleted`,
  );
  expect(calls).toContain(`${name}-1 POST /v1/drain`);
  expect(calls).not.toContain(`${name}-0 POST /v1/drain`);
  const after = await json<PeerNetworkObj>(['get', 'peernetwork', name]);
  expect(after.status?.readyText).toBe('1/1');
}, 180_000);
