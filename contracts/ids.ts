/**
 * Object ids (tokens, collections, DAOs, proposals, listings): 20 bytes derived from the
 * creating transaction, SHA-256(label || txHash)[0..20]. No shared counter is read or
 * written, so creating objects never makes transactions conflict under Block-STM.
 */
import { utf8 } from '../protocol/codec.js';
import { sha256Concat } from '../protocol/hash.js';

export function deriveId(label: string, txHash: Uint8Array, salt = 0): Uint8Array {
  return sha256Concat(utf8(`pel:${label}`), txHash, new Uint8Array([salt])).slice(0, 20);
}
