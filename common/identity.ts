// The key files a peer reads and the operator writes:
// - the peer identity: an Ed25519 key stored as the libp2p protobuf encoding, the format
//   `peernet-peer keygen` writes, `--key-file` reads, and the operator puts into its keys Secret;
// - the swarm key of a private network: the `/key/swarm/psk/1.0.0/` file kubo, go-libp2p and
//   @libp2p/pnet read, which `--swarm-key-file` reads and the operator puts into its swarm Secret.
import { readFile, writeFile, rename } from 'node:fs/promises';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';

export interface Identity {
  privateKey: PrivateKey;
  /** base58btc peer ID, e.g. `12D3KooW...` */
  peerId: string;
  /** the key file's bytes */
  bytes: Uint8Array;
}

export class InvalidKeyError extends Error {
  override name = 'InvalidKeyError';
}

export async function generateIdentity(): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519');
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey).toString(),
    bytes: privateKeyToProtobuf(privateKey),
  };
}

export function identityFromBytes(bytes: Uint8Array): Identity {
  let privateKey: PrivateKey;
  try {
    privateKey = privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new InvalidKeyError(`not a libp2p protobuf private key: ${(err as Error).message}`);
  }
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), bytes };
}

export async function readKeyFile(path: string): Promise<Identity> {
  return identityFromBytes(new Uint8Array(await readFile(path)));
}

/** Writes atomically with mode 0600, so a reader never sees half a key. */
export async function writeKeyFile(path: string, identity: Identity): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, identity.bytes, { mode: 0o600 });
  await rename(tmp, path);
}

/** The first line of a swarm key file: pre-shared key, version 1. */
export const SWARM_KEY_TAG = '/key/swarm/psk/1.0.0/';
/** The only key encoding we read and write (what `ipfs-swarm-key-gen` and kubo write). */
export const SWARM_KEY_CODEC = '/base16/';
export const SWARM_KEY_BYTES = 32;

export class InvalidSwarmKeyError extends Error {
  override name = 'InvalidSwarmKeyError';
}

/** A swarm key file: the tag, the codec and the key as lower-case hex, a line each. */
export function formatSwarmKey(key: Uint8Array): string {
  if (key.byteLength !== SWARM_KEY_BYTES)
    throw new InvalidSwarmKeyError(
      `a swarm key is ${SWARM_KEY_BYTES} bytes, got ${key.byteLength}`,
    );
  return `${SWARM_KEY_TAG}\n${SWARM_KEY_CODEC}\n${Buffer.from(key).toString('hex')}\n`;
}

/**
 * The 32 key bytes of a swarm key file. Three lines (`\r\n` or `\n`, surrounding blanks
 * ignored), then nothing but blank lines; the hex digits may be upper or lower case.
 */
export function parseSwarmKey(text: string): Uint8Array {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const [tag, codec, hex, ...rest] = lines;
  if (tag !== SWARM_KEY_TAG)
    throw new InvalidSwarmKeyError(`the first line must be ${SWARM_KEY_TAG}`);
  if (codec !== SWARM_KEY_CODEC)
    throw new InvalidSwarmKeyError(
      `the second line must be ${SWARM_KEY_CODEC} (the only key encoding supported)`,
    );
  if (hex === undefined || !/^[0-9a-fA-F]{64}$/.test(hex))
    throw new InvalidSwarmKeyError(
      `the third line must be the ${SWARM_KEY_BYTES}-byte key as 64 hex digits`,
    );
  if (rest.some((l) => l !== ''))
    throw new InvalidSwarmKeyError('unexpected text after the key (three lines expected)');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
