/**
 * `dao`: a DAO governed by a fungible token (docs/MODULES.md).
 *
 * Votes are token-weighted by LOCKING: a vote moves the voter's tokens into the DAO's vote
 * escrow until voting ends (or the proposal is cancelled), so the same tokens cannot be
 * counted twice, and tallies are delta counters, so votes do not conflict under Block-STM.
 * The treasury is the account whose address is the DAO id.
 *
 * Kind-3 proposals call another module's CallSpec with `ctx.sender = daoId`. Module code
 * cannot import the registry (contracts/registry.ts imports this file; a static import back
 * would leave `daoModule` uninitialised whenever this file happens to load first), so the
 * registry hands the module map over once with `setModuleResolver`. Until it does, kind-3
 * proposals fail with MODULE_RESOLVER_NOT_SET, the same way on every node.
 */
import { defineCall, defineView, eventsOf } from '../args.js';
import { DAO_SPEC } from './spec.js';
import { decodeU128, utf8 } from '../../protocol/codec.js';
import { addressHex, bytesEqual, toHex } from '../../protocol/hex.js';
import { v, valueToJson, type Value } from '../../protocol/value.js';
import { credit, debit, getBalance } from '../coin/state.js';
import { deriveId } from '../ids.js';
import { creditToken, debitToken, requireToken, tokenBalance, transferToken } from '../token/state.js';
import { ExecutionFailure, requirePositive, type CallContext, type CallSpec, type Module, type StateView } from '../types.js';
import { decodeCallPayload, decodeParamsPayload, decodePayoutPayload, NATIVE_COIN } from './payload.js';
import {
  checkDaoName,
  checkDaoParams,
  daoEscrowKey,
  daoInfoKey,
  daoParamsKey,
  encodeClosed,
  encodeDaoInfo,
  encodeDaoParams,
  encodeProposal,
  encodeVote,
  getClosed,
  getDaoInfo,
  getDaoParams,
  getProposal,
  getTally,
  getVote,
  MAX_DESCRIPTION_BYTES,
  noKey,
  PROPOSAL_CALL,
  PROPOSAL_PARAMS,
  PROPOSAL_PAYOUT,
  proposalClosedKey,
  proposalKey,
  requireDao,
  requireProposal,
  tallyVerdict,
  voteKey,
  votingEnd,
  yesKey,
  type Proposal,
} from './state.js';

// ---- kind-3 dispatch --------------------------------------------------------------------

/** Looks a module up by name; must answer the same on every node (the built-in set). */
export type ModuleResolver = (name: string) => Module | undefined;

let moduleResolver: ModuleResolver | null = null;

/**
 * Give the dao module the module map for kind-3 proposals. Called once, by
 * contracts/registry.ts, with the built-in modules (never the testing ones): what a DAO can
 * call is consensus, so it must not depend on which module set an executor was built with.
 */
export function setModuleResolver(resolve: ModuleResolver): void {
  moduleResolver = resolve;
}

export function hasModuleResolver(): boolean {
  return moduleResolver !== null;
}

function resolveCall(module: string, call: string): CallSpec {
  if (moduleResolver === null) {
    throw new ExecutionFailure('MODULE_RESOLVER_NOT_SET', 'kind-3 proposals are unavailable: contracts/registry.ts must call setModuleResolver from contracts/dao/module.ts');
  }
  const mod = moduleResolver(module);
  // hasOwn: a call named "constructor" must not find Object.prototype's.
  const spec = mod && Object.hasOwn(mod.calls, call) ? mod.calls[call] : undefined;
  if (!spec) throw new ExecutionFailure('UNKNOWN_CALL', `kind-3 proposal: no call ${module}.${call}`);
  return spec;
}

