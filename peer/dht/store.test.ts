// The RecordStore: what it counts, what it refuses, and that the counts hold under concurrent
// writes, deletes and kad-dht's own expiry (which deletes through it).
import { describe, expect, it } from '@jest/globals';
import { MemoryDatastore } from 'datastore-core';
import { Key } from 'interface-datastore';
import { Libp2pRecord } from '@libp2p/record';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import type { Quotas } from '../quotas.js';
import { recordKey, sealValue } from './keys.js';
import { PROVIDER_PREFIX, RECORD_PREFIX, RecordStore, type RefusalReason } from './store.js';

const BIG: Quotas = {
  records: 1000,
  recordBytes: 1 << 30,
  providerRecords: 1000,
  providersPerKey: 1000,
};

function dsKey(key: string): Key {
  return new Key(`${RECORD_PREFIX}/${uint8ArrayToString(recordKey(key), 'base32')}`, false);
}

/** a stored record (as kad-dht and the records service write it) of `size` value bytes */
function record(key: string, timestamp: number, size = 10, fill = 0x61): Uint8Array {
  const value = new Uint8Array(size).fill(fill);
  return new Libp2pRecord(recordKey(key), sealValue(value, timestamp), new Date()).serialize();
}

function providerKey(cid: string, peer: string): Key {
  return new Key(`${PROVIDER_PREFIX}/${cid}/${peer}`);
}

function store(quotas: Partial<Quotas> = {}, now = 1_000_000) {
  const refused: RefusalReason[] = [];
  const inner = new MemoryDatastore();
  const s = new RecordStore(inner, {
    quotas: { ...BIG, ...quotas },
    maxClockSkew: 60_000,
    now: () => now,
    onRefused: (r) => refused.push(r),
  });
  return { s, inner, refused };
}

async function nameOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as Error).name;
  }
}

describe('RecordStore counters', () => {
  it('counts records and their bytes on put, overwrite and delete', async () => {
    const { s } = store();
    const a = record('a', 1, 100);
    const b = record('b', 1, 200);
    await s.put(dsKey('a'), a);
    await s.put(dsKey('b'), b);
    expect(s.counts()).toEqual({
      records: 2,
      recordBytes: a.byteLength + b.byteLength,
      providerRecords: 0,
    });
    const a2 = record('a', 2, 300);
    await s.put(dsKey('a'), a2);
    expect(s.counts()).toMatchObject({ records: 2, recordBytes: a2.byteLength + b.byteLength });
    await s.delete(dsKey('b'));
    await s.delete(dsKey('b')); // deleting what is gone changes nothing
    expect(s.counts()).toMatchObject({ records: 1, recordBytes: a2.byteLength });
  });

  it('counts provider records, a refresh once, and their deletion (expiry)', async () => {
    const { s } = store();
    await s.put(providerKey('CIDA', 'p1'), new Uint8Array([1]));
    await s.put(providerKey('CIDA', 'p1'), new Uint8Array([2]));
    await s.put(providerKey('CIDA', 'p2'), new Uint8Array([1]));
    await s.put(providerKey('CIDB', 'p1'), new Uint8Array([1]));
    expect(s.counts().providerRecords).toBe(3);
    await s.delete(providerKey('CIDA', 'p1'));
    expect(s.counts().providerRecords).toBe(2);
  });

  it('leaves other keys alone and uncounted', async () => {
    const { s, inner } = store({ records: 1 });
    await s.put(new Key('/peers/abc'), new Uint8Array(5000));
    expect(await inner.has(new Key('/peers/abc'))).toBe(true);
    expect(s.counts()).toEqual({ records: 0, recordBytes: 0, providerRecords: 0 });
  });

  it('counts what the inner store already holds once, on open', async () => {
    const inner = new MemoryDatastore();
    const a = record('a', 1, 100);
    await inner.put(dsKey('a'), a);
    await inner.put(providerKey('CIDA', 'p1'), new Uint8Array([1]));
    const s = new RecordStore(inner, { quotas: BIG });
    await s.open();
    expect(s.counts()).toEqual({ records: 1, recordBytes: a.byteLength, providerRecords: 1 });
  });

  it('routes batches, putMany and deleteMany through the same guards', async () => {
    const { s } = store({ records: 2 });
    const batch = s.batch();
    batch.put(dsKey('a'), record('a', 1));
    batch.put(dsKey('b'), record('b', 1));
    await batch.commit();
    expect(s.counts().records).toBe(2);
    const many = s.putMany([{ key: dsKey('c'), value: record('c', 1) }]);
    await expect(
      (async () => {
        for await (const _ of many) void _;
      })(),
    ).rejects.toMatchObject({ name: 'QuotaExceededError' });
    for await (const _ of s.deleteMany([dsKey('a'), dsKey('b')])) void _;
    expect(s.counts().records).toBe(0);
  });
});

