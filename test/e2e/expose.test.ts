// spec.expose on real nodes: peers reachable outside the pod network. A peer started on this
// machine (not in any pod, not on the pod network: it dials node addresses only) joins a network
// through the address its status lists, PUTs and GETs through it, and the pods' peers announce
// that address and no pod IP. hostPort goes through each node's portmap CNI plugin, nodePort
// through kube-proxy on the node, hostNetwork straight to the node's own network namespace,
// loadBalancer through the local cluster's MetalLB (layer 2: the speaker of the pod's node answers
// ARP for the Service's address on the nodes' link) and kube-proxy.
import { afterAll, describe, expect, test } from '@jest/globals';
import { PeerGroup } from '../helpers/peers.js';
import {
  getRecord,
  peerJson,
  putRecord,
  useRealStack,
  waitUntil,
  type PeerStatusEntry,
} from './stack.js';

const stack = useRealStack('e2e-expose');
let outside: PeerGroup | undefined;

afterAll(async () => {
  await outside?.stop();
}, 60_000);

const modes: Array<['hostNetwork' | 'hostPort' | 'nodePort', number]> = [
  ['hostNetwork', 42000],
  ['hostPort', 41000],
  ['nodePort', 30400],
];

describe.each(modes)('spec.expose.type %s', (type, basePort) => {
  test('an outside client joins through the announced address; records cross both ways', async () => {
    const name = `exp-${type.toLowerCase()}`;
    await stack.apply(
      stack.network(name, {
        replicas: 2,
        mode: 'spread',
        // hostNetwork: one pod a node, or two would share the node's ports
        spreadPolicy: type === 'hostNetwork' ? 'Required' : 'Preferred',
        extra: { expose: { type, basePort } },
      }),
    );
    const status = await stack.waitReady(name, 2);
    const [p0, p1] = status.peers ?? [];
    if (!p0 || !p1) throw new Error('two peers expected');
    // each peer: /ip4/<its node's IP>/tcp/<basePort + ordinal>/p2p/<its ID>, and it announces only that
    const nodeIps: string[] = [];
    for (const [ordinal, p] of [p0, p1].entries()) {
      expect(p.externalAddrs).toHaveLength(1);
      const addr = p.externalAddrs![0]!;
      expect(addr).toMatch(new RegExp(`^/ip4/[0-9.]+/tcp/${basePort + ordinal}/p2p/${p.peerId}$`));
      nodeIps.push(addr.split('/')[2]!);
      // the node's address; with hostNetwork it is the pod's too
      if (type === 'hostNetwork') expect(nodeIps.at(-1)).toBe(p.ip);
      else expect(nodeIps.at(-1)).not.toBe(p.ip);
      const own = await peerJson<{ addrs: string[] }>(p, '/v1/status');
      expect(own.addrs).toEqual([addr]);
    }

    await outsideClientCrosses(type, name, p0, p1, nodeIps);
  }, 600_000);
});

/**
 * A peer on this machine joins the network through p0's announced address, connects to p0 and
 * p1 only at the `ips` they announce (never a pod IP), and records cross both ways.
 */
async function outsideClientCrosses(
  type: string,
  name: string,
  p0: PeerStatusEntry,
  p1: PeerStatusEntry,
  ips: readonly string[],
): Promise<void> {
  outside ??= await PeerGroup.create('e2e-expose-outside');
  const client = await outside.start({
    name: `outside-${type}`,
    network: `${stack.namespace}/${name}`,
    bootstrap: [p0.externalAddrs![0]!],
    readyTimeoutMs: 60_000,
  });
  // the client reached the pods' peers at the announced addresses, never at a pod IP
  await waitUntil(
    async () => {
      const conns = (await client.client.api.peers()).peers;
      return conns.some((c) => c.peerId === p0.peerId);
    },
    30_000,
    'the outside client connected to the first peer',
  );
  const conns = (await client.client.api.peers()).peers;
  for (const c of conns.filter((x) => [p0.peerId, p1.peerId].includes(x.peerId)))
    for (const a of c.addrs) expect(ips.some((ip) => a.startsWith(`/ip4/${ip}/tcp/`))).toBe(true);

  await client.client.put(`from-outside-${type}`, 'written outside');
  await waitUntil(
    async () =>
      (await getRecord(p1, `from-outside-${type}`).catch(() => undefined)) === 'written outside',
    60_000,
    'a record PUT outside read inside',
  );
  await putRecord(p1, `from-inside-${type}`, 'written inside');
  await waitUntil(
    async () =>
      (await client.client.get(`from-inside-${type}`).catch(() => undefined)) === 'written inside',
    60_000,
    'a record PUT inside read outside',
  );
}

describe('spec.expose.type loadBalancer', () => {
  test('each pod gets a Service address of its own; an outside client joins through it', async () => {
    const name = 'exp-loadbalancer';
    await stack.apply(
      stack.network(name, {
        replicas: 2,
        mode: 'spread',
        spreadPolicy: 'Preferred',
        extra: { expose: { type: 'loadBalancer' } },
      }),
    );
    const status = await stack.waitReady(name, 2);
    const [p0, p1] = status.peers ?? [];
    if (!p0 || !p1) throw new Error('two peers expected');
    const services = await stack.childrenOf<{
      metadata: { name: string };
      spec: { type: string };
      status: { loadBalancer: { ingress?: { ip: string }[] } };
    }>('services', name);
    const ips: string[] = [];
    for (const p of [p0, p1]) {
      // the address MetalLB gave the pod's Service, on the peer's own port
      const svc = services.find((s) => s.metadata.name === `${p.pod}-p2p`);
      expect(svc?.spec.type).toBe('LoadBalancer');
      if (svc === undefined) throw new Error(`no Service ${p.pod}-p2p`);
      const ip = svc.status.loadBalancer.ingress?.[0]?.ip ?? '';
      expect(ip).toMatch(/^10\.2[0-9]{2}\.0\.2[0-4][0-9]$/); // the local cluster's pool
      expect(p.externalAddrs).toEqual([`/ip4/${ip}/tcp/4001/p2p/${p.peerId}`]);
      const own = await peerJson<{ addrs: string[] }>(p, '/v1/status');
      expect(own.addrs).toEqual(p.externalAddrs);
      ips.push(ip);
    }
    expect(new Set(ips).size).toBe(2);
    await outsideClientCrosses('loadBalancer', name, p0, p1, ips);
  }, 600_000);
});
