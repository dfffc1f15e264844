import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BucketTree, bucketOf, type TreeVersion } from '../../../state/bucket-tree.js';
import { MemoryBucketStore } from '../../../state/memory-bucket-store.js';
import { SparseMerkleTree, stateKeyHash, stateValueHash, type SmtChange } from '../../../state/smt.js';
import { StateError } from '../../../state/state-error.js';
import { fromH32, hashTaggedPair, toH32 } from '../../../protocol/hash.js';
import { fcRuns } from './helpers.js';

const ZERO = new Uint8Array(32);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A fresh tree over an empty in-memory store. */
function fresh(bits: number): { store: MemoryBucketStore; tree: BucketTree } {
  const store = new MemoryBucketStore();
  return { store, tree: BucketTree.open(store, ZERO, 0, bits, { verifyReads: true }) };
}

/** Builds `entries` from scratch into a new store: the reference records. */
function freshBuild(entries: readonly SmtChange[], bits: number): MemoryBucketStore {
  const { store, tree } = fresh(bits);
  const v = tree.durable.withChanges(entries);
  if (v !== tree.durable) store.apply(v.delta());
  return store;
}

const leafHash = (k: Uint8Array, v: Uint8Array): string => hex(fromH32(hashTaggedPair(0x00, toH32(k), toH32(v))));

/**
 * Key hashes that share long prefixes, so multi-key buckets, chains of one-sided internal
 * nodes below a bucket, deep pairs and floating leaves all occur.
 */
const keyHashArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 7 }))
  .map(([family, byte, at, bit]) => {
    const k = new Uint8Array(32);
    k[0] = family * 64 + 5; // families share the first 8 bits
    k[1] = 0xa5;
    k[Math.max(0, at)] ^= 1 << bit; // sometimes in the bucket bits, sometimes far below
    k[31] ^= byte;
    return k;
  });
const valueArb = fc.integer({ min: 0, max: 3 }).map((n) => stateValueHash(Uint8Array.of(n)));
const changeArb: fc.Arbitrary<SmtChange> = fc.tuple(keyHashArb, fc.option(valueArb, { freq: 4 })).map(([k, v]) => [k, v]);
const batchArb = fc.array(changeArb, { minLength: 0, maxLength: 24 });
const bitsArb = fc.constantFrom(1, 3, 8, 12, 20);

