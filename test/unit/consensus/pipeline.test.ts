/**
 * Pipelined block production (BlockProducer over Chain.apply): block N+1 executes while N's
 * batch is being written, nothing about N is reported before that batch is on disk, a failed
 * write stops everything, and the chain is the one serial production builds.
 *
 * Writes are held by a gate around ChainStore.commitBlock, so every ordering below is
 * observed through promises and an event log, never through time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesEqual, toHex } from '../../../protocol/hex.js';
import { devKeyPair, devValidatorKeyPair } from '../../../protocol/keys.js';
import { silentLogger } from '../../../protocol/logger.js';
import type { SignedTx } from '../../../protocol/tx.js';
import { getBalance, getNonce } from '../../../contracts/coin/state.js';
import { Chain, ChainError, type Proposal } from '../../../consensus/chain.js';
import { devnetGenesis } from '../../../consensus/genesis.js';
import { Mempool, type DroppedTx } from '../../../consensus/mempool.js';
import { BlockProducer } from '../../../consensus/producer.js';
import { SequentialExecutor } from '../../../execution/sequential.js';
import type { BlockContext, BlockExecution, BlockExecutor } from '../../../execution/types.js';
import type { StateReader, WriteSet } from '../../../state/types.js';
import { ChainStore, StoreError, type BlockCommit } from '../../../state/store.js';
import { buildTransfer } from '../../../sdk/tx.js';

const genesis = devnetGenesis(6);
const CHAIN_ID = genesis.chainId;
const NOW = Number(genesis.timestamp) + 5_000;
const proposer = devValidatorKeyPair(0).address;
const sink = devKeyPair(50).address;

const transfer = (account: number, nonce: bigint, amount = 1n + nonce): SignedTx =>
  buildTransfer({ chainId: CHAIN_ID, key: devKeyPair(account), nonce, to: sink, amount, expiry: 10_000n });

/** `perSender` consecutive transfers from each of `senders` accounts (one of them fails in execution: amount too large). */
function workload(senders: number, perSender: number): SignedTx[] {
  const out: SignedTx[] = [];
  for (let s = 0; s < senders; s++) {
    for (let n = 0; n < perSender; n++) out.push(transfer(s, BigInt(n), s === 1 && n === 1 ? 10n ** 30n : undefined));
  }
  return out;
}

/** A unique waiter per key: resolved by `fire(key)`, awaited by `when(key)`, in either order. */
class Signals<K> {
  private readonly map = new Map<K, { promise: Promise<void>; resolve: () => void }>();
  private entry(k: K): { promise: Promise<void>; resolve: () => void } {
    let e = this.map.get(k);
    if (!e) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      e = { promise, resolve };
      this.map.set(k, e);
    }
    return e;
  }
  fire(k: K): void {
    this.entry(k).resolve();
  }
  when(k: K): Promise<void> {
    return this.entry(k).promise;
  }
}

interface HeldWrite {
  readonly height: bigint;
  release(): void;
  fail(): void;
}

/** Holds every block batch until the test releases or fails it; logs start and end. */
class WriteGate {
  readonly held: HeldWrite[] = [];
  private readonly requested = new Signals<bigint>();

  constructor(store: ChainStore, private readonly log: string[]) {
    const write = store.commitBlock.bind(store);
    store.commitBlock = (c: BlockCommit) =>
      new Promise<void>((resolve, reject) => {
        log.push(`write-start ${c.height}`);
        this.held.push({
          height: c.height,
          release: () => {
            write(c).then(() => {
              log.push(`write-done ${c.height}`);
              resolve();
            }, reject);
          },
          fail: () => {
            log.push(`write-failed ${c.height}`);
            reject(new StoreError('STORE_WRITE_FAILED', `writing block ${c.height} failed`, { cause: new Error('disk full (test)') }));
          },
        });
        this.requested.fire(c.height);
      });
  }

  /** Resolves once the batch of `height` has been asked for. */
  async requestOf(height: bigint): Promise<HeldWrite> {
    await this.requested.when(height);
    return this.held.find((w) => w.height === height)!;
  }
}

