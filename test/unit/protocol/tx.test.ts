import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { expectCode } from './expect.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressFromPublicKey, parseAddress } from '../../../protocol/address.js';
import { U128_MAX, U64_MAX, utf8, Writer } from '../../../protocol/codec.js';
import { concatBytes, fromHex, toHex } from '../../../protocol/hex.js';
import { keyPairFromPrivateKey, sign, type KeyPair } from '../../../protocol/keys.js';
import {
  checkedTx,
  decodeTx,
  encodeTxBody,
  MAX_ARGS,
  MAX_TX_BYTES,
  MIN_TX_BYTES,
  signTx,
  TX_SIGN_DOMAIN,
  TX_VERSION,
  txSigningBytes,
  txSignatureParts,
  SigningScratch,
  txSigningBytesOf,
  txToJson,
  unsignedTx,
  type SignedTx,
  type UnsignedTx,
} from '../../../protocol/tx.js';
import { MAX_VALUE_BYTES, parseAmount, parseU64, v, valueFromJson, valueToJson, writeValue, type Value } from '../../../protocol/value.js';
import { NativeVerifier, NobleVerifier } from '../../../protocol/verify.js';


const KEYS: KeyPair[] = [1, 2, 3, 4].map((i) => keyPairFromPrivateKey(new Uint8Array(32).fill(i)));
const native = new NativeVerifier();
const noble = new NobleVerifier();

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.boolean().map(v.bool),
  fc.bigInt({ min: 0n, max: U64_MAX }).map(v.u64),
  fc.bigInt({ min: 0n, max: U128_MAX }).map(v.u128),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map(v.address),
  fc.uint8Array({ maxLength: 64 }).map(v.bytes),
  fc.string({ unit: 'binary', maxLength: 32 }).map(v.string),
);
const nameArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/);
const u64Arb = fc.bigInt({ min: 0n, max: U64_MAX });

const txArb = fc.record({
  key: fc.constantFrom(...KEYS),
  chainId: fc.integer({ min: 0, max: 0xffffffff }),
  nonce: u64Arb,
  gasLimit: u64Arb,
  gasPrice: u64Arb,
  expiry: u64Arb,
  module: nameArb,
  call: nameArb,
  args: fc.array(valueArb, { maxLength: MAX_ARGS }),
});

function unsigned(key: KeyPair, over: Partial<UnsignedTx> = {}): UnsignedTx {
  return {
    chainId: 1,
    senderPublicKey: key.publicKey,
    nonce: 0n,
    gasLimit: 100_000n,
    gasPrice: 1n,
    expiry: 100n,
    module: 'coin',
    call: 'transfer',
    args: [v.address(KEYS[1]!.address), v.u128(5n)],
    ...over,
  };
}

/** A signed-tx encoding built field by field, bypassing every encoder check. */
interface RawParts {
  version: number;
  chainId: number;
  pk: Uint8Array;
  module: string;
  call: string;
  argCount: number;
  args: Uint8Array;
  signature: Uint8Array;
}
function rawTx(over: Partial<RawParts> = {}): Uint8Array {
  const p: RawParts = {
    version: TX_VERSION,
    chainId: 1,
    pk: KEYS[0]!.publicKey,
    module: 'coin',
    call: 'transfer',
    argCount: 0,
    args: new Uint8Array(0),
    signature: new Uint8Array(64),
    ...over,
  };
  return new Writer()
    .u8(p.version).u32(p.chainId).raw(p.pk).u64(1n).u64(2n).u64(3n).u64(4n)
    .name(p.module).name(p.call).u16(p.argCount).raw(p.args).raw(p.signature)
    .finish();
}

function encodedValue(val: Value): Uint8Array {
  const w = new Writer();
  writeValue(w, val);
  return w.finish();
}

