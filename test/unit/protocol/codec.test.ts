import fc from 'fast-check';
import { expectCode } from './expect.js';
import { describe, expect, it } from 'vitest';
import { decodeU128, decodeU64, encodeU128, encodeU64, Reader, U128_MAX, U64_MAX, utf8, Writer } from '../../../protocol/codec.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { fromHex, toHex } from '../../../protocol/hex.js';


const asAny = <T>(x: unknown): T => x as T;

describe('Writer/Reader round trips at the bounds', () => {
  it('u8, u16, u32 at 0 and max, little-endian', () => {
    const cases: Array<['u8' | 'u16' | 'u32', number, string]> = [
      ['u8', 0, '0x00'],
      ['u8', 0xff, '0xff'],
      ['u16', 0, '0x0000'],
      ['u16', 0xffff, '0xffff'],
      ['u16', 0x0102, '0x0201'],
      ['u32', 0, '0x00000000'],
      ['u32', 0xffffffff, '0xffffffff'],
      ['u32', 0x01020304, '0x04030201'],
    ];
    for (const [m, n, hex] of cases) {
      const b = new Writer()[m](n).finish();
      expect(toHex(b)).toBe(hex);
      const r = new Reader(b);
      expect(r[m]()).toBe(n);
      r.end();
    }
  });

  it('u64 and u128 at 0 and max, little-endian', () => {
    const cases: Array<['u64' | 'u128', bigint, string]> = [
      ['u64', 0n, '0x' + '00'.repeat(8)],
      ['u64', U64_MAX, '0x' + 'ff'.repeat(8)],
      ['u64', 0x0102030405060708n, '0x0807060504030201'],
      ['u128', 0n, '0x' + '00'.repeat(16)],
      ['u128', U128_MAX, '0x' + 'ff'.repeat(16)],
      ['u128', 1n << 64n, '0x' + '00'.repeat(8) + '01' + '00'.repeat(7)],
      ['u128', 0x0102030405060708090a0b0c0d0e0f10n, '0x100f0e0d0c0b0a090807060504030201'],
    ];
    for (const [m, n, hex] of cases) {
      const b = new Writer()[m](n).finish();
      expect(toHex(b)).toBe(hex);
      const r = new Reader(b);
      expect(r[m]()).toBe(n);
      r.end();
    }
  });

  it('raw, bytes, name and string', () => {
    const w = new Writer(1); // start tiny so the buffer has to grow
    w.raw(new Uint8Array(0)).raw(fromHex('0xaabb'), 2).bytes(new Uint8Array(0)).bytes(fromHex('0x0102')).name('').name('coin').string('').string('héllo ✓ 𝄞');
    const b = w.finish();
    expect(toHex(b.subarray(0, 2 + 4 + 4 + 2))).toBe('0xaabb' + '00000000' + '02000000' + '0102');
    const r = new Reader(b);
    expect(toHex(r.raw(0))).toBe('0x');
    expect(toHex(r.raw(2))).toBe('0xaabb');
    expect(toHex(r.bytes())).toBe('0x');
    expect(toHex(r.bytes())).toBe('0x0102');
    expect(r.name()).toBe('');
    expect(r.name()).toBe('coin');
    expect(r.string()).toBe('');
    expect(r.string()).toBe('héllo ✓ 𝄞');
    expect(r.remaining).toBe(0);
    r.end();
  });

  it('name: u8 length then bytes; 255 bytes is the longest', () => {
    expect(toHex(new Writer().name('ab').finish())).toBe('0x026162');
    const long = 'x'.repeat(255);
    const r = new Reader(new Writer().name(long).finish());
    expect(r.name()).toBe(long);
    r.end();
  });

  it('random sequences of primitives round trip (fast-check)', () => {
    type Op =
      | { k: 'u8'; v: number }
      | { k: 'u16'; v: number }
      | { k: 'u32'; v: number }
      | { k: 'u64'; v: bigint }
      | { k: 'u128'; v: bigint }
      | { k: 'bytes'; v: Uint8Array }
      | { k: 'string'; v: string }
      | { k: 'name'; v: string };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.integer({ min: 0, max: 0xff }).map((v) => ({ k: 'u8' as const, v })),
      fc.integer({ min: 0, max: 0xffff }).map((v) => ({ k: 'u16' as const, v })),
      fc.integer({ min: 0, max: 0xffffffff }).map((v) => ({ k: 'u32' as const, v })),
      fc.bigInt({ min: 0n, max: U64_MAX }).map((v) => ({ k: 'u64' as const, v })),
      fc.bigInt({ min: 0n, max: U128_MAX }).map((v) => ({ k: 'u128' as const, v })),
      fc.uint8Array({ maxLength: 64 }).map((v) => ({ k: 'bytes' as const, v })),
      fc.string({ unit: 'binary', maxLength: 40 }).map((v) => ({ k: 'string' as const, v })),
      fc.string({ unit: 'binary', maxLength: 20 }).map((v) => ({ k: 'name' as const, v })),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const w = new Writer(4);
        for (const o of ops) {
          if (o.k === 'u64' || o.k === 'u128') w[o.k](o.v);
          else if (o.k === 'bytes') w.bytes(o.v);
          else if (o.k === 'string' || o.k === 'name') w[o.k](o.v);
          else w[o.k](o.v);
        }
        const r = new Reader(w.finish());
        for (const o of ops) {
          if (o.k === 'bytes') expect(r.bytes()).toEqual(o.v);
          else expect(r[o.k]()).toEqual(o.v);
        }
        r.end();
      }),
    );
  });

  it('a Reader over a subarray reads from its own offset', () => {
    const outer = fromHex('0xffff0100020000000300ffff');
    const r = new Reader(outer.subarray(2, 10));
    expect(r.u16()).toBe(1);
    expect(r.u32()).toBe(2);
    expect(r.u16()).toBe(3);
    r.end();
  });
});

