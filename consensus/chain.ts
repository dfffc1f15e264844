/**
 * Chain: the block-level state machine. It owns the world state, the head, and the store,
 * and turns an ordered list of transactions into a block:
 *   propose(txs)       execute -> drop discarded txs -> prepare state root -> header (no mutation)
 *   executeBlock(b)    the same run over another node's block, then every header field is
 *                      checked against the result (no mutation)
 *   commit(p, cert?)   one LevelDB batch persists it all (with the commit certificate, if any),
 *                      then the world state adopts the prepared tree (BFT, sync, tests)
 *   apply(p)           pipelined commit (single-validator producer): the world state adopts the
 *                      prepared tree and the applied head moves at once, so the next block can
 *                      execute on it, while the block's one batch is written in the background;
 *                      `written` settles when it is on disk
 * State lives in the data dir's LMDB state store (store.state) through DiskWorldState: no
 * state is loaded at start-up. Every block is written LevelDB first (block, receipts, and its
 * state write set as a `w:` record), then the state store (one LMDB transaction with the
 * block's values, tree nodes and height). A crash between the two leaves the state store
 * behind the LevelDB head, never ahead: at startup the chain re-applies the write sets of the
 * blocks it misses (prepare + write + commit, no re-execution), checking each root against
 * its header. A state store ahead of the head, a write set that is gone, or a root that does
 * not match the header means a damaged data dir: Chain.open refuses to start
 * (ChainError STATE_AHEAD, STATE_BEHIND, STATE_ROOT_MISMATCH).
 *
 * Two heads. The APPLIED head and state (`appliedHead`, `appliedState`, `params()`) are what
 * execution builds on and what the mempool checks against; they may be one block ahead of
 * disk. Everything a reader outside consensus sees shows DURABLE blocks only: `head`,
 * `height`, `getBlock`, `getBlockByHash`, `getTxLocation`, `getCertificate` and `world` (the
 * account state as of `head`, DiskWorldState's durable view) move when the block's batch
 * has completed, and the `block` event fires then too. So nothing RPC can observe is lost by a
 * kill -9 between apply and write. The two heads differ only while an applied block is being
 * written; at most one block is (apply refuses a second one, COMMIT_IN_PROGRESS), and writes
 * are therefore one at a time in height order. A failed pipelined write leaves memory ahead of
 * disk: the chain refuses all further work (WRITE_FAILED) and the node must stop; a restart
 * reloads the durable head and re-admits the block's txs from the mempool journal.
 */
import { EventEmitter } from 'node:events';
import { decodeBlock, decodeBlockTxAt, encodeBlock, makeBlock, txRootOf, type Block, type BlockHeader } from '../protocol/block.js';
import { receiptHashH32, decodeReceipt, type Receipt } from '../protocol/receipt.js';
import { merkleRootH32, ZERO_HASH } from '../protocol/hash.js';
import { bytesEqual, toHex } from '../protocol/hex.js';
import type { SignedTx } from '../protocol/tx.js';
import { decodeFeeParams, FEE_PARAMS_KEY } from '../contracts/fee/params.js';
import { decodeGasSchedule, GAS_SCHEDULE_KEY } from '../execution/gas.js';
import type { BlockContext, BlockExecutor, ChainParams, DiscardCode, ExecutionStats } from '../execution/types.js';
import type { BlockCommit, ChainStore, TxLocation } from '../state/store.js';
import { DiskWorldState, type DiskPreparedState } from '../state/disk-world.js';
import type { StateView } from '../state/world.js';
import { genesisEntries, genesisToJson, genesisWriteSet, parseGenesis, type Genesis } from './genesis.js';
import { bulkLoad } from '../state/bulk-load.js';
import { BlockValidationError } from './bft/types.js';

