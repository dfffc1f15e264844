/** `amm`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const AMM_SPEC = {
  name: 'amm',
  calls: {
    create_pool: {
      args: [['asset_a', 'address'], ['asset_b', 'address'], ['fee_bps', 'u64']],
      summary: 'Create the pool of two assets (zero address = native coin) at a fee tier of 5, 30 or 100 bps, and its LP token; pays the pool-creation fee to the protocol treasury.',
    },
    add_liquidity: {
      args: [['pool', 'address'], ['amount0_desired', 'u128'], ['amount1_desired', 'u128'], ['amount0_min', 'u128'], ['amount1_min', 'u128'], ['deadline', 'u64']],
      summary: 'Deposit both assets at the current ratio (at most the desired amounts, at least the minimums) and receive LP tokens; the first deposit locks 1000 shares forever.',
    },
    remove_liquidity: {
      args: [['pool', 'address'], ['shares', 'u128'], ['amount0_min', 'u128'], ['amount1_min', 'u128'], ['deadline', 'u64']],
      summary: "Burn LP tokens for their share of both reserves (at least the minimums).",
    },
    swap: {
      args: [['pool', 'address'], ['asset_in', 'address'], ['amount_in', 'u128'], ['min_out', 'u128'], ['deadline', 'u64']],
      summary: 'Swap exactly `amount_in` of `asset_in` for the other asset of the pool, receiving at least `min_out`, in a block at height <= `deadline`.',
    },
    swap_path: {
      args: [['path', 'bytes'], ['asset_in', 'address'], ['amount_in', 'u128'], ['min_out', 'u128'], ['deadline', 'u64']],
      summary: 'Swap exactly `amount_in` along 1 to 4 distinct pools (`path`: their 20-byte ids concatenated), receiving at least `min_out` of the last asset.',
    },
    swap_batch: {
      args: [['pool', 'address'], ['asset_in', 'address'], ['amount_in', 'u128'], ['min_out', 'u128'], ['deadline', 'u64']],
      summary: "Queue a swap into the pool's batch of this block: settled at the block's end at one clearing price for all its swaps, or refunded (amm_getBatchResult).",
    },
    set_params: {
      args: [['protocol_fee_bps', 'u64'], ['pool_creation_fee', 'u128']],
      summary: "Set the protocol's share of every swap fee (basis points of the fee, 0 = off, at most 5000) and the pool-creation fee (fee admin only).",
    },
    create_programme: {
      args: [['pool', 'address'], ['reward_asset', 'address'], ['amount', 'u128'], ['start', 'u64'], ['end', 'u64']],
      summary: "Fund a liquidity mining programme: `amount` of `reward_asset` paid evenly over heights [start, end) to the pool's LP tokens staked in it, pro rata.",
    },
    stake: {
      args: [['programme', 'address'], ['amount', 'u128']],
      summary: "Stake LP tokens in a programme; pending rewards are settled into the claimable balance first.",
    },
    unstake: {
      args: [['programme', 'address'], ['amount', 'u128']],
      summary: 'Withdraw staked LP tokens; pending rewards are settled into the claimable balance first.',
    },
    claim: {
      args: [['programme', 'address']],
      summary: "Pay the sender's claimable and pending rewards of a programme.",
    },
  },
  views: {
    getPool: {
      params: [['pool', 'id']],
      summary: 'A pool: assets, fee tier, LP token, reserves, total shares, protocol fee share, cumulative prices; null if none.',
    },
    getPoolId: {
      params: [['asset_a', 'address'], ['asset_b', 'address'], ['fee_bps', 'u64']],
      summary: 'The id of the pool of two assets at a fee tier (whether or not it exists yet) and its canonical asset order.',
    },
    getParams: {
      params: [],
      summary: 'The protocol fee share of swap fees and the pool-creation fee.',
    },
    quoteExactIn: {
      params: [['path', 'string'], ['asset_in', 'address'], ['amount_in', 'u128']],
      summary: 'What an exact-in swap of `amount_in` along `path` (comma-separated pool ids) would receive now, hop by hop.',
    },
    quoteExactOut: {
      params: [['path', 'string'], ['asset_in', 'address'], ['amount_out', 'u128']],
      summary: 'The least `amount_in` that buys at least `amount_out` of the last asset along `path` (comma-separated pool ids) now.',
    },
    getPosition: {
      params: [['pool', 'id'], ['owner', 'address']],
      summary: "An account's LP shares of a pool and what they redeem now; null if the pool does not exist.",
    },
    getProgramme: {
      params: [['programme', 'id']],
      summary: 'A liquidity mining programme: pool, reward asset, schedule, emitted so far, total staked, accumulator; null if none.',
    },
    getStake: {
      params: [['programme', 'id'], ['staker', 'address']],
      summary: "A staker's LP tokens in a programme and its pending and claimable rewards; null if the programme does not exist.",
    },
    getBatchResult: {
      params: [['tx_hash', 'string']],
      summary: 'How the batch swap of a transaction was settled (filled with its output, or refunded and why); null if not settled (yet).',
    },
  },
} as const;