describe('out-of-range writes throw INVALID_VALUE', () => {
  it('integers', () => {
    const bad: Array<() => unknown> = [
      () => new Writer().u8(-1),
      () => new Writer().u8(256),
      () => new Writer().u8(1.5),
      () => new Writer().u8(Number.NaN),
      () => new Writer().u16(-1),
      () => new Writer().u16(0x10000),
      () => new Writer().u32(-1),
      () => new Writer().u32(2 ** 32),
      () => new Writer().u32(0.5),
      () => new Writer().u64(-1n),
      () => new Writer().u64(1n << 64n),
      () => new Writer().u64(asAny<bigint>(5)),
      () => new Writer().u128(-1n),
      () => new Writer().u128(1n << 128n),
      () => new Writer().u128(asAny<bigint>('1')),
    ];
    for (const f of bad) expectCode(f, 'INVALID_VALUE');
  });

  it('raw with the wrong fixed length and names longer than 255 bytes', () => {
    expectCode(() => new Writer().raw(new Uint8Array(31), 32), 'INVALID_VALUE');
    expectCode(() => new Writer().raw(new Uint8Array(33), 32), 'INVALID_VALUE');
    expectCode(() => new Writer().name('x'.repeat(256)), 'INVALID_VALUE');
    expectCode(() => new Writer().name('é'.repeat(128)), 'INVALID_VALUE'); // 256 UTF-8 bytes
  });
});

describe('decoding errors', () => {
  it('truncated input throws DECODE_ERROR for every primitive', () => {
    const reads: Array<[string, (r: Reader) => unknown, string]> = [
      ['u8', (r) => r.u8(), '0x'],
      ['u16', (r) => r.u16(), '0x01'],
      ['u32', (r) => r.u32(), '0x010203'],
      ['u64', (r) => r.u64(), '0x01020304050607'],
      ['u128', (r) => r.u128(), '0x' + '01'.repeat(15)],
      ['raw', (r) => r.raw(4), '0x010203'],
      ['bytes length', (r) => r.bytes(), '0x0100'],
      ['bytes body', (r) => r.bytes(), '0x05000000aabbccdd'],
      ['name length', (r) => r.name(), '0x'],
      ['name body', (r) => r.name(), '0x04616263'],
      ['string body', (r) => r.string(), '0x03000000aabb'],
    ];
    for (const [what, f, hex] of reads) {
      expect(() => f(new Reader(fromHex(hex))), what).toThrow(ProtocolError);
      expectCode(() => f(new Reader(fromHex(hex))), 'DECODE_ERROR');
    }
  });

  it('every strict prefix of an encoding is rejected as truncated', () => {
    const b = new Writer().u8(1).u16(2).u32(3).u64(4n).u128(5n).bytes(fromHex('0x0102')).name('ab').string('cd').finish();
    const decode = (x: Uint8Array): void => {
      const r = new Reader(x);
      r.u8();
      r.u16();
      r.u32();
      r.u64();
      r.u128();
      r.bytes();
      r.name();
      r.string();
      r.end();
    };
    decode(b);
    for (let n = 0; n < b.length; n++) expectCode(() => decode(b.subarray(0, n)), 'DECODE_ERROR');
  });

  it('length prefixes above the limit throw DECODE_ERROR before reading', () => {
    expectCode(() => new Reader(fromHex('0x05000000aabbccddee')).bytes('b', 4), 'DECODE_ERROR');
    expectCode(() => new Reader(fromHex('0xffffffff')).bytes(), 'DECODE_ERROR');
    expectCode(() => new Reader(fromHex('0x03000000616263')).string('s', 2), 'DECODE_ERROR');
  });

  it('trailing bytes throw TRAILING_BYTES', () => {
    const r = new Reader(fromHex('0x0100'));
    r.u8();
    expectCode(() => r.end(), 'TRAILING_BYTES');
    expectCode(() => new Reader(fromHex('0x00')).end(), 'TRAILING_BYTES');
    new Reader(new Uint8Array(0)).end();
  });

  it('invalid UTF-8 in strings and names throws DECODE_ERROR', () => {
    const bad = ['0xff', '0xc080', '0xc0af', '0xeda080', '0xe282', '0xf4908080', '0x80', '0x61ff62'];
    for (const hex of bad) {
      const body = fromHex(hex);
      const asString = new Writer().bytes(body).finish();
      expectCode(() => new Reader(asString).string(), 'DECODE_ERROR');
      const asName = new Writer().u8(body.length).raw(body).finish();
      expectCode(() => new Reader(asName).name(), 'DECODE_ERROR');
    }
    // The same lengths with valid UTF-8 decode.
    expect(new Reader(new Writer().bytes(utf8('€')).finish()).string()).toBe('€');
  });

  it('a leading byte order mark is kept, not stripped (one value, one encoding)', () => {
    const bom = fromHex('0xefbbbf61');
    expect(new Reader(new Writer().bytes(bom).finish()).string()).toBe('\ufeffa');
    expect(new Reader(new Writer().u8(4).raw(bom).finish()).name()).toBe('\ufeffa');
    const r = new Reader(new Writer().string('\ufeff').string('\ufeff\ufeffb').finish());
    expect(r.string()).toBe('\ufeff');
    expect(r.string()).toBe('\ufeff\ufeffb');
    r.end();
  });
});

