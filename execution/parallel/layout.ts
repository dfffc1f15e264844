import { ExecutorSignal } from '../signal.js';

/**
 * Shared-memory layout of the parallel executor (docs/EXECUTION.md, "Shared memory").
 * Everything a worker needs during a block lives in SharedArrayBuffers allocated once per
 * capacity and reused block after block; nothing per transaction or per read is posted.
 *
 *   ctl      Int32  scheduler counters and statistics (CTL_* indices)
 *   tx       Int32  per tx i: [status, lock, depHead, depNext, readStart, readCount,
 *                   writeStart, writeCount, outStart, outLen, flags, txStart, txLen, depWaits]
 *   slots    Int32  key table, open addressing: keyId + 1, or 0 when empty
 *   keyMeta  Int32  per keyId: [hash, byteOffset, byteLength, headEntry, finalMark]
 *   keyBytes Uint8  ASCII bytes of the interned keys
 *   entries  Int32  MVMemory entries: [txIdx, verKind, next, valOffset, valLen, keyId]
 *   final    Int32  sorted final write-set runs, one per worker: [keyId, valOffset, valLen]
 *   reads    Int32  read-set records: [keyId, kind, a, b]
 *   writes   Int32  write-set records: [keyId, entryIdx]
 *   bytes    Uint8  arena: values, delta op lists, outputs, raw txs
 *
 * The key table (slots, keyMeta, keyBytes) persists across blocks: a key keeps its id, and
 * every thread its cached id and string, until the table passes half its capacity; then the
 * main thread clears it and bumps KEY_GEN. Everything else is reset per block.
 */
/** Each control word sits on its own 64-byte cache line: two cores updating different
 *  counters must not bounce one line between them. */
const LINE = 16;
export const CTL = {
  EXECUTION_IDX: 0 * LINE,
  VALIDATION_IDX: 1 * LINE,
  DECREASE_CNT: 2 * LINE,
  NUM_ACTIVE: 3 * LINE,
  DONE: 4 * LINE,
  BLOCK_SIZE: 5 * LINE,
  ABORT: 6 * LINE, // nonzero: stop and fall back (ABORT_REASON)
  WORK_SIGNAL: 7 * LINE, // bumped whenever new work may exist; idle workers Atomics.wait on it
  KEY_COUNT: 8 * LINE,
  ENTRY_COUNT: 9 * LINE,
  READ_COUNT: 10 * LINE,
  WRITE_COUNT: 11 * LINE,
  BYTES_USED: 12 * LINE,
  INCARNATIONS: 13 * LINE,
  VALIDATIONS: 14 * LINE,
  DEPENDENCY_WAITS: 15 * LINE,
  ABORTS: 16 * LINE,
  FINALISE_US: 17 * LINE, // summed worker finalisation time (us)
  IDLE_US: 18 * LINE, // summed time workers waited for work or for txs to be copied in (us)
  INCARNATION_LIMIT: 19 * LINE,
  EXEC_US: 20 * LINE, // summed execution time across workers (us)
  VALIDATE_US: 21 * LINE, // summed validation time (us)
  KEY_BYTES_USED: 22 * LINE,
  IDLE_WORKERS: 23 * LINE,
  SPARE: 24 * LINE, // never written: target of the lock back-off wait
  // Kept across blocks (Scheduler.reset preserves them): see the key table note above.
  KEY_GEN: 25 * LINE,
  BLOCK_SEQ: 26 * LINE,
  // Worker finalisation: first tx whose delta replay failed (n = none), and words handed out
  // from `final`.
  FAIL_AT: 27 * LINE,
  FINAL_COUNT: 28 * LINE,
  // Per worker w: [runStart, runCount] of its finalised run in `final` (RUN_STRIDE words).
  RUNS: 29 * LINE, // RUN_STRIDE * MAX_WORKERS words, up to TXS_READY
  // Raw txs copied into the arena so far (the main thread copies while workers start).
  TXS_READY: 29 * LINE + 2 * 64,
  SIZE: 30 * LINE + 2 * 64,
} as const;
export const MAX_WORKERS = 64;
export const RUN_STRIDE = 2;
/** Control words that survive Scheduler.reset. */
export const PERSISTENT_CTL = [CTL.KEY_COUNT, CTL.KEY_BYTES_USED, CTL.KEY_GEN, CTL.BLOCK_SEQ] as const;

/** Workers reserve arena space and records in chunks of this many units, then bump locally. */
export const CHUNK = { BYTES: 64 * 1024, ENTRIES: 256, READS: 512, WRITES: 512, KEYS: 256 } as const;

export const ABORT_REASON = {
  NONE: 0,
  INCARNATION_LIMIT: 1,
  HIGH_CONTENTION: 2,
  CAPACITY: 3,
  WORKER_ERROR: 4,
  /** A worker thread exited during the run (the pool replaces it). */
  WORKER_EXITED: 5,
} as const;

export const ABORT_REASON_NAMES: Record<number, string> = {
  1: 'incarnation-limit',
  2: 'high-contention',
  3: 'capacity',
  4: 'worker-error',
  5: 'worker-exited',
};

export const TX = {
  STATUS: 0,
  LOCK: 1,
  DEP_HEAD: 2,
  DEP_NEXT: 3,
  READ_START: 4,
  READ_COUNT: 5,
  WRITE_START: 6,
  WRITE_COUNT: 7,
  OUT_START: 8,
  OUT_LEN: 9,
  FLAGS: 10,
  TX_START: 11,
  TX_LEN: 12,
  /** Times this tx was parked on another's ESTIMATE this block (stats only: debug_blockExecution). */
  DEP_WAITS: 13,
  STRIDE: 14,
} as const;

