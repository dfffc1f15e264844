/**
 * A Block-STM worker thread. It holds no copy of the state: it opens the node's LMDB state
 * store read-only (state/state-db.ts; at init when the pool knows the store, else at the
 * first block) and, per block, reads the pre-block state through a read snapshot it takes
 * when the block arrives plus the block's overlay (the writes of blocks the main thread has
 * applied but not yet written to the store, state/disk-world.ts OverlayReader); the snapshot
 * is released when the block ends. For each block it runs the paper's loop:
 *   task = next_task(); execute -> try_execute, validate -> needs_reexecution
 * reading only through MultiVersionMemory and that reader. One message in and one message
 * out per block; everything else goes through shared memory.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { checkTxEncoding, decodeTx, SigningScratch, txSignatureParts, writeTxHash, type SignedTx } from '../../protocol/tx.js';
import { createVerifier } from '../../protocol/verify.js';
import { moduleSet, type ModuleSet } from '../../contracts/registry.js';
import type { Module } from '../../contracts/types.js';
import { ExecutorSignal, executeTransaction } from '../vm.js';
import type { BlockContext } from '../types.js';
import { ABORT_REASON, BlockStopped, CapacityExceeded, CTL, ENTRY, FINAL_STRIDE, firstEagerTx, KEY, READ, RUN_STRIDE, TX, TXF, SharedViews, type SharedBuffers } from './layout.js';
import { FINAL, MultiVersionMemory } from './mvmemory.js';
import { OverlayReader } from '../../state/disk-world.js';
import { StateDb } from '../../state/state-db.js';
import { encodeOutcome, INGEST_STRIDE, OUTPUT_INCLUDED, unpackEntries, unpackRawTxs, VERIFY } from './outputs.js';
import { Scheduler, type Task } from './scheduler.js';

class DependencySignal extends ExecutorSignal {
  constructor(readonly blockingTx: number) {
    super('dependency');
  }
}

export interface BlockMessage {
  type: 'block';
  epoch: number;
  ctx: BlockContext;
  n: number;
  workers: number;
  contentionPct: number;
  contentionMinSample: number;
  /** The LMDB state store holding the block's committed base (opened read-only here). */
  statePath: string;
  /** Writes of blocks applied but not in the store yet (packEntries), or null for none. */
  overlay: Uint8Array | null;
  /** Height the worker's snapshot must have reached for the overlay to complete it (StateOverlay.minHeight). */
  overlayBase: bigint | undefined;
}

export type WorkerMessage =
  | { type: 'init'; modules: ModuleSet; buffers: SharedBuffers; index: number; statePath: string | null }
  | { type: 'buffers'; buffers: SharedBuffers }
  | BlockMessage
  | { type: 'verify' | 'ingest'; id: number; packed: Uint8Array };

/** A worker's heap after its latest block or job, in bytes (for the node's metrics). */
export interface WorkerHeap {
  readonly newSpace: number;
  readonly oldSpace: number;
  readonly used: number;
}

/**
 * Every message is answered or survived: a job that throws gets 'job-failed' (the caller does
 * it on its own thread), a block that throws gets 'done' with its error (the block falls back,
 * e.g. when the state store cannot be opened), and a failed 'init' or 'buffers' gets
 * 'broken', since the thread's view of the shared buffers (or of the state store) is then
 * wrong: the pool replaces it (execution/parallel/pool.ts).
 */
export type WorkerReply =
  | { type: 'done'; epoch: number; error?: string; heap: WorkerHeap }
  | { type: 'ready' }
  | { type: 'job'; id: number; out: Uint8Array; busyMs: number; heap: WorkerHeap }
  | { type: 'job-failed'; id: number; error: string; heap: WorkerHeap }
  | { type: 'broken'; error: string };

function heap(): WorkerHeap {
  let newSpace = 0;
  let oldSpace = 0;
  for (const sp of getHeapSpaceStatistics()) {
    if (sp.space_name === 'new_space') newSpace = sp.space_size;
    else if (sp.space_name === 'old_space') oldSpace = sp.space_size;
  }
  return { newSpace, oldSpace, used: getHeapStatistics().used_heap_size };
}