describe('u128 and u64 helpers', () => {
  it('encode little-endian, round trip, and treat a missing value as 0', () => {
    expect(toHex(encodeU128(1n))).toBe('0x01' + '00'.repeat(15));
    expect(toHex(encodeU64(0x0102n))).toBe('0x0201' + '00'.repeat(6));
    expect(decodeU128(undefined)).toBe(0n);
    expect(decodeU64(undefined)).toBe(0n);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U128_MAX }), (n) => {
        expect(encodeU128(n).length).toBe(16);
        expect(decodeU128(encodeU128(n))).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (n) => {
        expect(encodeU64(n).length).toBe(8);
        expect(decodeU64(encodeU64(n))).toBe(n);
      }),
    );
  });

  it('reject out-of-range values and wrong lengths', () => {
    expectCode(() => encodeU128(U128_MAX + 1n), 'INVALID_VALUE');
    expectCode(() => encodeU128(-1n), 'INVALID_VALUE');
    expectCode(() => encodeU64(U64_MAX + 1n), 'INVALID_VALUE');
    expectCode(() => decodeU128(new Uint8Array(15)), 'DECODE_ERROR');
    expectCode(() => decodeU128(new Uint8Array(17)), 'DECODE_ERROR');
    expectCode(() => decodeU64(new Uint8Array(7)), 'DECODE_ERROR');
    expectCode(() => decodeU64(new Uint8Array(9)), 'DECODE_ERROR');
    expectCode(() => decodeU64(new Uint8Array(0)), 'DECODE_ERROR');
  });

  it('agree with Writer/Reader, including around 2^53 and the 32-bit word edges', () => {
    const edges: bigint[] = [];
    for (const e of [0n, 31n, 32n, 52n, 53n, 63n, 64n, 95n, 96n, 127n]) for (const d of [-1n, 0n, 1n]) edges.push((1n << e) + d);
    const check = (n: bigint): void => {
      if (n < 0n) return;
      if (n <= U64_MAX) {
        expect(encodeU64(n)).toEqual(new Writer().u64(n).finish());
        expect(decodeU64(new Writer().u64(n).finish())).toBe(n);
      }
      if (n <= U128_MAX) {
        expect(encodeU128(n)).toEqual(new Writer().u128(n).finish());
        expect(decodeU128(new Writer().u128(n).finish())).toBe(n);
      }
    };
    edges.forEach(check);
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: U128_MAX }), check));
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 1n << 60n }), check));
  });
});

describe('hex', () => {
  const HEX_RE = /^(0[xX])?([0-9a-fA-F]{2})*$/;
  it('fromHex accepts exactly the even-length hex strings (optional 0x) and round-trips with toHex', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEFxXg /+-\u00e9z'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.array(chars, { maxLength: 12 }).map((a) => a.join('')), fc.uint8Array({ maxLength: 40 }).map((b) => toHex(b))), (s) => {
        if (HEX_RE.test(s)) {
          const b = fromHex(s);
          expect(toHex(b)).toBe('0x' + s.replace(/^0[xX]/, '').toLowerCase());
        } else {
          expectCode(() => fromHex(s), 'INVALID_HEX');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
