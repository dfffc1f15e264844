/**
 * Chain: the block-level state machine. It owns the committed world state, the head, and
 * the store, and turns an ordered list of transactions into a block:
 *   propose(txs)  execute -> drop discarded txs -> prepare state root -> header   (no mutation)
 *   commit(p)     world state adopts the prepared tree; one LevelDB batch persists it all
 * At startup it initialises genesis or reloads state and checks the rebuilt state root
 * against the head header (a mismatch means a corrupt data dir: refuse to start).
 */
import { EventEmitter } from 'node:events';
import { decodeBlock, encodeBlock, makeBlock, txRootOf, type Block, type BlockHeader } from '../protocol/block.js';
import { receiptHash, decodeReceipt, type Receipt } from '../protocol/receipt.js';
import { merkleRoot, ZERO_HASH } from '../protocol/hash.js';
import { bytesEqual, toHex } from '../protocol/hex.js';
import type { SignedTx } from '../protocol/tx.js';
import { decodeFeeParams, FEE_PARAMS_KEY } from '../contracts/fee/params.js';
import { decodeGasSchedule, GAS_SCHEDULE_KEY } from '../execution/gas.js';
import type { BlockContext, BlockExecutor, ChainParams, DiscardCode, ExecutionStats } from '../execution/types.js';
import type { ChainStore, TxLocation } from '../state/store.js';
import { WorldState, type PreparedState } from '../state/world.js';
import type { WriteSet } from '../state/types.js';
import { genesisToJson, genesisWriteSet, parseGenesis, type Genesis } from './genesis.js';

