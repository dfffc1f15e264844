import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BucketTree } from '../../../state/bucket-tree.js';
import { MemoryBucketStore } from '../../../state/memory-bucket-store.js';
import { StateDb } from '../../../state/state-db.js';
import { StateError } from '../../../state/state-error.js';
import { sortWriteSet, type WriteSet } from '../../../state/types.js';
import { applyToModel, fcRuns, hex, referenceRoot, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newStore(): { dir: string; db: StateDb } {
  const t = tempDir();
  const db = StateDb.open({ path: t.path, writer: 'inline' });
  cleanups.push(t.cleanup);
  cleanups.push(() => db.close());
  return { dir: t.path, db };
}

const v = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Writes one block through a BucketTree over the store. */
async function commit(db: StateDb, smt: BucketTree, height: bigint, ws: WriteSet): Promise<void> {
  const next = smt.durable.withWrites(ws);
  const delta = next === smt.durable ? { baseRoot: smt.durable.rootH32, root: smt.durable.rootH32, size: smt.durable.size, bits: smt.bits, writes: new Map(), committed: () => {} } : next.delta();
  await db.commitBlock(height, ws, delta);
}

describe('StateDb', () => {
  it('an empty store has no height, a zero root and no values', () => {
    const { db } = newStore();
    expect(db.height).toBeUndefined();
    expect(hex(db.root)).toBe('00'.repeat(32));
    expect(db.get('a')).toBeUndefined();
    expect(db.latest.bucketCount()).toBe(0);
  });

  it('commits values, nodes and meta together; a reopen reads them back in O(1)', async () => {
    const { dir, db } = newStore();
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    const model = new Map<string, Uint8Array>();
    const blocks: WriteSet[] = [
      sortWriteSet([['a', v(1)], ['b', v(2)], ['c', v(3)]]),
      sortWriteSet([['b', null], ['d', v(4)]]),
      sortWriteSet([['a', v(9)]]),
    ];
    for (let h = 0; h < blocks.length; h++) {
      await commit(db, smt, BigInt(h), blocks[h]!);
      applyToModel(model, blocks[h]!);
      expect(db.height).toBe(BigInt(h));
      expect(hex(db.root)).toBe(referenceRoot(model));
    }
    await db.close();
    const again = StateDb.open({ path: dir, writer: 'inline' });
    cleanups.push(() => again.close());
    expect(again.height).toBe(2n);
    expect(hex(again.root)).toBe(referenceRoot(model));
    expect(again.size).toBe(model.size);
    expect([...again.latest.entries()].map(([k, x]) => `${k}=${hex(x)}`)).toEqual([...model].sort().map(([k, x]) => `${k}=${hex(x)}`));
    const tree = BucketTree.open(again, again.root, again.size, again.bucketBits, { verifyReads: true });
    expect([...tree.durable.leaves()].length).toBe(model.size);
  });

  it('refuses a commit that does not extend the tip (height or base root), and writes nothing', async () => {
    const { db } = newStore();
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    await commit(db, smt, 5n, [['a', v(1)]]);
    const next = smt.durable.withWrites([['b', v(2)]]);
    await expect(db.commitBlock(7n, [['b', v(2)]], next.delta())).rejects.toMatchObject({ code: 'STATE_NOT_NEXT' });
    const other = BucketTree.open(new MemoryBucketStore(), new Uint8Array(32), 0, db.bucketBits).durable.withWrites([['z', v(1)]]);
    await expect(db.commitBlock(6n, [['z', v(1)]], other.delta())).rejects.toMatchObject({ code: 'STATE_NOT_NEXT' });
    expect(db.height).toBe(5n);
    expect(db.get('b')).toBeUndefined();
    await db.commitBlock(6n, [['b', v(2)]], next.delta());
    expect(db.height).toBe(6n);
  });

  it('rejects bad keys and values at the door', async () => {
    const { db } = newStore();
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    for (const ws of [[['has space', v(1)]], [['', v(1)]], [['x'.repeat(257), v(1)]], [['é', v(1)]], [['ok', 'str']]] as unknown as WriteSet[]) {
      const t = smt.durable.withWrites(ws.map(([k, x]) => [k, x instanceof Uint8Array ? x : v(0)]));
      await expect(db.commitBlock(0n, ws, t.delta())).rejects.toBeInstanceOf(StateError);
    }
    expect(db.height).toBeUndefined();
  });

  it('a snapshot keeps seeing its state while later blocks commit', async () => {
    const { db } = newStore();
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    await commit(db, smt, 0n, [['k', v(0)]]);
    const snap = db.beginRead();
    for (let h = 1; h <= 5; h++) await commit(db, smt, BigInt(h), [['k', v(h)], [`n${h}`, v(h)]]);
    expect(snap.height).toBe(0n);
    expect(hex(snap.get('k'))).toBe('00');
    expect(snap.get('n3')).toBeUndefined();
    expect([...snap.entries()].length).toBe(1);
    const now = db.beginRead();
    expect(now.height).toBe(5n);
    expect(hex(now.get('k'))).toBe('05');
    snap.release();
    now.release();
    expect(() => snap.get('k')).toThrow(expect.objectContaining({ code: 'STATE_SNAPSHOT_RELEASED' }));
  });

  it("durability 'power-loss' (fsync per commit) stores the same state", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = StateDb.open({ path: t.path, writer: 'inline', durability: 'power-loss' });
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    await commit(db, smt, 0n, [['a', v(1)], ['b', v(2)]]);
    await commit(db, smt, 1n, [['a', null]]);
    await db.close();
    const again = StateDb.open({ path: t.path, writer: 'inline', durability: 'power-loss' });
    cleanups.push(() => again.close());
    expect(again.height).toBe(1n);
    expect(hex(again.root)).toBe(referenceRoot(new Map([['b', v(2)]])));
  });

  it('writeMap off (pages copied, LMDB default) stores the same state', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = StateDb.open({ path: t.path, writer: 'inline', writeMap: false, mapSizeBytes: 2 ** 30 });
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    await commit(db, smt, 0n, [['a', v(1)], ['b', v(2)]]);
    await commit(db, smt, 1n, [['b', null], ['c', v(3)]]);
    await db.close();
    const again = StateDb.open({ path: t.path, writer: 'inline', writeMap: false, mapSizeBytes: 2 ** 30 });
    cleanups.push(() => again.close());
    expect(again.height).toBe(1n);
    expect(hex(again.root)).toBe(referenceRoot(new Map([['a', v(1)], ['c', v(3)]])));
  });

  it('a read-only store refuses commits', async () => {
    const { dir, db } = newStore();
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    await commit(db, smt, 0n, [['a', v(1)]]);
    const ro = StateDb.open({ path: dir, readOnly: true });
    cleanups.push(() => ro.close());
    expect(hex(ro.get('a'))).toBe('01');
    await expect(ro.commitBlock(1n, [], smt.durable.withWrites([['b', v(1)]]).delta())).rejects.toMatchObject({ code: 'STATE_READ_ONLY' });
  });

  it('holds exactly the current tree after random blocks: roots match the in-memory tree, node count matches a fresh build', async () => {
    const keyArb = fc.integer({ min: 0, max: 60 }).map((i) => `acct/${i}`);
    const wsArb = fc.uniqueArray(fc.tuple(keyArb, fc.option(fc.integer({ min: 0, max: 5 }).map((n) => v(n)), { freq: 3 })), { selector: (e) => e[0], maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(fc.array(wsArb, { minLength: 1, maxLength: 10 }), async (blocks) => {
        const t = tempDir();
        const db = StateDb.open({ path: t.path, writer: 'inline' });
        try {
          const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
          const model = new Map<string, Uint8Array>();
          for (let h = 0; h < blocks.length; h++) {
            const ws = sortWriteSet(blocks[h]!);
            await commit(db, smt, BigInt(h), ws);
            applyToModel(model, ws);
            expect(hex(db.root)).toBe(referenceRoot(model));
            expect(db.size).toBe(model.size);
          }
          // The fresh build of the same key set, in another store, has the same node count.
          const f = tempDir();
          const fresh = StateDb.open({ path: f.path, writer: 'inline' });
          try {
            await commit(fresh, BucketTree.open(fresh, fresh.root, 0, fresh.bucketBits), 0n, sortWriteSet(model));
            expect(db.latest.bucketCount()).toBe(fresh.latest.bucketCount());
            expect(hex(fresh.root)).toBe(hex(db.root));
          } finally {
            await fresh.close();
            f.cleanup();
          }
        } finally {
          await db.close();
          t.cleanup();
        }
      }),
      fcRuns(25, 0x57470301),
    );
  });
});
