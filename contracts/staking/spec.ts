/** `staking`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const STAKING_SPEC = {
  name: 'staking',
  calls: {
    stake: {
      args: [['dao', 'address'], ['amount', 'u128']],
      summary: "Stake `amount` of the DAO's governance token; pending rewards are settled into the claimable balance first.",
    },
    unstake: {
      args: [['dao', 'address'], ['amount', 'u128']],
      summary: 'Withdraw `amount` of staked tokens; pending rewards are settled into the claimable balance first.',
    },
    claim: {
      args: [['dao', 'address']],
      summary: "Pay the sender's claimable and pending rewards (native coin) from the DAO's reward pool.",
    },
    fund_rewards: {
      args: [['dao', 'address'], ['amount', 'u128']],
      summary: "Pay `amount` of the native coin into the DAO's staking reward pool, shared pro rata among current stakers.",
    },
  },
  views: {
    getPosition: {
      params: [['dao', 'id'], ['staker', 'address']],
      summary: "A staker's position in a DAO's staking pool (zeros if none); null if the DAO does not exist.",
    },
    getPool: {
      params: [['dao', 'id']],
      summary: "A DAO's staking pool: total staked, accumulator, reward balance; null if the DAO does not exist.",
    },
  },
} as const;
