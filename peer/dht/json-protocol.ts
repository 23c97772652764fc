// Our request/answer protocols over libp2p streams (handoff, replicate): one length-prefixed JSON
// request, one length-prefixed JSON answer, then the stream closes; any error aborts it.
import { lpStream } from '@libp2p/utils';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { PeerId, Stream } from '@libp2p/interface';
import type { PeerNode } from '../node/index.js';

/** Opens a stream to `peer`, writes `body`, reads the answer, closes. */
export async function callJson(
  node: Pick<PeerNode, 'dialProtocol'>,
  peer: PeerId,
  protocol: string,
  body: unknown,
  signal: AbortSignal,
  opts: { maxDataLength?: number } = {},
): Promise<unknown> {
  const stream = await node.dialProtocol(peer, protocol, { signal });
  try {
    const lp = lpStream(stream, opts);
    await lp.write(uint8ArrayFromString(JSON.stringify(body)), { signal });
    const answer: unknown = JSON.parse(uint8ArrayToString((await lp.read({ signal })).subarray()));
    await stream.close({ signal });
    return answer;
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

/**
 * The other side of `callJson`: reads one request of at most `maxDataLength` bytes, answers with
 * what `handle` returns, closes. On any error (a malformed request, `handle` throwing) the stream
 * is aborted and the error rethrown.
 */
export async function serveJson(
  stream: Stream,
  signal: AbortSignal,
  maxDataLength: number,
  handle: (body: unknown) => Promise<unknown>,
): Promise<void> {
  try {
    const lp = lpStream(stream, { maxDataLength });
    const body: unknown = JSON.parse(uint8ArrayToString((await lp.read({ signal })).subarray()));
    await lp.write(uint8ArrayFromString(JSON.stringify(await handle(body))), { signal });
    await stream.close({ signal });
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}
