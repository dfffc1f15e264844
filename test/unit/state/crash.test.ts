/**
 * Crash consistency: a child process commits blocks (fixtures/crash-child.mjs) and is killed
 * with SIGKILL at chosen points, including right after a 20,000-entry block was handed to its
 * writer thread (the kill then lands inside, or around, a long LMDB transaction). After each
 * kill the store is reopened: its meta height and root must match its values and its tree
 * nodes, every commit the child reported must be there, and the child resumes from it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BucketTree } from '../../../state/bucket-tree.js';
import { MemoryBucketStore } from '../../../state/memory-bucket-store.js';
import { StateDb } from '../../../state/state-db.js';
import { applyToModel, assertDistFresh, DIST, hex, referenceRoot, tempDir } from './helpers.js';
// @ts-expect-error: a plain ES module fixture shared with the child process (no types).
import { blockWrites } from './fixtures/crash-blocks.mjs';

const blocks = blockWrites as (h: number) => [string, Uint8Array | null][];

beforeAll(() => assertDistFresh());
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Run {
  lastStarted: number;
  lastCommitted: number;
}

/** Runs the child until `killWhen` says so, then SIGKILLs it and waits for its exit. */
function runChild(path: string, durability: string, writeMap: boolean, killWhen: (m: { started?: number; committed?: number }) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = [DIST(''), path, durability, writeMap ? 'writemap' : 'malloc'];
    const child = fork(fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url)), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    cleanups.push(() => child.kill('SIGKILL'));
    const run: Run = { lastStarted: -1, lastCommitted: -1 };
    let killed = false;
    child.on('message', (m: { started?: number; committed?: number }) => {
      if (m.started !== undefined) run.lastStarted = m.started;
      if (m.committed !== undefined) run.lastCommitted = m.committed;
      if (!killed && killWhen(m)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(run) : reject(new Error(`crash child exited on its own (code ${code})`))));
  });
}

/** Reopens the store and checks it against a replay of blocks 0..height. Returns the height. */
function checkStore(path: string, writeMap: boolean): number {
  const db = StateDb.open({ path, writer: 'inline', writeMap });
  try {
    const height = db.height === undefined ? -1 : Number(db.height);
    const model = new Map<string, Uint8Array>();
    for (let h = 0; h <= height; h++) applyToModel(model, blocks(h));
    // Values: exactly the replayed state.
    const stored = [...db.latest.entries()];
    expect(stored.length).toBe(model.size);
    for (const [k, v] of stored) expect(hex(v)).toBe(hex(model.get(k)));
    // Meta: root and size of exactly those values.
    expect(hex(db.root)).toBe(referenceRoot(model));
    expect(db.size).toBe(model.size);
    // Nodes: the same set a fresh build of those values has, readable and hash-checked.
    const fresh = new MemoryBucketStore();
    const f = BucketTree.open(fresh, new Uint8Array(32), 0, db.bucketBits).durable.withWrites([...model]);
    if (model.size > 0) fresh.apply(f.delta());
    expect(db.latest.bucketCount()).toBe(fresh.count);
    const tree = BucketTree.open(db, db.root, db.size, db.bucketBits, { verifyReads: true });
    let leaves = 0;
    for (const _ of tree.durable.leaves()) leaves++;
    expect(leaves).toBe(model.size);
    return height;
  } finally {
    void db.close();
  }
}

describe('crash consistency (kill -9 of the writing process)', () => {
  it.each([
    ['writeMap (default: pages written into the map)', true],
    ['writeMap off (pages copied)', false],
  ])('%s: after each kill, meta height and root agree with the stored values and nodes; nothing reported committed is lost', async (_name, writeMap) => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    // Kill points: after a committed block; right after a large block was handed to the writer
    // (twice); after the first block of a resumed run.
    const plans: ((m: { started?: number; committed?: number }) => boolean)[] = [
      (m) => m.committed === 5,
      (m) => m.started !== undefined && m.started % 4 === 3,
      (m) => m.started !== undefined && m.started % 4 === 3 && m.started > 8,
      (m) => m.committed !== undefined,
    ];
    let height = -1;
    for (const plan of plans) {
      const run = await runChild(t.path, 'process-crash', writeMap, plan);
      const after = checkStore(t.path, writeMap);
      expect(after).toBeGreaterThanOrEqual(run.lastCommitted);
      expect(after).toBeLessThanOrEqual(Math.max(run.lastStarted, height));
      expect(after).toBeGreaterThanOrEqual(height);
      height = after;
    }
    expect(height).toBeGreaterThan(8);
  }, 300_000);
});
