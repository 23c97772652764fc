// The runtime's fallback without root (forced here): pods on loopback addresses, no namespaces,
// still a working network through the operator.
import { describe, expect, test } from '@jest/globals';
import { getRecord, putRecord, useLocalStack, waitUntil, type PeerStatusEntry } from './stack.js';

const stack = useLocalStack('e2e-loopback', 2, 'loopback');

describe('loopback fallback', () => {
  test('a spread network on loopback addresses: Ready, PUT on one node, GET on the other', async () => {
    expect(stack.nodes.mode).toBe('loopback');
    await stack.apply(
      stack.network('lo', { replicas: 3, mode: 'spread', spreadPolicy: 'Preferred' }),
    );
    const s = await stack.waitReady('lo', 3);
    const peers = s.peers ?? [];
    for (const p of peers) expect(p.ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(stack.nodes.pod(stack.namespace, peers[0]?.pod ?? '')?.netns).toBeUndefined();
    const writer = peers[0] as PeerStatusEntry;
    const reader = peers.find((p) => p.node !== writer.node) as PeerStatusEntry;
    await putRecord(writer, 'lo-key', 'lo-value');
    let got: string | undefined;
    await waitUntil(
      async () => (got = await getRecord(reader, 'lo-key')) !== undefined,
      30_000,
      'lo-key on the other node',
    );
    expect(got).toBe('lo-value');
  }, 240_000);
});
