import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DiskSmt, depthOfPos, type TreeVersion } from '../../../state/disk-smt.js';
import { MemoryNodeStore } from '../../../state/memory-node-store.js';
import { SparseMerkleTree, stateKeyHash, stateValueHash, type SmtChange } from '../../../state/smt.js';
import { StateError } from '../../../state/state-error.js';
import { decodePosKey, MAX_POS_KEY_BYTES, posKeyOf, posKeyOfId, posOf, TOP_LEVELS } from '../../../state/tree-node.js';
import { toH32 } from '../../../protocol/hash.js';
import { fcRuns } from './helpers.js';

const ZERO = new Uint8Array(32);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A fresh tree over an empty in-memory store. */
function fresh(cache?: { pinnedDepth?: number; lruNodes?: number }): { store: MemoryNodeStore; smt: DiskSmt } {
  const store = new MemoryNodeStore();
  return { store, smt: new DiskSmt(store, ZERO, 0, { cache, verifyReads: true }) };
}

/** Builds `entries` from scratch into a new store: the reference node set. */
function freshBuild(entries: readonly SmtChange[]): MemoryNodeStore {
  const { store, smt } = fresh();
  const v = smt.durable.withChanges(entries);
  if (v !== smt.durable) store.apply(v.delta());
  return store;
}

/**
 * Key hashes that share long prefixes, so chains of one-sided internal nodes, deep pairs and
 * floating leaves all occur: a few random "families", each member differing late.
 */
const keyHashArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 7 }))
  .map(([family, byte, at, bit]) => {
    const k = new Uint8Array(32);
    k[0] = family * 64 + 5; // families share the first 8 bits
    k[1] = 0xa5;
    k[Math.max(2, at)] ^= 1 << bit;
    k[31] ^= byte;
    return k;
  });
const valueArb = fc.integer({ min: 0, max: 3 }).map((n) => stateValueHash(Uint8Array.of(n)));
const changeArb: fc.Arbitrary<SmtChange> = fc.tuple(keyHashArb, fc.option(valueArb, { freq: 4 })).map(([k, v]) => [k, v]);
const batchArb = fc.array(changeArb, { minLength: 0, maxLength: 24 });

describe('position keys', () => {
  it('sort in post-order (a node after its subtree, a left subtree before a right one), the top levels packed after the rest', () => {
    const key = (bits: number[]): Uint8Array => {
      const kh = new Uint8Array(32);
      bits.forEach((b, i) => (kh[i >> 3] |= b << (7 - (i & 7))));
      const out = new Uint8Array(MAX_POS_KEY_BYTES);
      return out.slice(0, posKeyOf(toH32(kh), bits.length, out));
    };
    /** Post-order comparison of two positions given as bit paths; the top levels after all others. */
    const postOrder = (a: number[], b: number[]): number => {
      const ta = a.length < TOP_LEVELS;
      const tb = b.length < TOP_LEVELS;
      if (ta !== tb) return ta ? 1 : -1;
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return b.length - a.length; // the ancestor (shorter) comes after
    };
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 70 }), fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 70 }), (a, b) => {
        const c = Buffer.compare(key(a), key(b));
        expect(Math.sign(c)).toBe(Math.sign(postOrder(a, b)));
        expect(decodePosKey(key(a))).toEqual({ depth: a.length, bits: a });
      }),
      fcRuns(500, 0x57470101),
    );
  });

  it('numeric and string PosIds encode to the same key as the key-hash path', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 256 }), fc.boolean(), (kh, d, flip) => {
        const h = toH32(kh);
        const a = new Uint8Array(MAX_POS_KEY_BYTES);
        const b = new Uint8Array(MAX_POS_KEY_BYTES);
        const f = flip && d > 0;
        const la = posKeyOf(h, d, a, f);
        const id = posOf(h, d, f);
        expect(typeof id).toBe(d <= 48 ? 'number' : 'string');
        expect(hex(b.subarray(0, posKeyOfId(id, b)))).toBe(hex(a.subarray(0, la)));
        expect(depthOfPos(id)).toBe(d);
      }),
      fcRuns(500, 0x57470102),
    );
  });
});

