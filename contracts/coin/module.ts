import { v } from '../../protocol/value.js';
import { defineCall, eventsOf } from '../args.js';
import type { Module } from '../types.js';
import { credit, debit } from './state.js';

const event = eventsOf('coin');

export const coinModule: Module = {
  name: 'coin',
  calls: {
    transfer: defineCall({
      args: [
        ['to', 'address'],
        ['amount', 'u128'],
      ],
      summary: 'Move `amount` of the native coin from the sender to `to`.',
      run(view, ctx, { to, amount }) {
        debit(view, ctx.sender, amount);
        credit(view, to, amount);
        view.emit(event('transfer', { from: v.address(ctx.sender), to: v.address(to), amount: v.u128(amount) }));
      },
    }),
  },
};
