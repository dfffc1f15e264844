/**
 * BftEngine: Tendermint consensus ("The latest gossip on BFT consensus", Buchman, Kwon,
 * Milosevic 2018, Algorithm 1) with CometBFT's behaviour where the paper leaves room.
 * Line numbers in comments refer to Algorithm 1.
 *
 * Everything that changes consensus state runs on one serial queue (`enqueue`): gossip
 * handlers only decode, verify and record messages, then ask for a `run`, which applies the
 * "upon" rules one at a time until none fires. Timeouts enqueue their handler the same way.
 * App calls (build, execute, commit, save sign state) are awaited inside the queue, so the
 * only thing that can change under the engine's feet is the app's head (the sync service
 * commits blocks on its own); the engine re-reads it after every await (`abandoned`) and at
 * every turn of `run` (`followHead`).
 *
 * Time comes only from `deps.clock` (clock.ts): every timeout is set on it and every reading of
 * the wall clock goes through it, so tests drive the engine on virtual time.
 *
 * Where this differs from the paper, and why:
 *  - Lines 36 and 49 accept the block from any proposal of the height with that hash, not only
 *    the proposal of that round (CometBFT does the same with block parts): safety rests on
 *    the votes, the block is only needed to check and apply it.
 *  - Gossip deduplicates identical bytes and nothing re-sends old votes (CometBFT has a
 *    per-peer vote gossip routine for that), so a process that missed prevotes or precommits
 *    would wait forever in lines 34/47. A "stall" timer per step stands in: if no quorum of
 *    any kind arrived, after timeoutPropose + timeoutPrevote the process precommits nil, and
 *    after timeoutPropose + timeoutPrecommit it moves to the next round. Precommitting nil and
 *    changing rounds are always safe; the new round's messages are new bytes, so processes
 *    that missed something meet again there (f+1 messages from a higher round, line 55), and
 *    a process left a height behind catches up through sync (`onBehind`).
 *  - Prevotes also require the block timestamp to be at most 30 s ahead of local time (as
 *    CometBFT's proposer-based timestamps bound it); the commit rule does not, since a
 *    quorum already decided.
 */
import type { Block } from '../../protocol/block.js';
import { bytesEqual, toHex, toHexRaw } from '../../protocol/hex.js';
import type { KeyPair } from '../../protocol/keys.js';
import type { Logger } from '../../protocol/logger.js';
import type { SignatureVerifier } from '../../protocol/verify.js';
import type { GossipTopic, Network, Verdict } from '../../p2p/types.js';
import {
  certificateFromPrecommits, decodeProposal, decodeVote, encodeProposal, encodeVote, isNil, signProposal, signVote, verifyProposal, verifyVote,
  NIL_HASH, NO_POL_ROUND,
  type CommitCertificate, type Proposal, type ValidatorSet, type Vote, type VoteType,
} from './messages.js';
import {
  checkProposal, checkVote, decodeSignState, emptySignState, encodeSignState, voteFromRecord, withProposal, withVote, type SignState,
} from './sign-state.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { BlockValidationError, type BftApp, type BftTimeouts, type ConsensusStatus, type ExecutedBlock, type RoundStep } from './types.js';

/** Proposals whose block timestamp is further ahead of local time than this are prevoted nil. */
export const MAX_FUTURE_BLOCK_MS = 30_000;
/** Rounds above ours a validator may have votes in (CometBFT's peer catch-up rounds): bounds memory against a validator voting in every round. */
const MAX_CATCHUP_ROUNDS = 2;
/** Messages kept per validator for the next height (a round or two of proposal, prevote, precommit); proposals are big, so fewer. */
const MAX_BUFFERED_PER_VALIDATOR = 8;
const MAX_BUFFERED_PROPOSALS_PER_VALIDATOR = 2;
const MAX_EVIDENCE = 64;

export interface BftEngineOptions {
  readonly timeouts: BftTimeouts;
  /** This validator's key; null (or a key outside the validator set) runs a follower that never signs. */
  readonly key: KeyPair | null;
  /** Default MAX_FUTURE_BLOCK_MS. */
  readonly maxFutureBlockMs?: number;
}

export interface BftEngineDeps<E extends ExecutedBlock> {
  readonly app: BftApp<E>;
  readonly network: Network;
  readonly verifier: SignatureVerifier;
  readonly logger: Logger;
  /**
   * Wall clock and timers: the proposer's block timestamp, the future-timestamp check, the
   * onBehind throttle, and every timeout. Default systemClock; tests pass a VirtualClock.
   */
  readonly clock?: Clock;
  /** After each block this engine committed (not blocks the sync service committed). */
  readonly onCommit?: (executed: E, certificate: CommitCertificate) => void;
  /**
   * A validly signed message for a height above ours arrived from `from`: that peer is at
   * consensus height `height` (its committed head is at least height - 1). Immediate for
   * heights above ours + 1; for ours + 1 (normal while a commit is in flight) only if we are
   * still below it one propose timeout later. Throttled.
   */
  readonly onBehind?: (height: bigint, from: string) => void;
  /** The app failed to persist a block; the engine has stopped and the node must stop. */
  readonly onFatal?: (error: unknown) => void;
}