/** Same rule as the VM's argument check. */
function checkCallArgs(spec: CallSpec, args: readonly Value[], what: string): void {
  if (args.length !== spec.args.length) throw new ExecutionFailure('INVALID_ARGUMENTS', `${what} takes ${spec.args.length} arguments, got ${args.length}`);
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.type !== spec.args[i]![1]) {
      throw new ExecutionFailure('INVALID_ARGUMENTS', `${what}: argument ${i} (${spec.args[i]![0]}) must be ${spec.args[i]![1]}, got ${args[i]!.type}`);
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------

const event = eventsOf('dao');

/** Check a payload when the proposal is made, so a malformed proposal never gets voted on. */
function checkPayload(view: StateView, kind: bigint, payload: Uint8Array): void {
  switch (kind) {
    case PROPOSAL_PAYOUT: {
      const p = decodePayoutPayload(payload);
      if (p.amount === 0n) throw new ExecutionFailure('INVALID_PAYLOAD', 'payout amount must be at least 1');
      if (!bytesEqual(p.currency, NATIVE_COIN)) requireToken(view, p.currency);
      return;
    }
    case PROPOSAL_PARAMS:
      checkDaoParams(decodeParamsPayload(payload));
      return;
    case PROPOSAL_CALL: {
      const c = decodeCallPayload(payload);
      checkCallArgs(resolveCall(c.module, c.call), c.args, `${c.module}.${c.call}`);
      return;
    }
    default:
      throw new ExecutionFailure('INVALID_KIND', `proposal kind must be 1 (payout), 2 (parameters) or 3 (call), got ${kind}`);
  }
}

function performAction(view: StateView, ctx: CallContext, dao: Uint8Array, proposal: Uint8Array, p: Proposal): void {
  switch (p.kind) {
    case PROPOSAL_PAYOUT: {
      const { currency, to, amount } = decodePayoutPayload(p.payload);
      if (bytesEqual(currency, NATIVE_COIN)) {
        debit(view, dao, amount);
        credit(view, to, amount);
      } else {
        requireToken(view, currency);
        transferToken(view, currency, dao, to, amount);
      }
      view.emit(event('payout', {
        dao: v.address(dao), proposal: v.address(proposal), currency: v.address(currency), to: v.address(to), amount: v.u128(amount),
      }));
      return;
    }
    case PROPOSAL_PARAMS: {
      const params = decodeParamsPayload(p.payload);
      checkDaoParams(params);
      view.set(daoParamsKey(dao), encodeDaoParams(params));
      view.emit(event('params_changed', {
        dao: v.address(dao), proposal: v.address(proposal), quorum: v.u128(params.quorum), approval_bps: v.u64(params.approvalBps),
        voting_period: v.u64(params.votingPeriod),
      }));
      return;
    }
    case PROPOSAL_CALL: {
      const c = decodeCallPayload(p.payload);
      const spec = resolveCall(c.module, c.call);
      checkCallArgs(spec, c.args, `${c.module}.${c.call}`);
      view.emit(event('call', { dao: v.address(dao), proposal: v.address(proposal), module: v.string(c.module), call: v.string(c.call) }));
      // The DAO acts as the sender; a failure of the inner call fails this execute (the
      // proposal stays passed and can be executed again later).
      spec.run(view, { ...ctx, sender: dao }, c.args);
      return;
    }
    default:
      throw new ExecutionFailure('INVALID_KIND', `proposal kind ${p.kind}`);
  }
}

// ---- calls ----------------------------------------------------------------------------------

const create = defineCall({
  ...DAO_SPEC.calls.create,
  run(view, ctx, { token, name, quorum, approval_bps: approvalBps, voting_period: votingPeriod }) {
    const params = { quorum, approvalBps, votingPeriod };
    requireToken(view, token);
    checkDaoName(name);
    checkDaoParams(params);
    const dao = deriveId('dao', ctx.txHash);
    view.set(daoInfoKey(dao), encodeDaoInfo({ token, name, creator: ctx.sender }));
    view.set(daoParamsKey(dao), encodeDaoParams(params));
    view.emit(event('created', {
      dao: v.address(dao), token: v.address(token), creator: v.address(ctx.sender), name: v.string(name), quorum: v.u128(params.quorum),
      approval_bps: v.u64(params.approvalBps), voting_period: v.u64(params.votingPeriod),
    }));
  },
});

const deposit = defineCall({
  ...DAO_SPEC.calls.deposit,
  run(view, ctx, { dao, amount }) {
    requireDao(view, dao);
    requirePositive(amount);
    debit(view, ctx.sender, amount);
    credit(view, dao, amount);
    view.emit(event('deposit', { dao: v.address(dao), from: v.address(ctx.sender), amount: v.u128(amount) }));
  },
});

const depositToken = defineCall({
  ...DAO_SPEC.calls.deposit_token,
  run(view, ctx, { dao, token, amount }) {
    requireDao(view, dao);
    requireToken(view, token);
    requirePositive(amount);
    transferToken(view, token, ctx.sender, dao, amount);
    view.emit(event('deposit_token', { dao: v.address(dao), token: v.address(token), from: v.address(ctx.sender), amount: v.u128(amount) }));
  },
});

const propose = defineCall({
  ...DAO_SPEC.calls.propose,
  run(view, ctx, { dao, kind, payload, description }) {
    const info = requireDao(view, dao);
    if (tokenBalance(view, info.token, ctx.sender) < 1n) {
      throw new ExecutionFailure('NOT_A_MEMBER', `proposing needs at least 1 unit of token ${addressHex(info.token)} (unlocked, unstaked)`);
    }
    if (utf8(description).length > MAX_DESCRIPTION_BYTES) throw new ExecutionFailure('DESCRIPTION_TOO_LONG', `description is longer than ${MAX_DESCRIPTION_BYTES} bytes`);
    checkPayload(view, kind, payload);
    const params = getDaoParams(view, dao);
    const end = votingEnd(ctx.height, params.votingPeriod);
    const id = deriveId('dao-proposal', ctx.txHash);
    view.set(
      proposalKey(dao, id),
      encodeProposal({ proposer: ctx.sender, kind, payload, description, start: ctx.height, end, quorum: params.quorum, approvalBps: params.approvalBps }),
    );
    view.emit(event('proposed', {
      dao: v.address(dao), proposal: v.address(id), proposer: v.address(ctx.sender), kind: v.u64(kind), start: v.u64(ctx.height), end: v.u64(end),
    }));
  },
});

const vote = defineCall({
  ...DAO_SPEC.calls.vote,
  run(view, ctx, { dao, proposal, support, amount }) {
    const info = requireDao(view, dao);
    const p = requireProposal(view, dao, proposal);
    requirePositive(amount);
    if (getClosed(view, dao, proposal) === 'cancelled') throw new ExecutionFailure('PROPOSAL_CANCELLED', 'the proposal was cancelled');
    if (ctx.height >= p.end) throw new ExecutionFailure('VOTING_ENDED', `voting ended at height ${p.end}`);
    if (getVote(view, dao, proposal, ctx.sender)) throw new ExecutionFailure('ALREADY_VOTED', 'this account already voted on the proposal');
    debitToken(view, info.token, ctx.sender, amount);
    view.addDelta(daoEscrowKey(info.token, dao), amount, 'ARITHMETIC_OVERFLOW');
    view.set(voteKey(dao, proposal, ctx.sender), encodeVote({ support, amount, unlocked: false }));
    view.addDelta(support ? yesKey(dao, proposal) : noKey(dao, proposal), amount, 'ARITHMETIC_OVERFLOW');
    view.emit(event('voted', {
      dao: v.address(dao), proposal: v.address(proposal), voter: v.address(ctx.sender), support: v.bool(support), amount: v.u128(amount),
    }));
  },
});

const unlock = defineCall({
  ...DAO_SPEC.calls.unlock,
  run(view, ctx, { dao, proposal }) {
    const info = requireDao(view, dao);
    const p = requireProposal(view, dao, proposal);
    const cast = getVote(view, dao, proposal, ctx.sender);
    if (!cast || cast.unlocked) throw new ExecutionFailure('NOTHING_TO_UNLOCK', 'no locked vote of this account on the proposal');
    if (ctx.height < p.end && getClosed(view, dao, proposal) !== 'cancelled') {
      throw new ExecutionFailure('VOTING_NOT_ENDED', `votes stay locked until height ${p.end}`);
    }
    // Cannot underflow: the escrow holds at least every vote not yet unlocked.
    view.addDelta(daoEscrowKey(info.token, dao), -cast.amount, 'ARITHMETIC_OVERFLOW');
    creditToken(view, info.token, ctx.sender, cast.amount);
    view.set(voteKey(dao, proposal, ctx.sender), encodeVote({ ...cast, unlocked: true }));
    view.emit(event('unlocked', { dao: v.address(dao), proposal: v.address(proposal), voter: v.address(ctx.sender), amount: v.u128(cast.amount) }));
  },
});

const execute = defineCall({
  ...DAO_SPEC.calls.execute,
  run(view, ctx, { dao, proposal }) {
    requireDao(view, dao);
    const p = requireProposal(view, dao, proposal);
    const closed = getClosed(view, dao, proposal);
    if (closed === 'cancelled') throw new ExecutionFailure('PROPOSAL_CANCELLED', 'the proposal was cancelled');
    if (closed === 'executed') throw new ExecutionFailure('ALREADY_EXECUTED', 'the proposal was already executed');
    if (ctx.height < p.end) throw new ExecutionFailure('VOTING_NOT_ENDED', `voting ends at height ${p.end}`);
    const { yes, no } = getTally(view, dao, proposal);
    const verdict = tallyVerdict(p, yes, no);
    if (verdict === 'QUORUM_NOT_REACHED') throw new ExecutionFailure(verdict, `${yes + no} votes cast, quorum ${p.quorum}`);
    if (verdict === 'NOT_APPROVED') throw new ExecutionFailure(verdict, `yes ${yes} of ${yes + no} is below ${p.approvalBps} bps`);
    // Marked first: a kind-3 call that re-enters execute for this proposal gets ALREADY_EXECUTED.
    view.set(proposalClosedKey(dao, proposal), encodeClosed('executed'));
    view.emit(event('executed', { dao: v.address(dao), proposal: v.address(proposal), kind: v.u64(p.kind), yes: v.u128(yes), no: v.u128(no) }));
    performAction(view, ctx, dao, proposal, p);
  },
});

const cancel = defineCall({
  ...DAO_SPEC.calls.cancel,
  run(view, ctx, { dao, proposal }) {
    requireDao(view, dao);
    const p = requireProposal(view, dao, proposal);
    if (!bytesEqual(p.proposer, ctx.sender)) throw new ExecutionFailure('NOT_PROPOSER', 'only the proposer can cancel a proposal');
    if (getClosed(view, dao, proposal) === 'cancelled') throw new ExecutionFailure('PROPOSAL_CANCELLED', 'the proposal was already cancelled');
    if (ctx.height >= p.end) throw new ExecutionFailure('VOTING_ENDED', `voting ended at height ${p.end}`);
    view.set(proposalClosedKey(dao, proposal), encodeClosed('cancelled'));
    view.emit(event('cancelled', { dao: v.address(dao), proposal: v.address(proposal) }));
  },
});

// ---- views ----------------------------------------------------------------------------------

type ProposalStatus = 'active' | 'passed' | 'rejected' | 'executed' | 'cancelled';

function describeAction(p: Proposal): unknown {
  try {
    switch (p.kind) {
      case PROPOSAL_PAYOUT: {
        const a = decodePayoutPayload(p.payload);
        return { currency: bytesEqual(a.currency, NATIVE_COIN) ? 'native' : toHex(a.currency), to: toHex(a.to), amount: a.amount.toString() };
      }
      case PROPOSAL_PARAMS: {
        const a = decodeParamsPayload(p.payload);
        return { quorum: a.quorum.toString(), approvalBps: Number(a.approvalBps), votingPeriod: a.votingPeriod.toString() };
      }
      case PROPOSAL_CALL: {
        const a = decodeCallPayload(p.payload);
        return { module: a.module, call: a.call, args: a.args.map(valueToJson) };
      }
    }
  } catch {
    // Payloads are checked when proposed; a view must not fail on one anyway.
  }
  return null;
}

const getView = defineView({
  ...DAO_SPEC.views.get,
  run(state, { dao }) {
    const info = getDaoInfo(state, dao);
    if (!info) return null;
    const params = getDaoParams(state, dao);
    return {
      id: toHex(dao),
      token: toHex(info.token),
      name: info.name,
      creator: toHex(info.creator),
      quorum: params.quorum.toString(),
      approvalBps: Number(params.approvalBps),
      votingPeriod: params.votingPeriod.toString(),
      treasury: { coin: getBalance(state, dao).toString(), token: tokenBalance(state, info.token, dao).toString() },
      lockedInVotes: decodeU128(state.get(daoEscrowKey(info.token, dao))).toString(),
    };
  },
});

const getProposalView = defineView({
  ...DAO_SPEC.views.getProposal,
  run(state, { dao, proposal }, ctx) {
    const p = getProposal(state, dao, proposal);
    if (!p) return null;
    const closed = getClosed(state, dao, proposal);
    const { yes, no } = getTally(state, dao, proposal);
    let status: ProposalStatus;
    if (closed !== 'open') status = closed;
    else if (ctx.height < p.end) status = 'active';
    else status = tallyVerdict(p, yes, no) === 'passed' ? 'passed' : 'rejected';
    return {
      id: toHex(proposal),
      dao: toHex(dao),
      proposer: toHex(p.proposer),
      kind: Number(p.kind),
      payload: toHex(p.payload),
      action: describeAction(p),
      description: p.description,
      start: p.start.toString(),
      end: p.end.toString(),
      quorum: p.quorum.toString(),
      approvalBps: Number(p.approvalBps),
      yes: yes.toString(),
      no: no.toString(),
      executed: closed === 'executed',
      cancelled: closed === 'cancelled',
      status,
    };
  },
});

const getVoteView = defineView({
  ...DAO_SPEC.views.getVote,
  run(state, { dao, proposal, voter }) {
    const cast = getVote(state, dao, proposal, voter);
    return cast ? { support: cast.support, amount: cast.amount.toString(), unlocked: cast.unlocked } : null;
  },
});

export const daoModule: Module = {
  name: 'dao',
  calls: { create, deposit, deposit_token: depositToken, propose, vote, unlock, execute, cancel },
  views: { get: getView, getProposal: getProposalView, getVote: getVoteView },
};
