/**
 * A throwaway LMDB state store in a temp dir, for benchmarks and tests that execute blocks
 * outside a node: the same DiskWorldState the chain uses (so Block-STM workers read it from
 * the store, as in a node), with the given entries written at height 0. `commit` writes the
 * next block the way the chain does (prepare, write, commit); `close` removes the dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bulkLoad } from '../state/bulk-load.js';
import { DiskWorldState, type DiskPreparedState } from '../state/disk-world.js';
import { StateDb } from '../state/state-db.js';
import { sortWriteSet, type WriteSet } from '../state/types.js';

export interface ScratchState {
  readonly world: DiskWorldState;
  readonly db: StateDb;
  readonly path: string;
  /** Height of the last block written (0 = the initial entries). */
  readonly height: bigint;
  /** Writes `writeSet` as the next block and adopts it; returns the prepared block. */
  commit(writeSet: WriteSet): Promise<DiskPreparedState>;
  /** Releases the state, closes the store and removes its directory. */
  close(): Promise<void>;
}

const open = new Set<ScratchState>();
let exitHook = false;

/** A big initial state given as a generator (genesisEntries): bulk-loaded, never held whole. */
export interface GeneratedEntries {
  readonly count: number;
  readonly entry: (i: number) => readonly [string, Uint8Array];
}

/** Opens a scratch state holding `entries` at height 0 (a generator is bulk-loaded). */
export async function scratchState(entries: Iterable<readonly [string, Uint8Array | null]> | GeneratedEntries, opts: { tmpRoot?: string } = {}): Promise<ScratchState> {
  const path = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), 'pel-scratch-state-'));
  if (!exitHook) {
    exitHook = true;
    // Last resort for a caller that did not close: the directory does not outlive the process.
    process.once('exit', () => {
      for (const s of open) rmSync(s.path, { recursive: true, force: true });
    });
  }
  let db: StateDb;
  try {
    db = StateDb.open({ path, writer: 'inline' });
  } catch (e) {
    rmSync(path, { recursive: true, force: true });
    throw e;
  }
  const generated = 'count' in entries && typeof (entries as GeneratedEntries).entry === 'function' ? (entries as GeneratedEntries) : null;
  if (generated !== null) {
    try {
      await bulkLoad(db, { ...generated, height: 0n });
    } catch (e) {
      await db.close();
      rmSync(path, { recursive: true, force: true });
      throw e;
    }
  }
  const world = DiskWorldState.open(db);
  let height = generated !== null ? 0n : -1n;
  let closed = false;
  const s: ScratchState = {
    world,
    db,
    path,
    get height() {
      return height;
    },
    async commit(writeSet) {
      const p = world.prepare(writeSet);
      await world.write(p, height + 1n);
      world.commit(p);
      height++;
      return p;
    },
    async close() {
      if (closed) return;
      closed = true;
      open.delete(s);
      world.close();
      await db.close();
      rmSync(path, { recursive: true, force: true });
    },
  };
  open.add(s);
  if (generated !== null) return s;
  try {
    await s.commit(sortWriteSet(entries as Iterable<readonly [string, Uint8Array | null]>));
  } catch (e) {
    await s.close();
    throw e;
  }
  return s;
}

/** Closes every scratch state still open (test teardown). */
export async function closeScratchStates(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}
