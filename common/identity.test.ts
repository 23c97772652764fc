import { describe, expect, it } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatSwarmKey,
  generateIdentity,
  identityFromBytes,
  parseSwarmKey,
  readKeyFile,
  writeKeyFile,
} from './identity.js';

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

describe('swarm key files', () => {
  // a key as `ipfs-swarm-key-gen` (and kubo's docs) write it
  const hex = '0a1b2c3d4e5f60718293a4b5c6d7e8f9' + '00112233445566778899aabbccddeeff';
  const kubo = `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\n`;

  it('formats the standard three lines and parses them back to the same 32 bytes', () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const text = formatSwarmKey(key);
    expect(text).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/);
    expect(parseSwarmKey(text)).toEqual(key);
    expect(formatSwarmKey(parseSwarmKey(kubo))).toBe(kubo);
  });

  it.each([
    ['without a final newline', kubo.trimEnd()],
    ['with CRLF line ends', kubo.replaceAll('\n', '\r\n')],
    ['with upper-case hex', kubo.replace(hex, hex.toUpperCase())],
    ['with trailing blank lines', `${kubo}\n\n`],
  ])('reads a file %s', (_how, text) => {
    expect(Buffer.from(parseSwarmKey(text)).toString('hex')).toBe(hex);
  });

  it.each([
    ['an empty file', ''],
    ['another tag', kubo.replace('psk/1.0.0', 'psk/2.0.0')],
    ['another encoding', kubo.replace('/base16/', '/base64/')],
    ['a short key', kubo.replace(hex, hex.slice(2))],
    ['a long key', kubo.replace(hex, `${hex}00`)],
    ['a non-hex digit', kubo.replace(hex, `${hex.slice(1)}g`)],
    ['a fourth line', `${kubo}more\n`],
    ['a libp2p private key', 'CAESQ...'],
  ])('rejects %s with InvalidSwarmKeyError', (_what, text) => {
    let caught: unknown;
    try {
      parseSwarmKey(text);
    } catch (err) {
      caught = err;
    }
    expect((caught as Error | undefined)?.name).toBe('InvalidSwarmKeyError');
  });

  it('formats only 32-byte keys', () => {
    expect(() => formatSwarmKey(new Uint8Array(31))).toThrow(/32 bytes/);
  });
});
