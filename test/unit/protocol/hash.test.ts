import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../../protocol/codec.js';
import { domainTag, fromH32, merkleRoot, merkleRootH32, sha256, sha256Concat, sha256ConcatH32, sha256H32, toH32, ZERO_HASH } from '../../../protocol/hash.js';
import { concatBytes, toHex } from '../../../protocol/hex.js';

describe('sha256', () => {
  it('matches @noble/hashes on the empty input and a known answer', () => {
    expect(toHex(sha256(new Uint8Array(0)))).toBe('0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(sha256(new Uint8Array(0)))).toBe(toHex(nobleSha256(new Uint8Array(0))));
    expect(toHex(sha256(utf8('abc')))).toBe('0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches @noble/hashes on random inputs, including subarray views (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(16), (data, pad) => {
        expect(toHex(sha256(data))).toBe(toHex(nobleSha256(data)));
        const outer = new Uint8Array(data.length + 2 * pad);
        outer.set(data, pad);
        expect(toHex(sha256(outer.subarray(pad, pad + data.length)))).toBe(toHex(nobleSha256(data)));
      }),
      { numRuns: 300 },
    );
  });

  it('sha256Concat hashes the concatenation', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }), (parts) => {
        expect(toHex(sha256Concat(...parts))).toBe(toHex(nobleSha256(concatBytes(...parts))));
      }),
    );
  });

  it('domainTag is SHA-256 of the ASCII label', () => {
    expect(toHex(domainTag('pel:tx:v1'))).toBe(toHex(nobleSha256(utf8('pel:tx:v1'))));
  });
});

describe('merkleRoot', () => {
  const H = (b: Uint8Array): Uint8Array => nobleSha256(b);
  const leaf = (x: Uint8Array): Uint8Array => H(concatBytes(new Uint8Array([0]), x));
  const node = (l: Uint8Array, r: Uint8Array): Uint8Array => H(concatBytes(new Uint8Array([1]), l, r));
  const items = Array.from({ length: 9 }, (_, i) => H(utf8(`item ${i}`)));
  const [a, b, c, d, e, f, g, h, i9] = items.map(leaf) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];

  it('is 32 zero bytes for the empty list', () => {
    expect(toHex(merkleRoot([]))).toBe('0x' + '00'.repeat(32));
    expect(toHex(ZERO_HASH)).toBe('0x' + '00'.repeat(32));
  });

  it('matches the definition for 1..9 items, worked by hand', () => {
    // leaf = H(0x00 || item); node = H(0x01 || left || right); an odd last node moves up a level unchanged.
    const ab = node(a, b);
    const cd = node(c, d);
    const ef = node(e, f);
    const gh = node(g, h);
    const abcd = node(ab, cd);
    const efgh = node(ef, gh);
    const expected: Uint8Array[] = [
      a, // 1
      ab, // 2
      node(ab, c), // 3: [ab, c] -> ab|c
      abcd, // 4
      node(abcd, e), // 5: [ab, cd, e] -> [abcd, e]
      node(abcd, ef), // 6: [ab, cd, ef] -> [abcd, ef]
      node(abcd, node(ef, g)), // 7: [ab, cd, ef, g] -> [abcd, efg]
      node(abcd, efgh), // 8
      node(node(abcd, efgh), i9), // 9: [ab, cd, ef, gh, i] -> [abcd, efgh, i] -> [abcdefgh, i]
    ];
    for (let n = 1; n <= 9; n++) expect(toHex(merkleRoot(items.slice(0, n))), `${n} items`).toBe(toHex(expected[n - 1]!));
  });

  it('a single item is hashed as a leaf, not returned as is', () => {
    expect(toHex(merkleRoot([items[0]!]))).not.toBe(toHex(items[0]!));
  });

  it('[a, b, c] and [a, b, c, c] have different roots (no duplication of the odd node)', () => {
    const [x, y, z] = items as [Uint8Array, Uint8Array, Uint8Array];
    expect(toHex(merkleRoot([x, y, z]))).not.toBe(toHex(merkleRoot([x, y, z, z])));
  });

  it('order matters and inputs are not modified', () => {
    const copy = items.map((x) => x.slice());
    expect(toHex(merkleRoot([items[0]!, items[1]!]))).not.toBe(toHex(merkleRoot([items[1]!, items[0]!])));
    merkleRoot(items);
    expect(items).toEqual(copy);
  });
});

describe('H32 hashing (digests as latin1 strings)', () => {
  const H = (b: Uint8Array): Uint8Array => nobleSha256(b);
  /** The definition, level by level, on Uint8Arrays with noble. */
  const reference = (items: Uint8Array[]): Uint8Array => {
    if (items.length === 0) return new Uint8Array(32);
    let level = items.map((x) => H(concatBytes(new Uint8Array([0]), x)));
    while (level.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? H(concatBytes(new Uint8Array([1]), level[i]!, level[i + 1]!)) : level[i]!);
      level = next;
    }
    return level[0]!;
  };
  const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('toH32 / fromH32 round-trip every byte value', () => {
    fc.assert(fc.property(digest, (d) => {
      const h = toH32(d);
      expect(h.length).toBe(32);
      expect(fromH32(h)).toEqual(d);
    }));
  });

  it('sha256H32 and sha256ConcatH32 are SHA-256 (fast-check against noble)', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (parts) => {
      const all = concatBytes(...parts);
      expect(toHex(fromH32(sha256H32(all)))).toBe(toHex(H(all)));
      expect(toHex(fromH32(sha256ConcatH32(...parts)))).toBe(toHex(H(all)));
    }));
  });

  it('merkleRoot and merkleRootH32 match the definition for 0..70 items (fast-check against noble)', () => {
    fc.assert(fc.property(fc.array(digest, { maxLength: 70 }), (items) => {
      const want = toHex(reference(items));
      expect(toHex(merkleRoot(items))).toBe(want);
      expect(toHex(merkleRootH32(items.map(toH32)))).toBe(want);
    }), { numRuns: 60 });
  });
});