/** Proof that a validator signed two different messages for one (height, round, type) (CometBFT DuplicateVoteEvidence). */
export type Evidence =
  | { readonly kind: 'duplicate-vote'; readonly first: Vote; readonly second: Vote }
  | { readonly kind: 'duplicate-proposal'; readonly first: Proposal; readonly second: Proposal };

/** `newHeight` is CometBFT's RoundStepNewHeight: committed, waiting blockTimeMs before round 0. */
type Step = 'newHeight' | 'propose' | 'prevote' | 'precommit' | 'commit';
type Execution<E> = { readonly ok: true; readonly executed: E } | { readonly ok: false };
type PendingMessage = { readonly kind: 'vote'; readonly vote: Vote } | { readonly kind: 'proposal'; readonly proposal: Proposal };

/** The head moved (or the engine stopped) during an await: drop what was being done. */
const ABANDONED = Symbol('abandoned');

/** Prevotes and precommits of one height, at most one per (round, type, validator). */
class HeightVoteSet {
  private readonly rounds = new Map<number, { prevote: Map<number, Vote>; precommit: Map<number, Vote> }>();
  private readonly roundsByValidator = new Map<number, Set<number>>();

  constructor(private readonly quorum: number) {}

  add(vote: Vote, currentRound: number): { result: 'added' | 'duplicate' | 'too-far' } | { result: 'conflicting'; first: Vote } {
    const first = this.rounds.get(vote.round)?.[vote.type].get(vote.validatorIndex);
    if (first) return bytesEqual(first.blockHash, vote.blockHash) ? { result: 'duplicate' } : { result: 'conflicting', first };
    let mine = this.roundsByValidator.get(vote.validatorIndex);
    if (vote.round > currentRound && !mine?.has(vote.round)) {
      let ahead = 0;
      for (const r of mine ?? []) if (r > currentRound) ahead++;
      if (ahead >= MAX_CATCHUP_ROUNDS) return { result: 'too-far' };
    }
    let rv = this.rounds.get(vote.round);
    if (!rv) this.rounds.set(vote.round, (rv = { prevote: new Map(), precommit: new Map() }));
    rv[vote.type].set(vote.validatorIndex, vote);
    if (!mine) this.roundsByValidator.set(vote.validatorIndex, (mine = new Set()));
    mine.add(vote.round);
    return { result: 'added' };
  }

  votes(round: number, type: VoteType): ReadonlyMap<number, Vote> {
    return this.rounds.get(round)?.[type] ?? new Map<number, Vote>();
  }

  total(round: number, type: VoteType): number {
    return this.votes(round, type).size;
  }

  count(round: number, type: VoteType, hash: Uint8Array): number {
    let n = 0;
    for (const v of this.votes(round, type).values()) if (bytesEqual(v.blockHash, hash)) n++;
    return n;
  }

  /** The hash (NIL_HASH included) holding a quorum, if one does; two cannot unless more than f are faulty. */
  majority(round: number, type: VoteType): Uint8Array | null {
    const tally = new Map<string, { hash: Uint8Array; n: number }>();
    for (const v of this.votes(round, type).values()) {
      const k = toHexRaw(v.blockHash);
      const t = tally.get(k) ?? { hash: v.blockHash, n: 0 };
      t.n++;
      if (t.n >= this.quorum) return t.hash;
      tally.set(k, t);
    }
    return null;
  }

  /** Validators with a prevote or precommit in `round`. */
  senders(round: number): Set<number> {
    const rv = this.rounds.get(round);
    return new Set(rv ? [...rv.prevote.keys(), ...rv.precommit.keys()] : []);
  }

  roundNumbers(): number[] {
    return [...this.rounds.keys()].sort((a, b) => a - b);
  }
}

/** Messages for the height after ours, to apply once we get there (they would not be gossiped again). */
class NextHeightBuffer {
  private readonly byValidator = new Map<number, PendingMessage[]>();
  constructor(readonly height: bigint) {}

  add(m: PendingMessage): boolean {
    const index = m.kind === 'vote' ? m.vote.validatorIndex : m.proposal.proposerIndex;
    const list = this.byValidator.get(index) ?? [];
    if (list.length >= MAX_BUFFERED_PER_VALIDATOR) return false;
    if (m.kind === 'proposal' && list.filter((x) => x.kind === 'proposal').length >= MAX_BUFFERED_PROPOSALS_PER_VALIDATOR) return false;
    list.push(m);
    this.byValidator.set(index, list);
    return true;
  }

  drain(): PendingMessage[] {
    return [...this.byValidator.keys()].sort((a, b) => a - b).flatMap((k) => this.byValidator.get(k)!);
  }
}

