/**
 * Scheduler (paper Algorithms 4 and 5) over shared Int32 words.
 *
 * Two indices, `executionIdx` and `validationIdx`, hand out the lowest pending task;
 * per tx a status word (incarnation * 4 + READY_TO_EXECUTE | EXECUTING | EXECUTED |
 * ABORTING) changes only under that tx's lock; `decreaseCnt` and `numActiveTasks` make
 * the completion check (`checkDone`) safe against indices moving back concurrently.
 * Dependencies: a tx that read an ESTIMATE of tx j is parked on j's list (an intrusive
 * list through DEP_HEAD / DEP_NEXT: a tx waits on at most one tx at a time) and made
 * READY_TO_EXECUTE again, with the next incarnation, when j finishes executing.
 * Idle workers wait on WORK_SIGNAL with Atomics.wait; every event that can create work
 * bumps and notifies it.
 */
import { BlockStopped, CTL, PERSISTENT_CTL, runAborted, STATUS, TX, type SharedViews } from './layout.js';

export type Task = { kind: 'execute'; txIdx: number; incarnation: number } | { kind: 'validate'; txIdx: number; incarnation: number } | null;

export class Scheduler {
  private readonly ctl: Int32Array;
  private readonly tx: Int32Array;

  constructor(v: SharedViews) {
    this.ctl = v.ctl;
    this.tx = v.tx;
  }

  get blockSize(): number {
    return this.ctl[CTL.BLOCK_SIZE]!;
  }

  /** Main thread, before a block: every tx READY_TO_EXECUTE(0), indices and counters zero. */
  static reset(v: SharedViews, n: number): void {
    const kept = PERSISTENT_CTL.map((w) => v.ctl[w]!);
    v.ctl.fill(0);
    PERSISTENT_CTL.forEach((w, k) => (v.ctl[w] = kept[k]!));
    v.ctl[CTL.BLOCK_SIZE] = n;
    for (let i = 0; i < n; i++) {
      const t = i * TX.STRIDE;
      v.tx[t + TX.STATUS] = STATUS.READY_TO_EXECUTE;
      v.tx[t + TX.LOCK] = 0;
      v.tx[t + TX.DEP_HEAD] = -1;
      v.tx[t + TX.DEP_NEXT] = -1;
      v.tx[t + TX.READ_COUNT] = 0;
      v.tx[t + TX.WRITE_COUNT] = 0;
      v.tx[t + TX.OUT_LEN] = 0;
      v.tx[t + TX.FLAGS] = 0;
      v.tx[t + TX.DEP_WAITS] = 0;
    }
  }

  done(): boolean {
    return Atomics.load(this.ctl, CTL.DONE) !== 0;
  }

  /** Stop all workers (fallback). The main thread re-executes the block sequentially. */
  abort(reason: number): void {
    Atomics.compareExchange(this.ctl, CTL.ABORT, 0, reason);
    Atomics.store(this.ctl, CTL.DONE, 1);
    this.signal();
  }

  signal(): void {
    Atomics.add(this.ctl, CTL.WORK_SIGNAL, 1);
    if (Atomics.load(this.ctl, CTL.IDLE_WORKERS) > 0) Atomics.notify(this.ctl, CTL.WORK_SIGNAL);
  }

  /**
   * Called when next_task found nothing. While an index still has tasks to hand out the
   * caller simply asks again (the paper's loop); only when both are exhausted and the block
   * is not done (other workers still executing or validating) does it sleep on WORK_SIGNAL.
   */
  idle(seen: number): void {
    const n = this.blockSize;
    if (Math.min(Atomics.load(this.ctl, CTL.EXECUTION_IDX), Atomics.load(this.ctl, CTL.VALIDATION_IDX)) < n) return;
    if (this.done()) return;
    Atomics.add(this.ctl, CTL.IDLE_WORKERS, 1);
    Atomics.wait(this.ctl, CTL.WORK_SIGNAL, seen, 5);
    Atomics.sub(this.ctl, CTL.IDLE_WORKERS, 1);
  }

