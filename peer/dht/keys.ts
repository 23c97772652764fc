// User keys and values, and how they map into the DHT: record keys live under the `/peernet/`
// namespace, provider keys are CIDs (raw codec, sha2-256 of the user key). Values travel in a small
// envelope carrying the writer's timestamp, so every peer picks the same (newest) version.
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { compare as uint8ArrayCompare } from 'uint8arrays/compare';
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';

/** Largest user key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 256;
/** Largest value, in bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;
/** The DHT key prefix of our records; kad-dht picks validator and selector by it. */
export const NAMESPACE = 'peernet';
const PREFIX = uint8ArrayFromString(`/${NAMESPACE}/`);

export class InvalidKeyError extends Error {
  override name = 'InvalidKeyError';
}
export class InvalidValueError extends Error {
  override name = 'InvalidValueError';
}
export class ValueTooLargeError extends Error {
  override name = 'ValueTooLargeError';
}
export class InvalidRecordError extends Error {
  override name = 'InvalidRecordError';
}
/** A record dated further ahead of this peer's clock than the skew allows. */
export class FutureRecordError extends Error {
  override name = 'FutureRecordError';
}

// Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Throws InvalidKeyError unless `key` is 1..256 UTF-8 bytes of printable characters. */
export function validateKey(key: string): void {
  if (key.length === 0) throw new InvalidKeyError('key is empty');
  if (!key.isWellFormed()) throw new InvalidKeyError('key is not valid Unicode');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`key is ${bytes} bytes, the limit is ${MAX_KEY_BYTES}`);
  }
  if (UNPRINTABLE.test(key)) throw new InvalidKeyError('key contains control characters');
}

/** Throws InvalidValueError / ValueTooLargeError unless the value is 1..64 KiB. */
export function validateValue(value: Uint8Array): void {
  if (value.byteLength === 0) throw new InvalidValueError('value is empty');
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new ValueTooLargeError(
      `value is ${value.byteLength} bytes, the limit is ${MAX_VALUE_BYTES}`,
    );
  }
}

/** `/peernet/<key>` as bytes. */
export function recordKey(key: string): Uint8Array {
  const k = uint8ArrayFromString(key);
  const out = new Uint8Array(PREFIX.length + k.length);
  out.set(PREFIX);
  out.set(k, PREFIX.length);
  return out;
}

/** The user key of a DHT record key, or undefined when it is not one of ours. */
export function userKeyOf(dhtKey: Uint8Array): string | undefined {
  if (dhtKey.length <= PREFIX.length) return undefined;
  for (let i = 0; i < PREFIX.length; i++) if (dhtKey[i] !== PREFIX[i]) return undefined;
  return uint8ArrayToString(dhtKey.subarray(PREFIX.length));
}

/** Provider records are keyed by a CID: raw codec, sha2-256 of the user key. */
export async function providerCid(key: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(uint8ArrayFromString(key)));
}

// --- value envelope: [version 0x01][8-byte big-endian ms timestamp][value] -------------------

const ENVELOPE_VERSION = 1;
const HEADER = 9;

export interface Envelope {
  /** writer's clock, ms since the epoch */
  timestamp: number;
  value: Uint8Array;
}

export function sealValue(value: Uint8Array, timestamp: number): Uint8Array {
  const out = new Uint8Array(HEADER + value.byteLength);
  out[0] = ENVELOPE_VERSION;
  new DataView(out.buffer).setBigUint64(1, BigInt(timestamp));
  out.set(value, HEADER);
  return out;
}

export function openValue(sealed: Uint8Array): Envelope {
  if (sealed.byteLength <= HEADER || sealed[0] !== ENVELOPE_VERSION) {
    throw new InvalidRecordError('not a peernet record envelope');
  }
  const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  return { timestamp: Number(view.getBigUint64(1)), value: sealed.subarray(HEADER) };
}

/** kad-dht validator for `/peernet/` records: a well-formed key and envelope within the limits. */
export function validateRecord(dhtKey: Uint8Array, sealed: Uint8Array): void {
  const key = userKeyOf(dhtKey);
  if (key == null) throw new InvalidRecordError('not a /peernet/ key');
  try {
    validateKey(key);
    validateValue(openValue(sealed).value);
  } catch (err) {
    throw new InvalidRecordError((err as Error).message);
  }
}

/** How far ahead of this peer's clock a record may be dated. */
export interface ClockCheck {
  /** ms. @default 300_000 */
  maxClockSkew?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Throws FutureRecordError when the writer's timestamp is further ahead of this peer's clock
 * than the skew allows. Newest wins by the writer's clock, so without this bound one record
 * dated years ahead would win over every later write, for good.
 */
export function checkClock(sealed: Uint8Array, opts: ClockCheck = {}): void {
  const skew = opts.maxClockSkew ?? 300_000;
  const now = (opts.now ?? Date.now)();
  const { timestamp } = openValue(sealed);
  if (timestamp > now + skew) {
    throw new FutureRecordError(
      `record dated ${timestamp - now} ms ahead of this peer's clock (at most ${skew} ms)`,
    );
  }
}

/**
 * kad-dht validator for `/peernet/` records: validateRecord, and a timestamp no further ahead
 * than the clock skew. kad-dht runs it on every PUT_VALUE another peer sends and on the records
 * it reads, and refuses the record (the PUT_VALUE fails) when it throws.
 */
export function recordValidator(
  opts: ClockCheck & { onFuture?: () => void } = {},
): (dhtKey: Uint8Array, sealed: Uint8Array) => Promise<void> {
  return (dhtKey, sealed) =>
    new Promise<void>((resolve) => {
      validateRecord(dhtKey, sealed);
      try {
        checkClock(sealed, opts);
      } catch (err) {
        opts.onFuture?.();
        throw err;
      }
      resolve();
    });
}

/** Orders two sealed values: newer timestamp wins, then larger bytes, so every peer agrees. */
export function compareSealed(a: Uint8Array, b: Uint8Array): number {
  const ta = openValue(a).timestamp;
  const tb = openValue(b).timestamp;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return uint8ArrayCompare(a, b);
}

/** kad-dht selector: index of the newest valid record (invalid ones never win). */
export function selectRecord(_key: Uint8Array, records: Uint8Array[]): number {
  let best = -1;
  records.forEach((r, i) => {
    try {
      openValue(r);
    } catch {
      return;
    }
    const current = best < 0 ? undefined : records[best];
    if (current == null || compareSealed(r, current) > 0) best = i;
  });
  return Math.max(best, 0);
}
