// The original demos, declaratively: kubectl apply and the operator (installed from its chart)
// only, the real scheduler placing pods on real nodes whose kubelets run the peer image. Also
// the everyday kubectl verbs on a peer pod: logs, exec (peerctl in the image) and port-forward.
import { describe, expect, test } from '@jest/globals';
import { mdnsServiceTag } from '../../peer/node/index.js';
import { mdnsQueryProgram } from './mdns-query.js';
import {
  getRecord,
  peerJson,
  putRecord,
  useRealStack,
  waitUntil,
  type PeerStatusEntry,
} from './stack.js';

const stack = useRealStack('e2e-demos');

describe('demos on real nodes', () => {
  test('two pods on two nodes ping each other, no address written by hand', async () => {
    await stack.apply(stack.network('pair', { replicas: 2, mode: 'spread' }));
    const s = await stack.waitReady('pair', 2);
    const [a, b] = s.peers ?? [];
    if (a === undefined || b === undefined) throw new Error('two peers expected');
    expect(a.node).not.toBe(b.node);
    expect(a.node).toMatch(/^real-node-\d+$/);
    const ab = await peerJson<Record<string, unknown>>(a, `/v1/ping/${b.peerId ?? ''}`, 'POST');
    const ba = await peerJson<Record<string, unknown>>(b, `/v1/ping/${a.peerId ?? ''}`, 'POST');
    expect(ab).toEqual(expect.objectContaining({ peerId: b.peerId, rttMs: expect.any(Number) }));
    expect(ba).toEqual(expect.objectContaining({ peerId: a.peerId, rttMs: expect.any(Number) }));
    // The connection really crosses nodes: a reaches b at b's pod address or its pod DNS name
    // (resolved by the cluster's CoreDNS from the headless Service).
    const peers = await peerJson<{ peers: Array<{ peerId: string; addrs: string[] }> }>(
      a,
      '/v1/peers',
    );
    const toB = peers.peers.find((p) => p.peerId === b.peerId);
    const viaB = (x: string): boolean =>
      x.includes(`/ip4/${b.ip ?? ''}/`) || x.startsWith(`/dns4/${b.pod}.pair-peers.`);
    expect(toB?.addrs.filter(viaB)).toEqual(expect.arrayContaining([expect.any(String)]));
    await stack.t.kubectlOk(['delete', 'peernetwork', 'pair', '--wait=false']);
  }, 360_000);

  test('the containers of a colocated pod find each other by mDNS', async () => {
    await stack.apply(stack.network('duo', { replicas: 1, mode: 'colocated', peersPerPod: 2 }));
    const s = await stack.waitReady('duo', 2);
    const [p0, p1] = s.peers ?? [];
    if (p0 === undefined || p1 === undefined) throw new Error('two peers expected');
    expect(p0.pod).toBe(p1.pod);
    expect(p0.ip).toBe(p1.ip);
    // Both peers answer an mDNS question for the network's service asked on the pod's own link
    // (from inside the pod: node of the peer image, through kubectl exec).
    const out = await stack.t.kubectlOk([
      'exec',
      p0.pod,
      '-c',
      'peer-0',
      '--',
      'node',
      '-e',
      mdnsQueryProgram(mdnsServiceTag(`${stack.namespace}/duo`), 3000),
    ]);
    const answered = JSON.parse(out.trim().split('\n').pop() ?? '[]') as string[];
    expect(answered).toEqual(expect.arrayContaining([p0.peerId, p1.peerId]));
    // And they are connected to each other.
    await waitUntil(
      async () =>
        (await peerJson<{ peers: Array<{ peerId: string }> }>(p0, '/v1/peers')).peers.some(
          (p) => p.peerId === p1.peerId,
        ),
      30_000,
      'peer-0 connected to peer-1',
    );
    await stack.t.kubectlOk(['delete', 'peernetwork', 'duo', '--wait=false']);
  }, 360_000);

  test('spread network: a record PUT on one pod is read on another node, a provider is found from another', async () => {
    await stack.apply(
      stack.network('wide', { replicas: 4, mode: 'spread', spreadPolicy: 'Preferred' }),
    );
    const s = await stack.waitReady('wide', 4);
    const peers = s.peers ?? [];
    expect(new Set(peers.map((p) => p.node)).size).toBeGreaterThanOrEqual(2);
    const writer = peers[0] as PeerStatusEntry;
    const reader = peers.find((p) => p.node !== writer.node) as PeerStatusEntry;
    await putRecord(writer, 'greeting', 'hello from ' + writer.name);
    let got: string | undefined;
    await waitUntil(
      async () => (got = await getRecord(reader, 'greeting')) !== undefined,
      30_000,
      `greeting readable on ${reader.name}`,
    );
    expect(got).toBe('hello from ' + writer.name);

    await peerJson(writer, '/v1/providers/artifact', 'POST');
    await waitUntil(
      async () =>
        (
          await peerJson<{ providers: Array<{ peerId: string }> }>(reader, '/v1/providers/artifact')
        ).providers.some((p) => p.peerId === writer.peerId),
      30_000,
      `${writer.name} found as provider from ${reader.name}`,
    );
    await stack.t.kubectlOk(['delete', 'peernetwork', 'wide', '--wait=false']);
  }, 360_000);

  test('kubectl logs, kubectl exec peerctl status and kubectl port-forward reach a peer', async () => {
    await stack.apply(
      stack.network('ops', { replicas: 2, mode: 'spread', spreadPolicy: 'Preferred' }),
    );
    const s = await stack.waitReady('ops', 2);
    const peer = (s.peers ?? [])[0] as PeerStatusEntry;

    // logs: the daemon's start line, from the kubelet's log of the container
    const logs = await stack.t.kubectlOk(['logs', peer.pod, '-c', 'peer-0']);
    const started = logs.split('\n').find((l) => l.includes('"peer started"'));
    expect(started).toBeDefined();
    expect(JSON.parse(started ?? '{}')).toEqual(
      expect.objectContaining({ peerId: peer.peerId, network: `${stack.namespace}/ops` }),
    );

    // exec: peerctl is in the image and talks to its own peer on 127.0.0.1:5001
    const status = JSON.parse(
      await stack.t.kubectlOk([
        'exec',
        peer.pod,
        '-c',
        'peer-0',
        '--',
        'peerctl',
        '--json',
        'status',
      ]),
    ) as { peerId: string; network: string; addrs: string[]; routingTable: number };
    expect(status.peerId).toBe(peer.peerId);
    expect(status.network).toBe(`${stack.namespace}/ops`);
    expect(status.routingTable).toBeGreaterThan(0);

    // port-forward: the API server tunnels to the kubelet, which dials into the pod
    const forward = await stack.portForward(peer.pod, 5001);
    try {
      const res = await fetch(`http://127.0.0.1:${forward.port}/readyz`, {
        signal: AbortSignal.timeout(15_000),
      });
      expect(res.status).toBe(200);
    } finally {
      await forward.stop();
    }
    await stack.t.kubectlOk(['delete', 'peernetwork', 'ops', '--wait=false']);
  }, 360_000);
});
