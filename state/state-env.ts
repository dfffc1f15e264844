/**
 * Opening the state store's LMDB environment the same way on every thread (main, Block-STM
 * workers, the writer thread): same flags (LMDB refuses a second open with conflicting sync
 * flags), same tables, same key encodings.
 *
 * Tables (LMDB named databases):
 *   values  state key (ASCII bytes) -> value bytes          sorted by key: entries() is in key order
 *   buckets bucket index (u32 BE) -> bucket record (bucket-tree.ts): hash, then sorted (keyHash, leafHash)
 *   meta    'height' u64 | 'root' [32] | 'size' u64 | 'format' u32 | 'bucketBits' u32 (| 'loading' during a bulk load)
 *
 * Pitfall (lmdb-js): a `transactionSync` callback must not return what `put` returns (a
 * promise-like): the transaction then stays open until it settles, and the next
 * `transactionSync` calls silently join it instead of committing on their own.
 */
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import type { StateTables } from './state-commit.js';
import { StateError } from './state-error.js';

/**
 * Durability of a commit (docs in state/README.md, "Durability"):
 *   'process-crash'  LMDB NOSYNC: a commit is in the OS page cache when it resolves. Survives the
 *                    process being killed (kill -9, OOM); an OS crash or power loss can lose
 *                    recent commits AND may leave the file inconsistent (LMDB's own caveat):
 *                    like the node's LevelDB writes, which are not fsynced either.
 *   'power-loss'     lmdb-js default (fsync, overlapping with the next transaction): a commit
 *                    resolves once it is flushed; an OS crash loses nothing that resolved.
 */
export type StateDurability = 'process-crash' | 'power-loss';

export interface StateEnvOptions {
  readonly path: string;
  readonly readOnly?: boolean;
  readonly durability?: StateDurability;
  /** Address space reserved for the map (not disk, not RAM). Default 1 TiB. */
  readonly mapSizeBytes?: number;
  /** Concurrent read transactions (main + workers + held snapshots). Default 254. */
  readonly maxReaders?: number;
  /**
   * LMDB WRITEMAP (default on): a write transaction puts its pages straight into the shared
   * file mapping. Without it LMDB copies every page a transaction touches into malloc'd memory,
   * keeps them in a sorted dirty list (insertion is O(dirty pages): 9% of all CPU in a 1M-account
   * run under perf) and writes them out at commit. Measured per 20,000-change block, CPU of the
   * commit: 1M accounts 1.65-1.91 s -> 0.93-1.07 s, 10M accounts 6.4 s -> 2.4 s; and the
   * anonymous RSS that held the copies (~400 MB at 10M) is gone. Costs: LMDB extends the file to
   * the map size, so `data.mdb` is a sparse file whose apparent size is `mapSizeBytes` (1 TiB;
   * `du` shows what is used; copy it with a sparse-aware tool or LMDB's backup), and a stray
   * native write into the map could reach the file. Every thread opening the environment must
   * agree.
   */
  readonly writeMap?: boolean;
}

export const STATE_ENV_DEFAULTS = { durability: 'process-crash' as StateDurability, mapSizeBytes: 2 ** 40, maxReaders: 254, writeMap: true };

/** Keys as ASCII strings (state keys, meta names); raw bytes are written as given (the writer's packed keys). */
interface KeyTarget extends Uint8Array {
  latin1Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
}
const asciiKeys = {
  writeKey(key: string | Uint8Array, target: KeyTarget, start: number): number {
    if (typeof key === 'string') return start + target.latin1Write(key, start);
    target.set(key, start);
    return start + key.length;
  },
  readKey(source: KeyTarget, start: number, end: number): string {
    return source.latin1Slice(start, end);
  },
};

export interface StateEnv {
  readonly root: RootDatabase;
  readonly tables: StateTables;
}

export function openStateEnv(opts: StateEnvOptions): StateEnv {
  const o = { ...STATE_ENV_DEFAULTS, ...opts };
  let root: RootDatabase;
  try {
    root = open({
      path: o.path,
      readOnly: o.readOnly ?? false,
      mapSize: o.mapSizeBytes,
      maxReaders: o.maxReaders,
      maxDbs: 4,
      noMemInit: true,
      ...(o.writeMap ? { useWritemap: true } : {}),
      // Safe: lmdb-js refuses noSync on an env another thread opened with overlappingSync, so
      // every thread must pass the same durability.
      ...(o.durability === 'process-crash' ? { noSync: true } : {}),
    });
  } catch (cause) {
    throw new StateError('STATE_OPEN_FAILED', `cannot open the state store at ${o.path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  try {
    const tables: StateTables = {
      values: root.openDB({ name: 'values', encoding: 'binary', keyEncoder: asciiKeys } as DatabaseOptions & { name: string }) as Database<Uint8Array, string | Uint8Array>,
      buckets: root.openDB({ name: 'buckets', encoding: 'binary', keyEncoding: 'binary' }) as Database<Uint8Array, Uint8Array>,
      meta: root.openDB({ name: 'meta', encoding: 'binary', keyEncoder: asciiKeys } as DatabaseOptions & { name: string }) as Database<Uint8Array, string>,
    };
    return { root, tables };
  } catch (cause) {
    void root.close();
    throw new StateError('STATE_OPEN_FAILED', `cannot open the tables of the state store at ${o.path} (read-only before its first commit?): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