/** TX.FLAGS bits. */
export const TXF = {
  /** Failed in deferred mode while holding pending deltas: must be re-executed eagerly. */
  NEEDS_EAGER: 1,
  /** Output is a discard. */
  DISCARDED: 2,
} as const;

/** The cut of a finished run: the first tx flagged NEEDS_EAGER, or n if none. */
export function firstEagerTx(v: SharedViews, n: number): number {
  for (let i = 0; i < n; i++) if (v.tx[i * TX.STRIDE + TX.FLAGS]! & TXF.NEEDS_EAGER) return i;
  return n;
}

/** Status word = incarnation * 4 + code (paper: READY_TO_EXECUTE(i), EXECUTING(i), ...). */
export const STATUS = { READY_TO_EXECUTE: 0, EXECUTING: 1, EXECUTED: 2, ABORTING: 3 } as const;

export const KEY = { HASH: 0, OFFSET: 1, LENGTH: 2, HEAD: 3, MARK: 4, STRIDE: 5 } as const;

export const ENTRY = { TX: 0, VER: 1, NEXT: 2, VAL_OFFSET: 3, VAL_LEN: 4, KEY: 5, STRIDE: 6 } as const;
/** Final write-set records: [keyId, valOffset, valLen (-1: deleted)]. */
export const FINAL_STRIDE = 3;

/** ENTRY.VER = incarnation * 8 + kind. */
export const KIND = { VALUE: 0, DELETED: 1, DELTA: 2, ESTIMATE: 3, ABSENT: 4 } as const;

/** Read-set record kinds. */
export const READ = { STORAGE: 0, VERSION: 1, RESOLVED: 2 } as const;
export const READ_STRIDE = 4;
export const WRITE_STRIDE = 2;

export interface Capacity {
  txs: number;
  keySlots: number; // power of two
  keys: number;
  keyBytes: number;
  entries: number;
  reads: number;
  writes: number;
  bytes: number;
}

export function capacityFor(txs: number): Capacity {
  const keys = Math.max(1024, txs * 12);
  let keySlots = 1024;
  while (keySlots < keys * 2) keySlots *= 2;
  return {
    txs: Math.max(64, txs),
    keySlots,
    keys,
    keyBytes: keys * 64,
    entries: Math.max(1 << 16, txs * 24),
    reads: Math.max(1 << 16, txs * 24),
    writes: Math.max(1 << 16, txs * 24),
    bytes: Math.max(1 << 24, txs * 4096),
  };
}

export interface SharedBuffers {
  readonly capacity: Capacity;
  readonly ctl: SharedArrayBuffer;
  readonly tx: SharedArrayBuffer;
  readonly slots: SharedArrayBuffer;
  readonly keyMeta: SharedArrayBuffer;
  readonly keyBytes: SharedArrayBuffer;
  readonly entries: SharedArrayBuffer;
  readonly reads: SharedArrayBuffer;
  readonly writes: SharedArrayBuffer;
  readonly final: SharedArrayBuffer;
  readonly bytes: SharedArrayBuffer;
}

export function allocateBuffers(c: Capacity): SharedBuffers {
  return {
    capacity: c,
    ctl: new SharedArrayBuffer(CTL.SIZE * 4),
    tx: new SharedArrayBuffer(c.txs * TX.STRIDE * 4),
    slots: new SharedArrayBuffer(c.keySlots * 4),
    keyMeta: new SharedArrayBuffer(c.keys * KEY.STRIDE * 4),
    keyBytes: new SharedArrayBuffer(c.keyBytes),
    entries: new SharedArrayBuffer(c.entries * ENTRY.STRIDE * 4),
    reads: new SharedArrayBuffer(c.reads * READ_STRIDE * 4),
    writes: new SharedArrayBuffer(c.writes * WRITE_STRIDE * 4),
    final: new SharedArrayBuffer(c.keys * FINAL_STRIDE * 4),
    bytes: new SharedArrayBuffer(c.bytes),
  };
}

/** Typed views over the buffers (each thread builds its own). */
export class SharedViews {
  readonly ctl: Int32Array;
  readonly tx: Int32Array;
  readonly slots: Int32Array;
  readonly keyMeta: Int32Array;
  readonly keyBytes: Uint8Array;
  readonly entries: Int32Array;
  readonly reads: Int32Array;
  readonly writes: Int32Array;
  readonly final: Int32Array;
  readonly bytes: Uint8Array;
  readonly capacity: Capacity;

  constructor(b: SharedBuffers) {
    this.capacity = b.capacity;
    this.ctl = new Int32Array(b.ctl);
    this.tx = new Int32Array(b.tx);
    this.slots = new Int32Array(b.slots);
    this.keyMeta = new Int32Array(b.keyMeta);
    this.keyBytes = new Uint8Array(b.keyBytes);
    this.entries = new Int32Array(b.entries);
    this.reads = new Int32Array(b.reads);
    this.writes = new Int32Array(b.writes);
    this.final = new Int32Array(b.final);
    this.bytes = new Uint8Array(b.bytes);
  }
}

export class CapacityExceeded extends ExecutorSignal {
  constructor(what: string) {
    super(`parallel executor capacity exceeded: ${what}`);
  }
}

/**
 * Thrown inside a worker's run when the run was stopped from outside while the worker waited
 * on another thread (a tx lock, an entry being rewritten, txs being copied in): that thread
 * may have exited mid-way and will never let go. The reason is in CTL.ABORT already.
 */
export class BlockStopped extends ExecutorSignal {
  constructor(where: string) {
    super(`block run stopped ${where}`);
  }
}

/** True once the run was aborted (CTL.ABORT set): waits on other threads give up then. */
export function runAborted(ctl: Int32Array): boolean {
  return Atomics.load(ctl, CTL.ABORT) !== 0;
}