export class ChainError extends Error {
  /**
   * NOT_NEXT_BLOCK: a commit of a block that does not extend the current head (another block
   * was committed since it was executed); nothing was written.
   * COMMIT_IN_PROGRESS: commit or apply called while another block is still being written; nothing was written.
   * WRITE_FAILED: an applied block's batch failed, so memory is ahead of disk (or a block's
   * state write failed after its LevelDB batch); the chain does no more work and the node must
   * stop (a restart reloads what is on disk and re-applies what the state store misses).
   * STATE_ROOT_MISMATCH: the state store's root (or a re-applied block's) is not the header's.
   * STATE_AHEAD: the state store holds a height above the LevelDB head (or state without a chain).
   * STATE_BEHIND: the state store misses a block whose write set is no longer in LevelDB.
   */
  readonly code: 'GENESIS_MISMATCH' | 'STATE_ROOT_MISMATCH' | 'STATE_AHEAD' | 'STATE_BEHIND' | 'CHAIN_CORRUPT' | 'NOT_NEXT_BLOCK' | 'COMMIT_IN_PROGRESS' | 'WRITE_FAILED';
  constructor(code: ChainError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChainError';
    this.code = code;
  }
}

/** Receipts of a block by index; decoded on first access when the executor gave encodings. */
export interface Receipts {
  readonly length: number;
  at(index: number): Receipt | undefined;
}

function lazyReceipts(outcomes: readonly { readonly receipt: Receipt }[]): Receipts {
  return { length: outcomes.length, at: (i) => outcomes[i]?.receipt };
}

export interface DiscardedTx {
  readonly tx: SignedTx;
  readonly code: DiscardCode;
  readonly message: string;
}

export interface Proposal {
  readonly block: Block;
  readonly receipts: Receipts;
  readonly encodedReceipts: readonly Uint8Array[];
  readonly discarded: readonly DiscardedTx[];
  readonly prepared: DiskPreparedState;
  readonly stats: ExecutionStats;
  readonly timings: { executeMs: number; rootMs: number };
}

export interface CommittedBlock {
  readonly block: Block;
  readonly receipts: Receipts;
}

export interface ChainEvents {
  block: [CommittedBlock];
}

/**
 * Recently committed blocks kept decoded (RPC reads, peers syncing from us): at most this
 * many blocks, and at most this many txs in them together. The txs bound keeps the memory
 * flat whatever the block size: 128 blocks of 1,600 txs would hold ~200k decoded txs.
 */
const BLOCK_CACHE = 128;
/** A genesis with at least this many index accounts is bulk-loaded into the state store. */
export const BULK_GENESIS_MIN = 50_000;
const BLOCK_CACHE_TXS = 16_384;

/**
 * Test hook (kill tests): PEL_TEST_CRASH_AT=after-chain-write kills the process with SIGKILL
 * right after a block's LevelDB batch and before its state store write; with
 * `after-chain-write:<height>` only at that height (or above). Read only here.
 */
function crashPointAfterChainWrite(height: bigint): void {
  const at = process.env.PEL_TEST_CRASH_AT;
  if (at === undefined || !at.startsWith('after-chain-write')) return;
  const min = at.length > 'after-chain-write'.length ? BigInt(at.slice('after-chain-write:'.length)) : 0n;
  if (height >= min) process.kill(process.pid, 'SIGKILL');
}

/** The store batch of a proposal. */
function blockCommit(p: Proposal, mempoolRemovals: readonly Uint8Array[], certificate: Uint8Array | undefined, stateHeight: bigint | undefined): BlockCommit {
  return {
    height: p.block.header.height,
    hash: p.block.hash,
    blockBytes: encodeBlock(p.block),
    receipts: p.encodedReceipts,
    txHashes: p.block.txs.map((t) => t.hash),
    writeSet: p.prepared.writeSet,
    ...(stateHeight !== undefined ? { stateHeight } : {}),
    mempoolRemovals,
    ...(certificate ? { certificate } : {}),
  };
}

/** A block adopted in memory by `Chain.apply`; `written` settles once its batch is on disk. */
export interface AppliedBlock {
  /**
   * Resolves after the batch is on disk, `head` has moved and the `block` event has fired;
   * rejects with ChainError WRITE_FAILED if the write failed. Always handle it.
   */
  readonly written: Promise<void>;
}

