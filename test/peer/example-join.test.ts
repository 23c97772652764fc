// examples/join.ts, the js-libp2p app of docs/interop.md built from public packages only, joins a
// network of real peers and reads and writes records and provider records both ways.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PeerGroup, repoRoot, type PeerProcess } from '../helpers/peers.js';

jest.setTimeout(240_000);

const run = promisify(execFile);
const example = join(repoRoot, 'dist', 'examples', 'join.js');

describe('examples/join.ts', () => {
  const network = `example-${Math.random().toString(36).slice(2, 8)}`;
  let group: PeerGroup;
  let peers: PeerProcess[];

  /** one run of the example against the network; its stdout lines */
  const joinApp = async (...args: string[]): Promise<string[]> => {
    const { stdout } = await run(
      process.execPath,
      [example, '--network', network, '--bootstrap', peers[0]!.addr, ...args],
      { timeout: 60_000 },
    );
    return stdout.trim().split('\n');
  };

  beforeAll(async () => {
    group = await PeerGroup.create('example-join');
    peers = await group.startMany(3, { network, prefix: 'ex' });
    await group.waitForTables(peers, 2);
  });
  afterAll(() => group?.stop());

  test('its PUT is read through a peer, and a peer PUT is read by it', async () => {
    expect(await joinApp('put', 'from-example', 'written by join.ts')).toEqual(['stored']);
    expect(await peers[2]!.client.get('from-example')).toBe('written by join.ts');

    await peers[1]!.client.put('from-peer', 'written by peernet');
    expect(await joinApp('get', 'from-peer')).toEqual(['written by peernet']);
  });

  test('provider records both ways', async () => {
    await peers[1]!.client.provide('served-by-peer');
    expect(await joinApp('providers', 'served-by-peer')).toContain(peers[1]!.peerId);

    const [provided] = await joinApp('provide', 'served-by-example');
    const id = /^provided by (12D3\w+)$/.exec(provided ?? '')?.[1];
    expect({ provided, id: typeof id }).toEqual({ provided: `provided by ${id}`, id: 'string' });
    // the example's node has stopped; its provider record stays with the peers
    expect(await peers[2]!.client.providers('served-by-example')).toContain(id);
  });
});
