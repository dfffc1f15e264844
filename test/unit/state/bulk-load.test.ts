import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bulkLoad } from '../../../state/bulk-load.js';
import { BucketTree } from '../../../state/bucket-tree.js';
import { DiskWorldState } from '../../../state/disk-world.js';
import { MemoryBucketStore } from '../../../state/memory-bucket-store.js';
import { StateDb } from '../../../state/state-db.js';
import { StateError } from '../../../state/state-error.js';
import { sortWriteSet } from '../../../state/types.js';
import { applyToModel, fcRuns, hex, referenceRoot, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newStore(): { path: string; db: StateDb } {
  const t = tempDir();
  const db = StateDb.open({ path: t.path, writer: 'inline' });
  cleanups.push(t.cleanup);
  cleanups.push(() => db.close());
  return { path: t.path, db };
}

/** The bucket table as (index -> record hex), in key order. */
function storedNodes(db: StateDb): string[] {
  const out: string[] = [];
  db.latest.forEachBucket((i, rec) => out.push(`${i}:${hex(rec)}`));
  return out;
}

/** The bucket records a per-block build of `state` writes, in the same form. */
function blockBuiltNodes(state: Map<string, Uint8Array>, bits: number): string[] {
  const mem = new MemoryBucketStore();
  const v = BucketTree.open(mem, new Uint8Array(32), 0, bits).durable.withWrites([...state]);
  if (state.size > 0) mem.apply(v.delta());
  const out: string[] = [];
  mem.forEachBucket((i, rec) => out.push(`${i}:${hex(rec)}`));
  return out;
}

describe('bulkLoad', () => {
  it('gives the same values, root and node set as building the state block by block (duplicates: last wins)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.uint8Array({ maxLength: 12 })), { maxLength: 400 }),
        fc.integer({ min: 200, max: 4000 }),
        fc.constantFrom(2, 5, 8, 11, 20),
        async (gen, runBytes, bucketBits) => {
          const t = tempDir();
          const db = StateDb.open({ path: t.path, writer: 'inline', bucketBits });
          try {
            const entries = gen.map(([k, v]) => [`acct/${k}`, v] as const);
            const res = await bulkLoad(db, { count: entries.length, entry: (i) => entries[i]!, height: 0n, runBytes, txnEntries: 37 });
            const model = new Map<string, Uint8Array>();
            for (const [k, v] of entries) model.set(k, v);
            expect(hex(res.root)).toBe(referenceRoot(model));
            expect(res.size).toBe(model.size);
            expect(db.height).toBe(0n);
            expect(hex(db.root)).toBe(referenceRoot(model));
            expect([...db.latest.entries()].map(([k, v]) => `${k}=${hex(v)}`)).toEqual([...model].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${hex(v)}`));
            expect(storedNodes(db)).toEqual(blockBuiltNodes(model, bucketBits));
            expect(db.bucketBits).toBe(bucketBits);
          } finally {
            await db.close();
            t.cleanup();
          }
        },
      ),
      fcRuns(40, 0x57470001),
    );
  });

  it('leaves a store that blocks then commit on, with O(1) reopen', async () => {
    const { path, db } = newStore();
    const n = 5000;
    const entry = (i: number): readonly [string, Uint8Array] => [`coin/balance/${(i * 2654435761) % 2 ** 32}`, Uint8Array.of(i & 0xff, i >> 8)];
    await bulkLoad(db, { count: n, entry, height: 7n, runBytes: 50_000 });
    const model = new Map<string, Uint8Array>();
    for (let i = 0; i < n; i++) model.set(...entry(i));
    const world = DiskWorldState.open(db, { verifyReads: true });
    cleanups.push(() => world.close());
    const ws = sortWriteSet([[entry(3)[0], Uint8Array.of(9)], ['new/key', Uint8Array.of(1)], [entry(4)[0], null]]);
    const p = world.prepare(ws);
    await world.write(p, 8n);
    world.commit(p);
    applyToModel(model, ws);
    expect(hex(world.root)).toBe(referenceRoot(model));
    await db.close();
    const again = StateDb.open({ path, writer: 'inline' });
    cleanups.push(() => again.close());
    expect(again.height).toBe(8n);
    expect(again.size).toBe(model.size);
    expect(hex(again.root)).toBe(referenceRoot(model));
  });

  it('refuses a store that holds state', async () => {
    const { db } = newStore();
    await bulkLoad(db, { count: 1, entry: () => ['a', Uint8Array.of(1)], height: 0n });
    await expect(bulkLoad(db, { count: 1, entry: () => ['b', Uint8Array.of(1)], height: 0n })).rejects.toMatchObject({ code: 'STATE_NOT_EMPTY' });
  });

  it('an interrupted load leaves a store that refuses to open (never a partial state passed for whole)', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = StateDb.open({ path: t.path, writer: 'inline' });
    await expect(
      bulkLoad(db, {
        count: 100,
        entry: (i) => {
          if (i === 60) throw new Error('generator failed');
          return [`k${i}`, Uint8Array.of(i)];
        },
        height: 0n,
        runBytes: 500,
      }),
    ).rejects.toThrow('generator failed');
    await db.close();
    let err: unknown;
    try {
      StateDb.open({ path: t.path, writer: 'inline' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateError);
    expect((err as StateError).code).toBe('STATE_CORRUPT');
  });

  it('rejects a malformed entry', async () => {
    const { db } = newStore();
    await expect(bulkLoad(db, { count: 1, entry: () => ['bad key', Uint8Array.of(1)], height: 0n })).rejects.toMatchObject({ code: 'STATE_INVALID_ARGUMENT' });
  });
});
