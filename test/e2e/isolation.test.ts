// Isolation on real nodes. Private networks (spec.privateNetwork, a pre-shared swarm key): two
// of them in one namespace never see each other's records, and a peer started on this machine
// with the right network name but without the key cannot join, while one given the key from the
// network's Secret can. The NetworkPolicy: the operator keeps the object when asked to. The API
// token: writes, drain and ping need the network's token; peerctl in a pod finds the mounted one.
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from '@jest/globals';
import { formatSwarmKey } from '../../common/identity.js';
import { PeerGroup, sleep } from '../helpers/peers.js';
import {
  getRecord,
  peerJson,
  putRecord,
  useRealStack,
  waitUntil,
  type PeerStatusEntry,
} from './stack.js';

const stack = useRealStack('e2e-isolation');
let outsiders: PeerGroup | undefined;

afterAll(async () => {
  await outsiders?.stop();
}, 60_000);

/** The record's value, or undefined when the peer does not find it (404 or an error). */
async function readOrNothing(peer: PeerStatusEntry, key: string): Promise<string | undefined> {
  return getRecord(peer, key).catch(() => undefined);
}

async function connectedIds(peer: PeerStatusEntry): Promise<string[]> {
  const r = await peerJson<{ peers: Array<{ peerId: string }> }>(peer, '/v1/peers');
  return r.peers.map((p) => p.peerId);
}

describe('private networks on real nodes', () => {
  test('two private networks never see each other; a peer needs the swarm key to join', async () => {
    // priv-a: a key the operator makes; priv-b: the user's own key in a Secret.
    const ownKey = formatSwarmKey(crypto.getRandomValues(new Uint8Array(32)));
    await stack.t.kubectlOk([
      'create',
      'secret',
      'generic',
      'own-swarm',
      `--from-literal=swarm.key=${ownKey}`,
    ]);
    const spec = { replicas: 3, mode: 'spread', spreadPolicy: 'Preferred' } as const;
    await stack.apply(stack.network('priv-a', { ...spec, extra: { privateNetwork: true } }));
    await stack.apply(
      stack.network('priv-b', {
        ...spec,
        extra: { privateNetwork: true, swarmKeySecret: { name: 'own-swarm' } },
      }),
    );
    const a = (await stack.waitReady('priv-a', 3)).peers ?? [];
    const b = (await stack.waitReady('priv-b', 3)).peers ?? [];
    const [a0, a1] = a;
    const [b0, b1] = b;
    if (a0 === undefined || a1 === undefined || b0 === undefined || b1 === undefined)
      throw new Error('three peers in each network expected');

    // Each network reads its own records...
    await putRecord(a0, 'only-a', 'written in priv-a');
    await putRecord(b0, 'only-b', 'written in priv-b');
    await waitUntil(
      async () => (await readOrNothing(a1, 'only-a')) === 'written in priv-a',
      30_000,
      'only-a readable inside priv-a',
    );
    await waitUntil(
      async () => (await readOrNothing(b1, 'only-b')) === 'written in priv-b',
      30_000,
      'only-b readable inside priv-b',
    );
    // ... and never the other's, from any of its peers.
    for (const p of b) expect(await readOrNothing(p, 'only-a')).toBeUndefined();
    for (const p of a) expect(await readOrNothing(p, 'only-b')).toBeUndefined();
    const aIds = a.map((p) => p.peerId);
    const bIds = b.map((p) => p.peerId);
    for (const p of a)
      expect((await connectedIds(p)).filter((id) => bIds.includes(id))).toEqual([]);
    for (const p of b)
      expect((await connectedIds(p)).filter((id) => aIds.includes(id))).toEqual([]);

    // A peer on this machine (pod addresses are routable from here) with priv-a's network name
    // and a bootstrap address of it: without the key no connection is made...
    outsiders = await PeerGroup.create('e2e-private-outsider');
    const network = `${stack.namespace}/priv-a`;
    const bootstrap = [`/ip4/${a0.ip ?? ''}/tcp/4001/p2p/${a0.peerId ?? ''}`];
    const keyless = await outsiders.start({
      name: 'keyless',
      network,
      bootstrap,
      waitReady: false,
    });
    await keyless.waitStarted();
    await sleep(15_000);
    const keylessStatus = await keyless.client.status();
    expect({
      connections: keylessStatus.connections,
      routingTable: keylessStatus.routingTable,
    }).toEqual({
      connections: 0,
      routingTable: 0,
    });
    const keylessGet = await fetch(`${keyless.apiUrl}/v1/records/only-a`, {
      signal: AbortSignal.timeout(30_000),
    }).catch(() => undefined);
    expect(keylessGet?.ok).not.toBe(true);
    for (const p of a) expect(await connectedIds(p)).not.toContain(keyless.peerId);

    // ... and with the key from the network's Secret it joins and reads the record.
    const secret = await stack.t.kubectlOk([
      'get',
      'secret',
      'priv-a-swarm',
      '-o',
      'jsonpath={.data.swarm\\.key}',
    ]);
    const keyFile = outsiders.path('priv-a.swarm.key');
    writeFileSync(keyFile, Buffer.from(secret, 'base64'), { mode: 0o600 });
    const keyed = await outsiders.start({
      name: 'keyed',
      network,
      bootstrap,
      swarmKeyFile: keyFile,
      readyTimeoutMs: 60_000,
    });
    let got: string | undefined;
    await waitUntil(
      async () => (got = await keyed.client.get('only-a').catch(() => undefined)) !== undefined,
      30_000,
      'only-a readable by a peer given the key',
    );
    expect(got).toBe('written in priv-a');
  }, 600_000);
});