describe('sign / encode / decode round trip', () => {
  it('random fields and arguments of every Value type (fast-check)', () => {
    const scratch = new SigningScratch();
    fc.assert(
      fc.property(txArb, ({ key, ...fields }) => {
        const tx: UnsignedTx = { ...fields, senderPublicKey: key.publicKey };
        const body = encodeTxBody(tx);
        const signed = signTx(tx, key.privateKey);
        expect(signed.raw).toEqual(concatBytes(body, signed.signature));
        expect(signed.bodyLength).toBe(body.length);
        expect(signed.hash).toEqual(nobleSha256(signed.raw));
        expect(signed.sender).toEqual(key.address);

        const d = decodeTx(signed.raw);
        expect(d.chainId).toBe(tx.chainId);
        expect(d.senderPublicKey).toEqual(tx.senderPublicKey);
        expect([d.nonce, d.gasLimit, d.gasPrice, d.expiry]).toEqual([tx.nonce, tx.gasLimit, tx.gasPrice, tx.expiry]);
        expect([d.module, d.call]).toEqual([tx.module, tx.call]);
        expect(d.args).toEqual(tx.args);
        expect(d.signature).toEqual(signed.signature);
        expect(d.sender).toEqual(key.address);
        expect(d.hash).toEqual(signed.hash);
        expect(d.bodyLength).toBe(body.length);
        expect(encodeTxBody(d)).toEqual(body);
        // Every field, read through its accessor, is the same however the tx was made:
        // signed here, decoded, or built from bytes a worker decoded (checkedTx).
        const all = (t: SignedTx): unknown[] => [t.chainId, t.senderPublicKey, t.nonce, t.gasLimit, t.gasPrice, t.expiry, t.module, t.call, t.args, t.signature, t.sender, t.hash, t.raw, t.bodyLength];
        const input = signed.raw.slice();
        const checked = checkedTx(input, signed.hash);
        input.fill(0); // checkedTx keeps a private copy
        expect(all(checked)).toEqual(all(d));
        expect(all(signed)).toEqual(all(d));
        expect(unsignedTx(checked)).toEqual(tx);
        // The worker pool's shortcut cuts the same key, signing bytes and signature out of the raw bytes.
        const parts = txSignatureParts(signed.raw)!;
        expect(parts.publicKey).toEqual(d.senderPublicKey);
        expect(parts.signingBytes).toEqual(txSigningBytesOf(d));
        expect(parts.signature).toEqual(d.signature);
        // ... and with a reused scratch buffer (the workers' path), after a longer tx was in it.
        const withScratch = txSignatureParts(signed.raw, scratch)!;
        expect(withScratch.signingBytes).toEqual(txSigningBytesOf(d));
        expect(withScratch.publicKey).toEqual(d.senderPublicKey);
        expect(withScratch.signature).toEqual(d.signature);
        scratch.bytes.fill(0xee, 32);

        const signing = concatBytes(nobleSha256(utf8('pel:tx:v1')), body);
        expect(txSigningBytes(body)).toEqual(signing);
        expect(txSigningBytesOf(d)).toEqual(signing);
        expect(native.verify(d.senderPublicKey, signing, d.signature)).toBe(true);

        // JSON form carries the same arguments.
        const j = JSON.parse(JSON.stringify(txToJson(d))) as ReturnType<typeof txToJson>;
        expect(j.args.map((a) => valueFromJson(a))).toEqual(tx.args);
        expect(j.hash).toBe(toHex(d.hash));
      }),
      { numRuns: 150 },
    );
  });

  it('the signing domain is SHA-256("pel:tx:v1") and the signature covers domain || body', () => {
    expect(toHex(TX_SIGN_DOMAIN)).toBe('0x8d9acc0b4a4fe092d0201a020d4b15cbb2be0ede07e0df42502c638119fbf946');
    const key = KEYS[0]!;
    const signed = signTx(unsigned(key), key.privateKey);
    const body = signed.raw.subarray(0, signed.bodyLength);
    expect(noble.verify(key.publicKey, concatBytes(TX_SIGN_DOMAIN, body), signed.signature)).toBe(true);
    // A signature over the bare body is not a valid tx signature.
    const bare = sign(body, key.privateKey);
    expect(native.verify(key.publicKey, txSigningBytes(body), bare)).toBe(false);
  });

  it('the body layout is fixed-width little-endian in field order', () => {
    const key = KEYS[0]!;
    const body = encodeTxBody(unsigned(key, { chainId: 0x01020304, nonce: 5n, gasLimit: 6n, gasPrice: 7n, expiry: 8n, args: [] }));
    expect(toHex(body)).toBe(
      '0x01' + '04030201' + toHex(key.publicKey).slice(2) + '0500000000000000' + '0600000000000000' + '0700000000000000' + '0800000000000000' +
        '04' + toHex(utf8('coin')).slice(2) + '08' + toHex(utf8('transfer')).slice(2) + '0000',
    );
  });

  it('empty args and exactly MAX_ARGS args', () => {
    const key = KEYS[0]!;
    for (const args of [[], Array.from({ length: MAX_ARGS }, (_, i) => v.u64(BigInt(i)))]) {
      const s = signTx(unsigned(key, { args }), key.privateKey);
      expect(decodeTx(s.raw).args).toEqual(args);
    }
  });

  it('a transaction of exactly MAX_TX_BYTES encodes and decodes; one byte more does not', () => {
    const key = KEYS[0]!;
    const base = unsigned(key, { module: 'm', call: 'c' });
    // fixed part 1+4+32+4*8 + (1+1) + (1+1) + 2 + 64 signature = 139; each bytes arg = 1 tag + 4 length + n
    const fixed = 139 + 4 * 5 + 3 * MAX_VALUE_BYTES;
    const last = MAX_TX_BYTES - fixed;
    const big = (n: number): Value => v.bytes(new Uint8Array(n).fill(7));
    const exact = { ...base, args: [big(MAX_VALUE_BYTES), big(MAX_VALUE_BYTES), big(MAX_VALUE_BYTES), big(last)] };
    const s = signTx(exact, key.privateKey);
    expect(s.raw.length).toBe(MAX_TX_BYTES);
    expect(decodeTx(s.raw).hash).toEqual(s.hash);
    expectCode(() => encodeTxBody({ ...base, args: [big(MAX_VALUE_BYTES), big(MAX_VALUE_BYTES), big(MAX_VALUE_BYTES), big(last + 1)] }), 'TX_TOO_LARGE');
    expectCode(() => decodeTx(concatBytes(s.raw, new Uint8Array(1))), 'TX_TOO_LARGE');
    expectCode(() => decodeTx(new Uint8Array(MAX_TX_BYTES + 1)), 'TX_TOO_LARGE');
  });

  it('the shortest tx is MIN_TX_BYTES (139) long, and no shorter bytes decode (fast-check)', () => {
    const key = KEYS[0]!;
    const smallest = signTx(unsigned(key, { module: 'm', call: 'c', args: [] }), key.privateKey);
    expect(MIN_TX_BYTES).toBe(139);
    expect(smallest.raw.length).toBe(MIN_TX_BYTES);
    expect(decodeTx(smallest.raw).hash).toEqual(smallest.hash);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MIN_TX_BYTES - 1 }), (raw) => {
        expect(() => decodeTx(raw)).toThrow();
      }),
      { numRuns: 500 },
    );
    for (let n = 0; n < MIN_TX_BYTES; n++) expectCode(() => decodeTx(smallest.raw.subarray(0, n)), 'DECODE_ERROR');
    // Refused from the length alone, before any field is read.
    expect(() => decodeTx(smallest.raw.subarray(0, MIN_TX_BYTES - 1))).toThrow('transaction is 138 bytes, shorter than the shortest possible (139)');
  });

  it('decodeTx keeps its own copy of the input', () => {
    const key = KEYS[0]!;
    const raw = signTx(unsigned(key), key.privateKey).raw.slice();
    const d = decodeTx(raw);
    raw.fill(0);
    expect(d.raw[0]).toBe(TX_VERSION);
    expect(d.hash).toEqual(nobleSha256(d.raw));
  });
});