export class BftEngine<E extends ExecutedBlock = ExecutedBlock> {
  private readonly app: BftApp<E>;
  private readonly network: Network;
  private readonly verifier: SignatureVerifier;
  private readonly validators: ValidatorSet;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly timeouts: BftTimeouts;
  private readonly maxFutureBlockMs: number;
  private readonly key: KeyPair | null;
  /** Our index in the validator set, -1 for a follower. */
  private readonly index: number;

  // Algorithm 1 state: h_p, round_p, step_p, lockedValue_p, lockedRound_p, validValue_p, validRound_p.
  private height: bigint;
  private round = 0;
  private step: Step = 'newHeight';
  private lockedValue: Block | null = null;
  /** Kept apart from lockedValue: after a restart we know the hash we are locked on but not the block. */
  private lockedBlockHash: Uint8Array | null = null;
  private lockedRound = NO_POL_ROUND;
  private validValue: Block | null = null;
  private validRound = NO_POL_ROUND;
  // "for the first time" guards of lines 34, 36 and 47, per round.
  private prevoteWaitScheduled = false;
  private precommitWaitScheduled = false;
  private polkaSeen = false;

  private votes: HeightVoteSet;
  /** The first valid proposal of each round <= ours. */
  private readonly proposals = new Map<number, Proposal>();
  /** For rounds above ours: the highest-round proposal per proposer (bounded, unlike rounds). */
  private readonly futureProposals = new Map<number, Proposal>();
  /** executeBlock results of this height by block hash: a block re-proposed in a later round is not executed again. */
  private readonly executions = new Map<string, Execution<E>>();
  private readonly badDecisionLogged = new Set<string>();
  private nextHeight: NextHeightBuffer;

  private signState: SignState = emptySignState(0n);
  private started = false;
  private starting: Promise<void> | null = null;
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();
  private runPending = false;
  private readonly timers = new Set<TimerHandle>();
  private behindTimer: TimerHandle | null = null;
  private lastBehind: { height: bigint; at: number } | null = null;
  private lastCommitInfo: ConsensusStatus['lastCommit'] = null;
  private lastCert: CommitCertificate | null = null;
  private readonly evidenceLog: Evidence[] = [];

  constructor(opts: BftEngineOptions, private readonly deps: BftEngineDeps<E>) {
    this.app = deps.app;
    this.network = deps.network;
    this.verifier = deps.verifier;
    this.validators = deps.app.validators;
    this.logger = deps.logger.child('bft');
    this.clock = deps.clock ?? systemClock;
    this.timeouts = opts.timeouts;
    this.maxFutureBlockMs = opts.maxFutureBlockMs ?? MAX_FUTURE_BLOCK_MS;
    this.index = opts.key ? this.validators.indexOf(opts.key.address) : -1;
    this.key = this.index >= 0 ? opts.key : null;
    if (opts.key && this.index < 0) this.logger.warn('this key is not in the validator set; following without signing', { address: toHex(opts.key.address) });
    this.height = 0n;
    this.votes = new HeightVoteSet(this.validators.quorum);
    this.nextHeight = new NextHeightBuffer(1n);
    // Messages can arrive between network start and engine start; record them for head + 1.
    this.enterHeight(this.app.head().height + 1n);
    this.network.onGossip('proposal', (data, from) => this.guard('proposal', () => this.onProposalMessage(data, from)));
    this.network.onGossip('vote', (data, from) => this.guard('vote', () => this.onVoteMessage(data, from)));
  }

  // ----------------------------------------------------------------------------------------
  // lifecycle
  // ----------------------------------------------------------------------------------------

  /**
   * Reads the sign state and starts the round. A validator whose sign state is for head + 1
   * resumes that height at the saved round with the saved lock and re-sends, never re-signs,
   * what it already signed there. Throws if the sign state cannot be read: signing without it
   * could equivocate.
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.stopped) return;
    let saved: SignState | null = null;
    if (this.key) {
      const bytes = await this.app.loadSignState();
      if (bytes) saved = decodeSignState(bytes);
    }
    await this.enqueue(async () => {
      const next = this.app.head().height + 1n;
      if (next !== this.height) this.enterHeight(next);
      if (saved && saved.height >= this.height) {
        this.signState = saved;
        if (saved.height === this.height) this.restoreFromSignState();
        else this.logger.warn('the sign state is ahead of the chain; not signing below its height', { signed: saved.height, height: this.height });
      }
      this.started = true;
      this.logger.info('consensus started', { height: this.height, round: this.round, validator: this.index, validators: this.validators.size });
      await this.startRound(this.round);
    });
  }

  /** Idempotent: clears timers and waits for the step in flight. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      for (const t of this.timers) this.clock.clearTimeout(t);
      this.timers.clear();
      if (this.behindTimer) this.clock.clearTimeout(this.behindTimer);
      this.behindTimer = null;
    }
    await this.queue;
  }

  /**
   * The sync service committed blocks behind the engine's back: abandon the current height
   * and start head + 1 at round 0 (with the messages buffered for it). Safe to call at any
   * time, also when nothing moved; the engine checks the head at every step anyway.
   */
  onHeadChanged(): void {
    if (this.started) void this.enqueue(() => undefined);
  }

