// The drain's handoff (`/peernet/<network>/handoff/1.0.0`): a draining peer hands every record
// and provider record it holds to the closest other peers, in batches, one stream per batch and
// peer that takes them (a PUT_VALUE stream per record and peer was ~130k streams for 10k records
// on 30 peers). The taker checks each as a PUT_VALUE or ADD_PROVIDER would.
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { CID } from 'multiformats/cid';
import { Libp2pRecord } from '@libp2p/record';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { PeerId, Stream } from '@libp2p/interface';
import { runLimited } from '../../common/concurrency.js';
import { DrainingError, type RecordsCore } from './core.js';
import { callJson, serveJson } from './json-protocol.js';
import { validateRecord } from './keys.js';
import { kadId } from './lookup.js';
import { StaleRecordError } from './store.js';

/** `/peernet/<network>/handoff/1.0.0`: the records and provider records a draining peer hands over. */
export function handoffProtocol(network: string): string {
  return `/peernet/${network}/handoff/1.0.0`;
}

interface HandoffProvider {
  cid: string;
  peer: string;
  addrs: string[];
}

/** What a draining peer hands over on one stream: provider records, records (serialized, base64). */
interface HandoffRequest {
  providers?: HandoffProvider[];
  records?: string[];
}

/** `kept`: indices into the request's records that the taker now holds (absent from older peers). */
interface HandoffAnswer {
  accepted: number;
  refused: number;
  kept?: number[];
}

/** A handoff message is at most this large; a batch of records is cut at a quarter of it. */
const MAX_HANDOFF_BYTES = 4 * 1024 * 1024;
/** At most this many records (and provider records) in one handoff message. */
const MAX_HANDOFF_ITEMS = 2000;
/** handoff streams in flight at once */
const PARALLEL_HANDOFFS = 16;

/** `indices` cut into batches of at most MAX_HANDOFF_ITEMS and about MAX_HANDOFF_BYTES / 4. */
export function handoffBatches(indices: number[], sizeOf: (i: number) => number): number[][] {
  const batches: number[][] = [];
  let batch: number[] = [];
  let bytes = 0;
  for (const i of indices) {
    const size = sizeOf(i) + 4; // the quotes and the comma around it in the JSON
    if (
      batch.length > 0 &&
      (batch.length >= MAX_HANDOFF_ITEMS || bytes + size > MAX_HANDOFF_BYTES / 4)
    ) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(i);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

async function sendHandoff(
  core: RecordsCore,
  peer: PeerId,
  request: HandoffRequest,
  signal: AbortSignal,
): Promise<HandoffAnswer> {
  return (await callJson(
    core.node,
    peer,
    handoffProtocol(core.settings.network),
    request,
    signal,
  )) as HandoffAnswer;
}

/**
 * Hands every record and provider record this peer holds to the closest other peers, within
 * drainTimeout. A peer that answers without `kept` (an older peernet) gets the batch's records
 * one PUT_VALUE at a time. Returns how many records and provider records some peer now holds.
 */
export async function handOffAll(core: RecordsCore): Promise<{ handedOff: number }> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(core.settings.drainTimeout),
    core.stopSignal,
  ]);
  const { jobs: recordJobs, kept } = await recordHandoffs(core, signal);
  const { jobs: providerJobs, providerKeys } = await providerHandoffs(core, signal);
  await runLimited([...recordJobs, ...providerJobs], PARALLEL_HANDOFFS);
  const records = kept.reduce((n, k) => n + k, 0);
  core.metrics?.handedOff.inc({ kind: 'record' }, records);
  core.metrics?.handedOff.inc({ kind: 'provider' }, providerKeys.size);
  return { handedOff: records + providerKeys.size };
}

/** One job per batch of records and peer that takes them; `kept[i]` is 1 once record i is held. */
async function recordHandoffs(
  core: RecordsCore,
  signal: AbortSignal,
): Promise<{ jobs: Array<() => Promise<void>>; kept: Uint8Array }> {
  const held: Libp2pRecord[] = [];
  const recordsFor = new Map<string, { peer: PeerId; indices: number[] }>();
  for await (const h of core.heldRecords()) {
    const index = held.push(h.record) - 1;
    for (const to of core.closest(await kadId(h.record.key), core.settings.replication)) {
      const group = recordsFor.get(to.toString()) ?? { peer: to, indices: [] };
      group.indices.push(index);
      recordsFor.set(to.toString(), group);
    }
  }
  const serialized = held.map((r) => uint8ArrayToString(r.serialize(), 'base64'));
  const kept = new Uint8Array(held.length);
  const jobs: Array<() => Promise<void>> = [];
  for (const { peer, indices } of recordsFor.values()) {
    for (const batch of handoffBatches(indices, (i) => serialized[i]!.length)) {
      jobs.push(async () => {
        const records = batch.map((i) => serialized[i]!);
        const answer = await sendHandoff(core, peer, { records }, signal).catch((err: unknown) => {
          core.log.debug(
            { peer: peer.toString(), err: (err as Error).message },
            'record handoff failed',
          );
          return undefined;
        });
        if (Array.isArray(answer?.kept)) {
          for (const k of answer.kept) {
            const i = Number.isInteger(k) ? batch[k] : undefined;
            if (i != null) kept[i] = 1;
          }
          return;
        }
        if (answer == null) return;
        await Promise.all(
          batch.map(async (i) => {
            const r = held[i]!;
            if ((await core.putCopy(peer, r.key, r.serialize(), signal)) === 'stored') kept[i] = 1;
          }),
        );
      });
    }
  }
  return { jobs, kept };
}