/** The state store this worker reads (read-only), opened for the path blocks name. */
let stateDb: StateDb | null = null;

function openState(path: string): StateDb {
  if (stateDb !== null && stateDb.path === path) return stateDb;
  const old = stateDb;
  stateDb = null;
  if (old !== null) void old.close().catch(() => undefined);
  const db = StateDb.open({ path, readOnly: true });
  // A read-only store never commits, so its `latest` snapshot would stay open for the life of
  // this thread and pin the pages of that old state (LMDB could not reuse the pages later
  // commits free, the file would grow). Blocks read through snapshots of their own.
  db.latest.release();
  stateDb = db;
  return db;
}

const verifier = createVerifier();
const signing = new SigningScratch();

/**
 * Signature checks of a block's txs (a follower's, or sync's). The caller has decoded them
 * already (decodeBlock), so the worker only cuts out key, signing bytes and signature
 * instead of decoding each tx a second time. The signing bytes go into one reused buffer.
 */
function verifyPacked(packed: Uint8Array): Uint8Array {
  const raws = unpackRawTxs(packed);
  const codes = new Uint8Array(raws.length);
  for (let i = 0; i < raws.length; i++) codes[i] = verifyRaw(raws[i]!);
  return codes;
}

function verifyRaw(raw: Uint8Array): number {
  const parts = txSignatureParts(raw, signing);
  if (parts === null) return VERIFY.UNDECODABLE;
  return verifier.verify(parts.publicKey, parts.signingBytes, parts.signature) ? VERIFY.OK : VERIFY.BAD_SIGNATURE;
}

/**
 * Ingestion: the node's main thread hands raw txs over undecoded. Each is decoded here (the
 * full canonical check of decodeTx), hashed and its signature checked; the main thread gets
 * the code and the hash (INGEST_STRIDE bytes a tx) and builds the tx from its bytes without
 * decoding them (checkedTx).
 */
function ingestPacked(packed: Uint8Array): Uint8Array {
  const raws = unpackRawTxs(packed);
  const out = new Uint8Array(raws.length * INGEST_STRIDE);
  for (let i = 0; i < raws.length; i++) {
    const at = i * INGEST_STRIDE;
    try {
      checkTxEncoding(raws[i]!);
    } catch {
      out[at] = VERIFY.UNDECODABLE;
      continue;
    }
    writeTxHash(raws[i]!, out, at + 1);
    out[at] = verifyRaw(raws[i]!);
  }
  return out;
}

let modules: ReadonlyMap<string, Module> = new Map();
let views: SharedViews | null = null;
let mv: MultiVersionMemory | null = null;
let sched: Scheduler | null = null;
let workerIndex = 0;
/** Worker-local finalisation state, per key id; prevOrder: the ids of the previous block's run. */
let final: { offset: Int32Array; length: Int32Array; placed: Int32Array; prevOrder: number[]; gen: number } | null = null;

function setBuffers(b: SharedBuffers): void {
  views = new SharedViews(b);
  mv = new MultiVersionMemory(views);
  sched = new Scheduler(views);
  const keys = b.capacity.keys;
  final = { offset: new Int32Array(keys), length: new Int32Array(keys), placed: new Int32Array(keys), prevOrder: [], gen: -1 };
}

/** Runs a block on a fresh read snapshot of the store plus the block's overlay; the snapshot ends with the block. */
function runBlockOnState(msg: BlockMessage): void {
  const snap = openState(msg.statePath).beginRead();
  try {
    const writes = new Map<string, Uint8Array | null>();
    if (msg.overlay !== null) unpackEntries(msg.overlay, (k, val) => writes.set(k, val));
    runBlock(msg, new OverlayReader(snap, { minHeight: msg.overlayBase, writes }));
  } finally {
    snap.release();
  }
}

