import { describe, expect, it } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityFromBytes, readKeyFile, writeKeyFile } from './identity.js';

describe('identity', () => {
  it('round-trips a key through a file and keeps the peer ID', async () => {
    const id = await generateIdentity();
    const path = join(await mkdtemp(join(tmpdir(), 'peernet-id-')), 'peer.key');
    await writeKeyFile(path, id);
    const back = await readKeyFile(path);
    expect(back.peerId).toBe(id.peerId);
    expect(id.peerId).toMatch(/^12D3KooW/);
  });

  it('rejects bytes that are not a key with InvalidKeyError', () => {
    let caught: unknown;
    try {
      identityFromBytes(new Uint8Array([1, 2, 3]));
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).name).toBe('InvalidKeyError');
  });
});
