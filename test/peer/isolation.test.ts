// Networks do not mix, even when each peer is told the other's address. Different swarm keys (or
// one with and one without) never connect at all. Different `--network` names may connect for a
// moment (an open network takes any libp2p client) but share no DHT: the peers drop each other
// once identify shows the other network's protocols, so none stays connected.
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import {
  PeerGroup,
  makeKey,
  sleep,
  swarmKeyText,
  waitFor,
  type PeerProcess,
} from '../helpers/peers.js';

jest.setTimeout(180_000);

const uniq = (): string => Math.random().toString(36).slice(2, 8);
const WINDOW_MS = 10_000;

/** Samples connections for a while; fails at once if `p` is ever connected to one of `ids`. */
async function neverConnected(p: PeerProcess, ids: string[], group: PeerGroup): Promise<void> {
  const end = Date.now() + WINDOW_MS;
  while (Date.now() < end) {
    const seen = await p.client.peers();
    const bad = ids.filter((id) => seen.includes(id));
    expect({ peer: p.name, connectedTo: bad, logs: group.logDir }).toEqual({
      peer: p.name,
      connectedTo: [],
      logs: group.logDir,
    });
    await sleep(500);
  }
}

describe('isolation', () => {
  let group: PeerGroup;
  afterEach(() => group?.stop());

  test('peers of different --network names do not stay connected nor see each other’s records', async () => {
    group = await PeerGroup.create('iso-network');
    const alpha = `test/alpha-${uniq()}`;
    const beta = `test/beta-${uniq()}`;
    const a1 = await group.start({ name: 'a1', network: alpha });
    const b1 = await group.start({ name: 'b1', network: beta });
    // each of the others is told about both of the first two peers
    const bootstrap = [a1.addr, b1.addr];
    const [a2, b2] = await Promise.all([
      group.start({ name: 'a2', network: alpha, bootstrap }),
      group.start({ name: 'b2', network: beta, bootstrap }),
    ]);

    // the positive control: same-name peers do find each other
    for (const [p, q] of [
      [a1, a2],
      [b1, b2],
    ] as const) {
      await waitFor(`${p.name} to connect to ${q.name} (${group.logHint()})`, async () =>
        (await p.client.peers()).includes(q.peerId),
      );
    }

    await Promise.all([
      neverConnected(a1, [b1.peerId, b2.peerId], group),
      neverConnected(a2, [b1.peerId, b2.peerId], group),
      neverConnected(b1, [a1.peerId, a2.peerId], group),
      neverConnected(b2, [a1.peerId, a2.peerId], group),
    ]);
    for (const p of [a1, a2, b1, b2]) {
      expect({ peer: p.name, routingTable: (await p.client.status()).routingTable }).toEqual({
        peer: p.name,
        routingTable: 1,
      });
    }

    await a1.client.put('shared-name', 'alpha');
    await b1.client.put('only-beta', 'nope');
    await b2.client.put('shared-name', 'beta');
    expect(await a2.client.get('shared-name')).toBe('alpha');
    expect(await b1.client.get('shared-name')).toBe('beta');
    expect(await a2.client.get('only-beta')).toBeUndefined();
    // ping reaches peers of the network only: a peer of another network is unknown (404), even
    // one that connected to this peer (b2 dialled a1, its bootstrap peer, and was dropped)
    for (const [from, to] of [
      [a1, b1],
      [a1, b2],
      [b1, a2],
    ] as const) {
      const r = await from.client.request('POST', `/v1/ping/${to.peerId}`);
      expect({ from: from.name, to: to.name, status: r.status }).toEqual({
        from: from.name,
        to: to.name,
        status: 404,
      });
    }
    expect((await a1.client.request('POST', `/v1/ping/${a2.peerId}`)).status).toBe(200);
  });

  test('peers with different swarm keys, or one without, never connect', async () => {
    group = await PeerGroup.create('iso-swarm');
    const network = `test/swarm-${uniq()}`;
    const k1 = group.path('k1.swarm');
    const k2 = group.path('k2.swarm');
    await writeFile(k1, swarmKeyText());
    await writeFile(k2, swarmKeyText());

    const x = await group.start({ name: 'x-k1', network, swarmKeyFile: k1 });
    // W shares X's key (the control); Y has another key; Z has none. All are told X's address.
    const w = await group.start({ name: 'w-k1', network, swarmKeyFile: k1, bootstrap: [x.addr] });
    const yKey = await makeKey(group.path('y.key'));
    const zKey = await makeKey(group.path('z.key'));
    // Y and Z can never reach the peer they were given, so they are not waited for as ready
    const y = await group.start({
      name: 'y-k2',
      network,
      swarmKeyFile: k2,
      bootstrap: [x.addr],
      keyFile: yKey.path,
      waitReady: false,
    });
    const z = await group.start({
      name: 'z-none',
      network,
      bootstrap: [x.addr],
      keyFile: zKey.path,
      waitReady: false,
    });
    // their API address, peer ID and addresses, from the "peer started" line
    await Promise.all([y, z].map((p) => p.waitStarted()));

    await waitFor(`${w.name} to connect to ${x.name} (${group.logHint()})`, async () =>
      (await w.client.peers()).includes(x.peerId),
    );
    await Promise.all([
      neverConnected(x, [yKey.peerId, zKey.peerId], group),
      neverConnected(y, [x.peerId, w.peerId, zKey.peerId], group),
      neverConnected(z, [x.peerId, w.peerId, yKey.peerId], group),
    ]);

    // none of them can ping another: they never completed a connection, so none is a known
    // peer of the others' network (404)
    for (const [from, to] of [
      [x, y],
      [x, z],
      [y, x],
      [z, x],
      [y, z],
    ] as const) {
      const r = await from.client.request('POST', `/v1/ping/${to.peerId}`);
      expect({ from: from.name, to: to.name, status: r.status }).toEqual({
        from: from.name,
        to: to.name,
        status: 404,
      });
    }
    expect((await w.client.request('POST', `/v1/ping/${x.peerId}`)).status).toBe(200);
    expect((await x.client.status()).routingTable).toBe(1);
    expect((await y.client.status()).routingTable).toBe(0);
    expect((await z.client.status()).routingTable).toBe(0);
  });
});
