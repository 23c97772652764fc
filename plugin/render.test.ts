import { describe, expect, test } from '@jest/globals';
import type { PeerNetworkObject, PeerStatus } from '../operator/api/schema.js';
import { apiPortOf } from '../operator/status/view.js';
import type { StatusReply } from '../peer/api/types.js';
import {
  choosePeers,
  renderPeers,
  renderStatus,
  resolvePeerId,
  statusView,
  table,
} from './render.js';

const peer = (name: string, over: Partial<PeerStatus> = {}): PeerStatus => ({
  name,
  pod: name,
  container: 'peer-0',
  peerId: `id-${name}`,
  node: 'node-a',
  ready: true,
  ...over,
});

function network(peers: PeerStatus[]): PeerNetworkObject {
  return {
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    metadata: { name: 'net', namespace: 'team', uid: 'u' },
    status: { phase: 'Degraded', readyPeers: 2, desiredPeers: 3, peers },
  };
}

const live = (id: string, rt: number, conns: number, records: number): StatusReply => ({
  peerId: id,
  addrs: [],
  network: 'net',
  protocol: '/peernet/net/kad/1.0.0',
  dhtProfile: 'tuned',
  routingTable: rt,
  connections: conns,
  records,
  recordBytes: 0,
  providerRecords: 0,
  ready: true,
  draining: false,
});

describe('which peer answers', () => {
  const net = network([
    peer('net-0', { ready: false }),
    peer('net-1', { pod: 'net-1', container: 'peer-0' }),
    peer('net-2', { pod: 'net-2', container: 'peer-3' }),
  ]);

  test('the API port of container peer-<i> is 5001 + i', () => {
    expect([
      apiPortOf('peer-0'),
      apiPortOf('peer-3'),
      apiPortOf('peer-03'),
      apiPortOf('x'),
    ]).toEqual([5001, 5004, undefined, undefined]);
  });

  test('ready peers in status order; a named one (name, peer ID or pod) even if not ready', () => {
    expect(choosePeers(net).map((p) => [p.name, p.port])).toEqual([
      ['net-1', 5001],
      ['net-2', 5004],
    ]);
    expect(choosePeers(net, 'net-0').map((p) => p.name)).toEqual(['net-0']);
    expect(choosePeers(net, 'id-net-2').map((p) => p.name)).toEqual(['net-2']);
  });

  test.each([
    [network([peer('net-0', { ready: false })]), undefined, /no ready peer in network net/],
    [network([]), undefined, /lists no peers yet \(is the operator running\?\)/],
    [network([peer('net-0')]), 'net-9', /no peer "net-9" in network net/],
  ])('refusals are named (%#)', (n, want, msg) => {
    let err: Error | undefined;
    try {
      choosePeers(n, want);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('PeerSelectionError');
    expect(err?.message).toMatch(msg);
  });

  test('ping: a peer name is resolved to its peer ID, anything else is taken as one', () => {
    expect(resolvePeerId(net, 'net-1')).toBe('id-net-1');
    expect(resolvePeerId(net, '12D3KooWx')).toBe('12D3KooWx');
  });
});

describe('tables', () => {
  test('columns three spaces apart, as kubectl prints them', () => {
    expect(
      table(
        ['A', 'LONGER NAME', 'C'],
        [
          ['xxxx', 'y', 'z'],
          ['', '', ''],
        ],
      ),
    ).toBe('A      LONGER NAME   C\nxxxx   y             z\n\n');
  });

  test('status: the status entry, with live figures where the peer answered', () => {
    const net = network([
      peer('net-0', { routingTable: 1, connections: 1 }),
      peer('net-1', { node: '', ready: false }),
      peer('net-2'),
    ]);
    const v = statusView(
      net,
      new Map<string, StatusReply | Error>([
        ['net-0', live('id-net-0', 2, 3, 7)],
        ['net-1', new Error('pod net-1 port 5001: no endpoints')],
      ]),
    );
    expect(v.peers[0]).toMatchObject({
      reachable: true,
      routingTable: 2,
      connections: 3,
      records: 7,
    });
    expect(v.peers[1]).toMatchObject({
      reachable: false,
      error: expect.stringMatching(/no endpoints/),
    });
    expect(renderStatus(v)).toBe(
      [
        'peernetwork/net in team: Degraded, 2/3 peers ready',
        'PEER    POD     NODE     READY   ROUTING TABLE   CONNECTIONS   RECORDS',
        'net-0   net-0   node-a   true    2               3             7',
        'net-1   net-1   <none>   false   <unknown>       <unknown>     <unknown>',
        'net-2   net-2   node-a   true    <unknown>       <unknown>     <unknown>',
        '',
      ].join('\n'),
    );
  });

  test('peers: named after the network status, others marked', () => {
    const net = network([peer('net-0'), peer('net-1')]);
    expect(
      renderPeers(
        net,
        [
          { peerId: 'id-net-1', addrs: ['/ip4/10.0.0.2/tcp/4001'] },
          { peerId: 'id-x', addrs: [] },
        ],
        true,
      ),
    ).toBe(
      [
        'PEER ID    PEER      ADDRESSES',
        'id-net-1   net-1     /ip4/10.0.0.2/tcp/4001',
        'id-x       <other>   <none>',
        '',
      ].join('\n'),
    );
  });
});
