import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeU128, encodeU128, U128_MAX } from '../../../protocol/codec.js';
import { ExecutionFailure } from '../../../contracts/types.js';
import { applyDeltas, TxView } from '../../../execution/view.js';

type Op =
  | { kind: 'delta'; key: string; amount: bigint; max?: bigint }
  | { kind: 'get'; key: string }
  | { kind: 'set'; key: string; value: bigint };

const keyArb = fc.constantFrom('a', 'b', 'c');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('delta' as const), key: keyArb, amount: fc.bigInt({ min: -1000n, max: 1000n }) }),
  fc.record({ kind: fc.constant('delta' as const), key: keyArb, amount: fc.bigInt({ min: -200n, max: 600n }), max: fc.bigInt({ min: 0n, max: 1500n }) }),
  fc.record({ kind: fc.constant('get' as const), key: keyArb }),
  fc.record({ kind: fc.constant('set' as const), key: keyArb, value: fc.bigInt({ min: 0n, max: 2000n }) }),
);

/** Run ops on a view; returns what the body observed and the final state after replaying deferred deltas. */
function run(mode: 'eager' | 'deferred', base: Map<string, Uint8Array>, ops: Op[]) {
  const view = new TxView({ get: (k) => base.get(k) }, mode);
  const seen: (bigint | string)[] = [];
  let pendingAtFailure = false;
  try {
    for (const op of ops) {
      if (op.kind === 'delta') view.addDelta(op.key, op.amount, `FAIL_${op.key}`, op.max);
      else if (op.kind === 'get') seen.push(decodeU128(view.get(op.key)));
      else view.set(op.key, encodeU128(op.value));
    }
  } catch (e) {
    if (!(e instanceof ExecutionFailure)) throw e;
    seen.push(e.code);
    pendingAtFailure = view.deltas.size > 0;
    return { seen, final: null, needsEager: pendingAtFailure };
  }
  const final = new Map(base);
  for (const [k, val] of view.writes) if (val) final.set(k, val);
  for (const [k, deltas] of view.deltas) {
    const r = applyDeltas(decodeU128(final.get(k)), deltas);
    if (!r.ok) {
      seen.push(r.code);
      return { seen, final: null, needsEager: true };
    }
    final.set(k, encodeU128(r.value));
  }
  return { seen, final: [...final].map(([k, val]) => [k, decodeU128(val)]).sort(), needsEager: false };
}

describe('TxView deltas', () => {
  it('a clean deferred run equals the eager run; otherwise the eager run fails too (and the executor re-executes eagerly)', () => {
    let clean = 0;
    let reexec = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 20 }), fc.bigInt({ min: 0n, max: 500n }), (ops, start) => {
        const base = new Map([['a', encodeU128(start)], ['b', encodeU128(U128_MAX - 10n)]]);
        const eager = run('eager', base, ops);
        const deferred = run('deferred', base, ops);
        if (deferred.needsEager) {
          reexec++;
          expect(eager.final).toBeNull();
        } else {
          clean++;
          expect({ seen: deferred.seen, final: deferred.final }).toEqual({ seen: eager.seen, final: eager.final });
        }
      }),
      { numRuns: 1000 },
    );
    // Both branches must actually be exercised for the property to mean anything.
    expect(clean).toBeGreaterThan(100);
    expect(reexec).toBeGreaterThan(10);
  });

  it('deferred mode records a delta without reading the base', () => {
    const reads: string[] = [];
    const view = new TxView({ get: (k) => (reads.push(k), undefined) }, 'deferred');
    view.addDelta('fee/sink', 5n);
    expect(reads).toEqual([]);
    expect(view.deltas.get('fee/sink')).toEqual([[5n, 'ARITHMETIC_OVERFLOW']]);
  });
});

describe('u64/u128 state value codecs', () => {
  it('fast paths agree with the Writer/Reader encoding at every magnitude', async () => {
    const { Writer, Reader, encodeU64, decodeU64 } = await import('../../../protocol/codec.js');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U128_MAX }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (a, b) => {
        const ea = encodeU128(a);
        expect(ea).toEqual(new Writer().u128(a).finish());
        expect(decodeU128(ea)).toBe(a);
        expect(new Reader(ea).u128()).toBe(a);
        const eb = encodeU64(b);
        expect(eb).toEqual(new Writer().u64(b).finish());
        expect(decodeU64(eb)).toBe(b);
      }),
      { numRuns: 2000 },
    );
    for (const edge of [0n, 1n, (1n << 53n) - 1n, 1n << 53n, (1n << 64n) - 1n, 1n << 64n, U128_MAX]) expect(decodeU128(encodeU128(edge))).toBe(edge);
    expect(() => encodeU128(-1n)).toThrow();
    expect(() => decodeU128(new Uint8Array(15))).toThrow();
  });
});

describe('delta op encoding (parallel executor)', () => {
  it('round-trips ops with and without a max bound, and replays them like applyDeltas', async () => {
    const { encodeDeltaOps, decodeDeltaOps, replayDeltaOps } = await import('../../../execution/parallel/mvmemory.js');
    const opArb2 = fc.tuple(fc.bigInt({ min: -U128_MAX, max: U128_MAX }), fc.constantFrom('ARITHMETIC_OVERFLOW', 'MAX_SUPPLY_EXCEEDED', 'X'), fc.option(fc.bigInt({ min: 0n, max: U128_MAX }), { nil: undefined }));
    fc.assert(
      fc.property(fc.array(opArb2, { maxLength: 6 }), fc.bigInt({ min: 0n, max: U128_MAX }), (raw, base) => {
        const ops = raw.map(([a, c, m]) => (m === undefined ? ([a, c] as const) : ([a, c, m] as const)));
        const enc = encodeDeltaOps(ops);
        expect(decodeDeltaOps(enc)).toEqual(ops);
        const r = applyDeltas(base, ops);
        expect(replayDeltaOps(enc, 0, base)).toBe(r.ok ? r.value : null);
      }),
      { numRuns: 1000 },
    );
  });
});