/** The sequential executor, logging each block it executed. */
class LoggingExecutor implements BlockExecutor {
  readonly name = 'sequential' as const;
  private readonly inner = new SequentialExecutor();
  readonly executed = new Signals<bigint>();
  constructor(private readonly log: string[]) {}
  async execute(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution> {
    const r = await this.inner.execute(ctx, txs, state);
    this.log.push(`execute ${ctx.height}`);
    this.executed.fire(ctx.height);
    return r;
  }
  onCommit(_writeSet: WriteSet): void {}
  close(): Promise<void> {
    return this.inner.close();
  }
}

function mempoolFor(chain: Chain): Mempool {
  // As the node wires it: the applied head and state, which the next block builds on.
  return new Mempool({}, {
    chainId: CHAIN_ID,
    nextHeight: () => chain.appliedHead.header.height + 1n,
    params: () => chain.params(),
    nonceOf: (a) => getNonce(chain.appliedState, a),
    balanceOf: (a) => getBalance(chain.appliedState, a),
  });
}

interface Rig {
  store: ChainStore;
  chain: Chain;
  mempool: Mempool;
  producer: BlockProducer;
  log: string[];
  gate: WriteGate | null;
  executor: LoggingExecutor;
  reported: Proposal[];
  fatal: unknown[];
  fatalSignal: Signals<'fatal'>;
  genesisRoot: Uint8Array;
}

async function rig(opts: { gated: boolean; maxBlockTxs: number; mining?: 'auto' | 'manual'; store?: ChainStore }): Promise<Rig> {
  const log: string[] = [];
  const store = opts.store ?? (await ChainStore.open({ inMemory: true }));
  const executor = new LoggingExecutor(log);
  const chain = await Chain.open(store, genesis, executor);
  // Gate only after genesis is written.
  const gate = opts.gated ? new WriteGate(store, log) : null;
  const mempool = mempoolFor(chain);
  const reported: Proposal[] = [];
  const fatal: unknown[] = [];
  const fatalSignal = new Signals<'fatal'>();
  chain.on('block', (b) => log.push(`block-event ${b.block.header.height}`));
  const producer = new BlockProducer(
    { blockTimeMs: 0, maxBlockTxs: opts.maxBlockTxs, mining: opts.mining ?? 'manual' },
    {
      chain, mempool, proposer, logger: silentLogger, now: () => NOW,
      onProposalCommitted: (p: Proposal, _dropped: readonly DroppedTx[]) => {
        log.push(`reported ${p.block.header.height}`);
        reported.push(p);
      },
      onFatal: (e) => {
        log.push('fatal');
        fatal.push(e);
        fatalSignal.fire('fatal');
      },
    },
  );
  return { store, chain, mempool, producer, log, gate, executor, reported, fatal, fatalSignal, genesisRoot: chain.head.header.stateRoot };
}

const at = (log: readonly string[], entry: string): number => {
  const i = log.indexOf(entry);
  expect(i, `${entry} in ${log.join(', ')}`).toBeGreaterThanOrEqual(0);
  return i;
};

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('pipelined block production', () => {
  it('executes block N+1 while N is being written, and reports N only once its batch is on disk', async () => {
    const r = await rig({ gated: true, maxBlockTxs: 4 });
    for (const tx of workload(3, 4)) r.mempool.add(tx);
    const mined = r.producer.mine(3).then((blocks) => {
      r.log.push('mined');
      return blocks;
    });

    const w1 = await r.gate!.requestOf(1n);
    await r.executor.executed.when(2n);
    // Block 2 has executed on top of block 1 while block 1's batch is still held.
    expect(r.log).toEqual(['execute 1', 'write-start 1', 'execute 2']);
    expect(r.chain.appliedHead.header.height).toBe(1n);
    // Nothing about block 1 is visible outside execution yet.
    expect(r.chain.height).toBe(0n);
    expect(r.reported).toEqual([]);
    expect(await r.chain.getBlock(1n)).toBeUndefined();
    const b1 = r.chain.appliedHead;
    expect(await r.chain.getBlockByHash(b1.hash)).toBeUndefined();
    expect(await r.chain.getTxLocation(b1.txs[0]!.hash)).toBeUndefined();
    expect(getNonce(r.chain.world, devKeyPair(0).address)).toBe(0n);
    expect(getNonce(r.chain.appliedState, devKeyPair(0).address)).toBeGreaterThan(0n);
    expect(bytesEqual(r.chain.world.root, r.genesisRoot)).toBe(true);
    // Block 1's txs left the pool at apply time: block 2 did not select them again.
    for (const tx of b1.txs) expect(r.mempool.has(tx.hash)).toBe(false);

    w1.release();
    const w2 = await r.gate!.requestOf(2n);
    await r.executor.executed.when(3n);
    w2.release();
    const w3 = await r.gate!.requestOf(3n);
    w3.release();
    const blocks = await mined;
    expect(blocks.map((b) => b.header.height)).toEqual([1n, 2n, 3n]);

    // Per block: written, then the block event, then onProposalCommitted; the next block is
    // applied (its write asked for) only after that, and dev_mine resolves after the last write.
    for (const h of [1, 2, 3]) {
      expect(at(r.log, `write-done ${h}`)).toBeLessThan(at(r.log, `block-event ${h}`));
      expect(at(r.log, `block-event ${h}`)).toBeLessThan(at(r.log, `reported ${h}`));
      if (h < 3) {
        expect(at(r.log, `reported ${h}`)).toBeLessThan(at(r.log, `write-start ${h + 1}`));
        // ...while the block after it had executed before its write completed.
        expect(at(r.log, `execute ${h + 1}`)).toBeLessThan(at(r.log, `write-done ${h}`));
      }
    }
    expect(at(r.log, 'reported 3')).toBeLessThan(at(r.log, 'mined'));
    expect(r.chain.height).toBe(3n);
    expect(bytesEqual(r.chain.world.root, r.chain.head.header.stateRoot)).toBe(true);
    expect(bytesEqual(r.chain.appliedState.root, r.chain.head.header.stateRoot)).toBe(true);
    await r.producer.stop();
    await r.store.close();
  });

  it('a failed write calls onFatal once; no later block is applied or reported, and the chain refuses more work', async () => {
    const r = await rig({ gated: true, maxBlockTxs: 4, mining: 'auto' });
    for (const tx of workload(3, 4)) r.mempool.add(tx);
    r.producer.start();
    r.producer.notify();

    const w1 = await r.gate!.requestOf(1n);
    await r.executor.executed.when(2n);
    w1.fail();
    await r.fatalSignal.when('fatal');
    await r.producer.stop();

    expect(r.fatal).toHaveLength(1);
    expect(r.fatal[0]).toBeInstanceOf(ChainError);
    expect(r.fatal[0]).toMatchObject({ code: 'WRITE_FAILED' });
    expect((r.fatal[0] as ChainError).cause).toBeInstanceOf(StoreError);
    // Block 2 was executed but never applied; nothing was reported; only one batch was asked for.
    expect(r.gate!.held.map((w) => w.height)).toEqual([1n]);
    expect(r.reported).toEqual([]);
    expect(r.log.filter((e) => e.startsWith('block-event') || e.startsWith('reported'))).toEqual([]);
    expect(r.chain.appliedHead.header.height).toBe(1n);
    // RPC-facing views still show what is on disk.
    expect(r.chain.height).toBe(0n);
    expect(await r.chain.getBlock(1n)).toBeUndefined();
    expect(bytesEqual(r.chain.world.root, r.genesisRoot)).toBe(true);
    expect(getNonce(r.chain.world, devKeyPair(0).address)).toBe(0n);
    // No more blocks: from the producer nor through the chain.
    await expect(r.producer.mine(1)).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    await expect(r.chain.propose([], BigInt(NOW), proposer)).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    expect(r.fatal).toHaveLength(1);
    expect(r.gate!.held).toHaveLength(1);
    await r.store.close();
  });

  it('builds exactly the chain serial production builds (hashes, state roots, receipts), and restarts onto it', async () => {
    const txs = workload(5, 9);
    const maxBlockTxs = 7;

    // Pipelined, on LevelDB.
    const dir = await mkdtemp(join(tmpdir(), 'pel-pipeline-'));
    dirs.push(dir);
    const piped = await rig({ gated: false, maxBlockTxs, store: await ChainStore.open({ path: dir }) });
    for (const tx of txs) piped.mempool.add(tx);
    const blocks = await piped.producer.mine(10);
    expect(piped.mempool.size).toBe(0);
    expect(blocks.filter((b) => b.txs.length > 0).length).toBeGreaterThan(5);
    await piped.producer.stop();

    // Serial reference: propose, commit, afterBlock, one block at a time, same selection rule and timestamps.
    const store = await ChainStore.open({ inMemory: true });
    const serial = await Chain.open(store, genesis, new SequentialExecutor());
    const pool = mempoolFor(serial);
    for (const tx of txs) pool.add(tx);
    for (let i = 0; i < 10; i++) {
      const selected = pool.select(maxBlockTxs);
      const p = await serial.propose(selected, BigInt(NOW), proposer);
      await serial.commit(p, selected.map((t) => t.hash));
      pool.afterBlock(p.block.txs, p.discarded.map((d) => d.tx));
    }

    expect(piped.chain.height).toBe(10n);
    expect(serial.height).toBe(10n);
    for (let h = 1n; h <= 10n; h++) {
      const a = (await piped.chain.getBlock(h))!;
      const b = (await serial.getBlock(h))!;
      expect(toHex(a.block.hash), `block ${h}`).toBe(toHex(b.block.hash));
      expect(toHex(a.block.header.stateRoot)).toBe(toHex(b.block.header.stateRoot));
      expect(Array.from({ length: a.receipts.length }, (_, i) => a.receipts.at(i))).toEqual(Array.from({ length: b.receipts.length }, (_, i) => b.receipts.at(i)));
    }
    expect(toHex(piped.chain.world.root)).toBe(toHex(serial.world.root));
    expect(new Map(piped.chain.world.entries())).toEqual(new Map(serial.world.entries()));
    await store.close();

    // Restart on the pipelined node's data dir: same head, same state root, empty journal.
    const head = piped.chain.head;
    await piped.store.close();
    const reopened = await ChainStore.open({ path: dir });
    const again = await Chain.open(reopened, genesis, new SequentialExecutor());
    expect(toHex(again.head.hash)).toBe(toHex(head.hash));
    expect(toHex(again.world.root)).toBe(toHex(head.header.stateRoot));
    expect(await reopened.loadMempoolJournal()).toEqual([]);
    await reopened.close();
  });
});

describe('Chain.apply', () => {
  it('shows the applied block to execution at once and to readers only once written; refuses a second block meanwhile', async () => {
    const log: string[] = [];
    const store = await ChainStore.open({ inMemory: true });
    const chain = await Chain.open(store, genesis, new SequentialExecutor());
    const gate = new WriteGate(store, log);
    const events: bigint[] = [];
    chain.on('block', (b) => events.push(b.block.header.height));
    const before = new Map(chain.world.entries());
    const genesisRoot = chain.world.root;

    const tx = transfer(0, 0n, 77n);
    await store.journalMempoolTxs([tx]);
    const p1 = await chain.propose([tx], BigInt(NOW), proposer);
    const { written } = chain.apply(p1, [tx.hash]);
    const held = await gate.requestOf(1n);

    // Execution sees block 1 ...
    expect(chain.appliedHead.hash).toBe(p1.block.hash);
    expect(getBalance(chain.appliedState, sink)).toBe(77n);
    const p2 = await chain.propose([transfer(0, 1n)], BigInt(NOW), proposer);
    expect(p2.block.header.height).toBe(2n);
    expect(bytesEqual(p2.block.header.parentHash, p1.block.hash)).toBe(true);
    // ... readers do not: durable head, blocks, tx index, account state, entries, root, event.
    expect(chain.height).toBe(0n);
    expect(await chain.getBlock(1n)).toBeUndefined();
    expect(await chain.getTxLocation(tx.hash)).toBeUndefined();
    expect(getBalance(chain.world, sink)).toBe(0n);
    expect(new Map(chain.world.entries())).toEqual(before);
    expect(bytesEqual(chain.world.root, genesisRoot)).toBe(true);
    expect(events).toEqual([]);
    // Depth 1: neither a second apply nor a commit while block 1 is being written.
    expect(() => chain.apply(p2, [])).toThrow(expect.objectContaining({ code: 'COMMIT_IN_PROGRESS' }) as Error);
    await expect(chain.commit(p2, [])).rejects.toMatchObject({ code: 'COMMIT_IN_PROGRESS' });

    held.release();
    await written;
    expect(events).toEqual([1n]);
    expect(chain.height).toBe(1n);
    expect(await chain.getTxLocation(tx.hash)).toEqual({ height: 1n, index: 0 });
    expect(getBalance(chain.world, sink)).toBe(77n);
    expect(bytesEqual(chain.world.root, p1.block.header.stateRoot)).toBe(true);
    expect(await store.loadMempoolJournal()).toEqual([]);

    // The proposal made during the write is still valid on top of the now durable block.
    const w2 = chain.apply(p2, []).written;
    (await gate.requestOf(2n)).release();
    await w2;
    expect(chain.height).toBe(2n);
    expect(bytesEqual(chain.world.root, chain.appliedState.root)).toBe(true);
    await store.close();
  });
});