export class Chain extends EventEmitter<ChainEvents> {
  /** Durable head: its batch is on disk. */
  private headBlock: Block;
  /** Head that execution builds on: headBlock, or the applied block being written. */
  private appliedBlock: Block;
  private paramsCache: { height: bigint; params: ChainParams } | null = null;
  private readonly recent = new Map<bigint, CommittedBlock>();
  private recentTxs = 0;
  /** A commit() is writing, or an applied block's batch is in flight. */
  private committing = false;
  private writeFailure: ChainError | null = null;
  /** The blocks Chain.open re-applied to a state store that was behind the LevelDB head (null: none). */
  recovered: { readonly from: bigint; readonly to: bigint } | null = null;

  private constructor(
    readonly genesis: Genesis,
    private readonly store: ChainStore,
    private readonly state: DiskWorldState,
    private readonly executor: BlockExecutor,
    head: Block,
  ) {
    super();
    this.headBlock = head;
    this.appliedBlock = head;
  }

  /**
   * `onGenesisLoad`: progress of a bulk-loaded genesis (a first start with many index
   * accounts takes minutes): the pass and how far it got (entries, or key-hash files of 256).
   */
  static async open(store: ChainStore, genesis: Genesis, executor: BlockExecutor, opts: { onGenesisLoad?: (phase: 'generate' | 'values' | 'tree', done: number) => void } = {}): Promise<Chain> {
    const storedJson = await store.getGenesisJson();
    const wanted = JSON.stringify(genesisToJson(genesis));
    const db = store.state;
    if (storedJson === undefined) {
      if (db.height !== undefined) {
        throw new ChainError('STATE_AHEAD', `the state store ${store.statePath} holds state of height ${db.height} but ${store.location} holds no chain; remove it or use --reset`);
      }
      const genesisHeader = (stateRoot: Uint8Array): Block => makeBlock({
        chainId: genesis.chainId, height: 0n, parentHash: ZERO_HASH, timestamp: genesis.timestamp, proposer: genesis.validators[0]!.address,
        txRoot: ZERO_HASH, receiptsRoot: ZERO_HASH, stateRoot, txCount: 0, gasUsed: 0n,
      }, []);
      if ((genesis.indexAccounts?.count ?? 0) >= BULK_GENESIS_MIN) {
        // A big genesis state is bulk-loaded (bounded memory, no write set held), so the state
        // store comes first here and LevelDB holds no w:0; a crash in between leaves state
        // without a chain, which the next open refuses (STATE_AHEAD: start again with --reset).
        const loaded = await bulkLoad(db, { ...genesisEntries(genesis), height: 0n, ...(opts.onGenesisLoad ? { onProgress: opts.onGenesisLoad } : {}) });
        const block = genesisHeader(loaded.root);
        const world = DiskWorldState.open(db);
        try {
          await store.initGenesis(wanted, { height: 0n, hash: block.hash, blockBytes: encodeBlock(block), receipts: [], txHashes: [], writeSet: [], mempoolRemovals: [] });
          await store.pruneWriteSets(0n);
          return new Chain(genesis, store, world, executor, block);
        } catch (e) {
          world.close();
          throw e;
        }
      }
      const writeSet = genesisWriteSet(genesis);
      const world = DiskWorldState.open(db);
      try {
        const prepared = world.prepare(writeSet);
        const block = genesisHeader(prepared.root);
        // LevelDB first (with the genesis write set as w:0), then the state store at height 0.
        await store.initGenesis(wanted, { height: 0n, hash: block.hash, blockBytes: encodeBlock(block), receipts: [], txHashes: [], writeSet, mempoolRemovals: [] });
        crashPointAfterChainWrite(0n);
        await world.write(prepared, 0n);
        world.commit(prepared);
        await store.pruneWriteSets(0n);
        return new Chain(genesis, store, world, executor, block);
      } catch (e) {
        world.close();
        throw e;
      }
    }
    if (storedJson !== wanted) {
      throw new ChainError('GENESIS_MISMATCH', `the data dir ${store.location} holds a chain with a different genesis; use another --data-dir or --reset to wipe it`);
    }
    const height = await store.getHeadHeight();
    if (height === undefined) throw new ChainError('CHAIN_CORRUPT', 'data dir has a genesis but no head');
    const bytes = await store.getBlockBytes(height);
    if (!bytes) throw new ChainError('CHAIN_CORRUPT', `head block ${height} is missing`);
    const head = decodeBlock(bytes);
    const world = DiskWorldState.open(db);
    try {
      const from = world.storedHeight === undefined ? 0n : world.storedHeight + 1n;
      await Chain.recoverState(store, world, height, head);
      if (!bytesEqual(world.root, head.header.stateRoot)) {
        throw new ChainError('STATE_ROOT_MISMATCH', `state in ${store.statePath} has root ${toHex(world.root)} but head block ${height} says ${toHex(head.header.stateRoot)}`);
      }
      const chain = new Chain(parseGenesis(JSON.parse(storedJson)), store, world, executor, head);
      if (from <= height) chain.recovered = { from, to: height };
      return chain;
    } catch (e) {
      world.close();
      throw e;
    }
  }

