import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  SparseMerkleTree,
  computeRootNaive,
  stateKeyHash,
  stateValueHash,
  type SmtChange,
} from '../../../state/smt.js';

// Independent SHA-256 so the hand-written cases do not lean on the module under test.
const H = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const ZERO = new Uint8Array(32);
const leafHash = (k: Uint8Array, v: Uint8Array): Uint8Array => H(Uint8Array.of(0), k, v);
const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => H(Uint8Array.of(1), l, r);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A 32-byte key hash with the given leading bytes, the rest zero. */
const kh = (...lead: number[]): Uint8Array => {
  const out = new Uint8Array(32);
  out.set(lead);
  return out;
};
const val = (n: number): Uint8Array => stateValueHash(Uint8Array.of(n));

type Model = Map<string, readonly [Uint8Array, Uint8Array]>;
const applyToModel = (m: Model, batch: readonly SmtChange[]): void => {
  for (const [k, v] of batch) {
    if (v === null) m.delete(hex(k));
    else m.set(hex(k), [k, v]);
  }
};
const sortedEntries = (m: Model): string[] => [...m.keys()].sort().map((k) => `${k}:${hex(m.get(k)![1])}`);

describe('stateKeyHash / stateValueHash', () => {
  it('are SHA-256 of the UTF-8 key and of the value bytes', () => {
    expect(hex(stateKeyHash('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(stateKeyHash('é'))).toBe(hex(H(Uint8Array.of(0xc3, 0xa9))));
    expect(hex(stateValueHash(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('SparseMerkleTree known cases (from the definition)', () => {
  it('empty tree has the zero root and size 0', () => {
    const t = SparseMerkleTree.empty();
    expect(t.root).toEqual(ZERO);
    expect(t.size).toBe(0);
    expect(SparseMerkleTree.build([]).root).toEqual(ZERO);
    expect(computeRootNaive([])).toEqual(ZERO);
  });

  it('one key: the root is the leaf hash, whatever the key', () => {
    const k = stateKeyHash('alice');
    const v = stateValueHash(Uint8Array.of(1, 2, 3));
    const t = SparseMerkleTree.empty().withChanges([[k, v]]);
    expect(t.root).toEqual(leafHash(k, v));
    expect(t.size).toBe(1);
    expect(t.get(k)).toEqual(v);
  });

  it('two keys differing in the first bit: one internal node', () => {
    const a = kh(0x00);
    const b = kh(0x80);
    const t = SparseMerkleTree.empty().withChanges([
      [b, val(2)],
      [a, val(1)],
    ]);
    expect(t.root).toEqual(nodeHash(leafHash(a, val(1)), leafHash(b, val(2))));
    expect(t.size).toBe(2);
  });

  it('two keys differing in the second bit: internal node with an empty sibling above', () => {
    const a = kh(0x40);
    const b = kh(0x00);
    const t = SparseMerkleTree.empty().withChanges([
      [a, val(1)],
      [b, val(2)],
    ]);
    expect(t.root).toEqual(nodeHash(nodeHash(leafHash(b, val(2)), leafHash(a, val(1))), ZERO));
  });

  it('two keys sharing a 7-bit prefix of ones: a chain of 7 internal nodes on the right', () => {
    const a = kh(0xfe);
    const b = kh(0xff);
    let expected = nodeHash(leafHash(a, val(1)), leafHash(b, val(2)));
    for (let i = 0; i < 7; i++) expected = nodeHash(ZERO, expected);
    const t = SparseMerkleTree.build([
      [a, val(1)],
      [b, val(2)],
    ]);
    expect(t.root).toEqual(expected);
    expect(SparseMerkleTree.empty().withChanges([[a, val(1)]]).withChanges([[b, val(2)]]).root).toEqual(expected);
  });

  it('keys differing only in the last bit sit at depth 256', () => {
    const a = kh();
    const b = kh();
    b[31] = 1;
    let expected = nodeHash(leafHash(a, val(1)), leafHash(b, val(2)));
    for (let i = 0; i < 255; i++) expected = nodeHash(expected, ZERO);
    const t = SparseMerkleTree.empty().withChanges([
      [a, val(1)],
      [b, val(2)],
    ]);
    expect(t.root).toEqual(expected);
    expect(t.withChanges([[b, null]]).root).toEqual(leafHash(a, val(1)));
  });

  it('three keys: a lone leaf stays at the shallowest depth that isolates it', () => {
    const a = kh(0x00);
    const b = kh(0x20);
    const c = kh(0x80);
    const t = SparseMerkleTree.empty().withChanges([
      [a, val(1)],
      [b, val(2)],
      [c, val(3)],
    ]);
    // a=000.., b=001..: they split at bit 2; c is alone on the right at depth 1.
    const left = nodeHash(nodeHash(leafHash(a, val(1)), leafHash(b, val(2))), ZERO);
    expect(t.root).toEqual(nodeHash(left, leafHash(c, val(3))));
  });

  it('two real keys: chain down to the first differing bit', () => {
    const ka = stateKeyHash('alice');
    const kb = stateKeyHash('bob');
    const bit = (k: Uint8Array, d: number): number => (k[d >> 3]! >> (7 - (d & 7))) & 1;
    let d = 0;
    while (bit(ka, d) === bit(kb, d)) d++;
    const la = leafHash(ka, val(1));
    const lb = leafHash(kb, val(2));
    let expected = bit(ka, d) === 0 ? nodeHash(la, lb) : nodeHash(lb, la);
    for (let i = d - 1; i >= 0; i--) expected = bit(ka, i) === 0 ? nodeHash(expected, ZERO) : nodeHash(ZERO, expected);
    const t = SparseMerkleTree.empty().withChanges([
      [ka, val(1)],
      [kb, val(2)],
    ]);
    expect(t.root).toEqual(expected);
  });

  it('deleting back to one key collapses to that leaf; deleting all gives zeros', () => {
    const a = kh(0x00);
    const b = kh(0x01);
    const c = kh(0x02);
    const t3 = SparseMerkleTree.empty().withChanges([
      [a, val(1)],
      [b, val(2)],
      [c, val(3)],
    ]);
    const t1 = t3.withChanges([
      [a, null],
      [c, null],
    ]);
    expect(t1.root).toEqual(leafHash(b, val(2)));
    expect(t1.size).toBe(1);
    const t0 = t1.withChanges([[b, null]]);
    expect(t0.root).toEqual(ZERO);
    expect(t0.size).toBe(0);
    expect(t3.size).toBe(3);
    expect(t3.root).toEqual(computeRootNaive([[a, val(1)], [b, val(2)], [c, val(3)]]));
  });

  it('deleting a missing key and rewriting an equal value are no-ops', () => {
    const t = SparseMerkleTree.empty().withChanges([
      [kh(1), val(1)],
      [kh(2), val(2)],
    ]);
    expect(t.withChanges([[kh(3), null]])).toBe(t);
    expect(t.withChanges([[kh(1), val(1)]])).toBe(t);
    expect(SparseMerkleTree.empty().withChanges([[kh(3), null]]).root).toEqual(ZERO);
  });

  it('last change wins for a repeated key in one batch, and in build', () => {
    const k = kh(7);
    const t = SparseMerkleTree.empty().withChanges([
      [k, val(1)],
      [k, null],
      [k, val(2)],
    ]);
    expect(t.root).toEqual(leafHash(k, val(2)));
    expect(t.withChanges([[k, val(3)], [k, null]]).root).toEqual(ZERO);
    expect(
      SparseMerkleTree.build([
        [k, val(1)],
        [k, val(4)],
      ]).root,
    ).toEqual(leafHash(k, val(4)));
  });

  it('the returned root is a copy: mutating it cannot corrupt the tree', () => {
    const t = SparseMerkleTree.empty().withChanges([[kh(1), val(1)]]);
    t.root.fill(0xaa);
    expect(t.root).toEqual(leafHash(kh(1), val(1)));
    SparseMerkleTree.empty().root.fill(0xaa);
    expect(SparseMerkleTree.empty().root).toEqual(ZERO);
  });

  it('keeps its own copy of inputs: a caller reusing its buffers cannot alter the tree', () => {
    const k = kh(0x42);
    const v = val(1);
    const t = SparseMerkleTree.empty().withChanges([[k, v]]);
    const root = t.root;
    k.fill(0);
    v.fill(0);
    expect(t.root).toEqual(root);
    expect(t.get(kh(0x42))).toEqual(val(1));
    expect([...t.entries()].map(([a, b]) => [hex(a), hex(b)])).toEqual([[hex(kh(0x42)), hex(val(1))]]);
  });

  it('rejects hashes that are not 32 bytes', () => {
    expect(() => SparseMerkleTree.empty().withChanges([[new Uint8Array(31), val(1)]])).toThrow(TypeError);
    expect(() => SparseMerkleTree.empty().withChanges([[kh(1), new Uint8Array(33)]])).toThrow(TypeError);
    expect(() => SparseMerkleTree.build([[kh(1), new Uint8Array(0)]])).toThrow(/32-byte/);
  });
});

// ---------------------------------------------------------------------------------------
// Property tests against the model (a Map) and the naive reference root.

/** Run random batches over `universe` key hashes and check every intermediate tree. */
function checkBatches(universe: readonly Uint8Array[], batches: readonly (readonly [number, number | null])[][]): void {
  const model: Model = new Map();
  let tree = SparseMerkleTree.empty();
  const history: { tree: SparseMerkleTree; root: Uint8Array; size: number }[] = [];
  for (const raw of batches) {
    const batch: SmtChange[] = raw.map(([ki, vi]) => [universe[ki]!, vi === null ? null : val(vi)]);
    history.push({ tree, root: tree.root, size: tree.size });
    tree = tree.withChanges(batch);
    applyToModel(model, batch);
    const expected = computeRootNaive(model.values());
    expect(hex(tree.root)).toBe(hex(expected));
    expect(tree.size).toBe(model.size);
    // Persistence: no earlier version moved.
    for (const h of history) {
      expect(hex(h.tree.root)).toBe(hex(h.root));
      expect(h.tree.size).toBe(h.size);
    }
  }
  // Bulk build of the final state agrees with the incremental tree, and so do the contents.
  expect(hex(SparseMerkleTree.build(model.values()).root)).toBe(hex(tree.root));
  expect([...tree.entries()].map(([k, v]) => `${hex(k)}:${hex(v)}`)).toEqual(sortedEntries(model));
  for (const [k, v] of model.values()) expect(tree.get(k)).toEqual(v);
}

const batchesOver = (n: number, maxBatch: number, maxBatches: number) =>
  fc.array(
    fc.array(fc.tuple(fc.nat(n - 1), fc.option(fc.nat(3), { freq: 3 })), { maxLength: maxBatch }),
    { maxLength: maxBatches },
  );

describe('SparseMerkleTree properties', () => {
  it('small universe (k0..k20): every batch matches the naive root; old versions are unchanged', () => {
    const universe = Array.from({ length: 21 }, (_, i) => stateKeyHash(`k${i}`));
    fc.assert(fc.property(batchesOver(21, 12, 12), (batches) => checkBatches(universe, batches)), {
      numRuns: 300,
    });
  });

  it('adversarial universe: key hashes sharing long prefixes (deep chains, depth up to 256)', () => {
    // Keys differ only in the last two bytes, in a few high and low bits, or in byte 0.
    const universe: Uint8Array[] = [];
    for (const b30 of [0x00, 0x01, 0x80]) {
      for (const b31 of [0x00, 0x01, 0x02, 0x03, 0x80, 0xff]) {
        const k = new Uint8Array(32);
        k[30] = b30;
        k[31] = b31;
        universe.push(k);
      }
    }
    universe.push(kh(0x80), kh(0x40), kh(0xff, 0xff));
    fc.assert(fc.property(batchesOver(universe.length, 10, 10), (batches) => checkBatches(universe, batches)), {
      numRuns: 300,
    });
  });

  it('larger universe (2000 keys, batches up to 150 changes)', () => {
    const universe = Array.from({ length: 2000 }, (_, i) => stateKeyHash(`account/${i}/balance`));
    fc.assert(fc.property(batchesOver(2000, 150, 6), (batches) => checkBatches(universe, batches)), {
      numRuns: 40,
    });
  });

  it('order independence: the same final map through different histories gives the same root', () => {
    const universe = Array.from({ length: 40 }, (_, i) => stateKeyHash(`k${i}`));
    const arb = fc.record({
      final: fc.uniqueArray(fc.tuple(fc.nat(39), fc.nat(3)), { selector: ([k]) => k, maxLength: 30 }),
      noise: fc.uniqueArray(fc.nat(39), { maxLength: 15 }),
      order: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
      chunk: fc.integer({ min: 1, max: 7 }),
    });
    fc.assert(
      fc.property(arb, ({ final, noise, order, chunk }) => {
        const finalKeys = new Set(final.map(([k]) => k));
        const target: SmtChange[] = final.map(([k, v]) => [universe[k]!, val(v)]);
        // History A: one batch, in the given order.
        const a = SparseMerkleTree.empty().withChanges(target);
        // History B: noise keys first (with wrong values for target keys too), then the
        // target entries in a shuffled order in small batches, then delete the noise.
        const shuffled = target
          .map((c, i) => [order[i] ?? 0, c] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, c]) => c);
        let b = SparseMerkleTree.empty().withChanges(noise.map((k): SmtChange => [universe[k]!, val(9)]));
        for (let i = 0; i < shuffled.length; i += chunk) b = b.withChanges(shuffled.slice(i, i + chunk));
        b = b.withChanges(noise.filter((k) => !finalKeys.has(k)).map((k): SmtChange => [universe[k]!, null]));
        // History C: bulk build from the reversed entries.
        const c = SparseMerkleTree.build(
          [...target].reverse().map(([k, v]) => [k, v!] as const),
        );
        expect(hex(b.root)).toBe(hex(a.root));
        expect(hex(c.root)).toBe(hex(a.root));
        expect(b.size).toBe(final.length);
        expect(hex(a.root)).toBe(hex(computeRootNaive(target.map(([k, v]) => [k, v!] as const))));
      }),
      { numRuns: 300 },
    );
  });

  it('bulk build equals incremental insertion for random key sets', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
          selector: (k) => hex(k),
          maxLength: 200,
        }),
        (keys) => {
          const entries = keys.map((k, i) => [k, val(i & 3)] as const);
          const built = SparseMerkleTree.build(entries);
          let inc = SparseMerkleTree.empty();
          for (const e of entries) inc = inc.withChanges([e]);
          expect(hex(built.root)).toBe(hex(inc.root));
          expect(hex(built.root)).toBe(hex(computeRootNaive(entries)));
          expect(built.size).toBe(keys.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('SparseMerkleTree over state writes (withWrites / ofState)', () => {
  it('equals withChanges / build over stateKeyHash and stateValueHash, batch after batch', () => {
    const write = fc.tuple(fc.nat(30), fc.option(fc.uint8Array({ maxLength: 40 }), { freq: 4 }));
    fc.assert(
      fc.property(fc.array(fc.array(write, { maxLength: 20 }), { maxLength: 8 }), (batches) => {
        let byWrites = SparseMerkleTree.empty();
        let byHashes = SparseMerkleTree.empty();
        const state = new Map<string, Uint8Array>();
        for (const batch of batches) {
          const writes = batch.map(([k, v]) => [`acct/${k}/balance`, v] as const);
          byWrites = byWrites.withWrites(writes);
          byHashes = byHashes.withChanges(writes.map(([k, v]) => [stateKeyHash(k), v === null ? null : stateValueHash(v)] as const));
          for (const [k, v] of writes) (v === null ? state.delete(k) : state.set(k, v));
          expect(hex(byWrites.root)).toBe(hex(byHashes.root));
          expect(hex(SparseMerkleTree.ofState(state).root)).toBe(hex(byWrites.root));
          expect(hex(SparseMerkleTree.ofState(state).root)).toBe(hex(computeRootNaive([...state].map(([k, v]) => [stateKeyHash(k), stateValueHash(v)] as const))));
        }
      }),
      { numRuns: 150 },
    );
  });
});