  workSignal(): number {
    return Atomics.load(this.ctl, CTL.WORK_SIGNAL);
  }

  // ---- per-tx lock and status ---------------------------------------------------------

  private lock(i: number): void {
    const at = i * TX.STRIDE + TX.LOCK;
    while (Atomics.compareExchange(this.tx, at, 0, 1) !== 0) {
      // A holder that exited mid-section never unlocks: once the run is aborted, give up.
      if (runAborted(this.ctl)) throw new BlockStopped(`waiting for the lock of tx ${i}`);
      // Critical sections are a few instructions long and never block: yield the core briefly.
      Atomics.wait(this.ctl, CTL.SPARE, 0x7fffffff, 0);
    }
  }

  private unlock(i: number): void {
    Atomics.store(this.tx, i * TX.STRIDE + TX.LOCK, 0);
  }

  status(i: number): number {
    return Atomics.load(this.tx, i * TX.STRIDE + TX.STATUS);
  }

  private setStatus(i: number, s: number): void {
    Atomics.store(this.tx, i * TX.STRIDE + TX.STATUS, s);
  }

  // ---- index management ------------------------------------------------------------------

  private decreaseIdx(which: number, target: number): void {
    let cur = Atomics.load(this.ctl, which);
    while (target < cur) {
      const seen = Atomics.compareExchange(this.ctl, which, cur, target);
      if (seen === cur) break;
      cur = seen;
    }
    Atomics.add(this.ctl, CTL.DECREASE_CNT, 1);
    this.signal();
  }

  private checkDone(): void {
    const n = this.blockSize;
    const observed = Atomics.load(this.ctl, CTL.DECREASE_CNT);
    if (
      Math.min(Atomics.load(this.ctl, CTL.EXECUTION_IDX), Atomics.load(this.ctl, CTL.VALIDATION_IDX)) >= n &&
      Atomics.load(this.ctl, CTL.NUM_ACTIVE) === 0 &&
      observed === Atomics.load(this.ctl, CTL.DECREASE_CNT)
    ) {
      Atomics.store(this.ctl, CTL.DONE, 1);
      this.signal();
    }
  }

  private tryIncarnate(i: number): Task {
    if (i < this.blockSize) {
      this.lock(i);
      const s = this.status(i);
      if ((s & 3) === STATUS.READY_TO_EXECUTE) {
        this.setStatus(i, (s & ~3) | STATUS.EXECUTING);
        this.unlock(i);
        return { kind: 'execute', txIdx: i, incarnation: s >>> 2 };
      }
      this.unlock(i);
    }
    Atomics.sub(this.ctl, CTL.NUM_ACTIVE, 1);
    return null;
  }

  private nextVersionToExecute(): Task {
    if (Atomics.load(this.ctl, CTL.EXECUTION_IDX) >= this.blockSize) {
      this.checkDone();
      return null;
    }
    Atomics.add(this.ctl, CTL.NUM_ACTIVE, 1);
    return this.tryIncarnate(Atomics.add(this.ctl, CTL.EXECUTION_IDX, 1));
  }

  private nextVersionToValidate(): Task {
    if (Atomics.load(this.ctl, CTL.VALIDATION_IDX) >= this.blockSize) {
      this.checkDone();
      return null;
    }
    Atomics.add(this.ctl, CTL.NUM_ACTIVE, 1);
    const i = Atomics.add(this.ctl, CTL.VALIDATION_IDX, 1);
    if (i < this.blockSize) {
      const s = this.status(i);
      if ((s & 3) === STATUS.EXECUTED) return { kind: 'validate', txIdx: i, incarnation: s >>> 2 };
    }
    Atomics.sub(this.ctl, CTL.NUM_ACTIVE, 1);
    return null;
  }

