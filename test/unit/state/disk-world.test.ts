/**
 * DiskWorldState against WorldState: the same operation sequences (prepare, discarded
 * proposals, apply, write, settle, commit, in random interleavings) on both; roots, sizes,
 * reads of the applied and of the durable state, and full entry lists equal at every step.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DiskWorldState, OverlayReader, type DiskPreparedState } from '../../../state/disk-world.js';
import { StateDb } from '../../../state/state-db.js';
import { StateError } from '../../../state/state-error.js';
import { sortWriteSet, type WriteSet } from '../../../state/types.js';
import { WorldState, type PreparedState, type StateView } from '../../../state/world.js';
import { fcRuns, hex, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KEYS = Array.from({ length: 24 }, (_, i) => `k/${i}`);
const wsArb: fc.Arbitrary<WriteSet> = fc
  .uniqueArray(fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.integer({ min: 0, max: 4 }).map((n) => Uint8Array.of(n)), { freq: 3 })), { selector: (e) => e[0], maxLength: 8 })
  .map((e) => sortWriteSet(e));

type Op =
  | { op: 'apply'; ws: WriteSet }
  | { op: 'writeAheadApply'; ws: WriteSet }
  | { op: 'commit'; ws: WriteSet }
  | { op: 'discard'; ws: WriteSet }
  | { op: 'write' }
  | { op: 'settle' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  wsArb.map((ws) => ({ op: 'apply' as const, ws })),
  wsArb.map((ws) => ({ op: 'writeAheadApply' as const, ws })),
  wsArb.map((ws) => ({ op: 'commit' as const, ws })),
  wsArb.map((ws) => ({ op: 'discard' as const, ws })),
  fc.constant({ op: 'write' as const }),
  fc.constant({ op: 'write' as const }),
  fc.constant({ op: 'settle' as const }),
  fc.constant({ op: 'settle' as const }),
);

const dump = (view: StateView): string[] => [...view.entries()].map(([k, v]) => `${k}=${hex(v)}`).sort();

function same(ref: WorldState, disk: DiskWorldState): void {
  expect(hex(disk.root)).toBe(hex(ref.root));
  expect(disk.size).toBe(ref.size);
  expect(disk.unsettled).toBe(ref.unsettled);
  expect(disk.version).toBe(ref.version);
  expect(hex(disk.durable.root)).toBe(hex(ref.durable.root));
  for (const k of KEYS) {
    expect(hex(disk.get(k))).toBe(hex(ref.get(k)));
    expect(hex(disk.durable.get(k))).toBe(hex(ref.durable.get(k)));
  }
  expect(dump(disk)).toEqual(dump(ref));
  expect(dump(disk.durable)).toEqual(dump(ref.durable));
}

function openWorld(): { db: StateDb; world: DiskWorldState; path: string } {
  const t = tempDir();
  const db = StateDb.open({ path: t.path, writer: 'inline' });
  const world = DiskWorldState.open(db, { verifyReads: true });
  cleanups.push(t.cleanup);
  cleanups.push(() => db.close());
  cleanups.push(() => world.close());
  return { db, world, path: t.path };
}

describe('DiskWorldState behaves as WorldState', () => {
  it('for random interleavings of prepare, apply, write, settle, commit and discarded proposals', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const t = tempDir();
        const db = StateDb.open({ path: t.path, writer: 'inline' });
        const disk = DiskWorldState.open(db, { verifyReads: true });
        try {
          const ref = WorldState.empty();
          // Applied blocks not yet written (disk side), oldest first, with their heights.
          const unwritten: { p: DiskPreparedState; height: bigint }[] = [];
          let written = 0; // applied blocks written but not settled
          let nextHeight = 0n;
          for (const o of ops) {
            switch (o.op) {
              case 'discard': {
                const a = ref.prepare(o.ws);
                const b = disk.prepare(o.ws);
                expect(hex(b.root)).toBe(hex(a.root));
                break;
              }
              case 'apply': {
                const a = ref.prepare(o.ws);
                const b = disk.prepare(o.ws);
                expect(hex(b.root)).toBe(hex(a.root));
                ref.apply(a);
                disk.apply(b);
                unwritten.push({ p: b, height: nextHeight++ });
                break;
              }
              case 'writeAheadApply': {
                // Written before it is adopted, then applied (the order a caller may also use).
                if (unwritten.length > 0) break;
                const a = ref.prepare(o.ws);
                const b = disk.prepare(o.ws);
                await disk.write(b, nextHeight++);
                ref.apply(a);
                disk.apply(b);
                written++;
                break;
              }
              case 'write': {
                const u = unwritten.shift();
                if (u === undefined) break;
                await disk.write(u.p, u.height);
                written++;
                break;
              }
              case 'settle': {
                if (written === 0) {
                  if (disk.unsettled > 0) expect(() => disk.settle()).toThrow(StateError);
                  break;
                }
                ref.settle();
                disk.settle();
                written--;
                break;
              }
              case 'commit': {
                if (ref.unsettled > 0) {
                  expect(() => ref.commit(ref.prepare(o.ws))).toThrow();
                  break;
                }
                const a: PreparedState = ref.prepare(o.ws);
                const b = disk.prepare(o.ws);
                expect(() => disk.commit(b)).toThrow(StateError); // not written yet
                await disk.write(b, nextHeight++);
                ref.commit(a);
                disk.commit(b);
                break;
              }
            }
            same(ref, disk);
            // A worker's view: a fresh snapshot under the overlay equals the applied state.
            const snap = db.beginRead();
            const r = new OverlayReader(snap, disk.overlay());
            for (const k of KEYS) expect(hex(r.get(k))).toBe(hex(ref.get(k)));
            snap.release();
          }
          // Drain, then reopen from disk alone: O(1) start-up, same state.
          for (const u of unwritten.splice(0)) {
            await disk.write(u.p, u.height);
            written++;
          }
          while (written-- > 0) {
            ref.settle();
            disk.settle();
          }
          same(ref, disk);
          disk.close();
          const again = DiskWorldState.open(db, { verifyReads: true });
          // Start-up reads the bucket hashes only: no bucket's leaves.
          expect(again.smt.stats().bucketReads).toBe(0);
          expect(again.smt.stats().startup).toBe('checkpoint');
          expect(hex(again.root)).toBe(hex(ref.root));
          expect(dump(again)).toEqual(dump(ref));
          const more = sortWriteSet([['k/0', Uint8Array.of(7)], ['k/new', Uint8Array.of(8)]]);
          expect(hex(again.prepare(more).root)).toBe(hex(ref.prepare(more).root));
          again.close();
        } finally {
          disk.close();
          await db.close();
          t.cleanup();
        }
      }),
      fcRuns(60, 0x57470201),
    );
  });

  it('refuses out-of-order use with typed errors', async () => {
    const { world } = openWorld();
    expect(() => world.settle()).toThrow(expect.objectContaining({ code: 'STATE_OUT_OF_ORDER' }));
    const p = world.prepare([['a', Uint8Array.of(1)]]);
    const q = world.prepare([['b', Uint8Array.of(1)]]);
    world.apply(p);
    expect(() => world.apply(q)).toThrow(expect.objectContaining({ code: 'STATE_OUT_OF_ORDER' }));
    expect(() => world.settle()).toThrow(expect.objectContaining({ code: 'STATE_OUT_OF_ORDER' }));
    await world.write(p, 0n);
    // q was prepared on the state before p: the store no longer holds its base.
    await expect(world.write(q, 1n)).rejects.toMatchObject({ code: 'STATE_NOT_NEXT' });
    world.settle();
    expect(hex(world.durable.get('a'))).toBe('01');
  });

  it("a worker's snapshot older than the overlay's base is refused", async () => {
    const { db, world } = openWorld();
    const old = db.beginRead();
    const p = world.prepare([['a', Uint8Array.of(1)]]);
    await world.write(p, 0n);
    world.commit(p);
    world.apply(world.prepare([['b', Uint8Array.of(2)]]));
    expect(() => new OverlayReader(old, world.overlay())).toThrow(expect.objectContaining({ code: 'STATE_OUT_OF_ORDER' }));
    old.release();
    const now = db.beginRead();
    const r = new OverlayReader(now, world.overlay());
    expect([hex(r.get('a')), hex(r.get('b'))]).toEqual(['01', '02']);
    now.release();
  });

  it('holds only the unsettled blocks in memory: a settled block reads from the store', async () => {
    const { db, world } = openWorld();
    const p = world.prepare([['a', Uint8Array.of(1)]]);
    world.apply(p);
    expect(db.get('a')).toBeUndefined();
    expect(hex(world.get('a'))).toBe('01');
    expect(world.overlay().writes.size).toBe(1);
    await world.write(p, 0n);
    expect(world.overlay().writes.size).toBe(0);
    expect(hex(db.get('a'))).toBe('01');
    world.settle();
    expect(world.unsettled).toBe(0);
    expect(p.tree.isDurable).toBe(true);
  });
});
