/** `token`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const TOKEN_SPEC = {
  name: 'token',
  calls: {
    create: {
      args: [['name', 'string'], ['symbol', 'string'], ['decimals', 'u64'], ['max_supply', 'u128']],
      summary: 'Create a token (id derived from the tx); the sender becomes its mint authority. max_supply 0 = unlimited.',
    },
    mint: {
      args: [['token', 'address'], ['to', 'address'], ['amount', 'u128']],
      summary: 'Mint new tokens to `to` (mint authority only; total supply stays within max supply).',
    },
    burn: {
      args: [['token', 'address'], ['amount', 'u128']],
      summary: "Destroy `amount` of the sender's tokens.",
    },
    transfer: {
      args: [['token', 'address'], ['to', 'address'], ['amount', 'u128']],
      summary: 'Move tokens from the sender to `to`.',
    },
    approve: {
      args: [['token', 'address'], ['spender', 'address'], ['amount', 'u128']],
      summary: 'Allow `spender` to move up to `amount` of the sender\'s tokens (replaces any previous allowance).',
    },
    transfer_from: {
      args: [['token', 'address'], ['owner', 'address'], ['to', 'address'], ['amount', 'u128']],
      summary: "Move `amount` of `owner`'s tokens to `to`, spending the sender's allowance.",
    },
    set_mint_authority: {
      args: [['token', 'address'], ['new_authority', 'address']],
      summary: 'Hand the mint authority to another account, or renounce it with the all-zero address (mint authority only).',
    },
  },
  views: {
    getInfo: {
      params: [['token', 'id']],
      summary: 'Token metadata and total supply.',
    },
    getBalance: {
      params: [['token', 'id'], ['owner', 'address']],
      summary: "An account's balance of a token.",
    },
    getAllowance: {
      params: [['token', 'id'], ['owner', 'address'], ['spender', 'address']],
      summary: 'How much `spender` may still move of `owner`\'s tokens.',
    },
  },
} as const;