  nextTask(): Task {
    if (Atomics.load(this.ctl, CTL.VALIDATION_IDX) < Atomics.load(this.ctl, CTL.EXECUTION_IDX)) return this.nextVersionToValidate();
    return this.nextVersionToExecute();
  }

  // ---- dependencies -------------------------------------------------------------------------

  /**
   * Tx `i` (executing) read an ESTIMATE written by `blocking`. Returns false if `blocking`
   * has meanwhile finished executing (the caller re-executes `i` at once).
   */
  addDependency(i: number, blocking: number): boolean {
    this.lock(blocking);
    if ((this.status(blocking) & 3) === STATUS.EXECUTED) {
      this.unlock(blocking);
      return false;
    }
    this.lock(i);
    const s = this.status(i);
    this.setStatus(i, (s & ~3) | STATUS.ABORTING);
    this.unlock(i);
    const b = blocking * TX.STRIDE;
    this.tx[i * TX.STRIDE + TX.DEP_NEXT] = this.tx[b + TX.DEP_HEAD]!;
    this.tx[b + TX.DEP_HEAD] = i;
    this.unlock(blocking);
    Atomics.add(this.ctl, CTL.DEPENDENCY_WAITS, 1);
    Atomics.add(this.tx, i * TX.STRIDE + TX.DEP_WAITS, 1);
    Atomics.add(this.ctl, CTL.ABORTS, 1);
    Atomics.sub(this.ctl, CTL.NUM_ACTIVE, 1);
    return true;
  }

  private setReadyStatus(i: number): void {
    this.lock(i);
    const s = this.status(i);
    // ABORTING(inc) -> READY_TO_EXECUTE(inc + 1)
    this.setStatus(i, ((s >>> 2) + 1) * 4 + STATUS.READY_TO_EXECUTE);
    this.unlock(i);
  }

  // ---- completion of tasks ------------------------------------------------------------------

  finishExecution(i: number, incarnation: number, wroteNewLocation: boolean): Task {
    this.lock(i);
    this.setStatus(i, incarnation * 4 + STATUS.EXECUTED);
    const t = i * TX.STRIDE;
    let dep = this.tx[t + TX.DEP_HEAD]!;
    this.tx[t + TX.DEP_HEAD] = -1;
    this.unlock(i);
    let minDep = -1;
    while (dep !== -1) {
      const next = this.tx[dep * TX.STRIDE + TX.DEP_NEXT]!;
      this.setReadyStatus(dep);
      if (minDep === -1 || dep < minDep) minDep = dep;
      dep = next;
    }
    if (minDep !== -1) this.decreaseIdx(CTL.EXECUTION_IDX, minDep);
    if (Atomics.load(this.ctl, CTL.VALIDATION_IDX) > i) {
      if (wroteNewLocation) this.decreaseIdx(CTL.VALIDATION_IDX, i);
      else return { kind: 'validate', txIdx: i, incarnation };
    }
    Atomics.sub(this.ctl, CTL.NUM_ACTIVE, 1);
    return null;
  }

  tryValidationAbort(i: number, incarnation: number): boolean {
    this.lock(i);
    const ok = this.status(i) === incarnation * 4 + STATUS.EXECUTED;
    if (ok) this.setStatus(i, incarnation * 4 + STATUS.ABORTING);
    this.unlock(i);
    if (ok) Atomics.add(this.ctl, CTL.ABORTS, 1);
    return ok;
  }

  finishValidation(i: number, aborted: boolean): Task {
    if (aborted) {
      this.setReadyStatus(i);
      this.decreaseIdx(CTL.VALIDATION_IDX, i + 1);
      if (Atomics.load(this.ctl, CTL.EXECUTION_IDX) > i) {
        const t = this.tryIncarnate(i);
        if (t) return t;
        return null; // tryIncarnate already released the active task
      }
    }
    Atomics.sub(this.ctl, CTL.NUM_ACTIVE, 1);
    return null;
  }
}
