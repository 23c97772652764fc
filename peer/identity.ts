// Peer identity: an Ed25519 key stored as the libp2p protobuf encoding, the format
// `peernet-peer keygen` writes, `--key-file` reads, and the operator puts into its keys Secret.
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
