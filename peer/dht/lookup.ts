// A Kademlia lookup that starts from the closest peers this peer already knows and stops once
// `quorum` peers had a result (the first one by default). With the routing tables our networks have (most of the network), the first round
// usually holds a peer with the record, so a GET costs one round trip instead of a full walk.
import { sha256 } from 'multiformats/hashes/sha2';
import { xor as uint8ArrayXor } from 'uint8arrays/xor';
import { xorCompare as uint8ArrayXorCompare } from 'uint8arrays/xor-compare';
import type { PeerId } from '@libp2p/interface';

export interface LookupAnswer<T> {
  /** peers the asked peer says are closer to the key */
  closer: PeerId[];
  /** set when the asked peer had what we look for: counts towards the quorum */
  result?: T;
}

export interface LookupOptions<T> {
  /** the key's Kademlia ID (sha2-256 of the key) */
  target: Uint8Array;
  /** closest known peers, nearest first */
  start: PeerId[];
  self: PeerId;
  /** ask one peer; a throw counts as no answer */
  ask(peer: PeerId, signal: AbortSignal): Promise<LookupAnswer<T>>;
  /** how many results end the lookup. @default 1 */
  quorum?: number;
  /** how many of the closest peers must have answered before giving up. @default 20 */
  count?: number;
  /** parallel requests. @default 3 */
  alpha?: number;
  /**
   * when the `count` closest have answered without any result, go on until this many have
   * (the same candidates: nobody is asked twice). @default count
   */
  widenTo?: number;
  /**
   * among the `count` closest, ask these first (e.g. peers with an open connection: any of the
   * closest may hold a replica, and asking one needs no dial). Distance still bounds who is asked.
   */
  prefer?: (peer: PeerId) => boolean;
  /**
   * hedged requests: while a request in flight is younger than this, no other peer is asked. One
   * peer is asked, a second only if the first has not answered within hedgeMs (or answered
   * without the result), and so on up to `alpha` at once. The first answer usually suffices, so
   * a GET costs one request instead of `alpha` (each one that peer's CPU and, for peers not
   * connected, a dial). Requests up to the number of results still missing go out at once: only
   * the ones beyond that are hedged. 0: `alpha` requests at once. @default 0
   */
  hedgeMs?: number;
  signal?: AbortSignal;
}

export interface LookupResult<T> {
  /** the first result */
  result?: T;
  /** every result, in the order they came (at most `quorum`, unless requests in flight added more) */
  results: T[];
  /** peers that answered */
  answered: number;
  /** peers that failed or timed out */
  failed: number;
}

export async function kadId(bytes: Uint8Array): Promise<Uint8Array> {
  return (await sha256.digest(bytes)).digest;
}

interface Candidate {
  peer: PeerId;
  distance: Uint8Array;
  state: 'new' | 'asking' | 'answered' | 'failed';
}

// Long: one iterative lookup over its candidate state; its parts are only meaningful together.
export async function lookup<T>(opts: LookupOptions<T>): Promise<LookupResult<T>> {
  let count = opts.count ?? 20;
  const widenTo = Math.max(count, opts.widenTo ?? count);
  const alpha = opts.alpha ?? 3;
  const prefer = opts.prefer;
  const hedgeMs = opts.hedgeMs ?? 0;
  const quorum = Math.max(1, opts.quorum ?? 1);
  const results: T[] = [];
  const seen = new Set<string>([opts.self.toString()]);
  const candidates: Candidate[] = [];
  const controller = new AbortController();
  const signal =
    opts.signal == null ? controller.signal : AbortSignal.any([controller.signal, opts.signal]);

  const add = async (peer: PeerId): Promise<void> => {
    const id = peer.toString();
    if (seen.has(id)) return;
    seen.add(id);
    const distance = uint8ArrayXor(await kadId(peer.toMultihash().bytes), opts.target);
    let i = candidates.length;
    while (i > 0 && uint8ArrayXorCompare(candidates[i - 1]!.distance, distance) > 0) i--;
    candidates.splice(i, 0, { peer, distance, state: 'new' });
  };
  for (const p of opts.start) await add(p);

  let answered = 0;
  let failed = 0;
  return new Promise<LookupResult<T>>((resolve) => {
    let finished = false;
    /** requests in flight, and when each started */
    const inFlight = new Map<Candidate, number>();
    let hedgeTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(hedgeTimer);
      controller.abort();
      resolve({ result: results[0], results, answered, failed });
    };
    const pump = (): void => {
      if (finished) return;
      if (signal.aborted) return finish();
      if (inFlight.size === 0 && hedgeTimer !== undefined) {
        clearTimeout(hedgeTimer);
        hedgeTimer = undefined;
      }
      // only the `count` closest peers that have not failed are worth asking; preferred first
      const window: Candidate[] = [];
      for (const c of candidates) {
        if (window.length >= count) break;
        if (c.state !== 'failed') window.push(c);
      }
      // `prefer` asked once per candidate and pump (it may look up connections)
      const fresh = window
        .filter((c) => c.state === 'new')
        .map((c) => ({ c, preferred: prefer?.(c.peer) === true }));
      const order = [...fresh.filter((x) => x.preferred), ...fresh.filter((x) => !x.preferred)];
      for (const { c } of order) {
        if (inFlight.size >= alpha) break;
        if (hedgeMs > 0 && inFlight.size > 0 && inFlight.size >= quorum - results.length) {
          // the youngest request in flight holds the next one back until it is hedgeMs old
          const youngest = Math.max(...inFlight.values());
          const wait = youngest + hedgeMs - Date.now();
          if (wait > 0) {
            if (hedgeTimer === undefined)
              hedgeTimer = setTimeout(() => {
                hedgeTimer = undefined;
                pump();
              }, wait);
            break;
          }
        }
        c.state = 'asking';
        inFlight.set(c, Date.now());
        opts
          .ask(c.peer, signal)
          .then(async (answer) => {
            c.state = 'answered';
            answered++;
            if (answer.result !== undefined) {
              results.push(answer.result);
              if (results.length >= quorum) return finish();
            }
            for (const p of answer.closer) await add(p);
          })
          .catch(() => {
            c.state = 'failed';
            failed++;
          })
          .finally(() => {
            inFlight.delete(c);
            pump();
          });
      }
      // (no hedge timer is pending here: one is only set while a request runs)
      if (inFlight.size === 0) {
        if (count < widenTo && results.length === 0) {
          count = widenTo;
          return pump();
        }
        finish();
      }
    };
    pump();
  });
}
