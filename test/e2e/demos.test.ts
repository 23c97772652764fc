// The original three demos, declaratively: through kubectl apply and the operator only, with the
// real scheduler placing pods on local nodes that run real peers.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';
import { mdnsServiceTag } from '../../peer/node/index.js';
import {
  getRecord,
  peerJson,
  putRecord,
  useLocalStack,
  waitUntil,
  type PeerStatusEntry,
} from './stack.js';

const run = promisify(execFile);
const stack = useLocalStack('e2e-demos', 3);

describe('demos on local nodes', () => {
  test('two pods on two nodes ping each other, no address written by hand', async () => {
    await stack.apply(stack.network('pair', { replicas: 2, mode: 'spread' }));
    const s = await stack.waitReady('pair', 2);
    const [a, b] = s.peers ?? [];
    if (a === undefined || b === undefined) throw new Error('two peers expected');
    expect(a.node).not.toBe(b.node);
    const ab = await peerJson<Record<string, unknown>>(a, `/v1/ping/${b.peerId ?? ''}`, 'POST');
    const ba = await peerJson<Record<string, unknown>>(b, `/v1/ping/${a.peerId ?? ''}`, 'POST');
    expect(ab).toEqual(expect.objectContaining({ peerId: b.peerId, rttMs: expect.any(Number) }));
    expect(ba).toEqual(expect.objectContaining({ peerId: a.peerId, rttMs: expect.any(Number) }));
    // The connection really crosses nodes: a's peer reaches b at b's pod address or b's pod DNS name.
    const peers = await peerJson<{ peers: Array<{ peerId: string; addrs: string[] }> }>(
      a,
      '/v1/peers',
    );
    const toB = peers.peers.find((p) => p.peerId === b.peerId);
    const viaB = (x: string): boolean =>
      x.includes(`/ip4/${b.ip ?? ''}/`) || x.startsWith(`/dns4/${b.pod}.pair-peers.`);
    expect(toB?.addrs.filter(viaB)).toEqual(expect.arrayContaining([expect.any(String)]));
    await stack.t.kubectlOk(['delete', 'peernetwork', 'pair', '--wait=false']);
  }, 240_000);

  test('the containers of a colocated pod find each other by mDNS', async () => {
    await stack.apply(stack.network('duo', { replicas: 1, mode: 'colocated', peersPerPod: 2 }));
    const s = await stack.waitReady('duo', 2);
    const [p0, p1] = s.peers ?? [];
    if (p0 === undefined || p1 === undefined) throw new Error('two peers expected');
    expect(p0.pod).toBe(p1.pod);
    expect(p0.ip).toBe(p1.ip);
    // Both peers answer mDNS questions for the network's service on the pod's own link.
    const pod = stack.nodes.pod(stack.namespace, p0.pod);
    if (pod?.netns === undefined) throw new Error(`no sandbox for ${p0.pod}`);
    const script = fileURLToPath(new URL('./mdns-query.js', import.meta.url));
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      pod.netns,
      process.execPath,
      script,
      mdnsServiceTag(`${stack.namespace}/duo`),
      '3000',
    ]);
    const answered = JSON.parse(stdout) as string[];
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
  }, 240_000);

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
  }, 240_000);
});
