import { ProtocolError } from './errors.js';
import { AddressMemo, fromHex, toHex } from './hex.js';
import { sha256 } from './hash.js';

export const ADDRESS_LENGTH = 20;
/** Signature scheme id mixed into the address derivation; 0 = Ed25519. */
export const SCHEME_ED25519 = new Uint8Array([0]);

/** address = first 20 bytes of SHA-256(0x00 || publicKey). Memoised by key contents
 *  (senders repeat: every decoded tx derives its sender here); the result is shared, so
 *  callers must not mutate it. */
export function addressFromPublicKey(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new ProtocolError('INVALID_KEY', `an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  return addressMemo.get(publicKey);
}

const addressMemo = new AddressMemo(deriveAddress, 32);

function deriveAddress(publicKey: Uint8Array): Uint8Array {
  // One-shot hash over one 33-byte buffer: ~2.5x cheaper than a streaming hash, and every
  // decoded tx derives its sender here.
  const input = new Uint8Array(33);
  input[0] = SCHEME_ED25519[0]!;
  input.set(publicKey, 1);
  return sha256(input).slice(0, ADDRESS_LENGTH);
}

export function parseAddress(s: unknown, what = 'address'): Uint8Array {
  if (typeof s !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(s)) {
    throw new ProtocolError('INVALID_ADDRESS', `${what} must be 0x followed by 40 hex digits`);
  }
  return fromHex(s, ADDRESS_LENGTH, what);
}

export function formatAddress(a: Uint8Array): string {
  return toHex(a);
}
