import { describe, expect, it } from '@jest/globals';
import {
  checkClock,
  recordValidator,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  openValue,
  providerCid,
  recordKey,
  sealValue,
  selectRecord,
  userKeyOf,
  validateKey,
  validateRecord,
  validateValue,
} from './keys.js';

function nameOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as Error).name;
  }
  return undefined;
}

describe('keys', () => {
  it.each([['a'], ['hello/world'], ['with space'], ['ünïcödé-🙂'], ['x'.repeat(MAX_KEY_BYTES)]])(
    'accepts key %j',
    (key) => {
      expect(nameOf(() => validateKey(key))).toBeUndefined();
    },
  );

  it.each([
    ['', 'empty'],
    ['x'.repeat(MAX_KEY_BYTES + 1), 'too long'],
    ['é'.repeat(MAX_KEY_BYTES / 2 + 1), 'too long in UTF-8 bytes'],
    ['tab\there', 'control character'],
    ['new\nline', 'control character'],
    ['nul\u0000', 'control character'],
    ['\ud800', 'lone surrogate'],
  ])('rejects key %j (%s) with InvalidKeyError', (key) => {
    expect(nameOf(() => validateKey(key))).toBe('InvalidKeyError');
  });

  it('limits values to 1 byte .. 64 KiB', () => {
    expect(nameOf(() => validateValue(new Uint8Array(1)))).toBeUndefined();
    expect(nameOf(() => validateValue(new Uint8Array(MAX_VALUE_BYTES)))).toBeUndefined();
    expect(nameOf(() => validateValue(new Uint8Array(0)))).toBe('InvalidValueError');
    expect(nameOf(() => validateValue(new Uint8Array(MAX_VALUE_BYTES + 1)))).toBe(
      'ValueTooLargeError',
    );
  });

  it('maps user keys into the /peernet/ namespace and back', () => {
    const k = recordKey('a/b');
    expect(new TextDecoder().decode(k)).toBe('/peernet/a/b');
    expect(userKeyOf(k)).toBe('a/b');
    expect(userKeyOf(new TextEncoder().encode('/pk/xyz'))).toBeUndefined();
  });

  it('derives one raw-codec CID per key', async () => {
    const a = await providerCid('k');
    expect((await providerCid('k')).equals(a)).toBe(true);
    expect((await providerCid('other')).equals(a)).toBe(false);
    expect(a.code).toBe(0x55);
  });
});

describe('record envelope', () => {
  const v = new TextEncoder().encode('value');

  it('round-trips value and timestamp', () => {
    const env = openValue(sealValue(v, 1_700_000_000_123));
    expect(env.timestamp).toBe(1_700_000_000_123);
    expect(new TextDecoder().decode(env.value)).toBe('value');
  });

  it('validates what kad-dht stores under /peernet/', () => {
    expect(nameOf(() => validateRecord(recordKey('k'), sealValue(v, 1)))).toBeUndefined();
    expect(nameOf(() => validateRecord(recordKey('k'), v))).toBe('InvalidRecordError');
    expect(nameOf(() => validateRecord(recordKey('k'), sealValue(new Uint8Array(0), 1)))).toBe(
      'InvalidRecordError',
    );
    expect(nameOf(() => validateRecord(recordKey('bad\nkey'), sealValue(v, 1)))).toBe(
      'InvalidRecordError',
    );
  });

  it('refuses a timestamp further ahead of the clock than the skew (FutureRecordError)', () => {
    const now = 1_700_000_000_000;
    const opts = { maxClockSkew: 300_000, now: () => now };
    expect(nameOf(() => checkClock(sealValue(v, now + 300_000), opts))).toBeUndefined();
    expect(nameOf(() => checkClock(sealValue(v, now - 86_400_000), opts))).toBeUndefined();
    expect(nameOf(() => checkClock(sealValue(v, now + 300_001), opts))).toBe('FutureRecordError');
    // a record dated 100 years ahead would otherwise win every later write
    const century = now + 100 * 365 * 86_400_000;
    expect(nameOf(() => checkClock(sealValue(v, century), opts))).toBe('FutureRecordError');
  });

  it('gives kad-dht a validator that refuses malformed and future-dated records', async () => {
    const now = Date.now();
    let future = 0;
    const validate = recordValidator({ maxClockSkew: 60_000, onFuture: () => future++ });
    await expect(validate(recordKey('k'), sealValue(v, now))).resolves.toBeUndefined();
    await expect(validate(recordKey('k'), sealValue(v, now + 3_600_000))).rejects.toMatchObject({
      name: 'FutureRecordError',
    });
    await expect(validate(recordKey('k'), v)).rejects.toMatchObject({
      name: 'InvalidRecordError',
    });
    expect(future).toBe(1);
  });

  it('selects the newest record, and never a malformed one', () => {
    const old = sealValue(v, 1);
    const recent = sealValue(v, 2);
    expect(selectRecord(recordKey('k'), [old, recent, old])).toBe(1);
    expect(selectRecord(recordKey('k'), [new Uint8Array([9, 9]), old])).toBe(1);
    // same timestamp: the larger bytes win, so every peer picks the same
    const a = sealValue(new TextEncoder().encode('a'), 5);
    const b = sealValue(new TextEncoder().encode('b'), 5);
    expect(selectRecord(recordKey('k'), [b, a])).toBe(0);
    expect(selectRecord(recordKey('k'), [a, b])).toBe(1);
  });
});