export class ChainError extends Error {
  readonly code: 'GENESIS_MISMATCH' | 'STATE_ROOT_MISMATCH' | 'CHAIN_CORRUPT';
  constructor(code: ChainError['code'], message: string) {
    super(message);
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
  readonly prepared: PreparedState;
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

const BLOCK_CACHE = 128;

export class Chain extends EventEmitter<ChainEvents> {
  private headBlock: Block;
  private paramsCache: { height: bigint; params: ChainParams } | null = null;
  private readonly recent = new Map<bigint, CommittedBlock>();

  private constructor(
    readonly genesis: Genesis,
    private readonly store: ChainStore,
    readonly world: WorldState,
    private readonly executor: BlockExecutor,
    head: Block,
  ) {
    super();
    this.headBlock = head;
  }

  static async open(store: ChainStore, genesis: Genesis, executor: BlockExecutor): Promise<Chain> {
    const storedJson = await store.getGenesisJson();
    const wanted = JSON.stringify(genesisToJson(genesis));
    if (storedJson === undefined) {
      const writeSet = genesisWriteSet(genesis);
      const world = WorldState.empty();
      const prepared = world.prepare(writeSet);
      world.commit(prepared);
      const header: BlockHeader = {
        chainId: genesis.chainId, height: 0n, parentHash: ZERO_HASH, timestamp: genesis.timestamp, proposer: genesis.validators[0]!.address,
        txRoot: ZERO_HASH, receiptsRoot: ZERO_HASH, stateRoot: world.root, txCount: 0, gasUsed: 0n,
      };
      const block = makeBlock(header, []);
      await store.initGenesis(wanted, { height: 0n, hash: block.hash, blockBytes: encodeBlock(block), receipts: [], txHashes: [], writeSet, mempoolRemovals: [] });
      return new Chain(genesis, store, world, executor, block);
    }
    if (storedJson !== wanted) {
      throw new ChainError('GENESIS_MISMATCH', `the data dir ${store.location} holds a chain with a different genesis; use another --data-dir or --reset to wipe it`);
    }
    const height = await store.getHeadHeight();
    if (height === undefined) throw new ChainError('CHAIN_CORRUPT', 'data dir has a genesis but no head');
    const bytes = await store.getBlockBytes(height);
    if (!bytes) throw new ChainError('CHAIN_CORRUPT', `head block ${height} is missing`);
    const head = decodeBlock(bytes);
    const world = WorldState.fromEntries(await store.loadState());
    if (!bytesEqual(world.root, head.header.stateRoot)) {
      throw new ChainError('STATE_ROOT_MISMATCH', `state in ${store.location} has root ${toHex(world.root)} but head block ${height} says ${toHex(head.header.stateRoot)}`);
    }
    return new Chain(parseGenesis(JSON.parse(storedJson)), store, world, executor, head);
  }

  get head(): Block {
    return this.headBlock;
  }

  get height(): bigint {
    return this.headBlock.header.height;
  }

  get executorName(): string {
    return this.executor.name;
  }

  /** Parameters in force for the next block (read from committed state). */
  params(): ChainParams {
    if (this.paramsCache?.height !== this.height) {
      const fee = this.world.get(FEE_PARAMS_KEY);
      const gas = this.world.get(GAS_SCHEDULE_KEY);
      if (!fee || !gas) throw new ChainError('CHAIN_CORRUPT', 'fee params or gas schedule missing from state');
      this.paramsCache = { height: this.height, params: { fee: decodeFeeParams(fee), gas: decodeGasSchedule(gas) } };
    }
    return this.paramsCache.params;
  }

  async propose(txs: readonly SignedTx[], timestamp: bigint, proposer: Uint8Array): Promise<Proposal> {
    const parent = this.headBlock.header;
    const ctx: BlockContext = { chainId: this.genesis.chainId, height: parent.height + 1n, timestamp, proposer, params: this.params() };
    const t0 = performance.now();
    const exec = await this.executor.execute(ctx, txs, this.world);
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
    const prepared = this.world.prepare(exec.writeSet);
    const header: BlockHeader = {
      chainId: this.genesis.chainId,
      height: ctx.height,
      parentHash: this.headBlock.hash,
      timestamp,
      proposer,
      txRoot: txRootOf(included),
      receiptsRoot: merkleRoot(encodedReceipts.map((r, i) => receiptHash(included[i]!.hash, r))),
      stateRoot: prepared.root,
      txCount: included.length,
      gasUsed: exec.gasUsed,
    };
    const t2 = performance.now();
    return { block: makeBlock(header, included), receipts: lazyReceipts(includedOutcomes), encodedReceipts, discarded, prepared, stats: exec.stats, timings: { executeMs: t1 - t0, rootMs: t2 - t1 } };
  }

  /** Adopt and persist a proposal. `mempoolRemovals` are deleted from the journal in the same batch. */
  async commit(p: Proposal, mempoolRemovals: readonly Uint8Array[]): Promise<void> {
    if (!bytesEqual(p.block.header.parentHash, this.headBlock.hash)) throw new ChainError('CHAIN_CORRUPT', `block ${p.block.header.height} does not extend the head`);
    this.world.commit(p.prepared);
    const writeSet: WriteSet = p.prepared.writeSet;
    await this.store.commitBlock({
      height: p.block.header.height,
      hash: p.block.hash,
      blockBytes: encodeBlock(p.block),
      receipts: p.encodedReceipts,
      txHashes: p.block.txs.map((t) => t.hash),
      writeSet,
      mempoolRemovals,
    });
    this.headBlock = p.block;
    this.executor.onCommit?.(writeSet);
    const committed = { block: p.block, receipts: p.receipts };
    this.remember(committed);
    this.emit('block', committed);
  }

  private remember(c: CommittedBlock): void {
    this.recent.set(c.block.header.height, c);
    if (this.recent.size > BLOCK_CACHE) this.recent.delete(this.recent.keys().next().value!);
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

  async getBlockByHash(hash: Uint8Array): Promise<CommittedBlock | undefined> {
    const h = await this.store.getHeightByHash(hash);
    return h === undefined ? undefined : this.getBlock(h);
  }

  async getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    return this.store.getTxLocation(hash);
  }

}
