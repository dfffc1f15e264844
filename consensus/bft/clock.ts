/**
 * Where the BFT engine gets its time: the wall clock it reads (the proposer's block
 * timestamp, the future-timestamp check, the onBehind throttle) and the timers it sets
 * (Algorithm 1's timeouts, the stall timers, the block time, the onBehind delay).
 *
 * Two implementations, as for the network: `systemClock` (Date.now and Node's timers, what a
 * node runs) and `VirtualClock` (tests: time moves only when the test says so, and callbacks
 * run in a fixed order, so a run is a function of its inputs and a failing one replays).
 *
 * Consensus safety does not depend on either: a block's timestamp is chosen by its proposer
 * and then fixed by the block hash; replicas only compare it with the parent's (>=, part of
 * validity) and, when prevoting, with their own clock (not more than 30 s ahead). Local time
 * can therefore cost a round, never make two replicas commit different blocks.
 */

declare const timerBrand: unique symbol;
/** A scheduled callback; only the clock that returned it can cancel it. */
export type TimerHandle = { readonly [timerBrand]: true };

export interface Clock {
  /** Wall-clock time in ms since the Unix epoch. */
  now(): number;
  /** Calls `fn` once, `ms` (clamped to >= 0) from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a callback that has not run; a handle that ran or was cancelled is a no-op. */
  clearTimeout(handle: TimerHandle): void;
}

/** Date.now and Node's timers: what a node runs. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};

export class ClockError extends Error {
  /** CLOCK_INVALID_ARGUMENT: a time or delay that is not a finite number, or a move backwards. CLOCK_RUNAWAY: callbacks kept scheduling callbacks for the same instant. */
  readonly code: 'CLOCK_INVALID_ARGUMENT' | 'CLOCK_RUNAWAY';
  constructor(code: ClockError['code'], message: string) {
    super(message);
    this.name = 'ClockError';
    this.code = code;
  }
}

interface VirtualTimer {
  readonly at: number;
  /** Scheduling order: breaks ties between callbacks due at the same instant. */
  readonly seq: number;
  readonly fn: () => void;
}

export interface VirtualClockOptions {
  /** The initial `now()` (ms). Default 0. */
  readonly start?: number;
  /**
   * Lets the work a callback started run to its next wait before the next callback fires (a
   * real event loop does the same between two timers). Default: one turn of the event loop,
   * which runs every pending promise continuation; enough as long as everything else the
   * code under test waits for is a callback of this clock.
   */
  readonly settle?: () => Promise<void>;
}

/** Callbacks one call may run for a single instant before the clock calls it a livelock. */
const MAX_CALLBACKS_PER_INSTANT = 1_000_000;

/** One turn of the event loop: every promise continuation queued before it has run when it resolves. */
export const settleMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A clock for tests. `now()` stands still until the test moves it; callbacks run only inside
 * `step`, `runUntilIdle`, `advance` and `advanceTo`, in deadline order, ties in the order they
 * were scheduled, each followed by `settle` so the work it started reaches its next wait.
 */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  /** Sorted by (at, seq). */
  private readonly queue: VirtualTimer[] = [];
  private readonly settle: () => Promise<void>;

  constructor(opts: VirtualClockOptions = {}) {
    const start = opts.start ?? 0;
    if (!Number.isFinite(start)) throw new ClockError('CLOCK_INVALID_ARGUMENT', `start time ${start} is not a finite number`);
    this.time = start;
    this.settle = opts.settle ?? settleMicrotasks;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    if (!Number.isFinite(ms)) throw new ClockError('CLOCK_INVALID_ARGUMENT', `timer delay ${ms} is not a finite number`);
    const timer: VirtualTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.queue.splice(this.insertionPoint(timer), 0, timer);
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as unknown as VirtualTimer;
    const i = this.insertionPoint(timer);
    if (this.queue[i] === timer) this.queue.splice(i, 1);
  }

  /** Callbacks scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.queue.length;
  }

  /** When the next callback is due, or null when none is scheduled. */
  nextAt(): number | null {
    return this.queue[0]?.at ?? null;
  }

  /** True when a callback is due at the current time. */
  get due(): boolean {
    const next = this.queue[0];
    return next !== undefined && next.at <= this.time;
  }

  /**
   * Settles, then runs the next callback (moving time to its deadline if it lies ahead) and
   * settles again. False, without moving time, when nothing is scheduled. A callback that
   * throws is removed and its error is thrown from here (and from runUntilIdle / advance).
   */
  async step(): Promise<boolean> {
    await this.settle();
    const next = this.queue.shift();
    if (!next) return false;
    if (next.at > this.time) this.time = next.at;
    next.fn();
    await this.settle();
    return true;
  }

  /** Runs every callback due now, and those they schedule for now, without moving time: the idle point. */
  runUntilIdle(): Promise<void> {
    return this.advanceTo(this.time);
  }

  /** Moves time forward by `ms`, running every callback due until then in order. */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new ClockError('CLOCK_INVALID_ARGUMENT', `cannot advance by ${ms} ms`);
    await this.advanceTo(this.time + ms);
  }

  /** Moves time forward to `t`, running every callback due until then in order; ends idle at `t`. */
  async advanceTo(t: number): Promise<void> {
    if (!Number.isFinite(t) || t < this.time) throw new ClockError('CLOCK_INVALID_ARGUMENT', `cannot move the clock from ${this.time} to ${t}`);
    let sameInstant = 0;
    let instant = this.time;
    await this.settle();
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > t) break;
      if (next.at > instant) {
        instant = next.at;
        sameInstant = 0;
      }
      if (++sameInstant > MAX_CALLBACKS_PER_INSTANT) {
        throw new ClockError('CLOCK_RUNAWAY', `more than ${MAX_CALLBACKS_PER_INSTANT} callbacks at t=${instant}: something reschedules itself without delay`);
      }
      this.queue.shift();
      if (next.at > this.time) this.time = next.at;
      next.fn();
      await this.settle();
    }
    this.time = t;
  }

  /** Where `timer` is or would go in the queue (first index whose (at, seq) is not below it). */
  private insertionPoint(timer: VirtualTimer): number {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const q = this.queue[mid]!;
      if (q.at < timer.at || (q.at === timer.at && q.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
