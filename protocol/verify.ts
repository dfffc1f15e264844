/**
 * Strict Ed25519 verification: one rule set, three implementations.
 *
 * Rules (docs/PROTOCOL.md, "Signatures"), applied before any curve arithmetic:
 *   1. public key 32 bytes, signature 64 bytes = R (32) || S (32);
 *   2. S, read little-endian, is < L (canonical scalar);
 *   3. A and R encode a y-coordinate < p (canonical) and are not one of the 8 small-order
 *      points (y not in {0, 1, p-1, +-c});
 *   4. the cofactorless equation of RFC 8032 holds: encode([S]B - [k]A) == R with
 *      k = SHA-512(R || A || M) mod L.
 * OpenSSL (Node's built-in crypto), libsodium (sodium-native) and the pure-JS path all
 * evaluate rule 4 cofactorless with a byte comparison, so with rules 1-3 in front they
 * accept exactly the same set;
 * test/unit/protocol/verify.test.ts pins that on valid, malleated, small-order,
 * non-canonical and mixed-order vectors.
 */
import * as nodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from './hex.js';
import { LruCache } from './lru.js';

const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
/** y of the order-8 points; the other small-order y are 0, 1, p-1 and p-c. */
const C8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, C8, P - C8]);

function leToBigint(b: Uint8Array, from: number, to: number): bigint {
  let v = 0n;
  for (let i = to - 1; i >= from; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function bigintToLe32(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/**
 * Rules 2 and 3 as byte comparisons (this runs before every verify; the bigint form cost
 * ~2.6 us of a ~60 us libsodium verify). Constants are little-endian 32-byte encodings.
 */
const L_LE = bigintToLe32(L);
const P_LE = bigintToLe32(P);
const SMALL_ORDER_Y_LE = [...SMALL_ORDER_Y].map(bigintToLe32);

/** a < b for little-endian 32-byte numbers, with bit 255 of `a` cleared when `maskSign`. */
function lessThanLe(a: Uint8Array, offset: number, b: Uint8Array, maskSign: boolean): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 && maskSign ? a[offset + i]! & 0x7f : a[offset + i]!;
    const y = b[i]!;
    if (x !== y) return x < y;
  }
  return false;
}

function acceptablePoint(enc: Uint8Array, offset: number): boolean {
  if (!lessThanLe(enc, offset, P_LE, true)) return false;
  for (const y of SMALL_ORDER_Y_LE) {
    let same = (enc[offset + 31]! & 0x7f) === y[31];
    for (let i = 0; same && i < 31; i++) same = enc[offset + i] === y[i];
    if (same) return false;
  }
  return true;
}

/** Rules 1-3: cheap checks shared by all implementations. */
export function passesStrictPrechecks(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!lessThanLe(signature, 32, L_LE, false)) return false;
  return acceptablePoint(publicKey, 0) && acceptablePoint(signature, 0);
}

export type VerifyImpl = 'native' | 'sodium' | 'noble';

export interface SignatureVerifier {
  readonly impl: VerifyImpl;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** Node's built-in (OpenSSL) Ed25519, with a bounded LRU cache of parsed public keys (null: not a valid key). */
export class NativeVerifier implements SignatureVerifier {
  readonly impl = 'native' as const;
  private readonly keys: LruCache<string, nodeCrypto.KeyObject | null>;
  constructor(cacheSize = 8192) {
    this.keys = new LruCache(cacheSize);
  }

  private keyObject(publicKey: Uint8Array): nodeCrypto.KeyObject | null {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('latin1');
    let k = this.keys.get(id);
    if (k === undefined) {
      try {
        k = nodeCrypto.createPublicKey({ key: Buffer.from(concatBytes(SPKI_ED25519_PREFIX, publicKey)), format: 'der', type: 'spki' });
      } catch {
        k = null;
      }
      this.keys.set(id, k);
    }
    return k;
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (!passesStrictPrechecks(publicKey, signature)) return false;
    const key = this.keyObject(publicKey);
    if (key === null) return false;
    try {
      return nodeCrypto.verify(null, message, key, signature);
    } catch {
      return false;
    }
  }
}

/** Pure JS (@noble/curves), cofactorless like OpenSSL. */
export class NobleVerifier implements SignatureVerifier {
  readonly impl = 'noble' as const;

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (!passesStrictPrechecks(publicKey, signature)) return false;
    try {
      const A = ed25519.Point.fromBytes(publicKey);
      const R = signature.subarray(0, 32);
      const S = leToBigint(signature, 32, 64);
      const k = leToBigint(sha512(concatBytes(R, publicKey, message)), 0, 64) % L;
      const check = ed25519.Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k)).toBytes();
      if (check.length !== 32) return false;
      for (let i = 0; i < 32; i++) if (check[i] !== R[i]) return false;
      return true;
    } catch {
      return false;
    }
  }
}

/** The parts of sodium-native pel uses (signing only in benchmarks and the start-up warm-up). */
export interface SodiumBinding {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
}

/** libsodium through sodium-native (prebuilt binaries ship inside the npm package); null where it cannot load. */
const sodium: SodiumBinding | null = (() => {
  try {
    return createRequire(import.meta.url)('sodium-native') as SodiumBinding;
  } catch {
    return null;
  }
})();

export function sodiumAvailable(): boolean {
  return sodium !== null;
}

/** sodium-native, or null where it cannot load. */
export function sodiumBinding(): SodiumBinding | null {
  return sodium;
}

/**
 * libsodium's Ed25519 verify: about half the cost of OpenSSL's on the dev machine (53 vs
 * 112 us, `pel bench verify`). libsodium applies rules 2-4 itself as well; rules 1-3 stay
 * in front so every implementation answers from the same checks.
 */
export class SodiumVerifier implements SignatureVerifier {
  readonly impl = 'sodium' as const;

  constructor() {
    if (!sodium) throw new Error('sodium-native is not available on this platform');
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (!passesStrictPrechecks(publicKey, signature)) return false;
    try {
      return sodium!.crypto_sign_verify_detached(signature, message, publicKey);
    } catch {
      return false;
    }
  }
}

/** The fastest implementation available here: libsodium, else OpenSSL. */
export const DEFAULT_VERIFY_IMPL: VerifyImpl = sodium ? 'sodium' : 'native';

export function createVerifier(impl: VerifyImpl = DEFAULT_VERIFY_IMPL): SignatureVerifier {
  if (impl === 'sodium') return new SodiumVerifier();
  return impl === 'native' ? new NativeVerifier() : new NobleVerifier();
}
