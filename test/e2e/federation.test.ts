// Federation on real nodes: two PeerNetworks in two namespaces (each with its own operator
// release, as two teams would run them) share one spec.networkId, and the second names the
// first's peers in spec.bootstrap.external. They form one DHT: a record PUT in one is read in the
// other, both ways, and the status counts the peers outside the network.
import { describe, expect, test } from '@jest/globals';
import { getRecord, peerJson, putRecord, useRealStack, waitUntil } from './stack.js';

const left = useRealStack('e2e-fed-left');
const right = useRealStack('e2e-fed-right');

const spec = { replicas: 2, mode: 'spread', spreadPolicy: 'Preferred' } as const;
const networkId = 'e2e/federation';

describe('two networks in two namespaces, one networkId', () => {
  test('form one DHT through spec.bootstrap.external: records cross both ways', async () => {
    await left.apply(left.network('left', { ...spec, extra: { networkId } }));
    const l = await left.waitReady('left', 2);
    expect(l.bootstrap).toHaveLength(2);
    await right.apply(
      right.network('right', {
        ...spec,
        extra: { networkId, bootstrap: { external: l.bootstrap } },
      }),
    );
    const r = await right.waitReady('right', 2);
    const [l0, l1] = l.peers ?? [];
    const [r0, r1] = r.peers ?? [];
    if (!l0 || !l1 || !r0 || !r1) throw new Error('two peers in each network expected');

    // every right peer dials every external peer and stays connected
    for (const p of [r0, r1]) {
      await waitUntil(
        async () => {
          const s = await peerJson<{ externalPeers?: string[] }>(p, '/v1/status');
          return [l0.peerId, l1.peerId].every((id) => s.externalPeers?.includes(id));
        },
        60_000,
        `${p.name} connected to both peers of left`,
      );
    }
    const read = (p: typeof l0, key: string) => getRecord(p, key).catch(() => undefined);
    await putRecord(l0, 'fed-from-left', 'written in left');
    await waitUntil(
      async () => (await read(r1, 'fed-from-left')) === 'written in left',
      60_000,
      'a record PUT in left read in right',
    );
    await putRecord(r0, 'fed-from-right', 'written in right');
    await waitUntil(
      async () => (await read(l1, 'fed-from-right')) === 'written in right',
      60_000,
      'a record PUT in right read in left',
    );
    // the status counts the peers outside the network (left learns of them on its next look)
    await waitUntil(
      async () => ((await right.status('right')).externalPeers ?? 0) >= 2,
      90_000,
      'right status.externalPeers >= 2',
    );
    const leftSide = await peerJson<{ externalPeers?: string[] }>(l0, '/v1/status');
    expect(leftSide.externalPeers?.length ?? 0).toBeGreaterThan(0);
  }, 600_000);
});