describe('encoder rejections', () => {
  const key = KEYS[0]!;
  const badNames = ['', 'Coin', 'cOin', 'COIN', '1coin', '_coin', 'co-in', 'co in', 'coin\n', 'é', 'a'.repeat(33)];

  it('bad module and call names throw INVALID_NAME; the edge of the rule is accepted', () => {
    for (const n of badNames) {
      expectCode(() => encodeTxBody(unsigned(key, { module: n })), 'INVALID_NAME');
      expectCode(() => encodeTxBody(unsigned(key, { call: n })), 'INVALID_NAME');
    }
    for (const n of ['a', 'a'.repeat(32), 'a_1', 'z9_', 'x0']) encodeTxBody(unsigned(key, { module: n, call: n }));
  });

  it('too many args, out-of-range fields, wrong lengths and oversized values throw', () => {
    expectCode(() => encodeTxBody(unsigned(key, { args: Array.from({ length: MAX_ARGS + 1 }, () => v.bool(true)) })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { nonce: U64_MAX + 1n })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { gasPrice: -1n })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { chainId: 2 ** 32 })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { senderPublicKey: new Uint8Array(31) })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { args: [v.address(new Uint8Array(19))] })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { args: [v.u64(U64_MAX + 1n)] })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { args: [v.u128(U128_MAX + 1n)] })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { args: [v.bytes(new Uint8Array(MAX_VALUE_BYTES + 1))] })), 'INVALID_VALUE');
    expectCode(() => encodeTxBody(unsigned(key, { args: [v.string('x'.repeat(MAX_VALUE_BYTES + 1))] })), 'INVALID_VALUE');
    // The limit counts UTF-8 bytes: 8193 two-byte characters are 16386 bytes.
    expectCode(() => encodeTxBody(unsigned(key, { args: [v.string('é'.repeat(MAX_VALUE_BYTES / 2 + 1))] })), 'INVALID_VALUE');
  });

  it('string values keep a leading U+FEFF through encode and decode', () => {
    const args = [v.string('\ufeffhi'), v.string('\ufeff')];
    const s = signTx(unsigned(key, { args }), key.privateKey);
    expect(decodeTx(s.raw).args).toEqual(args);
  });

  it('values at MAX_VALUE_BYTES encode and decode', () => {
    const args = [v.bytes(new Uint8Array(MAX_VALUE_BYTES)), v.string('é'.repeat(MAX_VALUE_BYTES / 2))];
    const s = signTx(unsigned(key, { args }), key.privateKey);
    expect(decodeTx(s.raw).args).toEqual(args);
  });
});

