// Replication: a record's copies go by PUT_VALUE to the closest peers; a new PUT answers at its
// write quorum, and the closest peer reached places the rest (`/peernet/<network>/replicate`).
// A peer that refuses a copy may hold a newer value: it is asked for it (adoptNewer).
import { MessageType } from '@libp2p/kad-dht';
import { Libp2pRecord } from '@libp2p/record';
import { equals as uint8ArrayEquals } from 'uint8arrays/equals';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { PeerId, Stream } from '@libp2p/interface';
import { DrainingError, type PutResult, type RecordsCore } from './core.js';
import { callJson, serveJson } from './json-protocol.js';
import { compareSealed, validateRecord } from './keys.js';
import { kadId } from './lookup.js';

/**
 * A write with a quorum sends its first copies to quorum + this many peers and answers once the
 * quorum confirmed; the rest follow (placed by the closest peer for a new PUT). Fewer copies
 * sent by the writer cost a saturated machine fewer requests (ADR 0003 decision 11).
 */
const FIRST_WAVE_EXTRA = 2;
/** a replicate request: a serialized record of the largest value, base64, and 40 peer IDs */
const MAX_REPLICATE_BYTES = 128 * 1024;

/**
 * `/peernet/<network>/replicate/1.0.0`: a writer asks a peer close to the key to copy a record to
 * the closest peers it knows that the writer did not reach.
 */
export function replicateProtocol(network: string): string {
  return `/peernet/${network}/replicate/1.0.0`;
}

/** a replicate request: the serialized record, and the peers the writer sent it to */
interface ReplicateRequest {
  record: string;
  have: string[];
}

/** What replicate() learnt by the time it answered. */
export interface ReplicateResult extends PutResult {
  /** peers that refused the copy (rather than not answering): they may hold a newer value */
  refused: PeerId[];
}

/** `peers` in their order, those `connected` says have an open connection first */
function connectedFirst(peers: PeerId[], connected: (p: PeerId) => boolean): PeerId[] {
  const open: PeerId[] = [];
  const rest: PeerId[] = [];
  for (const p of peers) (connected(p) ? open : rest).push(p);
  return [...open, ...rest];
}

/**
 * PUT_VALUE to the closest known peers, all in parallel. With `quorum`, answers as soon as that
 * many confirmed (the other requests go on in the background); otherwise once all settled.
 * `forward` (a new PUT): once the write has answered, the closest of them (connected first) is
 * asked to place the rest on the closest peers *it* knows but for the ones we sent to (see
 * `onReplicate`); the writer sends them itself only when that fails. A routing table holds at
 * most 20 peers a bucket, so for a key in the far half of the ID space this peer's "closest" are
 * a sample of that half, while a peer close to the key knows all its neighbours and usually holds
 * connections to them (ADR 0003 has the figures).
 */
export async function replicate(
  core: RecordsCore,
  dhtKey: Uint8Array,
  sealed: Uint8Array,
  signal?: AbortSignal,
  quorum = Infinity,
  forward = false,
): Promise<ReplicateResult> {
  // peers with an open connection first: the first wave should need no dial
  const peers = connectedFirst(
    core.closest(await kadId(dhtKey), core.settings.replication),
    core.connected,
  );
  const record = new Libp2pRecord(dhtKey, sealed, new Date()).serialize();
  const need = Math.min(quorum, peers.length);
  let sent = 0;
  let settled = 0;
  let stored = 0;
  let answered = false;
  const refused: PeerId[] = [];
  return new Promise<ReplicateResult>((resolve) => {
    const sendUpTo = (n: number): void => {
      while (sent < Math.min(n, peers.length)) {
        const peer = peers[sent++]!;
        void core
          .putCopy(peer, dhtKey, record, signal)
          .then((outcome) => {
            if (outcome === 'stored') stored++;
            else if (outcome === 'refused' && !answered) refused.push(peer);
          })
          .finally(() => {
            settled++;
            progress();
          });
      }
    };
    const progress = (): void => {
      if (answered) return;
      if (stored >= need) return answer();
      if (settled < sent) return;
      if (sent === peers.length) return answer();
      sendUpTo(peers.length); // the first wave fell short of the quorum
    };
    const answer = (): void => {
      answered = true;
      resolve({ replicas: peers.length, stored, refused });
      if (!forward || peers.length === 0) return sendUpTo(peers.length);
      // The rest of the copies: the closest peer asked places them on the closest peers it
      // knows; the writer sends them itself only when that fails.
      const via = peers[0]!;
      askToForward(core, via, record, peers.slice(0, sent), signal).catch((err: unknown) => {
        core.log.debug(
          { peer: via.toString(), err: (err as Error).message },
          'replicate request failed: sending the copies myself',
        );
        sendUpTo(peers.length);
      });
    };
    if (peers.length === 0) return answer();
    sendUpTo(need + FIRST_WAVE_EXTRA); // (all of them when the quorum is all)
  });
}

