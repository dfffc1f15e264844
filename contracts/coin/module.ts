import { v, type Value } from '../../protocol/value.js';
import type { Module } from '../types.js';
import { credit, debit } from './state.js';

export const coinModule: Module = {
  name: 'coin',
  calls: {
    transfer: {
      args: [
        ['to', 'address'],
        ['amount', 'u128'],
      ],
      summary: 'Move `amount` of the native coin from the sender to `to`.',
      run(view, ctx, args: readonly Value[]) {
        const to = args[0]!.value as Uint8Array;
        const amount = args[1]!.value as bigint;
        debit(view, ctx.sender, amount);
        credit(view, to, amount);
        view.emit({
          module: 'coin',
          name: 'transfer',
          fields: [
            { name: 'from', value: v.address(ctx.sender) },
            { name: 'to', value: v.address(to) },
            { name: 'amount', value: v.u128(amount) },
          ],
        });
      },
    },
  },
};