describe('decoder rejections', () => {
  it('the crafted baseline decodes', () => {
    const d = decodeTx(rawTx());
    expect([d.module, d.call, d.args.length]).toEqual(['coin', 'transfer', 0]);
    expect([d.nonce, d.gasLimit, d.gasPrice, d.expiry]).toEqual([1n, 2n, 3n, 4n]);
  });

  it('wrong version', () => {
    for (const version of [0, 2, 255]) expectCode(() => decodeTx(rawTx({ version })), 'UNSUPPORTED_VERSION');
  });

  it('bad names', () => {
    for (const n of ['', 'Coin', '1coin', '_x', 'a-b', 'a'.repeat(33), 'é']) {
      expectCode(() => decodeTx(rawTx({ module: n })), 'INVALID_NAME');
      expectCode(() => decodeTx(rawTx({ call: n })), 'INVALID_NAME');
    }
    // A leading byte order mark is part of the name, so EF BB BF "coin" is not "coin".
    expectCode(() => decodeTx(rawTx({ module: '\ufeffcoin' })), 'INVALID_NAME');
    expectCode(() => decodeTx(rawTx({ call: '\ufefftransfer' })), 'INVALID_NAME');
    // A name that is not UTF-8 fails earlier, as a decoding error.
    const bad = rawTx({ module: 'ab' });
    bad[1 + 4 + 32 + 32 + 1] = 0xff;
    expectCode(() => decodeTx(bad), 'DECODE_ERROR');
  });

  it('too many args', () => {
    const args = concatBytes(...Array.from({ length: MAX_ARGS + 1 }, () => encodedValue(v.bool(true))));
    expectCode(() => decodeTx(rawTx({ argCount: MAX_ARGS + 1, args })), 'DECODE_ERROR');
    expectCode(() => decodeTx(rawTx({ argCount: 0xffff })), 'DECODE_ERROR');
    const ok = concatBytes(...Array.from({ length: MAX_ARGS }, () => encodedValue(v.bool(true))));
    expect(decodeTx(rawTx({ argCount: MAX_ARGS, args: ok })).args.length).toBe(MAX_ARGS);
  });

  it('argCount larger than the arguments present', () => {
    expectCode(() => decodeTx(rawTx({ argCount: 2, args: encodedValue(v.u64(1n)) })), 'DECODE_ERROR');
  });

  it('trailing bytes', () => {
    expectCode(() => decodeTx(concatBytes(rawTx(), new Uint8Array([0]))), 'TRAILING_BYTES');
    const key = KEYS[0]!;
    const s = signTx(unsigned(key), key.privateKey);
    expectCode(() => decodeTx(concatBytes(s.raw, new Uint8Array(3))), 'TRAILING_BYTES');
  });

  it('every truncation of a signed tx with every value type', () => {
    const key = KEYS[2]!;
    const args = [v.bool(true), v.u64(1n), v.u128(2n), v.address(key.address), v.bytes(fromHex('0x0102')), v.string('hé')];
    const raw = signTx(unsigned(key, { args }), key.privateKey).raw;
    for (let n = 0; n < raw.length; n++) expectCode(() => decodeTx(raw.subarray(0, n)), 'DECODE_ERROR');
  });

  it('unknown value tags and a bool byte other than 0 or 1', () => {
    for (const tag of [0, 7, 0x80, 0xff]) expectCode(() => decodeTx(rawTx({ argCount: 1, args: new Uint8Array([tag, 0, 0, 0, 0, 0, 0, 0, 0]) })), 'DECODE_ERROR');
    for (const b of [2, 0xff]) expectCode(() => decodeTx(rawTx({ argCount: 1, args: new Uint8Array([1, b]) })), 'DECODE_ERROR');
    expect(decodeTx(rawTx({ argCount: 2, args: new Uint8Array([1, 0, 1, 1]) })).args).toEqual([v.bool(false), v.bool(true)]);
  });

  it('oversized bytes and string values, and invalid UTF-8 in a string value', () => {
    const over = new Writer().u8(5).bytes(new Uint8Array(MAX_VALUE_BYTES + 1)).finish();
    expectCode(() => decodeTx(rawTx({ argCount: 1, args: over })), 'DECODE_ERROR');
    const overStr = new Writer().u8(6).bytes(new Uint8Array(MAX_VALUE_BYTES + 1).fill(0x61)).finish();
    expectCode(() => decodeTx(rawTx({ argCount: 1, args: overStr })), 'DECODE_ERROR');
    const badUtf8 = new Writer().u8(6).bytes(fromHex('0x61ff')).finish();
    expectCode(() => decodeTx(rawTx({ argCount: 1, args: badUtf8 })), 'DECODE_ERROR');
  });

  it('decoding does not verify the signature', () => {
    const d = decodeTx(rawTx({ signature: new Uint8Array(64).fill(9) }));
    expect(native.verify(d.senderPublicKey, txSigningBytesOf(d), d.signature)).toBe(false);
    expect(noble.verify(d.senderPublicKey, txSigningBytesOf(d), d.signature)).toBe(false);
  });

  it('the hash is SHA-256 of the whole signed encoding and the sender is derived from the key', () => {
    const raw = rawTx();
    const d = decodeTx(raw);
    expect(d.hash).toEqual(nobleSha256(raw));
    expect(d.sender).toEqual(addressFromPublicKey(KEYS[0]!.publicKey));
    expect(d.sender).toEqual(nobleSha256(concatBytes(new Uint8Array([0]), KEYS[0]!.publicKey)).subarray(0, 20));
  });
});