function runBlock(msg: BlockMessage, state: OverlayReader): void {
  const v = views!;
  const memory = mv!;
  const s = sched!;
  memory.beginBlock();
  const n = msg.n;
  const ctx = msg.ctx;
  const storage = (keyId: number): Uint8Array | undefined => state.get(memory.keyString(keyId));
  const incarnationLimit = Atomics.load(v.ctl, CTL.INCARNATION_LIMIT);
  let execUs = 0;
  let validateUs = 0;
  let idleUs = 0;

  const reads: number[] = [];
  const seen = new Map<string, Uint8Array | undefined>();

  // Decoded per incarnation and dropped after it: nothing of a tx outlives its execution, so
  // young-generation collections find little alive (re-executions are the exception).
  const txAt = (i: number): SignedTx => {
    // The main thread may still be copying the block in: wait for tx i.
    if (Atomics.load(v.ctl, CTL.TXS_READY) <= i) {
      const t0 = performance.now();
      for (let ready = Atomics.load(v.ctl, CTL.TXS_READY); ready <= i; ready = Atomics.load(v.ctl, CTL.TXS_READY)) {
        // The main thread stopped the block (its copy failed): never wait for txs that will not come.
        if (s.done()) throw new BlockStopped('before its transactions were copied in');
        Atomics.wait(v.ctl, CTL.TXS_READY, ready, 1);
      }
      idleUs += (performance.now() - t0) * 1000;
    }
    const b = i * TX.STRIDE;
    const start = v.tx[b + TX.TX_START]!;
    const end = start + v.tx[b + TX.TX_LEN]!;
    // Views into the arena: valid until the block ends, and nothing outlives the block.
    return decodeTx(v.bytes.subarray(start, end), { hash: v.bytes.subarray(end, end + 32), sender: v.bytes.subarray(end + 32, end + 52) });
  };

  const tryExecute = (i: number, inc: number): Task => {
    if (inc >= incarnationLimit) {
      s.abort(ABORT_REASON.INCARNATION_LIMIT);
      return null;
    }
    const started = Atomics.add(v.ctl, CTL.INCARNATIONS, 1) + 1;
    // Contention guard: when most incarnations are being thrown away, parallel cannot win.
    // Checked before every incarnation, so it also fires when most attempts end in a dependency.
    if (started >= msg.contentionMinSample && Atomics.load(v.ctl, CTL.ABORTS) * 100 > started * msg.contentionPct) {
      s.abort(ABORT_REASON.HIGH_CONTENTION);
      return null;
    }
    // Reused per incarnation: record() copies the read set into shared memory at once.
    reads.length = 0;
    seen.clear();
    const source = {
      get(key: string): Uint8Array | undefined {
        if (seen.has(key)) return seen.get(key);
        const id = memory.keyId(key);
        const r = memory.read(id, i, storage);
        let value: Uint8Array | undefined;
        switch (r.kind) {
          case 'dependency':
            throw new DependencySignal(r.blockingTx);
          case 'storage':
            value = state.get(key);
            reads.push(id, READ.STORAGE, 0, 0);
            break;
          case 'version':
            value = r.value;
            reads.push(id, READ.VERSION, r.tx, r.incarnation);
            break;
          case 'resolved':
            value = r.value;
            reads.push(id, READ.RESOLVED, memory.putBytes(r.value), r.value.length);
            break;
        }
        seen.set(key, value);
        return value;
      },
    };
    const t0 = performance.now();
    let result;
    try {
      result = executeTransaction(source, txAt(i), ctx, modules, 'deferred');
    } catch (e) {
      execUs += (performance.now() - t0) * 1000;
      if (e instanceof DependencySignal) {
        if (!s.addDependency(i, e.blockingTx)) return { kind: 'execute', txIdx: i, incarnation: inc };
        return null;
      }
      throw e;
    }
    execUs += (performance.now() - t0) * 1000;
    const b = i * TX.STRIDE;
    const o = result.outcome;
    if (o.kind === 'included') {
      // 1 | encoded receipt, written straight into the arena.
      const at = memory.reserveBytes(o.encoded.length + 1);
      v.bytes[at] = OUTPUT_INCLUDED;
      v.bytes.set(o.encoded, at + 1);
      v.tx[b + TX.OUT_START] = at;
      v.tx[b + TX.OUT_LEN] = o.encoded.length + 1;
    } else {
      const out = encodeOutcome(o);
      v.tx[b + TX.OUT_START] = memory.putBytes(out);
      v.tx[b + TX.OUT_LEN] = out.length;
    }
    v.tx[b + TX.FLAGS] = (result.deferredFailure ? TXF.NEEDS_EAGER : 0) | (result.outcome.kind === 'discarded' ? TXF.DISCARDED : 0);
    const wroteNew = memory.record(i, inc, reads, result.view.writes, result.view.deltas);
    return s.finishExecution(i, inc, wroteNew);
  };

  const needsReexecution = (i: number, inc: number): Task => {
    const t0 = performance.now();
    Atomics.add(v.ctl, CTL.VALIDATIONS, 1);
    const valid = memory.validateReadSet(i, storage);
    const aborted = !valid && s.tryValidationAbort(i, inc);
    if (aborted) memory.convertWritesToEstimates(i);
    validateUs += (performance.now() - t0) * 1000;
    return s.finishValidation(i, aborted);
  };

  let task: Task = null;
  try {
    while (!s.done()) {
      if (task === null) {
        const sig = s.workSignal();
        task = s.nextTask();
        if (task === null) {
          const t0 = performance.now();
          s.idle(sig);
          idleUs += (performance.now() - t0) * 1000;
          continue;
        }
      }
      task = task.kind === 'execute' ? tryExecute(task.txIdx, task.incarnation) : needsReexecution(task.txIdx, task.incarnation);
    }
    if (Atomics.load(v.ctl, CTL.ABORT) === 0) {
      const t0 = performance.now();
      finaliseShare(v, memory, storage, n, msg.workers);
      Atomics.add(v.ctl, CTL.FINALISE_US, Math.round((performance.now() - t0) * 1000));
    }
  } catch (e) {
    // Stopped from outside (a worker exited, the copy failed): the reason is set already.
    if (e instanceof BlockStopped) return;
    s.abort(e instanceof CapacityExceeded ? ABORT_REASON.CAPACITY : ABORT_REASON.WORKER_ERROR);
    if (!(e instanceof CapacityExceeded)) throw e;
  } finally {
    Atomics.add(v.ctl, CTL.EXEC_US, Math.round(execUs));
    Atomics.add(v.ctl, CTL.VALIDATE_US, Math.round(validateUs));
    Atomics.add(v.ctl, CTL.IDLE_US, Math.round(idleUs));
  }
}

