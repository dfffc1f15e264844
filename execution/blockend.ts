/**
 * The block-end phase (docs/EXECUTION.md "Block-end phase", docs/PROTOCOL.md "Block-end
 * phase"): after a block's last transaction, each module's `blockEnd` hook runs, in
 * ascending module name order, on one view over the pre-block state plus the block's write
 * set. Both executors call runBlockEnd on their final (outcomes, write set), so the phase is
 * the same code on the same input in both: the parallel executor needs nothing from its
 * workers for it.
 *
 *   - Reads: the hooks' own writes, else the block's write set (binary search: it is
 *     sorted), else the pre-block state. Deltas are eager (read, check the bound, write).
 *   - keysWithPrefix lists the keys under a prefix that the block wrote with a value (the
 *     write set's sorted range, with the hooks' own writes applied), never a map's order.
 *   - Writes join the block's write set (a hook's value wins over the transaction's), so
 *     they are in the state root. A key a hook deletes that the pre-block state does not
 *     hold leaves the write set altogether (e.g. a batch record created and settled in the
 *     same block): deleting an absent key changes nothing. A block whose hooks write nothing and emit nothing keeps
 *     its write set and receipts exactly as they were.
 *   - Events: a hook attributes each event to an included tx of the block (emitTo); it is
 *     appended to that tx's receipt after the tx's own events, so it is hashed into the
 *     receipts root and served with the receipt. The receipt's status, code, gas and fee do
 *     not change: the phase is unmetered.
 *   - A hook that throws (only on a corrupt state) fails the block: that is a fatal bug.
 */
import { Writer } from '../protocol/codec.js';
import { writeEvent, type Event } from '../protocol/receipt.js';
import type { SignedTx } from '../protocol/tx.js';
import { toHexRaw } from '../protocol/hex.js';
import type { BlockEndContext, BlockEndView, Module } from '../contracts/types.js';
import type { StateReader, WriteSet } from '../state/types.js';
import type { BlockContext, TxOutcome } from './types.js';
import { lazyIncluded } from './outcome.js';
import { TxView, type ReadSource } from './view.js';

