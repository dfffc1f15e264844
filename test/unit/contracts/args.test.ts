import { describe, expect, it } from 'vitest';
import { defineCall, defineView, eventsOf } from '../../../contracts/args.js';
import type { CallContext, StateView } from '../../../contracts/types.js';
import { v } from '../../../protocol/value.js';

const ctx = {} as CallContext;
const view = {} as StateView;

describe('defineCall / defineView', () => {
  it('hands run the arguments by their declared names, in wire order', () => {
    let seen: unknown = null;
    const spec = defineCall({
      args: [['to', 'address'], ['amount', 'u128'], ['memo', 'string'], ['flag', 'bool']],
      summary: 'test',
      run(_view, _ctx, a) {
        seen = { to: a.to, amount: a.amount, memo: a.memo, flag: a.flag };
      },
    });
    const to = new Uint8Array(20).fill(7);
    spec.run(view, ctx, [v.address(to), v.u128(5n), v.string('hi'), v.bool(true)]);
    expect(seen).toEqual({ to, amount: 5n, memo: 'hi', flag: true });
    expect(spec.args.map(([n]) => n)).toEqual(['to', 'amount', 'memo', 'flag']);
  });

  it('hands a view its parsed params by name and passes the context through', () => {
    const spec = defineView({
      params: [['owner', 'address'], ['tokenId', 'u64']],
      summary: 'test',
      run: (_state, p, c) => ({ owner: p.owner[0], tokenId: p.tokenId, height: c.height }),
    });
    expect(spec.run({ get: () => undefined }, [new Uint8Array([9]), 3n], { height: 12n })).toEqual({ owner: 9, tokenId: 3n, height: 12n });
  });

  it('builds events with the module name and fields in the order written', () => {
    const e = eventsOf('token')('transfer', { from: v.u64(1n), to: v.u64(2n), amount: v.u128(3n) });
    expect(e.module).toBe('token');
    expect(e.name).toBe('transfer');
    expect(e.fields.map((f) => f.name)).toEqual(['from', 'to', 'amount']);
  });
});