  /**
   * Brings the state store up to the LevelDB head: re-applies the write set (`w:`) of every
   * block it misses, in order, each checked against its header's state root. No
   * re-execution: the write sets are the blocks' results as they were committed.
   */
  private static async recoverState(store: ChainStore, world: DiskWorldState, head: bigint, headBlock: Block): Promise<void> {
    const stored = world.storedHeight;
    if (stored !== undefined && stored > head) {
      throw new ChainError('STATE_AHEAD', `the state store ${store.statePath} is at height ${stored}, above the chain's head ${head} in ${store.location}: it belongs to another chain or the chain lost blocks; --reset to start over`);
    }
    for (let h = stored === undefined ? 0n : stored + 1n; h <= head; h++) {
      const writeSet = await store.getWriteSet(h);
      if (writeSet === undefined) {
        throw new ChainError('STATE_BEHIND', `the state store ${store.statePath} is at height ${stored ?? 'none'} but the write set of block ${h} is not in ${store.location} (a data dir of an older pel, or a damaged one); --reset to start over`);
      }
      let header: BlockHeader;
      if (h === head) header = headBlock.header;
      else {
        const b = await store.getBlockBytes(h);
        if (!b) throw new ChainError('CHAIN_CORRUPT', `block ${h} is missing`);
        header = decodeBlock(b).header;
      }
      const prepared = world.prepare(writeSet);
      if (!bytesEqual(prepared.root, header.stateRoot)) {
        throw new ChainError('STATE_ROOT_MISMATCH', `re-applying block ${h}'s write set to the state store gives root ${toHex(prepared.root)} but its header says ${toHex(header.stateRoot)}`);
      }
      await world.write(prepared, h);
      world.commit(prepared);
    }
    await store.pruneWriteSets(head);
  }

  /** The durable head (its batch is on disk): what RPC reports. */
  get head(): Block {
    return this.headBlock;
  }

  /** Height of the durable head. */
  get height(): bigint {
    return this.headBlock.header.height;
  }

  /** The head the next block is built on: `head`, or one block ahead while that block is being written. */
  get appliedHead(): Block {
    return this.appliedBlock;
  }

  /** The state the next block executes on (includes an applied block still being written). Mempool checks read it. */
  get appliedState(): DiskWorldState {
    return this.state;
  }

  /** Account state as of the durable head: what RPC reads. */
  get world(): StateView {
    return this.state.durable;
  }

  get executorName(): string {
    return this.executor.name;
  }

  /** Parameters in force for the next block (read from the applied state). */
  params(): ChainParams {
    const height = this.appliedBlock.header.height;
    if (this.paramsCache?.height !== height) {
      const fee = this.state.get(FEE_PARAMS_KEY);
      const gas = this.state.get(GAS_SCHEDULE_KEY);
      if (!fee || !gas) throw new ChainError('CHAIN_CORRUPT', 'fee params or gas schedule missing from state');
      this.paramsCache = { height, params: { fee: decodeFeeParams(fee), gas: decodeGasSchedule(gas) } };
    }
    return this.paramsCache.params;
  }