describe('DiskSmt against the in-memory SparseMerkleTree', () => {
  it('same root, size and lookups after every batch; the store equals a fresh build after every commit', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 8 }), (batches) => {
        const { store, smt } = fresh({ pinnedDepth: 3, lruNodes: 8 });
        let ref = SparseMerkleTree.empty();
        let v: TreeVersion = smt.durable;
        for (const batch of batches) {
          ref = ref.withChanges(batch);
          const next = v.withChanges(batch);
          expect(hex(next.root)).toBe(hex(ref.root));
          expect(next.size).toBe(ref.size);
          for (const [k] of batch) expect(next.get(k) && hex(next.get(k)!)).toBe(ref.get(k) && hex(ref.get(k)!));
          if (next !== v) store.apply(next.delta());
          v = next;
          expect(v.isDurable).toBe(true);
          const want = freshBuild([...ref.entries()]);
          expect(store.count).toBe(want.count);
          expect([...store.records].map(([k, r]) => k + hex(r)).sort()).toEqual([...want.records].map(([k, r]) => k + hex(r)).sort());
        }
        expect([...v.entries()].map(([k, x]) => hex(k) + hex(x))).toEqual([...ref.entries()].map(([k, x]) => hex(k) + hex(x)));
      }),
      fcRuns(60, 0x57470103),
    );
  });

  it('versions do not mutate their base; unsettled chains read through each other', () => {
    fc.assert(
      fc.property(batchArb, batchArb, batchArb, (b0, b1, b2) => {
        const { store, smt } = fresh({ pinnedDepth: 2, lruNodes: 4 });
        const base = smt.durable.withChanges(b0);
        if (base !== smt.durable) store.apply(base.delta());
        const ref0 = SparseMerkleTree.empty().withChanges(b0);
        // Two versions stacked on the durable one, plus a sibling proposal.
        const v1 = base.withChanges(b1);
        const v2 = v1.withChanges(b2);
        const sib = base.withChanges(b2);
        const ref1 = ref0.withChanges(b1);
        expect(hex(base.root)).toBe(hex(ref0.root));
        expect(hex(v1.root)).toBe(hex(ref1.root));
        expect(hex(v2.root)).toBe(hex(ref1.withChanges(b2).root));
        expect(hex(sib.root)).toBe(hex(ref0.withChanges(b2).root));
        // Commit the chain in order; v2's reads go through disk afterwards.
        if (v1 !== base) store.apply(v1.delta());
        if (v2 !== v1) store.apply(v2.delta());
        const again = v2.withChanges(b0);
        expect(hex(again.root)).toBe(hex(ref1.withChanges(b2).withChanges(b0).root));
      }),
      fcRuns(80, 0x57470104),
    );
  });

  it('a discarded sibling cannot read nodes its base lost: STATE_STALE_VERSION, not a wrong node', () => {
    const { store, smt } = fresh({ pinnedDepth: 0, lruNodes: 0 });
    const entries: SmtChange[] = [];
    for (let i = 0; i < 64; i++) entries.push([stateKeyHash(`k${i}`), stateValueHash(Uint8Array.of(i))]);
    const base = smt.durable.withChanges(entries);
    store.apply(base.delta());
    const a = base.withChanges([[stateKeyHash('k1'), stateValueHash(Uint8Array.of(99))]]);
    const b = base.withChanges([[stateKeyHash('k2'), stateValueHash(Uint8Array.of(99))]]);
    store.apply(a.delta());
    let err: unknown;
    try {
      b.withChanges([[stateKeyHash('k3'), stateValueHash(Uint8Array.of(98))]]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateError);
    expect((err as StateError).code).toBe('STATE_STALE_VERSION');
  });

  it('handles keys sharing more than 48 bits (string positions)', () => {
    const { store, smt } = fresh();
    const k = (last: number, mid = 0): Uint8Array => {
      const h = new Uint8Array(32).fill(0x3c);
      h[9] = mid;
      h[31] = last;
      return h;
    };
    const batch: SmtChange[] = [
      [k(1), stateValueHash(Uint8Array.of(1))],
      [k(2), stateValueHash(Uint8Array.of(2))],
      [k(3, 7), stateValueHash(Uint8Array.of(3))],
    ];
    const ref = SparseMerkleTree.empty().withChanges(batch);
    const v = smt.durable.withChanges(batch);
    expect(hex(v.root)).toBe(hex(ref.root));
    store.apply(v.delta());
    const del: SmtChange[] = [[k(2), null]];
    const v2 = v.withChanges(del);
    expect(hex(v2.root)).toBe(hex(ref.withChanges(del).root));
    store.apply(v2.delta());
    expect(store.count).toBe(freshBuild([...ref.withChanges(del).entries()]).count);
  });
});