/** First index in the sorted write set whose key is >= `key`. */
function lowerBound(ws: WriteSet, key: string): number {
  let lo = 0;
  let hi = ws.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ws[mid]![0] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The state after the block's transactions: the write set over the pre-block state. The
 * write set is indexed by a Map on the first read (a block whose hooks read nothing, the
 * common case, never pays for it).
 */
function blockReads(ws: WriteSet, state: StateReader): ReadSource {
  let index: Map<string, Uint8Array | null> | null = null;
  return {
    get(key: string): Uint8Array | undefined {
      index ??= new Map(ws);
      const w = index.get(key);
      return w === undefined ? state.get(key) : w ?? undefined;
    },
  };
}

class PhaseView extends TxView implements BlockEndView {
  /** Per attributed tx (its index in the block), its block-end events in emission order. */
  readonly attributed = new Map<number, Event[]>();
  module = '';
  /** Included txs by hash (hex), built on the first emitTo: most blocks never need it. */
  private included: Map<string, number> | null = null;

  constructor(
    base: ReadSource,
    private readonly ws: WriteSet,
    private readonly txs: readonly SignedTx[],
    private readonly outcomes: readonly TxOutcome[],
  ) {
    super(base, 'eager');
  }

  keysWithPrefix(prefix: string): readonly string[] {
    const out = new Set<string>();
    for (let i = lowerBound(this.ws, prefix); i < this.ws.length && this.ws[i]![0].startsWith(prefix); i++) {
      if (this.ws[i]![1] !== null) out.add(this.ws[i]![0]);
    }
    let own = false;
    for (const [k, val] of this.writes) {
      if (!k.startsWith(prefix)) continue;
      own = true;
      if (val === null) out.delete(k);
      else out.add(k);
    }
    const keys = [...out];
    if (own) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return keys;
  }

  emitTo(txHash: Uint8Array, event: Event): void {
    if (this.included === null) {
      this.included = new Map();
      for (let i = 0; i < this.outcomes.length; i++) if (this.outcomes[i]!.kind === 'included') this.included.set(toHexRaw(this.txs[i]!.hash), i);
    }
    const h = toHexRaw(txHash);
    const at = this.included.get(h);
    if (at === undefined) throw new Error(`block-end phase: module ${this.module} attributed an event to ${h}, which is not an included tx of this block`);
    const list = this.attributed.get(at);
    if (list) list.push(event);
    else this.attributed.set(at, [event]);
  }

  override emit(event: Event): void {
    throw new Error(`block-end phase: module ${this.module} emitted ${event.module}.${event.name} without a tx to attribute it to (use emitTo)`);
  }
}

/**
 * The encoded receipt with `events` appended (docs/PROTOCOL.md "Receipt layout"): the
 * eventCount field is patched and the events' encodings added at the end, without decoding
 * the receipt (the parallel executor's receipts are kept encoded).
 */
export function appendEvents(encoded: Uint8Array, events: readonly Event[]): Uint8Array {
  const at = 1 + 1 + encoded[1]! + 8 + 16; // status | name errorCode | u64 gasUsed | u128 fee | u16 eventCount
  const count = encoded[at]! | (encoded[at + 1]! << 8);
  if (count + events.length > 0xffff) throw new Error(`block-end phase: a receipt holds at most 65535 events, block-end phase would make ${count + events.length}`);
  const w = new Writer(encoded.length + 320 * events.length);
  w.raw(encoded);
  for (const e of events) writeEvent(w, e);
  const out = w.finish();
  out[at] = (count + events.length) & 0xff;
  out[at + 1] = (count + events.length) >> 8;
  return out;
}


/** The modules that have a block-end hook, in ascending name order (byte order: names are ASCII). */
export function blockEndHooks(modules: ReadonlyMap<string, Module>): Module[] {
  return [...modules.values()].filter((m) => m.blockEnd !== undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface BlockEndResult {
  readonly outcomes: readonly TxOutcome[];
  readonly writeSet: WriteSet;
  /** Keys the phase wrote (0 when it did nothing). */
  readonly writes: number;
}

/**
 * Run the block-end phase on a block's result: `outcomes` (one per tx of `txs`) and its
 * sorted `writeSet` over the pre-block `state`. Returns the final outcomes and write set.
 */
export function runBlockEnd(ctx: BlockContext, txs: readonly SignedTx[], outcomes: readonly TxOutcome[], writeSet: WriteSet, state: StateReader, modules: ReadonlyMap<string, Module>): BlockEndResult {
  const hooks = blockEndHooks(modules);
  if (hooks.length === 0) return { outcomes, writeSet, writes: 0 };
  const view = new PhaseView(blockReads(writeSet, state), writeSet, txs, outcomes);
  const ectx: BlockEndContext = { height: ctx.height, treasury: ctx.params.fee.treasury };
  for (const m of hooks) {
    view.module = m.name;
    try {
      m.blockEnd!(view, ectx);
    } catch (e) {
      const code = e instanceof Error && 'code' in e ? `${String((e as { code: unknown }).code)}: ` : '';
      throw new Error(`block-end phase of module ${m.name} failed at height ${ctx.height}: ${code}${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  if (view.writes.size === 0 && view.attributed.size === 0) return { outcomes, writeSet, writes: 0 };

  // The hooks' writes, sorted, merged into the block's sorted write set (theirs win).
  // The default sort compares UTF-16 code units, as `<` does, without a JS comparator.
  const own = [...view.writes.keys()].sort().map((k) => [k, view.writes.get(k)!] as const);
  const merged: (readonly [string, Uint8Array | null])[] = [];
  let i = 0;
  let j = 0;
  while (i < writeSet.length || j < own.length) {
    if (j >= own.length || (i < writeSet.length && writeSet[i]![0] < own[j]![0])) merged.push(writeSet[i++]!);
    else {
      const e = own[j++]!;
      if (i < writeSet.length && writeSet[i]![0] === e[0]) i++;
      // A key the hooks delete that the pre-block state does not hold (a record the block
      // created and settled, like amm/batch/…) leaves no entry: the root is the same and the
      // write set (and what the chain commits) is smaller.
      if (e[1] === null && state.get(e[0]) === undefined) continue;
      merged.push(e);
    }
  }

  let out = outcomes;
  if (view.attributed.size > 0) {
    const copy = [...outcomes];
    for (const [at, events] of view.attributed) {
      const o = copy[at]!;
      if (o.kind === 'included') copy[at] = lazyIncluded(appendEvents(o.encoded, events));
    }
    out = copy;
  }
  return { outcomes: out, writeSet: merged, writes: own.length };
}
