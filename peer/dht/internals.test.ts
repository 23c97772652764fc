// sendDhtRequest's quiet mode against a stand-in for kad-dht's network: the peers a quiet answer
// names are returned but not announced, while other requests in flight still announce theirs.
import { describe, expect, it } from '@jest/globals';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { MessageType } from '@libp2p/kad-dht';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { sendDhtRequest, type DhtInternals } from './internals.js';

describe('sendDhtRequest', () => {
  it('does not announce the peers a quiet answer names; other requests still do', async () => {
    const [asked, named] = await Promise.all(
      [0, 1].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))),
    );
    const announced: string[] = [];
    const network = {
      safeDispatchEvent(type: string, detail?: unknown): boolean {
        announced.push(`${type}:${(detail as { tag: string }).tag}`);
        return true;
      },
      // as kad-dht's network does: read the answer, announce the peers it names, yield it
      async *sendRequest(_to: unknown, msg: { key?: Uint8Array }) {
        const tag = new TextDecoder().decode(msg.key);
        await new Promise((r) => setTimeout(r, tag === 'quiet' ? 20 : 10));
        this.safeDispatchEvent('peer', { tag });
        yield {
          name: 'PEER_RESPONSE',
          closer: [{ id: named!, multiaddrs: [] }],
          providers: [],
        };
      },
    };
    const dht = { network } as unknown as DhtInternals;
    const req = (tag: string) => ({
      type: MessageType.GET_VALUE,
      key: new TextEncoder().encode(tag),
    });
    const signal = AbortSignal.timeout(5000);
    // a loud request finishes while the quiet one is still waiting for its answer
    const [quiet, loud] = await Promise.all([
      sendDhtRequest(dht, asked!, req('quiet'), signal, { quiet: true }),
      sendDhtRequest(dht, asked!, req('loud'), signal),
    ]);
    const late = await sendDhtRequest(dht, asked!, req('after'), signal);
    expect(quiet.closer.map(String)).toEqual([named!.toString()]);
    expect(loud.closer).toHaveLength(1);
    expect(late.closer).toHaveLength(1);
    expect(announced).toEqual(['peer:loud', 'peer:after']);
  });
});