describe('node cache', () => {
  it('keeps the paths a commit wrote: re-touching the same keys reads nothing from the store', () => {
    const { store, smt } = fresh({ pinnedDepth: 4, lruNodes: 10_000 });
    const all: SmtChange[] = [];
    for (let i = 0; i < 2000; i++) all.push([stateKeyHash(`acct/${i}`), stateValueHash(Uint8Array.of(i & 0xff))]);
    store.apply(smt.durable.withChanges(all).delta());
    const hot = (round: number): SmtChange[] => Array.from({ length: 50 }, (_, i) => [stateKeyHash(`acct/${i * 37}`), stateValueHash(Uint8Array.of(round, i))] as SmtChange);
    store.apply(smt.durable.withChanges(hot(1)).delta());
    const before = smt.stats().storeReads;
    const v = smt.durable.withChanges(hot(2));
    expect(smt.stats().storeReads - before).toBe(0);
    // A cold tree over the same store reads them from disk.
    const cold = new DiskSmt(store, smt.durable.root, smt.durable.size, { cache: { pinnedDepth: 0, lruNodes: 0 } });
    cold.durable.withChanges(hot(2));
    expect(cold.stats().storeReads).toBeGreaterThan(50);
    expect(hex(v.root)).toBe(hex(cold.durable.withChanges(hot(2)).root));
  });

  it('stays within its bounds and is consistent with the store after every commit', () => {
    const pinnedDepth = 4;
    const lruNodes = 50;
    const { store, smt } = fresh({ pinnedDepth, lruNodes });
    let v = smt.durable;
    let ref = SparseMerkleTree.empty();
    for (let round = 0; round < 30; round++) {
      const batch: SmtChange[] = [];
      for (let i = 0; i < 40; i++) batch.push([stateKeyHash(`acct/${(round * 37 + i * 11) % 500}`), i % 9 === 0 ? null : stateValueHash(Uint8Array.of(round, i))]);
      v = v.withChanges(batch);
      ref = ref.withChanges(batch);
      store.apply(v.delta());
      const size = smt.cache.size;
      expect(size.pinned).toBeLessThanOrEqual(2 ** pinnedDepth - 1);
      expect(size.lru).toBeLessThanOrEqual(lruNodes);
    }
    // Every cached node agrees with disk: verifyReads would throw on a mismatch, and a cold
    // tree over the same store (no cache) reads the same values.
    const cold = new DiskSmt(store, v.root, v.size, { cache: { pinnedDepth: 0, lruNodes: 0 }, verifyReads: true });
    expect([...cold.durable.entries()].map(([a, b]) => hex(a) + hex(b))).toEqual([...ref.entries()].map(([a, b]) => hex(a) + hex(b)));
    expect([...v.entries()].length).toBe(ref.size);
  });
});
