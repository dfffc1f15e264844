/**
 * TxView: one transaction's window on state. Reads fall through to a `ReadSource` (the
 * state as this transaction should see it); writes, deltas and events stay local until the
 * executor takes them. With a GasMeter, every operation is charged.
 *
 * Delta modes. `eager` (the reference semantics): addDelta reads the current value, checks
 * the bound and writes. `deferred` (parallel executor): addDelta records (amount, errorCode)
 * without reading; the executor replays the list against the committed value at commit, in
 * the same order, so a bound failure is detected exactly where the eager path would fail it.
 * Reading a key with pending deltas materialises them first, the same way.
 *
 * Contract (pinned by test/unit/execution/view.test.ts): if a deferred run neither fails
 * nor fails its replay, it observed and produced exactly what the eager run does. If it
 * failed while it held pending deltas, or its replay fails, the eager run fails too, but
 * possibly at an earlier point with another code: the executor must then re-execute the
 * transaction eagerly against its committed predecessors.
 */
import { decodeU128, encodeU128, U128_MAX } from '../protocol/codec.js';
import type { Event } from '../protocol/receipt.js';
import { ExecutionFailure, type StateView } from '../contracts/types.js';
import type { GasMeter } from './gas.js';

export interface ReadSource {
  get(key: string): Uint8Array | undefined;
}

export type DeltaMode = 'eager' | 'deferred';
/** One delta: add `amount`; the result must stay in [0, max] (max defaults to 2^128 - 1). */
export type DeltaOp = readonly [amount: bigint, errorCode: string, max?: bigint];

/** Apply a list of deltas in order to a u128 value; returns the failing op's code or the result. */
export function applyDeltas(base: bigint, ops: readonly DeltaOp[]): { ok: true; value: bigint } | { ok: false; code: string; at: bigint } {
  let v = base;
  for (const [amount, code, max] of ops) {
    const next = v + amount;
    if (next < 0n || next > (max ?? U128_MAX)) return { ok: false, code, at: v };
    v = next;
  }
  return { ok: true, value: v };
}

function boundFailure(code: string, at: bigint, amount: bigint): ExecutionFailure {
  return new ExecutionFailure(code, amount < 0n ? `cannot subtract ${-amount} from ${at}` : `adding ${amount} to ${at} overflows u128`);
}

export class TxView implements StateView {
  readonly writes = new Map<string, Uint8Array | null>();
  readonly deltas = new Map<string, DeltaOp[]>();
  readonly events: Event[] = [];

  constructor(
    private readonly base: ReadSource,
    private readonly mode: DeltaMode,
    private readonly meter: GasMeter | null = null,
  ) {}

  private peek(key: string): Uint8Array | undefined {
    const w = this.writes.get(key);
    if (w !== undefined) return w ?? undefined;
    const pending = this.deltas.get(key);
    if (pending !== undefined) {
      // Materialise: read the base and replay the pending deltas in order.
      const r = applyDeltas(decodeU128(this.base.get(key)), pending);
      // On failure the deltas stay pending: the executor sees a deferred failure.
      if (!r.ok) throw boundFailure(r.code, r.at, pending[pending.length - 1]![0]);
      this.deltas.delete(key);
      const enc = encodeU128(r.value);
      this.writes.set(key, enc);
      return enc;
    }
    return this.base.get(key);
  }

  get(key: string): Uint8Array | undefined {
    const v = this.peek(key);
    const m = this.meter;
    if (m) m.charge(m.costs.read + m.costs.readPerByte * (v?.length ?? 0));
    return v;
  }

  set(key: string, value: Uint8Array | null): void {
    const m = this.meter;
    if (m) m.charge(m.costs.write + m.costs.writePerByte * (key.length + (value?.length ?? 0)));
    // Overwriting pending deltas must still check their bounds, as the eager path did.
    this.materialise(key);
    this.writes.set(key, value);
  }

  /** Replay pending deltas for `key` (here and in the enclosing view) against the base, checking bounds. */
  materialise(key: string): void {
    if (this.base instanceof TxView) this.base.materialise(key);
    if (this.deltas.has(key)) this.peek(key);
  }

  addDelta(key: string, amount: bigint, errorCode = 'ARITHMETIC_OVERFLOW', max?: bigint): void {
    if (this.meter) this.meter.charge(this.meter.costs.delta);
    if (amount === 0n) return;
    // Deferred only while neither this view nor its enclosing view holds the key's value:
    // then no read is needed and the bound is checked when the deltas are replayed.
    const enclosingHasValue = this.base instanceof TxView && this.base.writes.has(key);
    if (this.mode === 'deferred' && !this.writes.has(key) && !enclosingHasValue) {
      const op: DeltaOp = max === undefined ? [amount, errorCode] : [amount, errorCode, max];
      const ops = this.deltas.get(key);
      if (ops) ops.push(op);
      else this.deltas.set(key, [op]);
      return;
    }
    const cur = decodeU128(this.peek(key));
    const r = applyDeltas(cur, [max === undefined ? [amount, errorCode] : [amount, errorCode, max]]);
    if (!r.ok) throw boundFailure(r.code, r.at, amount);
    this.writes.set(key, encodeU128(r.value));
  }

  emit(event: Event): void {
    if (this.meter) {
      let bytes = 0;
      for (const f of event.fields) bytes += f.name.length + 16;
      this.meter.charge(this.meter.costs.event + this.meter.costs.eventPerByte * bytes);
    }
    this.events.push(event);
  }

  /** True if this view holds a write or pending deltas for `key`. */
  hasLocal(key: string): boolean {
    return this.writes.has(key) || this.deltas.has(key);
  }

  /** Fold this (inner) view into `outer` (unmetered) after a successful call. */
  mergeInto(outer: TxView): void {
    for (const [k, v] of this.writes) {
      outer.deltas.delete(k);
      outer.writes.set(k, v);
    }
    for (const [k, ops] of this.deltas) for (const [amount, code, max] of ops) outer.addDelta(k, amount, code, max);
    for (const e of this.events) outer.events.push(e);
  }
}
