/**
 * The strict Ed25519 rule set (protocol/verify.ts, docs/PROTOCOL.md "Signatures").
 * The pinned truth is our rule set; both implementations must return it on every input.
 * Permissive verifiers (noble with zip215, OpenSSL without our prechecks) appear only to
 * show that each rejecting vector is rejected by the rule it names and not by accident.
 */
import * as nodeCrypto from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../../protocol/codec.js';
import { concatBytes, fromHex, toHex } from '../../../protocol/hex.js';
import { createVerifier, NativeVerifier, NobleVerifier, passesStrictPrechecks, SodiumVerifier, sodiumAvailable } from '../../../protocol/verify.js';
import {
  bigintToBytesLE,
  bytesToBigintLE,
  challenge,
  encodeY,
  FIELD_P,
  ORDER_L,
  scalarFromLabel,
  signatureCases,
  signWithScalar,
  smallOrderPoints,
} from '../../vectors/generate.js';

const native = new NativeVerifier();
const noble = new NobleVerifier();
const sodium = new SodiumVerifier();

/** All three verifiers, required to agree; returns the common verdict. */
function verdict(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const a = native.verify(pk, msg, sig);
  const b = noble.verify(pk, msg, sig);
  const c = sodium.verify(pk, msg, sig);
  expect(b, `native=${a} noble=${b} pk=${toHex(pk)} sig=${toHex(sig)}`).toBe(a);
  expect(c, `native=${a} sodium=${c} pk=${toHex(pk)} sig=${toHex(sig)}`).toBe(a);
  return a;
}

