/** `dao`: its calls' arguments and its views' parameters as plain data (contracts/specs.ts). */
export const DAO_SPEC = {
  name: 'dao',
  calls: {
    create: {
      args: [['token', 'address'], ['name', 'string'], ['quorum', 'u128'], ['approval_bps', 'u64'], ['voting_period', 'u64']],
      summary: 'Create a DAO governed by `token`; its id (also its treasury address) is derived from the tx hash.',
    },
    deposit: {
      args: [['dao', 'address'], ['amount', 'u128']],
      summary: "Move `amount` of the native coin from the sender to the DAO's treasury.",
    },
    deposit_token: {
      args: [['dao', 'address'], ['token', 'address'], ['amount', 'u128']],
      summary: "Move `amount` of `token` from the sender to the DAO's treasury.",
    },
    propose: {
      args: [['dao', 'address'], ['kind', 'u64'], ['payload', 'bytes'], ['description', 'string']],
      summary: 'Make a proposal (1 payout, 2 parameters, 3 call); the sender must hold at least 1 unit of the governance token.',
    },
    vote: {
      args: [['dao', 'address'], ['proposal', 'address'], ['support', 'bool'], ['amount', 'u128']],
      summary: "Vote with `amount` governance tokens, which are locked in the DAO's vote escrow until voting ends.",
    },
    unlock: {
      args: [['dao', 'address'], ['proposal', 'address']],
      summary: "Return the sender's locked vote once voting has ended or the proposal was cancelled.",
    },
    execute: {
      args: [['dao', 'address'], ['proposal', 'address']],
      summary: 'Carry out a proposal that passed (quorum and approval), once, after voting ended; anyone may call it.',
    },
    cancel: {
      args: [['dao', 'address'], ['proposal', 'address']],
      summary: 'Withdraw a proposal (proposer only, before voting ends); voters can then unlock at once.',
    },
  },
  views: {
    get: {
      params: [['dao', 'id']],
      summary: 'A DAO: governance token, parameters, treasury (native coin and governance token balances) and tokens locked in votes; null if absent.',
    },
    getProposal: {
      params: [['dao', 'id'], ['proposal', 'id']],
      summary: 'A proposal with its tally and status at the given height; null if absent.',
    },
    getVote: {
      params: [['dao', 'id'], ['proposal', 'id'], ['voter', 'address']],
      summary: "An account's vote on a proposal; null if it did not vote.",
    },
  },
} as const;