  /** Same as onHeadChanged (the name the sync service may know it by). */
  syncedTo(): void {
    this.onHeadChanged();
  }

  status(): ConsensusStatus {
    const step: RoundStep = this.step === 'newHeight' ? 'propose' : this.step;
    return {
      height: this.height,
      round: this.round,
      step,
      lockedRound: this.lockedRound,
      lockedBlockHash: this.lockedBlockHash,
      validRound: this.validRound,
      proposer: this.validators.proposer(this.height, this.round).address,
      lastCommit: this.lastCommitInfo,
    };
  }

  /** The certificate of the last block this engine committed (null until it commits one). */
  get lastCertificate(): CommitCertificate | null {
    return this.lastCert;
  }

  /** Equivocations seen (first and second message), most recent last, bounded. */
  get evidence(): readonly Evidence[] {
    return this.evidenceLog;
  }

  // ----------------------------------------------------------------------------------------
  // gossip
  // ----------------------------------------------------------------------------------------

  private guard(topic: GossipTopic, f: () => Verdict): Verdict {
    if (this.stopped) return 'ignore';
    try {
      return f();
    } catch (e) {
      // Handlers must not throw; a bug here must not score the peer down.
      this.logger.error(`${topic} handler failed`, { error: String(e) });
      return 'ignore';
    }
  }

  private onVoteMessage(data: Uint8Array, from: string): Verdict {
    let vote: Vote;
    try {
      vote = decodeVote(data);
    } catch {
      return 'reject';
    }
    if (vote.chainId !== this.app.chainId) return 'reject';
    if (!this.validators.at(vote.validatorIndex)) return 'reject';
    if (vote.height < this.height) return 'ignore';
    if (!verifyVote(vote, this.validators, this.verifier)) return 'reject';
    if (vote.height > this.height) return this.onFutureHeight({ kind: 'vote', vote }, from);
    return this.recordVote(vote);
  }

  private onProposalMessage(data: Uint8Array, from: string): Verdict {
    let proposal: Proposal;
    try {
      proposal = decodeProposal(data);
    } catch {
      return 'reject';
    }
    if (proposal.chainId !== this.app.chainId) return 'reject';
    if (!this.validators.at(proposal.proposerIndex)) return 'reject';
    if (proposal.height < this.height) return 'ignore';
    if (!verifyProposal(proposal, this.validators, this.verifier)) return 'reject';
    if (proposal.height > this.height) return this.onFutureHeight({ kind: 'proposal', proposal }, from);
    return this.recordProposal(proposal);
  }

  private onFutureHeight(m: PendingMessage, from: string): Verdict {
    const height = m.kind === 'vote' ? m.vote.height : m.proposal.height;
    this.noteBehind(height, from);
    if (height !== this.height + 1n) return 'ignore';
    return this.nextHeight.add(m) ? 'accept' : 'ignore';
  }

  /** Records a verified vote of the current height; the verdict says whether it was new. */
  private recordVote(vote: Vote): Verdict {
    const added = this.votes.add(vote, this.round);
    switch (added.result) {
      case 'added':
        this.requestRun();
        return 'accept';
      case 'conflicting':
        this.logger.warn('validator signed two votes for one height, round and type; only the first counts', {
          validator: vote.validatorIndex, height: vote.height, round: vote.round, type: vote.type,
          first: toHex(added.first.blockHash), second: toHex(vote.blockHash),
        });
        this.addEvidence({ kind: 'duplicate-vote', first: added.first, second: vote });
        return 'ignore';
      case 'duplicate':
      case 'too-far':
        return 'ignore';
    }
  }

  private recordProposal(p: Proposal): Verdict {
    const first = p.round <= this.round ? this.proposals.get(p.round) : this.futureProposals.get(p.proposerIndex);
    if (first && first.round > p.round) return 'ignore';
    if (first && first.round === p.round) {
      if (bytesEqual(first.block.hash, p.block.hash) && first.polRound === p.polRound) return 'ignore';
      this.logger.warn('proposer signed two proposals for one height and round; only the first counts', {
        proposer: p.proposerIndex, height: p.height, round: p.round, first: toHex(first.block.hash), second: toHex(p.block.hash),
      });
      this.addEvidence({ kind: 'duplicate-proposal', first, second: p });
      return 'ignore';
    }
    if (p.round <= this.round) this.proposals.set(p.round, p);
    else this.futureProposals.set(p.proposerIndex, p);
    this.requestRun();
    return 'accept';
  }

  private addEvidence(e: Evidence): void {
    if (this.evidenceLog.length >= MAX_EVIDENCE) this.evidenceLog.shift();
    this.evidenceLog.push(e);
  }

  private noteBehind(height: bigint, from: string): void {
    if (!this.deps.onBehind) return;
    if (height > this.height + 1n) {
      this.reportBehind(height, from);
      return;
    }
    if (this.behindTimer) return;
    this.behindTimer = this.clock.setTimeout(() => {
      this.behindTimer = null;
      if (!this.stopped && this.height < height) this.reportBehind(height, from);
    }, this.timeout('propose', 0));
  }