/** OpenSSL's Ed25519 with none of our checks in front (informational only). */
function opensslUnchecked(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    const spki = concatBytes(fromHex('0x302a300506032b6570032100'), pk);
    const key = nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    return nodeCrypto.verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

function nobleVerify(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array, zip215: boolean): boolean {
  try {
    return ed25519.verify(sig, msg, pk, { zip215 });
  } catch {
    return false;
  }
}

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const msgArb = fc.uint8Array({ maxLength: 200 });
const scalarArb = fc.bigInt({ min: 1n, max: ORDER_L - 1n });

describe('fixed cases (test/vectors/signatures.json)', () => {
  const cases = signatureCases();

  it('contain accepted and rejected cases with unique names', () => {
    expect(cases.filter((c) => c.valid).length).toBeGreaterThanOrEqual(3);
    expect(cases.filter((c) => !c.valid).length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.valid ? 'accepted' : 'rejected'} (${c.reason})`, () => {
      expect(verdict(c.publicKey, c.message, c.signature)).toBe(c.valid);
    });
  }

  it('RFC 8032 TEST 1 signature is the one published in the RFC', () => {
    const c = cases.find((x) => x.name === 'rfc8032-test1')!;
    expect(toHex(c.publicKey)).toBe('0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(toHex(c.signature)).toBe(
      '0xe5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  // Each rejecting vector would pass a permissive verifier, so it is rejected by the strict
  // rule it names. If a library upgrade changes one of these, re-check the vector's reason.
  it('permissive verifiers accept the vectors the strict rules exist for', () => {
    const byName = new Map(cases.map((c) => [c.name, c]));
    const zip215Accepts = [
      ...Array.from({ length: 8 }, (_, i) => `small-order-key-${i}`),
      'small-order-key-neg-zero-x',
      'small-order-key-order2-neg-zero-x',
      ...Array.from({ length: 8 }, (_, i) => `small-order-r-${i}`),
      'noncanonical-key-p+0',
      'noncanonical-key-p+1',
      'noncanonical-key-p+0-signed',
      'noncanonical-key-p+1-signed',
      'noncanonical-r-p+1',
      'noncanonical-r-p',
      'mixed-order-key-rejected',
      'mixed-order-r',
    ];
    for (const name of zip215Accepts) {
      const c = byName.get(name)!;
      expect(c.valid, name).toBe(false);
      expect(nobleVerify(c.publicKey, c.message, c.signature, true), name).toBe(true);
    }
    // Without rules 1-3, OpenSSL's cofactorless check alone accepts these.
    for (const name of ['small-order-key-0', 'small-order-key-neg-zero-x', 'small-order-r-0', 'noncanonical-key-p+1', 'key-33-bytes']) {
      const c = byName.get(name)!;
      expect(opensslUnchecked(c.publicKey, c.message, c.signature), name).toBe(true);
    }
    // S + L: the group equation holds for S + L exactly as for S.
    const spl = byName.get('s-plus-l')!;
    const valid = byName.get('valid')!;
    const S = bytesToBigintLE(valid.signature.subarray(32));
    expect(bytesToBigintLE(spl.signature.subarray(32))).toBe(S + ORDER_L);
    // (S + L)*B = S*B + L*B and L*B = (L - 1)*B + B is the identity.
    expect(ed25519.Point.BASE.multiply(ORDER_L - 1n).add(ed25519.Point.BASE).is0()).toBe(true);
  });
});

describe('small-order and non-canonical encodings', () => {
  it('the eight small-order points are the well-known encodings', () => {
    const encs = smallOrderPoints().map((p) => toHex(p.point.toBytes())).sort();
    expect(encs).toEqual(
      [
        '0x0100000000000000000000000000000000000000000000000000000000000000',
        '0xecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
        '0x0000000000000000000000000000000000000000000000000000000000000000',
        '0x0000000000000000000000000000000000000000000000000000000000000080',
        '0x26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
        '0x26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
        '0xc7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
        '0xc7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
      ].sort(),
    );
    expect(smallOrderPoints().map((p) => p.order)).toEqual([1, 8, 4, 8, 2, 8, 4, 8]);
  });

  it('rejects each small-order point as A and as R, with either x sign bit', () => {
    const a = scalarFromLabel('verify.test small-order');
    const A = ed25519.Point.BASE.multiply(a).toBytes();
    const msg = utf8('small order');
    const good = signWithScalar(a, scalarFromLabel('verify.test r'), A, msg);
    expect(verdict(A, msg, good)).toBe(true);
    for (const { point } of smallOrderPoints()) {
      for (const sign of [0, 0x80]) {
        const enc = point.toBytes();
        enc[31] = (enc[31]! & 0x7f) | sign;
        expect(passesStrictPrechecks(enc, good)).toBe(false);
        expect(verdict(enc, msg, good)).toBe(false);
        const sig = concatBytes(enc, bigintToBytesLE((challenge(enc, A, msg) * a) % ORDER_L, 32));
        expect(passesStrictPrechecks(A, sig)).toBe(false);
        expect(verdict(A, msg, sig)).toBe(false);
      }
    }
  });

  it('rejects every y >= p (p .. 2^255 - 1) in A and in R, with either sign bit', () => {
    const a = scalarFromLabel('verify.test non-canonical');
    const A = ed25519.Point.BASE.multiply(a).toBytes();
    const msg = utf8('non-canonical');
    const good = signWithScalar(a, scalarFromLabel('verify.test r2'), A, msg);
    for (let y = FIELD_P; y < 1n << 255n; y++) {
      for (const sign of [0, 1] as const) {
        const enc = encodeY(y, sign);
        expect(verdict(enc, msg, good)).toBe(false);
        const sig = concatBytes(enc, good.subarray(32));
        expect(passesStrictPrechecks(A, sig)).toBe(false);
        expect(verdict(A, msg, sig)).toBe(false);
      }
    }
  });

  it('accepts canonical y just below the small-order values when they are valid keys', () => {
    // Rule 3 is an exact set, not a range: neighbours of the excluded y are ordinary points.
    let tested = 0;
    for (const y of [2n, 3n, 4n, 5n, 6n, FIELD_P - 2n, FIELD_P - 3n]) {
      let ok = true;
      try {
        ed25519.Point.fromBytes(encodeY(y, 0));
      } catch {
        ok = false;
      }
      const zeroSig = concatBytes(ed25519.Point.BASE.toBytes(), new Uint8Array(32));
      if (ok) {
        expect(passesStrictPrechecks(encodeY(y, 0), zeroSig)).toBe(true);
        tested++;
      }
    }
    expect(tested).toBeGreaterThan(0);
  });
});

describe('random signatures (fast-check)', () => {
  it('valid signatures are accepted by both', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const pk = ed25519.getPublicKey(seed);
        const sig = ed25519.sign(msg, seed);
        expect(verdict(pk, msg, sig)).toBe(true);
        // Informational: noble's own strict mode agrees on ordinary valid signatures.
        expect(nobleVerify(pk, msg, sig, false)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('a tampered message, signature bit or key bit is rejected by both', () => {
    fc.assert(
      fc.property(seedArb, msgArb, msgArb, fc.nat(511), fc.nat(255), (seed, msg, other, sigBit, keyBit) => {
        fc.pre(toHex(msg) !== toHex(other));
        const pk = ed25519.getPublicKey(seed);
        const sig = ed25519.sign(msg, seed);
        expect(verdict(pk, other, sig)).toBe(false);
        const badSig = sig.slice();
        badSig[sigBit >> 3]! ^= 1 << (sigBit & 7);
        expect(verdict(pk, msg, badSig)).toBe(false);
        const badKey = pk.slice();
        badKey[keyBit >> 3]! ^= 1 << (keyBit & 7);
        expect(verdict(badKey, msg, sig)).toBe(false);
        expect(nobleVerify(pk, other, sig, false)).toBe(false);
        expect(nobleVerify(pk, msg, badSig, false)).toBe(false);
        expect(nobleVerify(badKey, msg, sig, false)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('S + L (non-canonical S) is rejected by both', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const pk = ed25519.getPublicKey(seed);
        const sig = ed25519.sign(msg, seed);
        const S = bytesToBigintLE(sig.subarray(32));
        const mall = concatBytes(sig.subarray(0, 32), bigintToBytesLE(S + ORDER_L, 32));
        expect(passesStrictPrechecks(pk, mall)).toBe(false);
        expect(verdict(pk, msg, mall)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('wrong lengths are rejected without throwing', () => {
    const lenArb = fc.nat(100);
    fc.assert(
      fc.property(seedArb, msgArb, lenArb, lenArb, (seed, msg, pkLen, sigLen) => {
        fc.pre(pkLen !== 32 || sigLen !== 64);
        const pk = ed25519.getPublicKey(seed);
        const sig = ed25519.sign(msg, seed);
        const pk2 = new Uint8Array(pkLen);
        pk2.set(pk.subarray(0, Math.min(32, pkLen)));
        const sig2 = new Uint8Array(sigLen);
        sig2.set(sig.subarray(0, Math.min(64, sigLen)));
        expect(verdict(pk2, msg, sig2)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('random bytes: both agree (and reject)', () => {
    fc.assert(
      fc.property(seedArb, fc.uint8Array({ minLength: 64, maxLength: 64 }), msgArb, (pk, sig, msg) => {
        expect(verdict(pk, msg, sig)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('mixed-order public keys A = a*B + T', () => {
  const torsion = smallOrderPoints();

  it('over many messages both give the same verdict: accept exactly when k*T = identity', () => {
    const a = scalarFromLabel('verify.test mixed a');
    const T8 = torsion[1]!.point;
    const A = ed25519.Point.BASE.multiply(a).add(T8).toBytes();
    expect(passesStrictPrechecks(A, signWithScalar(a, 1n, A, new Uint8Array(0)))).toBe(true);
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 256; i++) {
      const msg = utf8(`mixed-order message ${i}`);
      const r = scalarFromLabel(`verify.test mixed r ${i}`);
      const sig = signWithScalar(a, r, A, msg);
      const k = challenge(sig.subarray(0, 32), A, msg);
      const expected = T8.multiplyUnsafe(k).is0();
      expect(expected).toBe(k % 8n === 0n);
      expect(verdict(A, msg, sig)).toBe(expected);
      if (expected) accepted++;
      else rejected++;
    }
    expect(accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  it('random a, torsion T (orders 2, 4, 8), messages: verdict = (k*T = identity)', () => {
    const seen = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(scalarArb, scalarArb, fc.integer({ min: 1, max: 7 }), msgArb, (a, r, ti, msg) => {
        const T = torsion[ti]!.point;
        const A = ed25519.Point.BASE.multiply(a).add(T).toBytes();
        const sig = signWithScalar(a, r, A, msg);
        const k = challenge(sig.subarray(0, 32), A, msg);
        const expected = T.multiplyUnsafe(k).is0();
        expect(verdict(A, msg, sig)).toBe(expected);
        if (expected) seen.accepted++;
        else seen.rejected++;
      }),
      { numRuns: 200 },
    );
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.rejected).toBeGreaterThan(0);
  });

  it('torsion in both A and R: verdict = (T_R + k*T_A = identity)', () => {
    fc.assert(
      fc.property(scalarArb, scalarArb, fc.nat(7), fc.integer({ min: 1, max: 7 }), msgArb, (a, r, ta, tr, msg) => {
        const TA = torsion[ta]!.point;
        const TR = torsion[tr]!.point;
        const A = ed25519.Point.BASE.multiply(a).add(TA).toBytes();
        const R = ed25519.Point.BASE.multiply(r).add(TR).toBytes();
        const k = challenge(R, A, msg);
        const sig = concatBytes(R, bigintToBytesLE((r + k * a) % ORDER_L, 32));
        const expected = TR.add(TA.multiplyUnsafe(k)).is0();
        expect(verdict(A, msg, sig)).toBe(expected);
      }),
      { numRuns: 150 },
    );
  });
});

describe('strict prechecks (byte comparisons) against their bigint definition', () => {
  const P = (1n << 255n) - 19n;
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const C8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
  const small = new Set([0n, 1n, P - 1n, C8, P - C8]);
  const le = (b: Uint8Array, from: number): bigint => {
    let v = 0n;
    for (let i = from + 31; i >= from; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  };
  const y = (b: Uint8Array, from: number): bigint => le(b, from) & ((1n << 255n) - 1n);
  const reference = (pk: Uint8Array, sig: Uint8Array): boolean =>
    le(sig, 32) < L && y(pk, 0) < P && !small.has(y(pk, 0)) && y(sig, 0) < P && !small.has(y(sig, 0));
  const toLe = (v: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
  // Values at and around every boundary the checks draw, with and without the sign bit.
  const edges = [0n, 1n, 2n, P - 2n, P - 1n, P, P + 1n, (1n << 255n) - 1n, C8 - 1n, C8, C8 + 1n, P - C8, L - 1n, L, L + 1n, (1n << 256n) - 1n];
  const edge = fc.constantFrom(...edges).chain((v) => fc.boolean().map((sign) => toLe(sign ? v | (1n << 255n) : v)));
  const word = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), edge);

  it('agree on random and boundary keys, R and S (fast-check)', () => {
    fc.assert(
      fc.property(word, word, word, (pk, r, sBytes) => {
        const sig = concatBytes(r, sBytes.map((b, i) => (i === 31 ? b & 0x7f : b)));
        const sig2 = concatBytes(r, sBytes);
        expect(passesStrictPrechecks(pk, sig)).toBe(reference(pk, sig));
        expect(passesStrictPrechecks(pk, sig2)).toBe(reference(pk, sig2));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('verifier plumbing', () => {
  it('createVerifier picks the implementation', () => {
    // sodium-native ships prebuilt binaries for this platform, so the default is libsodium.
    expect(sodiumAvailable()).toBe(true);
    expect(createVerifier().impl).toBe('sodium');
    expect(createVerifier('sodium').impl).toBe('sodium');
    expect(createVerifier('native').impl).toBe('native');
    expect(createVerifier('noble').impl).toBe('noble');
  });

  it('the native key cache stays correct past its size and for keys inside larger buffers', () => {
    const v = new NativeVerifier(2);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5; i++) {
        const seed = new Uint8Array(32).fill(i + 1);
        const pk = ed25519.getPublicKey(seed);
        const msg = utf8(`cache ${i}`);
        const sig = ed25519.sign(msg, seed);
        // Key as a view at an offset into a bigger buffer.
        const big = new Uint8Array(100);
        big.set(pk, 17);
        expect(v.verify(big.subarray(17, 49), msg, sig)).toBe(true);
        expect(v.verify(pk, utf8('other'), sig)).toBe(false);
      }
    }
  });
});
