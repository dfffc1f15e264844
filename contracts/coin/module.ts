import { v } from '../../protocol/value.js';
import { defineCall, eventsOf } from '../args.js';
import { COIN_SPEC } from './spec.js';
import type { Module } from '../types.js';
import { credit, debit } from './state.js';

const event = eventsOf('coin');

export const coinModule: Module = {
  name: 'coin',
  calls: {
    transfer: defineCall({
      ...COIN_SPEC.calls.transfer,
      run(view, ctx, { to, amount }) {
        debit(view, ctx.sender, amount);
        credit(view, to, amount);
        view.emit(event('transfer', { from: v.address(ctx.sender), to: v.address(to), amount: v.u128(amount) }));
      },
    }),
  },
};