  private reportBehind(height: bigint, from: string): void {
    const now = this.clock.now();
    const last = this.lastBehind;
    if (last && height <= last.height && now - last.at < this.timeout('propose', 0)) return;
    this.lastBehind = { height, at: now };
    try {
      this.deps.onBehind?.(height, from);
    } catch (e) {
      this.logger.error('onBehind hook failed', { error: String(e) });
    }
  }

  private broadcast(topic: GossipTopic, data: Uint8Array): void {
    // Not awaited: the state machine must not wait on peers; the network never throws for lack of them.
    this.network.publish(topic, data).catch((e: unknown) => this.logger.warn(`could not publish a ${topic}`, { error: String(e) }));
  }

  // ----------------------------------------------------------------------------------------
  // the serial queue
  // ----------------------------------------------------------------------------------------

  private enqueue(task: () => Promise<void> | void): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.stopped) return;
      await task();
      await this.run();
    }).catch((e: unknown) => {
      this.logger.error('consensus step failed', { error: String(e), stack: e instanceof Error ? e.stack : undefined });
    });
    this.queue = next;
    return next;
  }

  private requestRun(): void {
    if (!this.started || this.runPending || this.stopped) return;
    this.runPending = true;
    void this.enqueue(() => {
      this.runPending = false;
    });
  }

  private after(ms: number, task: () => Promise<void> | void): void {
    if (this.stopped) return;
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      void this.enqueue(task);
    }, ms);
    this.timers.add(t);
  }

  private timeout(kind: 'propose' | 'prevote' | 'precommit', round: number): number {
    const t = this.timeouts;
    const [base, delta] = kind === 'propose' ? [t.proposeMs, t.proposeDeltaMs] : kind === 'prevote' ? [t.prevoteMs, t.prevoteDeltaMs] : [t.precommitMs, t.precommitDeltaMs];
    return Math.min(base + round * delta, t.maxMs);
  }

  /** True when the work of height `h` is moot: stopped, or the head reached `h` (sync). */
  private abandoned(h: bigint): boolean {
    return this.stopped || this.app.head().height >= h;
  }

  /** Applies the upon-rules until none fires. */
  private async run(): Promise<void> {
    for (let turns = 0; turns < 10_000; turns++) {
      if (this.stopped || !this.started) return;
      if (await this.followHead()) continue;
      if (this.step === 'newHeight' || this.step === 'commit') return;
      if (!(await this.applyOneRule())) return;
    }
    this.logger.error('consensus rules did not settle', { height: this.height, round: this.round });
  }

  /** The head moved past our height behind our back (sync): start over at head + 1. */
  private async followHead(): Promise<boolean> {
    const head = this.app.head().height;
    if (head < this.height) return false;
    this.logger.info('the chain moved ahead of consensus; joining the next height', { from: this.height, to: head + 1n });
    this.enterHeight(head + 1n);
    await this.startRound(this.round);
    return true;
  }

  // ----------------------------------------------------------------------------------------
  // heights and rounds
  // ----------------------------------------------------------------------------------------

  private enterHeight(h: bigint): void {
    this.height = h;
    this.round = 0;
    this.step = 'newHeight';
    this.lockedValue = null;
    this.lockedBlockHash = null;
    this.lockedRound = NO_POL_ROUND;
    this.validValue = null;
    this.validRound = NO_POL_ROUND;
    this.votes = new HeightVoteSet(this.validators.quorum);
    this.proposals.clear();
    this.futureProposals.clear();
    this.executions.clear();
    this.badDecisionLogged.clear();
    if (this.signState.height < h) this.signState = emptySignState(h);
    else if (this.signState.height === h) this.restoreFromSignState();
    const pending = this.nextHeight.height === h ? this.nextHeight.drain() : [];
    this.nextHeight = new NextHeightBuffer(h + 1n);
    for (const m of pending) {
      if (m.kind === 'vote') this.recordVote(m.vote);
      else this.recordProposal(m.proposal);
    }
  }

  /** Round and lock as signed before a restart; the locked block itself comes back only if proposed again. */
  private restoreFromSignState(): void {
    const s = this.signState;
    if (s.round === 0 && s.lockedRound === NO_POL_ROUND && s.votes.length === 0 && s.proposals.length === 0) return;
    this.round = Math.max(this.round, s.round);
    this.lockedRound = s.lockedRound;
    this.lockedBlockHash = s.lockedBlockHash;
    this.logger.info('resuming from the sign state', {
      height: s.height, round: s.round, step: s.step, lockedRound: s.lockedRound, lockedBlockHash: s.lockedBlockHash ? toHex(s.lockedBlockHash) : null,
    });
  }

  /** StartRound (line 11). */
  private async startRound(round: number): Promise<void> {
    const h = this.height;
    this.round = round;
    this.step = 'propose';
    this.prevoteWaitScheduled = false;
    this.precommitWaitScheduled = false;
    this.polkaSeen = false;
    for (const [index, p] of [...this.futureProposals]) {
      if (p.round > round) continue;
      this.futureProposals.delete(index);
      if (!this.proposals.has(p.round)) this.proposals.set(p.round, p);
    }
    this.logger.debug('round', { height: h, round, proposer: this.validators.proposer(h, round).index });
    // Also for our own round: if building fails we still prevote nil and move on.
    this.after(this.timeout('propose', round), () => this.onTimeoutPropose(h, round));
    if (this.key && this.validators.proposer(h, round).index === this.index) await this.propose(h, round);
  }

  private startNewHeight(h: bigint): Promise<void> | void {
    if (this.height !== h || this.step !== 'newHeight') return;
    return this.startRound(this.round);
  }

  private async propose(h: bigint, round: number): Promise<void> {
    const key = this.key!;
    let block: Block;
    let polRound: number;
    if (this.validValue) {
      block = this.validValue;
      polRound = this.validRound;
    } else {
      const resend = this.signState.height === h ? this.signState.proposals.find((p) => p.round === round) : undefined;
      if (resend) {
        // Signed before a restart; the block is gone and a new one would be a second proposal for the round.
        this.logger.info('already proposed in this round before a restart; not proposing again', { height: h, round });
        return;
      }
      const parent = this.app.head();
      const now = BigInt(Math.floor(this.clock.now()));
      let executed: E;
      try {
        executed = await this.app.buildBlock(now > parent.timestamp ? now : parent.timestamp, key.address);
      } catch (e) {
        if (this.abandoned(h)) return;
        this.logger.error('could not build a block to propose', { height: h, round, error: String(e) });
        return;
      }
      if (this.abandoned(h)) return;
      block = executed.block;
      this.executions.set(toHexRaw(block.hash), { ok: true, executed });
      polRound = NO_POL_ROUND;
    }
    const decision = checkProposal(this.signState, h, round, block.hash);
    if (decision.action !== 'sign') {
      this.logger.warn('not signing a proposal', { height: h, round, reason: decision.action === 'refuse' ? decision.reason : 'already proposed in this round' });
      return;
    }
    const proposal = signProposal({ chainId: this.app.chainId, height: h, round, polRound, proposerIndex: this.index, block }, key.privateKey);
    this.signState = withProposal(this.signState, this.position(), { round, polRound, blockHash: block.hash });
    if (!(await this.persistSignState()) || this.abandoned(h)) return;
    this.proposals.set(round, proposal);
    this.logger.debug('proposing', { height: h, round, polRound, block: toHex(block.hash), txs: block.txs.length });
    this.broadcast('proposal', encodeProposal(proposal));
  }

  // ----------------------------------------------------------------------------------------
  // the upon-rules of Algorithm 1
  // ----------------------------------------------------------------------------------------

  /** Applies the first rule whose condition holds; false when none does. */
  private async applyOneRule(): Promise<boolean> {
    const quorum = this.validators.quorum;
    const round = this.round;
    const h = this.height;

    // Line 49: 2f+1 precommits for a block in any round of the height decide it.
    for (const r of this.votes.roundNumbers()) {
      const hash = this.votes.majority(r, 'precommit');
      if (!hash || isNil(hash)) continue;
      const block = this.knownBlock(hash);
      if (!block) continue; // the proposal may still come; if not, sync fetches the block
      const ex = await this.execute(block);
      if (ex === ABANDONED) return true;
      if (!ex.ok) {
        const k = toHexRaw(hash);
        if (!this.badDecisionLogged.has(k)) {
          this.badDecisionLogged.add(k);
          this.logger.error('a quorum precommitted a block that fails to execute here; waiting for sync', { height: h, round: r, block: toHex(hash) });
        }
        continue;
      }
      await this.decide(r, hash, ex.executed);
      return true;
    }

    // Line 55: f+1 validators already in a higher round: join the highest such round.
    const skipTo = this.roundToSkipTo();
    if (skipTo !== null) {
      this.logger.debug('skipping to a higher round', { height: h, from: round, to: skipTo });
      await this.startRound(skipTo);
      return true;
    }

    // Lines 22 and 28.
    if (this.step === 'propose') {
      const p = this.proposals.get(round);
      if (p) {
        const hash = p.block.hash;
        if (p.polRound === NO_POL_ROUND) {
          const valid = await this.validForPrevote(p.block);
          if (valid === ABANDONED) return true;
          await this.prevote(valid && (this.lockedRound === NO_POL_ROUND || this.isLockedOn(hash)) ? hash : NIL_HASH);
          return true;
        }
        if (this.votes.count(p.polRound, 'prevote', hash) >= quorum) {
          const valid = await this.validForPrevote(p.block);
          if (valid === ABANDONED) return true;
          await this.prevote(valid && (this.lockedRound <= p.polRound || this.isLockedOn(hash)) ? hash : NIL_HASH);
          return true;
        }
      }
    }

    // Line 34.
    if (this.step === 'prevote' && !this.prevoteWaitScheduled && this.votes.total(round, 'prevote') >= quorum) {
      this.prevoteWaitScheduled = true;
      this.after(this.timeout('prevote', round), () => this.onTimeoutPrevote(h, round));
      return true;
    }

    // Line 36: a polka (2f+1 prevotes) for a valid block.
    if ((this.step === 'prevote' || this.step === 'precommit') && !this.polkaSeen) {
      const hash = this.votes.majority(round, 'prevote');
      const block = hash && !isNil(hash) ? this.knownBlock(hash) : null;
      if (hash && block) {
        const ex = await this.execute(block);
        if (ex === ABANDONED) return true;
        if (ex.ok) {
          this.polkaSeen = true;
          this.validValue = block;
          this.validRound = round;
          if (this.step === 'prevote') {
            this.lockedValue = block;
            this.lockedBlockHash = hash;
            this.lockedRound = round;
            await this.precommit(hash);
          }
          return true;
        }
      }
    }

    // Line 44.
    if (this.step === 'prevote') {
      const hash = this.votes.majority(round, 'prevote');
      if (hash && isNil(hash)) {
        await this.precommit(NIL_HASH);
        return true;
      }
    }

    // Line 47.
    if (!this.precommitWaitScheduled && this.votes.total(round, 'precommit') >= quorum) {
      this.precommitWaitScheduled = true;
      this.after(this.timeout('precommit', round), () => this.onTimeoutPrecommit(h, round));
      return true;
    }
    return false;
  }

  private roundToSkipTo(): number | null {
    const senders = new Map<number, Set<number>>();
    for (const r of this.votes.roundNumbers()) if (r > this.round) senders.set(r, this.votes.senders(r));
    for (const p of this.futureProposals.values()) {
      if (p.round <= this.round) continue;
      const s = senders.get(p.round) ?? new Set<number>();
      s.add(p.proposerIndex);
      senders.set(p.round, s);
    }
    let best: number | null = null;
    for (const [r, s] of senders) if (s.size >= this.validators.weakQuorum && (best === null || r > best)) best = r;
    return best;
  }

  private isLockedOn(hash: Uint8Array): boolean {
    return this.lockedBlockHash !== null && bytesEqual(this.lockedBlockHash, hash);
  }

  private knownBlock(hash: Uint8Array): Block | null {
    const k = toHexRaw(hash);
    const ex = this.executions.get(k);
    if (ex?.ok) return ex.executed.block;
    for (const p of this.proposals.values()) if (bytesEqual(p.block.hash, hash)) return p.block;
    for (const p of this.futureProposals.values()) if (bytesEqual(p.block.hash, hash)) return p.block;
    for (const b of [this.lockedValue, this.validValue]) if (b && bytesEqual(b.hash, hash)) return b;
    return null;
  }

  /** valid(v): executes a block once per height; later calls reuse the result. */
  private async execute(block: Block): Promise<Execution<E> | typeof ABANDONED> {
    const k = toHexRaw(block.hash);
    const cached = this.executions.get(k);
    if (cached) return cached;
    const h = this.height;
    let result: Execution<E>;
    try {
      result = { ok: true, executed: await this.app.executeBlock(block) };
    } catch (e) {
      // Executed against a parent that is no longer the head: the failure says nothing about the block.
      if (this.abandoned(h)) return ABANDONED;
      if (e instanceof BlockValidationError) this.logger.warn('proposed block is invalid', { height: h, block: toHex(block.hash), error: e.message });
      else this.logger.error('could not execute a proposed block', { height: h, block: toHex(block.hash), error: String(e) });
      result = { ok: false };
    }
    if (this.abandoned(h)) return ABANDONED;
    this.executions.set(k, result);
    return result;
  }

  private async validForPrevote(block: Block): Promise<boolean | typeof ABANDONED> {
    const ex = await this.execute(block);
    if (ex === ABANDONED) return ABANDONED;
    if (!ex.ok) return false;
    const limit = BigInt(Math.floor(this.clock.now())) + BigInt(this.maxFutureBlockMs);
    if (block.header.timestamp > limit) {
      this.logger.warn('proposed block timestamp is too far in the future; prevoting nil', { height: this.height, timestamp: block.header.timestamp });
      return false;
    }
    return true;
  }

  private async prevote(hash: Uint8Array): Promise<void> {
    const h = this.height;
    const round = this.round;
    this.step = 'prevote';
    this.after(this.timeout('propose', round) + this.timeout('prevote', round), () => this.onPrevoteStall(h, round));
    await this.castVote('prevote', hash);
  }

  private async precommit(hash: Uint8Array): Promise<void> {
    const h = this.height;
    const round = this.round;
    this.step = 'precommit';
    this.after(this.timeout('propose', round) + this.timeout('precommit', round), () => this.onPrecommitStall(h, round));
    await this.castVote('precommit', hash);
  }

  // ----------------------------------------------------------------------------------------
  // timeouts (lines 57-67) and stall timers
  // ----------------------------------------------------------------------------------------

  private async onTimeoutPropose(h: bigint, round: number): Promise<void> {
    if (h === this.height && round === this.round && this.step === 'propose') await this.prevote(NIL_HASH);
  }

  private async onTimeoutPrevote(h: bigint, round: number): Promise<void> {
    if (h === this.height && round === this.round && this.step === 'prevote') await this.precommit(NIL_HASH);
  }

  private async onTimeoutPrecommit(h: bigint, round: number): Promise<void> {
    if (h === this.height && round === this.round && this.isInRound()) await this.startRound(round + 1);
  }

  private async onPrevoteStall(h: bigint, round: number): Promise<void> {
    if (h !== this.height || round !== this.round || this.step !== 'prevote' || this.prevoteWaitScheduled) return;
    this.logger.debug('no prevote quorum arrived; precommitting nil', { height: h, round });
    await this.precommit(NIL_HASH);
  }

  private async onPrecommitStall(h: bigint, round: number): Promise<void> {
    if (h !== this.height || round !== this.round || this.step !== 'precommit' || this.precommitWaitScheduled) return;
    this.logger.debug('no precommit quorum arrived; moving to the next round', { height: h, round });
    await this.startRound(round + 1);
  }

  private isInRound(): boolean {
    return this.step === 'propose' || this.step === 'prevote' || this.step === 'precommit';
  }

  // ----------------------------------------------------------------------------------------
  // signing
  // ----------------------------------------------------------------------------------------

  private position(): { height: bigint; round: number; step: RoundStep; lockedRound: number; lockedBlockHash: Uint8Array | null } {
    const step: RoundStep = this.step === 'newHeight' ? 'propose' : this.step;
    return { height: this.height, round: this.round, step, lockedRound: this.lockedRound, lockedBlockHash: this.lockedBlockHash };
  }

  /** Signs (or re-sends what the sign state holds for the slot), persists, counts and publishes a vote. */
  private async castVote(type: VoteType, hash: Uint8Array): Promise<void> {
    const key = this.key;
    if (!key) return;
    const h = this.height;
    const round = this.round;
    const decision = checkVote(this.signState, h, round, type, hash);
    let vote: Vote;
    if (decision.action === 'refuse') {
      this.logger.warn('not signing a vote', { height: h, round, type, reason: decision.reason });
      return;
    }
    if (decision.action === 'resend') {
      vote = voteFromRecord(decision.record, this.app.chainId, h, this.index);
      if (decision.conflicting) {
        this.logger.warn('already signed another vote for this round before a restart; re-sending it', {
          height: h, round, type, signed: toHex(decision.record.blockHash), wanted: toHex(hash),
        });
      }
    } else {
      vote = signVote({ type, chainId: this.app.chainId, height: h, round, blockHash: hash, validatorIndex: this.index }, key.privateKey);
    }
    this.signState = withVote(this.signState, this.position(), vote);
    if (!(await this.persistSignState()) || this.abandoned(h)) return;
    this.votes.add(vote, this.round);
    this.broadcast('vote', encodeVote(vote));
  }

  private async persistSignState(): Promise<boolean> {
    try {
      await this.app.saveSignState(encodeSignState(this.signState));
      return true;
    } catch (e) {
      // Unsent is safe; sent but not remembered could equivocate after a crash.
      this.logger.error('could not persist the sign state; not sending', { error: String(e) });
      return false;
    }
  }

  // ----------------------------------------------------------------------------------------
  // commit
  // ----------------------------------------------------------------------------------------

  private async decide(round: number, hash: Uint8Array, executed: E): Promise<void> {
    const h = this.height;
    this.step = 'commit';
    const precommits = [...this.votes.votes(round, 'precommit').values()].filter((v) => bytesEqual(v.blockHash, hash));
    const certificate = certificateFromPrecommits(precommits);
    if (this.abandoned(h)) return;
    try {
      await this.app.commitBlock(executed, certificate);
    } catch (e) {
      if (this.stopped) return;
      if (this.app.head().height >= h) {
        this.logger.info('the block was committed by sync meanwhile', { height: h });
        return;
      }
      this.halt(e);
      return;
    }
    this.lastCert = certificate;
    this.lastCommitInfo = { height: h, round, blockHash: hash, signers: precommits.length };
    this.logger.debug('committed', { height: h, round, block: toHex(hash), txs: executed.block.txs.length, signers: precommits.length });
    try {
      this.deps.onCommit?.(executed, certificate);
    } catch (e) {
      this.logger.error('onCommit hook failed', { error: String(e) });
    }
    // CometBFT timeout_commit: the next height starts blockTimeMs after this commit, which
    // also gathers late precommits and lets slower validators catch up.
    const next = h + 1n;
    this.enterHeight(next);
    this.after(this.timeouts.blockTimeMs, () => this.startNewHeight(next));
  }

  private halt(error: unknown): void {
    this.logger.error('could not commit a decided block; consensus stops', { height: this.height, error: String(error) });
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    if (this.behindTimer) this.clock.clearTimeout(this.behindTimer);
    this.behindTimer = null;
    try {
      this.deps.onFatal?.(error);
    } catch (e) {
      this.logger.error('onFatal hook failed', { error: String(e) });
    }
  }
}