describe('NetworkPolicy on real nodes', () => {
  test('the operator keeps a NetworkPolicy when spec.networkPolicy is set, and removes it when disabled', async () => {
    // The bridge CNI plugin of the local cluster does not enforce NetworkPolicy (ADR 0005):
    // this checks the object the operator makes, not that traffic is dropped.
    const fenced = (enabled: boolean): string =>
      stack.network('fenced', {
        replicas: 2,
        mode: 'spread',
        spreadPolicy: 'Preferred',
        extra: { networkPolicy: { enabled } },
      });
    await stack.apply(fenced(true));
    await stack.waitReady('fenced', 2);
    const np = JSON.parse(
      await stack.t.kubectlOk(['get', 'networkpolicy', 'fenced', '-o', 'json']),
    ) as {
      metadata: {
        labels: Record<string, string>;
        ownerReferences: Array<{ kind: string; name: string; controller?: boolean }>;
      };
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Array<{
          from?: Array<{ podSelector?: { matchLabels: Record<string, string> } }>;
          ports: Array<{ port: number; protocol: string }>;
        }>;
      };
    };
    expect(np.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'peernet',
      'app.kubernetes.io/instance': 'fenced',
      'app.kubernetes.io/managed-by': 'peernet-operator',
    });
    expect(np.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PeerNetwork', name: 'fenced' }),
    ]);
    expect(np.spec.podSelector.matchLabels).toMatchObject({
      'app.kubernetes.io/instance': 'fenced',
    });
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    // libp2p only from the network's own pods; the HTTP API only from the operator's pods
    const p2p = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 4001));
    expect(p2p?.from?.[0]?.podSelector?.matchLabels).toMatchObject({
      'app.kubernetes.io/instance': 'fenced',
    });
    const api = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 5001));
    expect(api?.from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': expect.any(String) } },
        podSelector: {
          matchLabels: expect.objectContaining({ 'app.kubernetes.io/name': 'peernet-operator' }),
        },
      },
    ]);

    await stack.apply(fenced(false));
    await waitUntil(
      async () => (await stack.t.kubectl(['get', 'networkpolicy', 'fenced'])).code !== 0,
      60_000,
      'the NetworkPolicy removed once disabled',
    );
    await stack.t.kubectlOk(['delete', 'peernetwork', 'fenced', '--wait=false']);
  }, 360_000);
});

describe('the API token on real nodes', () => {
  test('writes, drain and ping need the network token; reads and probes stay open; peerctl in the pod finds it', async () => {
    await stack.apply(
      stack.network('guarded', { replicas: 2, mode: 'spread', spreadPolicy: 'Preferred' }),
    );
    const [p0, p1] = (await stack.waitReady('guarded', 2)).peers ?? [];
    if (p0 === undefined || p1 === undefined) throw new Error('two peers expected');

    // the Secret: made by the operator, owned by the PeerNetwork, 32 random bytes as hex
    const secret = JSON.parse(
      await stack.t.kubectlOk(['get', 'secret', 'guarded-api-token', '-o', 'json']),
    ) as {
      metadata: { ownerReferences: Array<{ kind: string; name: string; controller?: boolean }> };
      data: { token: string };
    };
    expect(secret.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'PeerNetwork', name: 'guarded', controller: true }),
    ]);
    const token = Buffer.from(secret.data.token, 'base64').toString('utf8');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(p0.token).toBe(token);

    const base = `http://${p0.ip ?? ''}:5001`;
    const call = async (
      method: string,
      path: string,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; body: string; challenge: string | null }> => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(method === 'PUT' ? { body: 'v' } : {}),
        signal: AbortSignal.timeout(15_000),
      });
      return {
        status: res.status,
        body: await res.text(),
        challenge: res.headers.get('www-authenticate'),
      };
    };
    // no token, a wrong one: 401 with a JSON error and a Bearer challenge; nothing written
    for (const [method, path] of [
      ['PUT', '/v1/records/guarded-key'],
      ['POST', '/v1/providers/guarded-key'],
      ['POST', `/v1/ping/${p1.peerId ?? ''}`],
      ['POST', '/v1/drain'],
    ] as const) {
      const anonymous = await call(method, path);
      expect({ method, path, status: anonymous.status }).toEqual({ method, path, status: 401 });
      expect(JSON.parse(anonymous.body)).toEqual({ error: expect.any(String) });
      expect(anonymous.challenge).toMatch(/^Bearer realm="peernet"/);
      const wrong = await call(method, path, { authorization: `Bearer ${'0'.repeat(64)}` });
      expect({ method, path, status: wrong.status }).toEqual({ method, path, status: 401 });
      expect(wrong.challenge).toMatch(/error="invalid_token"/);
    }
    expect((await call('GET', '/v1/records/guarded-key')).status).toBe(404);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/v1/status')).status).toBe(200);
    expect((await call('GET', '/metrics')).status).toBe(200);
    // the drain refused above left the peer serving
    expect((await call('GET', '/readyz')).status).toBe(200);

    // the right token, as a header from outside and as peerctl inside the pod finds it
    expect(
      (await call('POST', `/v1/ping/${p1.peerId ?? ''}`, { authorization: `Bearer ${token}` }))
        .status,
    ).toBe(200);
    await stack.t.kubectlOk([
      'exec',
      p0.pod,
      '-c',
      'peer-0',
      '--',
      'peerctl',
      'put',
      'guarded-key',
      'written with the mounted token',
    ]);
    let got: string | undefined;
    await waitUntil(
      async () => (got = await getRecord(p1, 'guarded-key').catch(() => undefined)) !== undefined,
      30_000,
      'the record written by peerctl readable on the other peer',
    );
    expect(got).toBe('written with the mounted token');
    await stack.t.kubectlOk(['delete', 'peernetwork', 'guarded', '--wait=false']);
  }, 360_000);
});
