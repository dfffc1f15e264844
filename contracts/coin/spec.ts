/** `coin`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const COIN_SPEC = {
  name: 'coin',
  calls: {
    transfer: {
      args: [['to', 'address'], ['amount', 'u128']],
      summary: 'Move `amount` of the native coin from the sender to `to`.',
    },
  },
  views: {

  },
} as const;
