/**
 * The block-end phase (execution/blockend.ts) with toy modules: hooks run in module name
 * order on one view, see the block's writes and earlier hooks' writes, list only keys the
 * block wrote (sorted, deletions left out), their writes join the write set (sorted, a
 * hook's value wins), events land in the attributed tx's receipt after its own, a block the
 * hooks leave alone keeps its write set and receipts object for object, and a hook that
 * throws or emits without attribution fails the block.
 */
import { describe, expect, it } from 'vitest';
import { decodeU128, encodeU128, utf8 } from '../../../protocol/codec.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { decodeReceipt } from '../../../protocol/receipt.js';
import { v } from '../../../protocol/value.js';
import { builtinModules } from '../../../contracts/registry.js';
import { ExecutionFailure, type BlockEndView, type Module } from '../../../contracts/types.js';
import { blockEndHooks, runBlockEnd } from '../../../execution/blockend.js';
import { executeBlockSequential, executeTxsSequential } from '../../../execution/sequential.js';
import { buildCall } from '../../../sdk/tx.js';
import { benchContext, benchGenesisState } from '../../../bench/workload.js';

const [alice, bob] = [devKeyPair(0), devKeyPair(1)];
const ctx = benchContext(3n);

/** `toy.put(key, value)` writes toy/<key>; its hook counts the toy/ keys the block wrote. */
function toyModules(hooks: Record<string, (view: BlockEndView) => void>): Map<string, Module> {
  const m = new Map(builtinModules);
  m.set('toy', {
    name: 'toy',
    calls: {
      put: { args: [['key', 'string'], ['value', 'string']], summary: '', run: (view, _c, args) => view.set(`toy/${args[0]!.value as string}`, args[1]!.value === '' ? null : utf8(args[1]!.value as string)) },
    },
  });
  for (const [name, hook] of Object.entries(hooks)) m.set(name, { name, calls: {}, blockEnd: (view) => hook(view) });
  return m;
}

const put = (key: typeof alice, nonce: bigint, k: string, val: string) =>
  buildCall({ chainId: 1337, key, nonce, module: 'toy', call: 'put', args: [v.string(k), v.string(val)], expiry: 100n, gasLimit: 200_000n });

describe('block-end phase', () => {
  it('runs hooks in module name order on one view; lists what the block wrote; writes join the sorted write set; events go to the attributed receipt', () => {
    const state = benchGenesisState([alice, bob], 10n ** 12n);
    state.set('toy/old', utf8('x')); // written before this block: not listed
    state.set('toy/gone', utf8('x'));
    const order: string[] = [];
    const seen: string[][] = [];
    const txs = [put(alice, 0n, 'b', '1'), put(bob, 0n, 'a', '2'), put(alice, 1n, 'gone', '')];
    const modules = toyModules({
      zz: (view) => {
        order.push('zz');
        seen.push([...view.keysWithPrefix('toy/')]);
        expect(decodeU128(view.get('hook/count'))).toBe(2n); // mm's write, seen by the later hook
      },
      mm: (view) => {
        order.push('mm');
        const keys = view.keysWithPrefix('toy/');
        seen.push([...keys]);
        view.addDelta('hook/count', BigInt(keys.length));
        view.set('toy/c', utf8('hook'));
        view.set('toy/a', utf8('overwritten'));
        view.emitTo(txs[1]!.hash, { module: 'mm', name: 'counted', fields: [{ name: 'n', value: v.u64(BigInt(keys.length)) }] });
      },
    });
    expect(blockEndHooks(modules).map((m) => m.name)).toEqual(['amm', 'mm', 'zz']);
    const r = executeBlockSequential(ctx, txs, { get: (k) => state.get(k) }, modules);
    expect(order).toEqual(['mm', 'zz']);
    expect(seen).toEqual([['toy/a', 'toy/b'], ['toy/a', 'toy/b', 'toy/c']]);
    const keys = r.writeSet.map(([k]) => k);
    expect(keys).toEqual([...keys].sort());
    const ws = new Map(r.writeSet);
    expect(ws.get('toy/a')).toEqual(utf8('overwritten'));
    expect(ws.get('toy/c')).toEqual(utf8('hook'));
    expect(decodeU128(ws.get('hook/count')!)).toBe(2n);
    expect(ws.get('toy/gone')).toBeNull();
    const o = r.outcomes[1]!;
    if (o.kind !== 'included') throw new Error('discarded');
    expect(o.receipt.events.map((e) => e.name)).toEqual(['counted']);
    expect(decodeReceipt(o.encoded)).toEqual(o.receipt);
    const first = r.outcomes[0]!;
    expect(first.kind === 'included' && first.receipt.events).toEqual([]);
  });

  it('a block the hooks leave alone keeps its write set and outcomes as they were', () => {
    const state = benchGenesisState([alice, bob], 10n ** 12n);
    const txs = [put(alice, 0n, 'k', 'v')];
    const modules = toyModules({ mm: (view) => void view.keysWithPrefix('nothing/') });
    const bare = executeTxsSequential(ctx, txs, { get: (k) => state.get(k) }, modules);
    const end = runBlockEnd(ctx, txs, bare.outcomes, bare.writeSet, { get: (k) => state.get(k) }, modules);
    expect(end.writeSet).toBe(bare.writeSet);
    expect(end.outcomes).toBe(bare.outcomes);
    expect(end.writes).toBe(0);
  });

  it('a key the block created and a hook deletes leaves no entry; a pre-existing key it deletes does', () => {
    const state = benchGenesisState([alice], 10n ** 12n);
    state.set('toy/old', utf8('x'));
    const txs = [put(alice, 0n, 'new', 'v')];
    const r = executeBlockSequential(ctx, txs, { get: (k) => state.get(k) }, toyModules({
      mm: (view) => {
        view.set('toy/new', null);
        view.set('toy/old', null);
        view.set('toy/never', null);
      },
    }));
    const ws = new Map(r.writeSet);
    expect(ws.has('toy/new')).toBe(false);
    expect(ws.has('toy/never')).toBe(false);
    expect(ws.get('toy/old')).toBeNull();
  });

  it('fails the block when a hook throws, emits without attribution or attributes to a tx not in the block', () => {
    const state = benchGenesisState([alice, bob], 10n ** 12n);
    const txs = [put(alice, 0n, 'k', 'v')];
    const run = (hook: (view: BlockEndView) => void) => () => executeBlockSequential(ctx, txs, { get: (k) => state.get(k) }, toyModules({ mm: hook }));
    expect(run(() => { throw new ExecutionFailure('CORRUPT_STATE', 'bad record'); })).toThrow(/block-end phase of module mm failed at height 3: CORRUPT_STATE: bad record/);
    expect(run((view) => view.emit({ module: 'mm', name: 'x', fields: [] }))).toThrow(/without a tx to attribute it to/);
    expect(run((view) => view.emitTo(new Uint8Array(32), { module: 'mm', name: 'x', fields: [] }))).toThrow(/not an included tx/);
    expect(run((view) => view.addDelta('coin/balance/00', -1n, 'UNDERFLOW'))).toThrow(/UNDERFLOW/);
  });

  it('deltas are eager: bounded and read back at once', () => {
    const state = benchGenesisState([alice], 10n ** 12n);
    state.set('ctr', encodeU128(5n));
    let got = 0n;
    executeBlockSequential(ctx, [put(alice, 0n, 'k', 'v')], { get: (k) => state.get(k) }, toyModules({
      mm: (view) => {
        view.addDelta('ctr', 3n);
        got = decodeU128(view.get('ctr'));
      },
    }));
    expect(got).toBe(8n);
  });
});
