/** `fee`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const FEE_SPEC = {
  name: 'fee',
  calls: {
    set_params: {
      args: [['min_gas_price', 'u64'], ['burn_bps', 'u64'], ['proposer_bps', 'u64'], ['treasury_bps', 'u64'], ['treasury', 'address']],
      summary: 'Set the minimum gas price, the fee split (basis points adding up to 10000) and the treasury account (fee admin only).',
    },
    set_admin: {
      args: [['new_admin', 'address']],
      summary: 'Hand the fee admin role to another account, e.g. a DAO (fee admin only).',
    },
  },
  views: {
    getParams: {
      params: [],
      summary: 'Fee parameters in force from the next block, the fee admin, and the total burned.',
    },
  },
} as const;