/**
 * After the run (every task done, no abort): this worker's share of the final write set.
 * Keys are split by id (keyId mod workers); each key's entries below the cut (the first tx
 * that must be re-executed eagerly) are replayed in tx order, and the share is written to
 * `final` sorted by key, as one run the main thread merges with the others. A delta bound
 * failure is reported in CTL.FAIL_AT instead (the main thread then finishes the block).
 */
function finaliseShare(v: SharedViews, memory: MultiVersionMemory, storage: (keyId: number) => Uint8Array | undefined, n: number, workers: number): void {
  const { ctl, entries, keyMeta } = v;
  const f = final!;
  const cut = firstEagerTx(v, n);
  const seq = ctl[CTL.BLOCK_SEQ]!;
  const gen = ctl[CTL.KEY_GEN]!;
  if (gen !== f.gen) {
    f.gen = gen;
    f.prevOrder = [];
  }
  const touched: number[] = [];
  const ec = memory.entryCount();
  for (let e = 0; e < ec; e++) {
    const k = entries[e * ENTRY.STRIDE + ENTRY.KEY]!;
    if (k < 0 || k % workers !== workerIndex) continue;
    const mark = k * KEY.STRIDE + KEY.MARK;
    if (keyMeta[mark] === seq) continue;
    keyMeta[mark] = seq;
    const r = memory.replayKey(k, cut, storage);
    if (r.kind === FINAL.UNTOUCHED) continue;
    if (r.kind === FINAL.FAILED) {
      let cur = Atomics.load(ctl, CTL.FAIL_AT);
      while (r.failTx < cur) {
        const seen = Atomics.compareExchange(ctl, CTL.FAIL_AT, cur, r.failTx);
        if (seen === cur) break;
        cur = seen;
      }
      return;
    }
    if (r.kind === FINAL.VALUE) {
      f.offset[k] = r.offset;
      f.length[k] = r.length;
    } else if (r.kind === FINAL.DELETED) {
      f.offset[k] = 0;
      f.length[k] = -1;
    } else {
      f.offset[k] = memory.putBytes(r.computed!);
      f.length[k] = r.computed!.length;
    }
    f.placed[k] = seq;
    touched.push(k);
  }
  // Sorted by key. Consecutive blocks touch mostly the same keys, so the keys the previous
  // block also finalised go first, in its (sorted) order: a single run for the sort, which
  // then only orders the new keys and merges them in.
  const order: number[] = [];
  for (const k of f.prevOrder) {
    if (f.placed[k] === seq) {
      order.push(k);
      f.placed[k] = -seq;
    }
  }
  const known = order.length;
  for (const k of touched) if (f.placed[k] === seq) order.push(k);
  if (order.length > known) order.sort((a, b) => (memory.keyString(a) < memory.keyString(b) ? -1 : 1));
  f.prevOrder = order;
  const count = order.length;
  const start = Atomics.add(ctl, CTL.FINAL_COUNT, count);
  if ((start + count) * FINAL_STRIDE > v.final.length) throw new CapacityExceeded('final write set');
  const out = v.final;
  for (let j = 0; j < count; j++) {
    const k = order[j]!;
    const r = (start + j) * FINAL_STRIDE;
    out[r] = k;
    out[r + 1] = f.offset[k]!;
    out[r + 2] = f.length[k]!;
  }
  ctl[CTL.RUNS + RUN_STRIDE * workerIndex] = start;
  Atomics.store(ctl, CTL.RUNS + RUN_STRIDE * workerIndex + 1, count);
}