/**
 * Provider records of other peers: kad-dht only takes ADD_PROVIDER from the provider itself, so
 * they travel over the handoff protocol too, grouped by the peer that takes them.
 */
async function providerHandoffs(
  core: RecordsCore,
  signal: AbortSignal,
): Promise<{ jobs: Array<() => Promise<void>>; providerKeys: Set<string> }> {
  const byPeer = new Map<string, { peer: PeerId; providers: HandoffProvider[] }>();
  for await (const p of core.heldProviders()) {
    if (p.peer.equals(core.node.peerId)) continue;
    const target = await kadId(p.cid.multihash.bytes);
    const entry: HandoffProvider = {
      cid: p.cid.toString(),
      peer: p.peer.toString(),
      addrs: (await core.addrsOf(p.peer)).map((a) => a.toString()),
    };
    for (const to of core.closest(target, core.settings.replication)) {
      const group = byPeer.get(to.toString()) ?? { peer: to, providers: [] };
      group.providers.push(entry);
      byPeer.set(to.toString(), group);
    }
  }
  const providerKeys = new Set<string>();
  const jobs: Array<() => Promise<void>> = [];
  for (const { peer, providers } of byPeer.values()) {
    const sizes = providers.map((p) => JSON.stringify(p).length);
    for (const batch of handoffBatches(
      providers.map((_, i) => i),
      (i) => sizes[i]!,
    )) {
      jobs.push(async () => {
        try {
          const sent = batch.map((i) => providers[i]!);
          await sendHandoff(core, peer, { providers: sent }, signal);
          for (const p of sent) providerKeys.add(`${p.cid}/${p.peer}`);
        } catch (err) {
          core.log.debug(
            { peer: peer.toString(), err: (err as Error).message },
            'provider handoff failed',
          );
        }
      });
    }
  }
  return { jobs, providerKeys };
}

/**
 * A draining peer's provider records and records. Each is checked as a PUT_VALUE or an
 * ADD_PROVIDER would be (our record format, the clock skew, the quotas); `kept` lists the
 * records this peer now holds, including those it already held newer.
 */
export async function onHandoff(core: RecordsCore, stream: Stream, from: PeerId): Promise<void> {
  const signal = AbortSignal.any([AbortSignal.timeout(10_000), core.stopSignal]);
  await serveJson(stream, signal, MAX_HANDOFF_BYTES, async (body) => {
    const req = body as Partial<HandoffRequest>;
    const providers = Array.isArray(req.providers) ? req.providers : [];
    const records = Array.isArray(req.records) ? req.records : [];
    if (records.length > 0 && core.draining) throw new DrainingError('this peer is draining');
    let accepted = 0;
    let refused = 0;
    for (const p of providers.slice(0, MAX_HANDOFF_ITEMS)) {
      try {
        const cid = CID.parse(p.cid);
        const peer = peerIdFromString(p.peer);
        await core.dht.providers.addProvider(cid, peer); // a quota refuses it here
        const addrs = p.addrs.map((a) => multiaddr(a));
        if (addrs.length > 0) await core.node.peerStore.merge(peer, { multiaddrs: addrs });
        accepted++;
      } catch {
        // malformed or over a quota: skip it, keep the rest
        refused++;
      }
    }
    const kept: number[] = [];
    for (const [i, r] of records.slice(0, MAX_HANDOFF_ITEMS).entries()) {
      try {
        if (typeof r !== 'string') throw new Error('a handed-off record is a base64 string');
        const record = Libp2pRecord.deserialize(uint8ArrayFromString(r, 'base64'));
        validateRecord(record.key, record.value);
        core.checkClock(record.value);
        await core.storeLocal(record.key, record.value);
        kept.push(i);
      } catch (err) {
        if (err instanceof StaleRecordError)
          kept.push(i); // we hold a newer value
        else refused++;
      }
    }
    accepted += kept.length;
    core.log.debug({ from: from.toString(), accepted, refused }, 'took records on handoff');
    return { accepted, refused, kept } satisfies HandoffAnswer;
  }).catch((err: unknown) =>
    core.log.debug({ from: from.toString(), err: (err as Error).message }, 'handoff refused'),
  );
}
