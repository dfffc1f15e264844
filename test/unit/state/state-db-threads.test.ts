/**
 * The state store across threads: the writer thread, and Block-STM-like reader threads that
 * open the store read-only and read through their own snapshots while the main thread commits.
 * Threads load dist/ (run `npm run build` first; assertDistFresh says so).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import type * as DbModule from '../../../state/state-db.js';
import type * as SmtModule from '../../../state/bucket-tree.js';
import { sortWriteSet, type WriteSet } from '../../../state/types.js';
import { applyToModel, assertDistFresh, DIST, hex, referenceRoot, tempDir } from './helpers.js';

let StateDb: typeof DbModule.StateDb;
let BucketTree: typeof SmtModule.BucketTree;
beforeAll(async () => {
  assertDistFresh();
  ({ StateDb } = (await import(DIST('state/state-db.js'))) as typeof DbModule);
  ({ BucketTree } = (await import(DIST('state/bucket-tree.js'))) as typeof SmtModule);
});

const cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const v = (n: number): Uint8Array => Uint8Array.of(n & 0xff, n >> 8);

/** A worker of fixtures/reader-worker.mjs and a way to send it a command and await its answer. */
async function reader(path: string): Promise<{ ask: (m: object) => Promise<Record<string, unknown>> }> {
  const w = new Worker(new URL('./fixtures/reader-worker.mjs', import.meta.url), { workerData: { path, dist: DIST('state/state-db.js') } });
  cleanups.push(() => w.terminate());
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await next(); // ready
  return {
    ask: (m) => {
      const p = next();
      w.postMessage(m);
      return p;
    },
  };
}

describe('StateDb with its writer thread', () => {
  it('writes each block in the writer thread; commits queue in order and a reopen sees them all', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = StateDb.open({ path: t.path });
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    const model = new Map<string, Uint8Array>();
    // Three blocks handed in back to back (the second and third built on unwritten versions).
    let tree = smt.durable;
    const writes: Promise<void>[] = [];
    for (let h = 0; h < 3; h++) {
      const ws: WriteSet = sortWriteSet(Array.from({ length: 300 }, (_, i) => [`acct/${(h * 131 + i * 7) % 500}`, i % 11 === 0 ? null : v(h * 1000 + i)] as const));
      tree = tree.withWrites(ws);
      applyToModel(model, ws);
      writes.push(db.commitBlock(BigInt(h), ws, tree.delta()));
    }
    await Promise.all(writes);
    expect(tree.isDurable).toBe(true);
    expect(db.height).toBe(2n);
    expect(hex(db.root)).toBe(referenceRoot(model));
    await db.close();
    const again = StateDb.open({ path: t.path, writer: 'inline' });
    cleanups.push(() => again.close());
    expect(hex(again.root)).toBe(referenceRoot(model));
    expect([...again.latest.entries()].length).toBe(model.size);
  });
});

describe('reads from a worker thread', () => {
  it('see exactly the snapshot of their read transaction while the main thread commits', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = StateDb.open({ path: t.path });
    cleanups.push(() => db.close());
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    const commit = async (h: number, ws: WriteSet): Promise<void> => db.commitBlock(BigInt(h), ws, smt.durable.withWrites(ws).delta());
    await commit(0, [['k', v(0)]]);
    const r = await reader(t.path);
    expect(await r.ask({ type: 'begin' })).toEqual({ type: 'begun', height: '0' });
    await commit(1, [['k', v(1)], ['n1', v(1)]]);
    await commit(2, [['k', v(2)], ['n2', v(2)]]);
    // Still block 0 in the worker's snapshot; the main thread sees block 2.
    expect(await r.ask({ type: 'read', keys: ['k', 'n1', 'n2'] })).toEqual({ type: 'values', values: [hex(v(0)), null, null] });
    expect(hex(db.get('k'))).toBe(hex(v(2)));
    await r.ask({ type: 'end' });
    expect(await r.ask({ type: 'begin' })).toEqual({ type: 'begun', height: '2' });
    expect(await r.ask({ type: 'read', keys: ['k', 'n1', 'n2'] })).toEqual({ type: 'values', values: [hex(v(2)), hex(v(1)), hex(v(2))] });
    await r.ask({ type: 'end' });
    await r.ask({ type: 'close' });
  });

  it('never see a block half written: every snapshot has all or none of each block', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = StateDb.open({ path: t.path });
    cleanups.push(() => db.close());
    const smt = BucketTree.open(db, db.root, db.size, db.bucketBits);
    const keys = Array.from({ length: 2000 }, (_, i) => `acct/${i}`);
    const block = (h: number): WriteSet => keys.map((k) => [k, v(h)] as const);
    let h = 0;
    await db.commitBlock(BigInt(h), block(h), smt.durable.withWrites(block(h)).delta());
    const r = await reader(t.path);
    // The worker reads snapshot after snapshot while the main thread keeps committing blocks
    // that rewrite every key; it stops after 300 rounds that saw at least 5 different blocks.
    const verdict = r.ask({ type: 'torn', keys, rounds: 300, minHeights: 5 });
    let done = false;
    void verdict.then(() => (done = true));
    while (!done) {
      h++;
      await db.commitBlock(BigInt(h), block(h), smt.durable.withWrites(block(h)).delta());
    }
    const res = await verdict;
    expect(res.type).toBe('consistent');
    expect((res.heights as string[]).length).toBeGreaterThanOrEqual(5);
    await r.ask({ type: 'close' });
  });
});
