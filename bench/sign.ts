/**
 * Fast signing for benchmark setup only: Node's built-in Ed25519 produces the same
 * (deterministic, RFC 8032) signatures as @noble/curves, ~10x faster. The SDK keeps noble.
 */
import * as nodeCrypto from 'node:crypto';
import { addressFromPublicKey } from '../protocol/address.js';
import { sha256 } from '../protocol/hash.js';
import { concatBytes } from '../protocol/hex.js';
import type { KeyPair } from '../protocol/keys.js';
import { encodeTxBody, txSigningBytes, type SignedTx, type UnsignedTx } from '../protocol/tx.js';

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const keyObjects = new WeakMap<Uint8Array, nodeCrypto.KeyObject>();

export function signTxFast(tx: UnsignedTx, key: KeyPair): SignedTx {
  let ko = keyObjects.get(key.privateKey);
  if (!ko) {
    ko = nodeCrypto.createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, key.privateKey)), format: 'der', type: 'pkcs8' });
    keyObjects.set(key.privateKey, ko);
  }
  const body = encodeTxBody(tx);
  const signature = new Uint8Array(nodeCrypto.sign(null, txSigningBytes(body), ko));
  const raw = concatBytes(body, signature);
  return { ...tx, args: [...tx.args], signature, sender: addressFromPublicKey(tx.senderPublicKey), hash: sha256(raw), raw, bodyLength: body.length };
}