/**
 * Asks (up to 3 of) the peers that refused `sealed` for their value of the key; stores the
 * newest that is newer than `sealed`. True when there was one: `sealed` is not current.
 */
export async function adoptNewer(
  core: RecordsCore,
  dhtKey: Uint8Array,
  sealed: Uint8Array,
  peers: PeerId[],
  signal?: AbortSignal,
): Promise<boolean> {
  const answers = await Promise.allSettled(
    peers
      .slice(0, 3)
      .map((peer) =>
        core.request(peer, { type: MessageType.GET_VALUE, key: dhtKey }, signal, true),
      ),
  );
  let newest: Uint8Array | undefined;
  for (const a of answers) {
    const rec = a.status === 'fulfilled' ? a.value.record : undefined;
    if (rec == null || !uint8ArrayEquals(rec.key, dhtKey) || !core.usable(rec.value)) continue;
    if (compareSealed(rec.value, newest ?? sealed) > 0) newest = rec.value;
  }
  if (newest == null) return false;
  await core.storeLocal(dhtKey, newest).catch((err: unknown) => {
    core.log.debug({ err: (err as Error).message }, 'could not keep the newer value');
  });
  return true;
}

/** Asks `via` to copy `record` to the closest peers it knows beyond `have`; resolves with its answer. */
async function askToForward(
  core: RecordsCore,
  via: PeerId,
  record: Uint8Array,
  have: PeerId[],
  signal?: AbortSignal,
): Promise<{ sent: number; stored: number }> {
  const req: ReplicateRequest = {
    record: uint8ArrayToString(record, 'base64'),
    have: have.map(String),
  };
  const rpc = AbortSignal.any([
    AbortSignal.timeout(core.settings.rpcTimeout * 2),
    ...(signal ? [signal] : []),
  ]);
  return (await callJson(core.node, via, replicateProtocol(core.settings.network), req, rpc, {
    maxDataLength: 64 * 1024,
  })) as { sent: number; stored: number };
}

/**
 * A writer's replicate request: the record (ours: a peernet key and a sealed value) goes by
 * PUT_VALUE to this peer's closest peers to its key, but for the writer and the peers it
 * reached itself. The writer picked this peer as the closest it knows, so this peer's table is
 * complete around the key.
 */
export async function onReplicate(core: RecordsCore, stream: Stream, from: PeerId): Promise<void> {
  const { rpcTimeout, replication } = core.settings;
  const signal = AbortSignal.any([AbortSignal.timeout(rpcTimeout * 2), core.stopSignal]);
  await serveJson(stream, signal, MAX_REPLICATE_BYTES, async (body) => {
    const req = body as Partial<ReplicateRequest>;
    if (typeof req.record !== 'string' || !Array.isArray(req.have)) {
      throw new Error('a replicate request needs record and have');
    }
    if (core.draining) throw new DrainingError('this peer is draining');
    const bytes = uint8ArrayFromString(req.record, 'base64');
    const record = Libp2pRecord.deserialize(bytes);
    validateRecord(record.key, record.value); // throws when it is not one of our records
    core.checkClock(record.value);
    // this peer keeps the record as a PUT_VALUE would, or refuses it (a newer value is held,
    // a quota is reached) and forwards nothing: the writer then sends the copies itself
    await core.storeLocal(record.key, record.value);
    const have = new Set(req.have.slice(0, replication * 2).map(String));
    have.add(from.toString());
    const targets = core
      .closest(await kadId(record.key), replication)
      .filter((p) => !have.has(p.toString()));
    const copies = await Promise.all(
      targets.map((peer) => core.putCopy(peer, record.key, bytes, signal)),
    );
    const stored = copies.filter((c) => c === 'stored').length;
    core.metrics?.forwarded.inc(stored);
    return { sent: targets.length, stored };
  }).catch((err: unknown) =>
    core.log.debug({ from: from.toString(), err: (err as Error).message }, 'replicate refused'),
  );
}