describe('Value JSON', () => {
  it('valueFromJson(valueToJson(v)) = v, also through JSON text (fast-check)', () => {
    fc.assert(
      fc.property(valueArb, (val) => {
        const j = valueToJson(val);
        expect(valueFromJson(j)).toEqual(val);
        expect(valueFromJson(JSON.parse(JSON.stringify(j)))).toEqual(val);
      }),
    );
  });

  it('the JSON form: decimal strings, lower-case 0x hex, booleans, strings', () => {
    expect(valueToJson(v.u128(U128_MAX))).toEqual({ type: 'u128', value: '340282366920938463463374607431768211455' });
    expect(valueToJson(v.u64(0n))).toEqual({ type: 'u64', value: '0' });
    expect(valueToJson(v.address(fromHex('0x' + 'AB'.repeat(20))))).toEqual({ type: 'address', value: '0x' + 'ab'.repeat(20) });
    expect(valueToJson(v.bytes(new Uint8Array(0)))).toEqual({ type: 'bytes', value: '0x' });
    expect(valueToJson(v.bool(true))).toEqual({ type: 'bool', value: true });
    expect(valueToJson(v.string('hé'))).toEqual({ type: 'string', value: 'hé' });
  });

  it('input hex may be upper or mixed case; bytes may omit 0x, addresses may not', () => {
    expect(valueFromJson({ type: 'address', value: '0x' + 'aB'.repeat(20) })).toEqual(v.address(new Uint8Array(20).fill(0xab)));
    expect(valueFromJson({ type: 'bytes', value: '0XDEAD' })).toEqual(v.bytes(fromHex('0xdead')));
    expect(valueFromJson({ type: 'bytes', value: 'dead' })).toEqual(v.bytes(fromHex('0xdead')));
    expectCode(() => valueFromJson({ type: 'address', value: 'ab'.repeat(20) }), 'INVALID_ADDRESS');
  });

  it('rejections', () => {
    const invalidValue: unknown[] = [
      null,
      'u64',
      { type: 'u64', value: '-1' },
      { type: 'u64', value: '01' },
      { type: 'u64', value: '00' },
      { type: 'u64', value: '+1' },
      { type: 'u64', value: '1.0' },
      { type: 'u64', value: '1e3' },
      { type: 'u64', value: ' 1' },
      { type: 'u64', value: '' },
      { type: 'u64', value: '0x10' },
      { type: 'u64', value: 5 },
      { type: 'u64', value: '18446744073709551616' },
      { type: 'u128', value: '340282366920938463463374607431768211456' },
      { type: 'u128', value: '-0' },
      { type: 'bool', value: 'true' },
      { type: 'bool', value: 1 },
      { type: 'string', value: 5 },
      { type: 'bytes', value: 7 },
      { type: 'u256', value: '1' },
      { value: '1' },
    ];
    for (const j of invalidValue) expectCode(() => valueFromJson(j), 'INVALID_VALUE');
    expect(valueFromJson({ type: 'u64', value: '18446744073709551615' })).toEqual(v.u64(U64_MAX));
    for (const bad of ['0x123', '0xgg', '0x12 34']) expectCode(() => valueFromJson({ type: 'bytes', value: bad }), 'INVALID_HEX');
    for (const bad of ['0x' + 'ab'.repeat(19), '0x' + 'ab'.repeat(21), '0x' + 'zz'.repeat(20), 123]) {
      expectCode(() => valueFromJson({ type: 'address', value: bad }), 'INVALID_ADDRESS');
    }
  });

  it('parseAmount and parseU64 take decimal strings or safe non-negative integers', () => {
    expect(parseAmount('340282366920938463463374607431768211455')).toBe(U128_MAX);
    expect(parseAmount(12)).toBe(12n);
    expect(parseU64('18446744073709551615')).toBe(U64_MAX);
    for (const bad of [-1, 1.5, 2 ** 53, '01', '-1', '340282366920938463463374607431768211456', null]) expectCode(() => parseAmount(bad), 'INVALID_VALUE');
    expectCode(() => parseU64('18446744073709551616'), 'INVALID_VALUE');
    expect(parseAddress('0x' + '00'.repeat(20))).toEqual(new Uint8Array(20));
  });
});
