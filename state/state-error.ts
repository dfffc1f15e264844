/**
 * Errors of the LMDB state store, its disk-backed tree and the world-state facade on top
 * (state-db.ts, bucket-tree.ts, bulk-load.ts, disk-world.ts). One class, stable codes.
 */
export type StateErrorCode =
  /** The LMDB environment cannot be opened (path, permissions, map size, another format). */
  | 'STATE_OPEN_FAILED'
  /** Stored data contradicts itself: meta without a root node, a node record of the wrong size or hash. */
  | 'STATE_CORRUPT'
  /** A tree node that its parent (or meta) names is not in the store: the store is damaged. */
  | 'STATE_NODE_MISSING'
  /**
   * A tree version was read after another version became durable in its place (a discarded
   * proposal, or a base superseded by a commit): its unchanged nodes are no longer on disk.
   */
  | 'STATE_STALE_VERSION'
  /** A commit does not extend the latest committed (or queued) state: wrong height or base root. */
  | 'STATE_NOT_NEXT'
  /** An LMDB write transaction failed; nothing of it was written. The store refuses further commits. */
  | 'STATE_WRITE_FAILED'
  /** A write on a store opened read-only (worker threads). */
  | 'STATE_READ_ONLY'
  /** Use after close(). */
  | 'STATE_CLOSED'
  /** Use of a read snapshot after its last release(). */
  | 'STATE_SNAPSHOT_RELEASED'
  /** Bulk load into a store that already holds state. */
  | 'STATE_NOT_EMPTY'
  /** A bad argument at a public entry (key, value, option). */
  | 'STATE_INVALID_ARGUMENT'
  /** A world-state operation out of order (settle before write, commit with unsettled blocks, ...). */
  | 'STATE_OUT_OF_ORDER';

export class StateError extends Error {
  readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateError';
    this.code = code;
  }
}