  /** Builds the next block from `txs`; txs the executor discards are left out (see Proposal.discarded). */
  async propose(txs: readonly SignedTx[], timestamp: bigint, proposer: Uint8Array): Promise<Proposal> {
    return this.run(txs, timestamp, proposer);
  }

  /**
   * Re-executes a block another node built for head + 1, with the block's own timestamp and
   * proposer, and checks every header field against the result. Throws BlockValidationError
   * naming the first field that does not hold; nothing is mutated either way. Does not check
   * tx signatures (the executor never does): the caller verifies them first.
   */
  async executeBlock(block: Block): Promise<Proposal> {
    const h = block.header;
    const parent = this.appliedBlock;
    const at = `block ${h.height}`;
    if (h.chainId !== this.genesis.chainId) throw new BlockValidationError(`${at}: chainId ${h.chainId} is not this chain's ${this.genesis.chainId}`);
    if (h.height !== parent.header.height + 1n) throw new BlockValidationError(`${at}: height is not head + 1 (head is ${parent.header.height})`);
    if (!bytesEqual(h.parentHash, parent.hash)) throw new BlockValidationError(`${at}: parentHash ${toHex(h.parentHash)} is not the head's hash ${toHex(parent.hash)}`);
    if (h.timestamp < parent.header.timestamp) throw new BlockValidationError(`${at}: timestamp ${h.timestamp} is before the parent's ${parent.header.timestamp}`);
    if (!this.genesis.validators.some((v) => bytesEqual(v.address, h.proposer))) throw new BlockValidationError(`${at}: proposer ${toHex(h.proposer)} is not a validator`);
    if (h.txCount !== block.txs.length) throw new BlockValidationError(`${at}: txCount ${h.txCount} but the block carries ${block.txs.length} txs`);
    // Checked before executing: a mismatch here needs no execution to be found.
    const txRoot = txRootOf(block.txs);
    if (!bytesEqual(h.txRoot, txRoot)) throw new BlockValidationError(`${at}: txRoot ${toHex(h.txRoot)} does not match its txs (${toHex(txRoot)})`);

    const p = await this.run(block.txs, h.timestamp, h.proposer);
    const first = p.discarded[0];
    if (first) throw new BlockValidationError(`${at}: tx ${toHex(first.tx.hash)} is discarded by execution (${first.code}: ${first.message}); a valid block carries no discarded tx`);
    const got = p.block.header;
    if (!bytesEqual(h.receiptsRoot, got.receiptsRoot)) throw new BlockValidationError(`${at}: receiptsRoot ${toHex(h.receiptsRoot)} does not match the executed receipts (${toHex(got.receiptsRoot)})`);
    if (!bytesEqual(h.stateRoot, got.stateRoot)) throw new BlockValidationError(`${at}: stateRoot ${toHex(h.stateRoot)} does not match the executed state root (${toHex(got.stateRoot)})`);
    if (h.gasUsed !== got.gasUsed) throw new BlockValidationError(`${at}: gasUsed ${h.gasUsed} does not match the executed gas ${got.gasUsed}`);
    // Every header field is now equal, so the hashes must be; a difference means a field was missed above.
    if (!bytesEqual(block.hash, p.block.hash)) throw new BlockValidationError(`${at}: hash ${toHex(block.hash)} does not match the re-executed header's ${toHex(p.block.hash)}`);
    return { ...p, block };
  }