describe('BucketTree against the in-memory SparseMerkleTree', () => {
  it('same root, size and leaves after every batch; the store equals a fresh build after every commit; a reopened tree has the same root', () => {
    fc.assert(
      fc.property(bitsArb, fc.array(batchArb, { minLength: 1, maxLength: 8 }), (bits, batches) => {
        const { store, tree } = fresh(bits);
        let ref = SparseMerkleTree.empty();
        let v: TreeVersion = tree.durable;
        for (const batch of batches) {
          ref = ref.withChanges(batch);
          const next = v.withChanges(batch);
          expect(hex(next.root)).toBe(hex(ref.root));
          expect(next.size).toBe(ref.size);
          for (const [k] of batch) {
            const want = ref.get(k);
            const got = next.leafOf(k);
            expect(got && hex(got)).toBe(want && leafHash(k, want));
          }
          if (next !== v) store.apply(next.delta());
          v = next;
          expect(v.isDurable).toBe(true);
          const want = freshBuild([...ref.entries()], bits);
          expect([...store.records].map(([i, r]) => `${i}:${hex(r)}`).sort()).toEqual([...want.records].map(([i, r]) => `${i}:${hex(r)}`).sort());
        }
        expect([...v.leaves()].map(([k, l]) => hex(k) + hex(l))).toEqual([...ref.entries()].map(([k, x]) => hex(k) + leafHash(k, x)));
        const again = BucketTree.open(store, v.root, v.size, bits, { verifyReads: true });
        expect(hex(again.durable.root)).toBe(hex(ref.root));
      }),
      fcRuns(80, 0x57470103),
    );
  });

  it('versions do not mutate their base; unsettled chains read through each other', () => {
    fc.assert(
      fc.property(bitsArb, batchArb, batchArb, batchArb, (bits, b0, b1, b2) => {
        const { store, tree } = fresh(bits);
        const base = tree.durable.withChanges(b0);
        if (base !== tree.durable) store.apply(base.delta());
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
        // Commit the chain in order; v2's reads go through the arrays and the store afterwards.
        if (v1 !== base) store.apply(v1.delta());
        if (v2 !== v1) store.apply(v2.delta());
        const again = v2.withChanges(b0);
        expect(hex(again.root)).toBe(hex(ref1.withChanges(b2).withChanges(b0).root));
      }),
      fcRuns(80, 0x57470104),
    );
  });

  it('a discarded sibling cannot read what its base lost: STATE_STALE_VERSION, not a wrong node', () => {
    const { store, tree } = fresh(4);
    const entries: SmtChange[] = [];
    for (let i = 0; i < 64; i++) entries.push([stateKeyHash(`k${i}`), stateValueHash(Uint8Array.of(i))]);
    const base = tree.durable.withChanges(entries);
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

  it('a block of C changes reads at most C bucket records and writes one record per touched bucket', () => {
    const bits = 6;
    const { store, tree } = fresh(bits);
    const all: SmtChange[] = [];
    for (let i = 0; i < 2000; i++) all.push([stateKeyHash(`acct/${i}`), stateValueHash(Uint8Array.of(i & 0xff))]);
    store.apply(tree.durable.withChanges(all).delta());
    expect(store.count).toBe(2 ** bits);
    const batch: SmtChange[] = Array.from({ length: 20 }, (_, i) => [stateKeyHash(`acct/${i * 97}`), stateValueHash(Uint8Array.of(7, i))] as SmtChange);
    const touched = new Set(batch.map(([k]) => bucketOf(toH32(k), bits)));
    const before = tree.stats().bucketReads;
    const v = tree.durable.withChanges(batch);
    expect(tree.stats().bucketReads - before).toBe(touched.size);
    expect(v.writeCounts).toEqual({ puts: touched.size, deletes: 0 });
  });

  it('refuses a store whose records do not hash to the stored root', () => {
    const { store, tree } = fresh(8);
    const v = tree.durable.withChanges([[stateKeyHash('a'), stateValueHash(Uint8Array.of(1))], [stateKeyHash('b'), stateValueHash(Uint8Array.of(2))]]);
    store.apply(v.delta());
    const wrong = new Uint8Array(32).fill(7);
    expect(() => BucketTree.open(store, wrong, 2, 8)).toThrow(/do not hash to the stored root/);
    const [i, rec] = [...store.records][0]!;
    const bad = Uint8Array.prototype.slice.call(rec);
    bad[72] ^= 1; // in the first leaf hash
    store.records.set(i, bad);
    const t = BucketTree.open(store, v.root, 2, 8, { verifyReads: true });
    expect(() => t.durable.withChanges([[stateKeyHash('a'), stateValueHash(Uint8Array.of(3))], [stateKeyHash('b'), stateValueHash(Uint8Array.of(3))]])).toThrow(StateError);
  });
});

describe('top checkpoint', () => {
  it('a matching checkpoint replaces the scan; a stale or damaged one falls back to it, with the same root', async () => {
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'pel-ckpt-'));
    try {
      const path = join(dir, 'top.ckpt');
      const bits = 10;
      const { store, tree } = fresh(bits);
      const batch = (n: number, salt: number): SmtChange[] => Array.from({ length: n }, (_, i) => [stateKeyHash(`acct/${i}`), stateValueHash(Uint8Array.of(salt, i & 0xff))] as SmtChange);
      let v = tree.durable.withChanges(batch(3000, 1));
      store.apply(v.delta());
      tree.saveCheckpoint(path);
      const fromCkpt = BucketTree.open(store, v.root, v.size, bits, { checkpointPath: path, verifyReads: true });
      expect(fromCkpt.stats().startup).toBe('checkpoint');
      expect(hex(fromCkpt.durable.root)).toBe(hex(v.root));
      // The loaded top serves updates exactly like a scanned one.
      const scanned = BucketTree.open(store, v.root, v.size, bits);
      expect(scanned.stats().startup).toBe('scan');
      expect(hex(fromCkpt.durable.withChanges(batch(500, 2)).root)).toBe(hex(scanned.durable.withChanges(batch(500, 2)).root));
      // Stale: the store moved on after the checkpoint was written.
      v = v.withChanges(batch(10, 3));
      store.apply(v.delta());
      const stale = BucketTree.open(store, v.root, v.size, bits, { checkpointPath: path });
      expect(stale.stats().startup).toBe('scan');
      expect(hex(stale.durable.root)).toBe(hex(v.root));
      // Damaged: one flipped byte in the body.
      tree.saveCheckpoint(path);
      const bytes = readFileSync(path);
      bytes[bytes.length - 5] ^= 0x10;
      writeFileSync(path, bytes);
      const damaged = BucketTree.open(store, v.root, v.size, bits, { checkpointPath: path });
      expect(damaged.stats().startup).toBe('scan');
      expect(hex(damaged.durable.root)).toBe(hex(v.root));
      // Written again after the store moved: used again.
      tree.saveCheckpoint(path);
      expect(BucketTree.open(store, v.root, v.size, bits, { checkpointPath: path }).stats().startup).toBe('checkpoint');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