describe('RecordStore quotas', () => {
  it('refuses a new record beyond --max-records, and takes overwrites of held ones', async () => {
    const { s, refused } = store({ records: 2 });
    await s.put(dsKey('a'), record('a', 1));
    await s.put(dsKey('b'), record('b', 1));
    await expect(s.put(dsKey('c'), record('c', 1))).rejects.toMatchObject({
      name: 'QuotaExceededError',
      quota: 'max-records',
      message: expect.stringContaining('--max-records'),
    });
    await s.put(dsKey('a'), record('a', 2));
    expect(s.counts().records).toBe(2);
    expect(refused).toEqual(['max-records']);
  });

  it('refuses a record whose bytes go beyond --max-record-bytes, never holding more', async () => {
    const one = record('k0', 1, 1000).byteLength;
    const { s } = store({ recordBytes: one * 3 + 10 });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => s.put(dsKey(`k${i}`), record(`k${i}`, 1, 1000))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toMatchObject({ name: 'QuotaExceededError', quota: 'max-record-bytes' });
      }
    }
    expect(s.counts()).toEqual({ records: 3, recordBytes: one * 3, providerRecords: 0 });
    // a smaller value of a held key fits; a larger one does not
    await s.put(dsKey('k0'), record('k0', 2, 10));
    expect(await nameOf(s.put(dsKey('k1'), record('k1', 2, 3000)))).toBe('QuotaExceededError');
  });

  it('refuses provider records beyond --max-providers-per-key and --max-provider-records', async () => {
    const { s, refused } = store({ providersPerKey: 2, providerRecords: 3 });
    await s.put(providerKey('CIDA', 'p1'), new Uint8Array([1]));
    await s.put(providerKey('CIDA', 'p2'), new Uint8Array([1]));
    await expect(s.put(providerKey('CIDA', 'p3'), new Uint8Array([1]))).rejects.toMatchObject({
      name: 'QuotaExceededError',
      quota: 'max-providers-per-key',
    });
    await s.put(providerKey('CIDA', 'p2'), new Uint8Array([2])); // a refresh
    await s.put(providerKey('CIDB', 'p1'), new Uint8Array([1]));
    await expect(s.put(providerKey('CIDC', 'p1'), new Uint8Array([1]))).rejects.toMatchObject({
      quota: 'max-provider-records',
    });
    expect(refused).toEqual(['max-providers-per-key', 'max-provider-records']);
    // expiry frees room
    await s.delete(providerKey('CIDA', 'p1'));
    await s.put(providerKey('CIDA', 'p3'), new Uint8Array([1]));
    expect(s.counts().providerRecords).toBe(3);
  });

  it('keeps the counts right when the inner store fails a write', async () => {
    const { s, inner } = store();
    inner.put = () => {
      throw new Error('disk full');
    };
    await expect(s.put(dsKey('a'), record('a', 1))).rejects.toThrow('disk full');
    await expect(s.put(providerKey('CIDA', 'p1'), new Uint8Array([1]))).rejects.toThrow();
    expect(s.counts()).toEqual({ records: 0, recordBytes: 0, providerRecords: 0 });
  });
});

describe('RecordStore: newest wins', () => {
  it('refuses a record older than the stored one (StaleRecordError), takes equal and newer', async () => {
    const { s, inner, refused } = store();
    await s.put(dsKey('k'), record('k', 100, 10, 0x62));
    expect(await nameOf(s.put(dsKey('k'), record('k', 99, 10, 0x62)))).toBe('StaleRecordError');
    // same time, smaller bytes: the larger wins everywhere, so the smaller is older
    expect(await nameOf(s.put(dsKey('k'), record('k', 100, 10, 0x61)))).toBe('StaleRecordError');
    await s.put(dsKey('k'), record('k', 100, 10, 0x62)); // the same record again: a refresh
    await s.put(dsKey('k'), record('k', 101, 5));
    expect(Libp2pRecord.deserialize(await inner.get(dsKey('k'))).value).toEqual(
      sealValue(new Uint8Array(5).fill(0x61), 101),
    );
    expect(refused).toEqual(['stale', 'stale']);
  });

  it('lets any record replace a stored one dated beyond the clock skew', async () => {
    const now = 1_000_000;
    const { s } = store({}, now);
    // written before the skew check existed (say, kept in a --data-dir)
    await s.put(dsKey('k'), record('k', now + 100 * 365 * 86_400_000));
    await s.put(dsKey('k'), record('k', now));
    expect(s.counts().records).toBe(1);
  });

  it('serializes writes to one key: racing writes leave the newest', async () => {
    const { s, inner } = store();
    const order = [5, 20, 3, 19, 1, 12, 7, 18, 2, 11, 4, 17, 6, 16, 8, 15, 9, 14, 10, 13];
    const writes = order.map((t) => s.put(dsKey('k'), record('k', t)));
    await Promise.allSettled(writes);
    const held = Libp2pRecord.deserialize(await inner.get(dsKey('k')));
    expect(held.value).toEqual(sealValue(new Uint8Array(10).fill(0x61), 20));
    expect(s.counts().records).toBe(1);
  });
});