  /** Executes `txs` on the applied state and builds the header of the block that includes the non-discarded ones. */
  private async run(txs: readonly SignedTx[], timestamp: bigint, proposer: Uint8Array): Promise<Proposal> {
    this.throwIfFailed();
    const parentBlock = this.appliedBlock;
    const parent = parentBlock.header;
    const ctx: BlockContext = { chainId: this.genesis.chainId, height: parent.height + 1n, timestamp, proposer, params: this.params() };
    const t0 = performance.now();
    const exec = await this.executor.execute(ctx, txs, this.state);
    const t1 = performance.now();
    const included: SignedTx[] = [];
    const includedOutcomes: { readonly receipt: Receipt }[] = [];
    const encodedReceipts: Uint8Array[] = [];
    const discarded: DiscardedTx[] = [];
    exec.outcomes.forEach((o, i) => {
      if (o.kind === 'included') {
        included.push(txs[i]!);
        includedOutcomes.push(o);
        encodedReceipts.push(o.encoded);
      } else discarded.push({ tx: txs[i]!, code: o.code, message: o.message });
    });
    const prepared = this.state.prepare(exec.writeSet);
    const header: BlockHeader = {
      chainId: this.genesis.chainId,
      height: ctx.height,
      parentHash: parentBlock.hash,
      timestamp,
      proposer,
      txRoot: txRootOf(included),
      receiptsRoot: merkleRootH32(encodedReceipts.map((r, i) => receiptHashH32(included[i]!.hash, r))),
      stateRoot: prepared.root,
      txCount: included.length,
      gasUsed: exec.gasUsed,
    };
    const t2 = performance.now();
    return { block: makeBlock(header, included), receipts: lazyReceipts(includedOutcomes), encodedReceipts, discarded, prepared, stats: exec.stats, timings: { executeMs: t1 - t0, rootMs: t2 - t1 } };
  }

  /**
   * Persist and adopt a proposal (not pipelined: BFT, sync and tests). `mempoolRemovals` are
   * deleted from the journal and the encoded commit `certificate` (BFT) is stored, in the same
   * batch. Disk first (LevelDB, then the state store): if the batch fails, memory still
   * matches the unchanged disk; if the state write fails after it, WRITE_FAILED. A proposal
   * that does not extend the head is refused (ChainError NOT_NEXT_BLOCK) before anything is
   * written.
   */
  async commit(p: Proposal, mempoolRemovals: readonly Uint8Array[], certificate?: Uint8Array): Promise<void> {
    this.checkNext(p);
    const height = p.block.header.height;
    const c = blockCommit(p, mempoolRemovals, certificate, this.state.storedHeight);
    this.committing = true;
    try {
      await this.store.commitBlock(c);
      try {
        crashPointAfterChainWrite(height);
        await this.state.write(p.prepared, height);
      } catch (cause) {
        // LevelDB holds the block, the state store does not: a restart re-applies it.
        this.writeFailure = new ChainError('WRITE_FAILED', `writing the state of block ${height} failed after its batch; the node must stop and restart from disk`, { cause });
        throw this.writeFailure;
      }
      this.state.commit(p.prepared);
      this.headBlock = p.block;
      this.appliedBlock = p.block;
    } finally {
      this.committing = false;
    }
    this.persisted(p);
  }

  /**
   * Pipelined commit: adopts the proposal in memory now (applied state and head move, the
   * executor is told, so the next block can be proposed on top of it) and starts writing its
   * one batch (same content as `commit`). Until `written` resolves, `head`, `getBlock`, `world`
   * and the `block` event still show the block before it. Refused (nothing changed) while
   * another block is being written: the caller awaits `written` before applying the next one.
   */
  apply(p: Proposal, mempoolRemovals: readonly Uint8Array[], certificate?: Uint8Array): AppliedBlock {
    this.checkNext(p);
    // Everything that can throw is done before memory changes.
    const height = p.block.header.height;
    const c = blockCommit(p, mempoolRemovals, certificate, this.state.storedHeight);
    this.state.apply(p.prepared);
    this.appliedBlock = p.block;
    this.committing = true;
    // LevelDB first, then the state store (see the file comment: recovery re-applies a block
    // whose state write a crash cut off).
    const written = this.store.commitBlock(c).then(() => {
      crashPointAfterChainWrite(height);
      return this.state.write(p.prepared, height);
    }).then(
      () => {
        this.state.settle();
        this.headBlock = p.block;
        this.committing = false;
        this.persisted(p);
      },
      (cause: unknown) => {
        // Memory is ahead of disk and stays so: no further block may be applied or reported.
        // `committing` stays set and `world` keeps showing what is on disk.
        this.writeFailure = new ChainError('WRITE_FAILED', `writing block ${p.block.header.height} failed after it was applied; the node must stop and restart from disk`, { cause });
        throw this.writeFailure;
      },
    );
    return { written };
  }

