/**
 * Fast signing for benchmark set-up and the node's start-up warm-up only: libsodium
 * (sodium-native, ~18 us a signature on the dev VM) where it loads, else Node's built-in
 * Ed25519 (~37 us). Both produce the same deterministic RFC 8032 signatures as
 * @noble/curves (test/unit/bench/sign.test.ts); the SDK keeps noble.
 */
import * as nodeCrypto from 'node:crypto';
import { concatBytes } from '../protocol/hex.js';
import type { KeyPair } from '../protocol/keys.js';
import { encodeTxBody, signedTxOf, txSigningBytes, type SignedTx, type UnsignedTx } from '../protocol/tx.js';
import { sodiumBinding } from '../protocol/verify.js';

const sodium = sodiumBinding();

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const keyObjects = new WeakMap<Uint8Array, nodeCrypto.KeyObject>();
/** libsodium's 64-byte secret key: seed || public key. */
const sodiumKeys = new WeakMap<Uint8Array, Uint8Array>();

function sign(message: Uint8Array, key: KeyPair, impl: 'sodium' | 'openssl'): Uint8Array {
  if (impl === 'sodium' && sodium) {
    let sk = sodiumKeys.get(key.privateKey);
    if (!sk) sodiumKeys.set(key.privateKey, (sk = concatBytes(key.privateKey, key.publicKey)));
    const signature = new Uint8Array(64);
    sodium.crypto_sign_detached(signature, message, sk);
    return signature;
  }
  let ko = keyObjects.get(key.privateKey);
  if (!ko) {
    ko = nodeCrypto.createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, key.privateKey)), format: 'der', type: 'pkcs8' });
    keyObjects.set(key.privateKey, ko);
  }
  return new Uint8Array(nodeCrypto.sign(null, message, ko));
}

/** `impl` is for tests; the default is the fastest available. */
export function signTxFast(tx: UnsignedTx, key: KeyPair, impl: 'sodium' | 'openssl' = 'sodium'): SignedTx {
  const body = encodeTxBody(tx);
  const signature = sign(txSigningBytes(body), key, impl);
  return signedTxOf(tx, body, signature);
}