const errorText = (e: unknown): string => (e instanceof Error ? `${e.message}\n${e.stack}` : String(e));
/** Why this thread's buffers or state store cannot be trusted (it said so: the pool replaces it); it runs no block then. */
let broken: string | null = null;
const reply = (m: WorkerReply, transfer?: ArrayBuffer[]): void => parentPort!.postMessage(m, transfer);

parentPort!.on('message', (msg: WorkerMessage) => {
  switch (msg.type) {
    case 'init':
    case 'buffers':
      try {
        if (msg.type === 'init') {
          modules = moduleSet(msg.modules);
          workerIndex = msg.index;
          setBuffers(msg.buffers);
          // A replacement (or a worker of a pool that served blocks already) opens the store
          // now: that is all it needs to serve, there is no state to copy.
          if (msg.statePath !== null) openState(msg.statePath);
          reply({ type: 'ready' });
        } else setBuffers(msg.buffers);
      } catch (e) {
        broken = `${msg.type}: ${errorText(e)}`;
        reply({ type: 'broken', error: broken });
      }
      break;
    case 'verify':
    case 'ingest': {
      // A batch of raw txs in, their verdicts out (one message each way, never one per tx).
      const t0 = performance.now();
      let out: Uint8Array;
      try {
        out = msg.type === 'verify' ? verifyPacked(msg.packed) : ingestPacked(msg.packed);
      } catch (e) {
        reply({ type: 'job-failed', id: msg.id, error: errorText(e), heap: heap() });
        break;
      }
      reply({ type: 'job', id: msg.id, out, busyMs: performance.now() - t0, heap: heap() }, [out.buffer as ArrayBuffer]);
      break;
    }
    case 'block':
      try {
        if (broken !== null) throw new Error(`not running the block: this worker is broken (${broken.split('\n')[0]})`);
        runBlockOnState(msg);
        reply({ type: 'done', epoch: msg.epoch, heap: heap() });
      } catch (e) {
        reply({ type: 'done', epoch: msg.epoch, error: errorText(e), heap: heap() });
      }
      break;
  }
});