  /** Refuses a proposal that cannot be committed now, before anything is written or changed. */
  private checkNext(p: Proposal): void {
    const h = p.block.header;
    this.throwIfFailed();
    // Two overlapping commits would both pass the parent check below before either moved the head.
    if (this.committing) throw new ChainError('COMMIT_IN_PROGRESS', `block ${h.height}: another block is still being written; commits must be serialised`);
    const head = this.appliedBlock;
    if (h.height !== head.header.height + 1n || !bytesEqual(h.parentHash, head.hash)) {
      throw new ChainError('NOT_NEXT_BLOCK', `block ${h.height} (${toHex(p.block.hash)}) does not extend the head ${head.header.height} (${toHex(head.hash)})`);
    }
    // world.commit refuses a foreign or stale prepared tree, but only after the batch is on disk;
    // an empty prepare exposes the current tree so that case is refused before writing.
    if (this.state.prepare([]).base !== p.prepared.base) {
      throw new ChainError('NOT_NEXT_BLOCK', `block ${h.height} was executed on another state than the head's (a proposal of another Chain instance?)`);
    }
  }

  private throwIfFailed(): void {
    if (this.writeFailure) throw this.writeFailure;
  }

  /** The block's batch is on disk: make it readable and report it. */
  private persisted(p: Proposal): void {
    const committed = { block: p.block, receipts: p.receipts };
    this.remember(committed);
    this.emit('block', committed);
  }

  /** The encoded commit certificate of a block, if it was committed by BFT consensus. */
  async getCertificate(height: bigint): Promise<Uint8Array | undefined> {
    if (height < 1n || height > this.height) return undefined;
    return this.store.getCertificate(height);
  }

  private remember(c: CommittedBlock): void {
    const h = c.block.header.height;
    const replaced = this.recent.get(h);
    if (replaced) {
      this.recent.delete(h);
      this.recentTxs -= replaced.block.txs.length;
    }
    this.recent.set(h, c);
    this.recentTxs += c.block.txs.length;
    // Oldest first; the newest block always stays.
    while (this.recent.size > 1 && (this.recent.size > BLOCK_CACHE || this.recentTxs > BLOCK_CACHE_TXS)) {
      const [height, old] = this.recent.entries().next().value!;
      this.recent.delete(height);
      this.recentTxs -= old.block.txs.length;
    }
  }

  async getBlock(height: bigint): Promise<CommittedBlock | undefined> {
    if (height < 0n || height > this.height) return undefined;
    const cached = this.recent.get(height);
    if (cached) return cached;
    const bytes = await this.store.getBlockBytes(height);
    if (!bytes) return undefined;
    const receipts = ((await this.store.getReceipts(height)) ?? []).map(decodeReceipt);
    return { block: decodeBlock(bytes), receipts };
  }

  /**
   * One committed tx with its receipt and block hash, e.g. at a location from getTxLocation.
   * Out of the recent-block cache only that tx and that receipt are decoded.
   */
  async getCommittedTx(height: bigint, index: number): Promise<{ blockHash: Uint8Array; tx: SignedTx; receipt: Receipt } | undefined> {
    if (height < 0n || height > this.height) return undefined;
    const cached = this.recent.get(height);
    if (cached) {
      const tx = cached.block.txs[index];
      return tx ? { blockHash: cached.block.hash, tx, receipt: cached.receipts.at(index)! } : undefined;
    }
    const [bytes, receipts] = await Promise.all([this.store.getBlockBytes(height), this.store.getReceipts(height)]);
    if (!bytes || !receipts) return undefined;
    const found = decodeBlockTxAt(bytes, index);
    const receipt = receipts[index];
    if (!found || !receipt) return undefined;
    return { blockHash: found.hash, tx: found.tx, receipt: decodeReceipt(receipt) };
  }

  async getBlockByHash(hash: Uint8Array): Promise<CommittedBlock | undefined> {
    const h = await this.store.getHeightByHash(hash);
    return h === undefined ? undefined : this.getBlock(h);
  }

  async getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    return this.store.getTxLocation(hash);
  }

  /** Releases the state's read snapshots (before the store closes). The chain does no more work. */
  close(): void {
    this.state.close();
  }

}
