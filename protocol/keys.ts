/** Ed25519 key generation and signing (@noble/curves). Verification lives in verify.ts. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { addressFromPublicKey, formatAddress } from './address.js';
import { ProtocolError } from './errors.js';
import { sha256 } from './hash.js';
import { utf8 } from './codec.js';
import { toHex } from './hex.js';

export interface KeyPair {
  readonly privateKey: Uint8Array; // 32-byte Ed25519 seed
  readonly publicKey: Uint8Array; // 32 bytes
  readonly address: Uint8Array; // 20 bytes
}

export function keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair {
  if (privateKey.length !== 32) throw new ProtocolError('INVALID_KEY', `an Ed25519 private key is 32 bytes, got ${privateKey.length}`);
  const publicKey = ed25519.getPublicKey(privateKey);
  return { privateKey: privateKey.slice(), publicKey, address: addressFromPublicKey(publicKey) };
}

export function generateKeyPair(): KeyPair {
  return keyPairFromPrivateKey(ed25519.utils.randomSecretKey());
}

export function sign(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return ed25519.sign(message, privateKey);
}

/**
 * The well-known dev accounts: private key i = SHA-256("pel devnet account " + i).
 * They are public knowledge; never hold value with them outside a local devnet.
 */
export function devKeyPair(index: number): KeyPair {
  if (!Number.isInteger(index) || index < 0) throw new ProtocolError('INVALID_KEY', `dev account index must be a non-negative integer`);
  return keyPairFromPrivateKey(sha256(utf8(`pel devnet account ${index}`)));
}

/** The devnet validator key, derived the same way from a fixed label. */
export function devValidatorKeyPair(index = 0): KeyPair {
  return keyPairFromPrivateKey(sha256(utf8(`pel devnet validator ${index}`)));
}

export function describeKeyPair(kp: KeyPair): { address: string; publicKey: string; privateKey: string } {
  return { address: formatAddress(kp.address), publicKey: toHex(kp.publicKey), privateKey: toHex(kp.privateKey) };
}
