/**
 * A BftApp over a toy chain for engine tests: blocks are real protocol blocks (makeBlock)
 * without txs whose state root folds the proposer and timestamp into the parent's, so two
 * proposals for one height always differ and every node can re-check a block by recomputing
 * it. The "disk" (blocks, certificates, sign state) is a separate object so a test can throw
 * the engine away and start a new one over the same disk, as a restarted process would.
 * Execution takes `executeMs` on the test's clock (a 0 ms timer by default): the engine is
 * waiting on it like on a real executor, and messages delivered meanwhile get in first.
 */
import { Writer } from '../../../../protocol/codec.js';
import { sha256Concat, ZERO_HASH } from '../../../../protocol/hash.js';
import { bytesEqual, toHexRaw } from '../../../../protocol/hex.js';
import { makeBlock, type Block } from '../../../../protocol/block.js';
import type { SignatureVerifier } from '../../../../protocol/verify.js';
import type { Clock } from '../../../../consensus/bft/clock.js';
import { verifyCertificate, type CommitCertificate, type ValidatorSet } from '../../../../consensus/bft/messages.js';
import { BlockValidationError, type BftApp, type ExecutedBlock } from '../../../../consensus/bft/types.js';

export interface FakeExecuted extends ExecutedBlock {
  readonly block: Block;
}

export function genesisBlock(chainId: number): Block {
  return makeBlock({
    chainId, height: 0n, parentHash: ZERO_HASH, timestamp: 0n, proposer: new Uint8Array(20),
    txRoot: ZERO_HASH, receiptsRoot: ZERO_HASH, stateRoot: ZERO_HASH, txCount: 0, gasUsed: 0n,
  }, []);
}

export class FakeDisk {
  readonly blocks: Block[];
  readonly certificates: (CommitCertificate | null)[] = [null];
  signState: Uint8Array | undefined;
  /** Sign states in the order they were saved (tests inspect what was persisted before sending). */
  readonly signStateWrites: Uint8Array[] = [];

  constructor(chainId: number) {
    this.blocks = [genesisBlock(chainId)];
  }
}

function stateRootOf(parent: Block, proposer: Uint8Array, timestamp: bigint): Uint8Array {
  return sha256Concat(parent.header.stateRoot, proposer, new Writer(8).u64(timestamp).finish());
}

export interface FakeAppDeps {
  readonly chainId: number;
  readonly validators: ValidatorSet;
  readonly disk: FakeDisk;
  readonly verifier: SignatureVerifier;
  /** The test's clock; executeBlock waits `executeMs` on it. */
  readonly clock: Clock;
}

export class FakeApp implements BftApp<FakeExecuted> {
  readonly chainId: number;
  readonly validators: ValidatorSet;
  readonly disk: FakeDisk;
  /** executeBlock calls per block hash (the engine must not execute a block twice at a height). */
  readonly executions = new Map<string, number>();
  /** Set to make every executeBlock fail (a node whose state diverged). */
  failExecution = false;
  /** How long executeBlock takes on the clock. */
  executeMs = 0;
  private readonly verifier: SignatureVerifier;
  private readonly clock: Clock;

  constructor(deps: FakeAppDeps) {
    this.chainId = deps.chainId;
    this.validators = deps.validators;
    this.disk = deps.disk;
    this.verifier = deps.verifier;
    this.clock = deps.clock;
  }

  get chain(): readonly Block[] {
    return this.disk.blocks;
  }

  head(): { height: bigint; hash: Uint8Array; timestamp: bigint } {
    const b = this.disk.blocks[this.disk.blocks.length - 1]!;
    return { height: b.header.height, hash: b.hash, timestamp: b.header.timestamp };
  }

  /** Builds a block on top of the current head without touching it (also used by tests to forge proposals). */
  makeChild(timestamp: bigint, proposer: Uint8Array): Block {
    const parent = this.disk.blocks[this.disk.blocks.length - 1]!;
    return makeBlock({
      chainId: this.chainId, height: parent.header.height + 1n, parentHash: parent.hash, timestamp, proposer,
      txRoot: ZERO_HASH, receiptsRoot: ZERO_HASH, stateRoot: stateRootOf(parent, proposer, timestamp), txCount: 0, gasUsed: 0n,
    }, []);
  }

  async buildBlock(timestamp: bigint, proposer: Uint8Array): Promise<FakeExecuted> {
    await Promise.resolve();
    return { block: this.makeChild(timestamp, proposer) };
  }

  async executeBlock(block: Block): Promise<FakeExecuted> {
    const k = toHexRaw(block.hash);
    this.executions.set(k, (this.executions.get(k) ?? 0) + 1);
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.executeMs));
    this.check(block);
    return { block };
  }

  private check(block: Block): void {
    if (this.failExecution) throw new BlockValidationError('execution disabled by the test');
    const parent = this.disk.blocks[this.disk.blocks.length - 1]!;
    const h = block.header;
    if (h.chainId !== this.chainId) throw new BlockValidationError(`chain ${h.chainId}`);
    if (h.height !== parent.header.height + 1n) throw new BlockValidationError(`height ${h.height} does not follow ${parent.header.height}`);
    if (!bytesEqual(h.parentHash, parent.hash)) throw new BlockValidationError('parent hash is not the head');
    if (h.timestamp < parent.header.timestamp) throw new BlockValidationError('timestamp before the parent');
    if (this.validators.indexOf(h.proposer) < 0) throw new BlockValidationError('proposer is not a validator');
    if (!bytesEqual(h.stateRoot, stateRootOf(parent, h.proposer, h.timestamp))) throw new BlockValidationError('state root mismatch');
  }

  async commitBlock(executed: FakeExecuted, certificate: CommitCertificate): Promise<void> {
    await Promise.resolve();
    // Check and append in one synchronous step: commits of the engine and of sync never interleave.
    this.check(executed.block);
    const ok = verifyCertificate(certificate, this.validators, this.verifier, this.chainId, executed.block.header.height, executed.block.hash);
    if (!ok.ok) throw new Error(`bad certificate: ${ok.reason}`);
    this.disk.blocks.push(executed.block);
    this.disk.certificates.push(certificate);
  }

  async loadSignState(): Promise<Uint8Array | undefined> {
    return this.disk.signState?.slice();
  }

  async saveSignState(state: Uint8Array): Promise<void> {
    await Promise.resolve();
    this.disk.signState = state.slice();
    this.disk.signStateWrites.push(state.slice());
  }
}

/** Sync's way in (not counted in `executions`): checks and appends a committed block. */
export async function importBlock(app: FakeApp, block: Block, certificate: CommitCertificate): Promise<void> {
  await app.commitBlock({ block }, certificate);
}
