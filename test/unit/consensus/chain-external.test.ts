import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blockHash, decodeBlock, encodeBlock, txRootOf, type Block, type BlockHeader } from '../../../protocol/block.js';
import { bytesEqual } from '../../../protocol/hex.js';
import { devKeyPair, devValidatorKeyPair } from '../../../protocol/keys.js';
import { silentLogger } from '../../../protocol/logger.js';
import { signTx, type SignedTx } from '../../../protocol/tx.js';
import { ChainBftApp } from '../../../consensus/bft/app.js';
import { certificateFromPrecommits, encodeCertificate, signVote, type CommitCertificate } from '../../../consensus/bft/messages.js';
import { BlockValidationError } from '../../../consensus/bft/types.js';
import { Chain, ChainError, type Proposal } from '../../../consensus/chain.js';
import { devnetGenesis, genesisToJson, testnetGenesis } from '../../../consensus/genesis.js';
import { Mempool, mempoolViewOf, type DroppedTx } from '../../../consensus/mempool.js';
import { SequentialExecutor } from '../../../execution/sequential.js';
import { ChainStore } from '../../../state/store.js';
import { buildTransfer } from '../../../sdk/tx.js';

const genesis = testnetGenesis(4, 4);
const CHAIN_ID = genesis.chainId;
const T0 = genesis.timestamp;
const validators = [0, 1, 2, 3].map((i) => devValidatorKeyPair(i));
const sink = devKeyPair(9).address;

const transfer = (account: number, nonce: bigint, amount = 1n): SignedTx =>
  buildTransfer({ chainId: CHAIN_ID, key: devKeyPair(account), nonce, to: sink, amount, expiry: 10_000n });

function certify(block: Block, signers: readonly number[] = [0, 1, 2]): CommitCertificate {
  return certificateFromPrecommits(
    signers.map((i) => signVote({ type: 'precommit', chainId: CHAIN_ID, height: block.header.height, round: 0, blockHash: block.hash, validatorIndex: i }, validators[i]!.privateKey)),
  );
}

async function openChain(): Promise<{ store: ChainStore; chain: Chain }> {
  const store = await ChainStore.open({ inMemory: true });
  return { store, chain: await Chain.open(store, genesis, new SequentialExecutor()) };
}

function openApp(chain: Chain, store: ChainStore, onCommitted?: (p: Proposal, dropped: readonly DroppedTx[]) => void) {
  const mempool = new Mempool({}, mempoolViewOf(chain));
  const app = new ChainBftApp({ maxBlockTxs: 100 }, { chain, mempool, store, logger: silentLogger, ...(onCommitted ? { onCommitted } : {}) });
  return { mempool, app };
}

/** A block with some header fields replaced, re-hashed (as a forger would). */
function withHeader(b: Block, patch: Partial<BlockHeader>): Block {
  const header = { ...b.header, ...patch };
  return { header, hash: blockHash(header), txs: b.txs };
}

const wire = (b: Block): Block => decodeBlock(encodeBlock(b));
/** Stores hand back Buffers; compare bytes, not classes. */
const plain = (b: Uint8Array | undefined): Uint8Array | undefined => (b === undefined ? undefined : Uint8Array.from(b));

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('Chain.executeBlock (blocks from other validators)', () => {
  it('accepts a block built by another Chain with the same genesis and commits it with its certificate', async () => {
    const a = await openChain();
    const b = await openChain();
    const p = await a.chain.propose([transfer(0, 0n), transfer(1, 0n, 7n), transfer(0, 1n)], T0 + 1_000n, validators[1]!.address);
    expect(p.discarded).toEqual([]);
    const cert = encodeCertificate(certify(p.block));
    await a.chain.commit(p, [], cert);

    const executed = await b.chain.executeBlock(wire(p.block));
    expect(bytesEqual(executed.block.hash, p.block.hash)).toBe(true);
    expect(bytesEqual(executed.prepared.root, p.block.header.stateRoot)).toBe(true);
    await b.chain.commit(executed, [], cert);
    expect(b.chain.height).toBe(1n);
    expect(bytesEqual(b.chain.world.root, a.chain.world.root)).toBe(true);
    expect(plain(await b.chain.getCertificate(1n))).toEqual(cert);
    expect(plain(await b.store.getCertificate(1n))).toEqual(cert);
    expect(await b.chain.getCertificate(0n)).toBeUndefined();
    expect(await b.chain.getCertificate(2n)).toBeUndefined();
  });

  it('rejects each tampered header field with a BlockValidationError naming the field, and changes nothing', async () => {
    const a = await openChain();
    const b = await openChain();
    const p = await a.chain.propose([transfer(0, 0n), transfer(1, 0n)], T0 + 1_000n, validators[0]!.address);
    const good = p.block;
    const h = good.header;
    const flip = (x: Uint8Array): Uint8Array => Uint8Array.from(x, (v, i) => (i === 0 ? v ^ 1 : v));
    const cases: [string, Block][] = [
      ['chainId', withHeader(good, { chainId: h.chainId + 1 })],
      ['height', withHeader(good, { height: 2n })],
      ['parentHash', withHeader(good, { parentHash: flip(h.parentHash) })],
      ['timestamp', withHeader(good, { timestamp: T0 - 1n })],
      ['proposer', withHeader(good, { proposer: devKeyPair(5).address })],
      ['txCount', withHeader(good, { txCount: h.txCount + 1 })],
      ['txRoot', withHeader(good, { txRoot: flip(h.txRoot) })],
      ['receiptsRoot', withHeader(good, { receiptsRoot: flip(h.receiptsRoot) })],
      ['stateRoot', withHeader(good, { stateRoot: flip(h.stateRoot) })],
      ['gasUsed', withHeader(good, { gasUsed: h.gasUsed + 1n })],
    ];
    const root = b.chain.world.root;
    for (const [field, bad] of cases) {
      const err = await b.chain.executeBlock(bad).catch((e: unknown) => e);
      expect(err, field).toBeInstanceOf(BlockValidationError);
      expect((err as BlockValidationError).code).toBe('BAD_BLOCK');
      // The check that fired is the one for this field: every message reads "block N: <field> ...".
      expect((err as Error).message, field).toMatch(new RegExp(`^block \\d+: ${field} `));
    }
    expect(b.chain.height).toBe(0n);
    expect(bytesEqual(b.chain.world.root, root)).toBe(true);
    // The untampered block still goes through.
    await b.chain.commit(await b.chain.executeBlock(good), []);
    expect(bytesEqual(b.chain.world.root, good.header.stateRoot)).toBe(true);
  });

  it('rejects a block carrying a tx the executor discards, even with a consistent txRoot', async () => {
    const a = await openChain();
    const p = await a.chain.propose([transfer(0, 0n)], T0 + 1n, validators[0]!.address);
    for (const extra of [transfer(0, 5n), buildTransfer({ chainId: CHAIN_ID + 1, key: devKeyPair(1), nonce: 0n, to: sink, amount: 1n, expiry: 10n })]) {
      const txs = [...p.block.txs, extra];
      const header = { ...p.block.header, txCount: txs.length, txRoot: txRootOf(txs) };
      const err = await a.chain.executeBlock({ header, hash: blockHash(header), txs }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlockValidationError);
      expect((err as Error).message).toMatch(/discarded by execution \((NONCE_TOO_HIGH|WRONG_CHAIN_ID)/);
    }
  });

  it('propose keeps the single-validator behaviour: discarded txs are dropped, any timestamp and proposer', async () => {
    const a = await openChain();
    const p = await a.chain.propose([transfer(0, 0n), transfer(0, 0n)], 5n, devKeyPair(100).address);
    expect(p.block.txs).toHaveLength(1);
    expect(p.discarded.map((d) => d.code)).toEqual(['NONCE_TOO_LOW']);
    await a.chain.commit(p, []);
    expect(a.chain.height).toBe(1n);
    expect(await a.chain.getCertificate(1n)).toBeUndefined();
  });

  it('refuses to commit a block that does not extend the head and leaves state and store untouched', async () => {
    const a = await openChain();
    const b = await openChain();
    const p1 = await a.chain.propose([transfer(0, 0n)], T0 + 1n, validators[0]!.address);
    const rival = await a.chain.propose([transfer(1, 0n)], T0 + 1n, validators[1]!.address);
    await a.chain.commit(p1, [], encodeCertificate(certify(p1.block)));
    const root = a.chain.world.root;
    const err = await a.chain.commit(rival, [], encodeCertificate(certify(rival.block))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe('NOT_NEXT_BLOCK');
    expect(a.chain.height).toBe(1n);
    expect(bytesEqual(a.chain.world.root, root)).toBe(true);
    expect(await a.store.getHeadHeight()).toBe(1n);
    expect(bytesEqual(decodeBlock((await a.store.getBlockBytes(1n))!).hash, p1.block.hash)).toBe(true);
    expect(await a.store.getHeightByHash(rival.block.hash)).toBeUndefined();

    // A proposal executed by another Chain instance is refused before anything is written.
    const foreign = await a.chain.propose([], T0 + 2n, validators[0]!.address);
    const b1 = await b.chain.executeBlock(p1.block);
    await b.chain.commit(b1, []);
    await expect(b.chain.commit(foreign, [])).rejects.toMatchObject({ code: 'NOT_NEXT_BLOCK' });
    expect(b.chain.height).toBe(1n);
    expect(await b.store.getHeadHeight()).toBe(1n);

    // Two overlapping commits of the same block: exactly one lands.
    const next = await a.chain.propose([transfer(0, 1n)], T0 + 3n, validators[0]!.address);
    const results = await Promise.allSettled([a.chain.commit(next, []), a.chain.commit(next, [])]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'COMMIT_IN_PROGRESS' });
    expect(a.chain.height).toBe(2n);
  });
});

describe('ChainStore certificates and sign state', () => {
  it('persists the sign state (fsync write) and certificates across a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pel-signstate-'));
    dirs.push(dir);
    let store = await ChainStore.open({ path: dir });
    let chain = await Chain.open(store, genesis, new SequentialExecutor());
    expect(await store.getSignState()).toBeUndefined();
    await store.putSignState(Uint8Array.of(1, 2, 3));
    await store.putSignState(Uint8Array.of(4, 5));
    const p = await chain.propose([transfer(0, 0n)], T0 + 1n, validators[0]!.address);
    const cert = encodeCertificate(certify(p.block));
    await chain.commit(p, [], cert);
    await store.close();
    store = await ChainStore.open({ path: dir });
    chain = await Chain.open(store, genesis, new SequentialExecutor());
    expect(plain(await store.getSignState())).toEqual(Uint8Array.of(4, 5));
    expect(plain(await chain.getCertificate(1n))).toEqual(cert);
    await store.close();
  });

  it('getCommittedTx gives the tx, receipt and block hash that getBlock gives, from the cache and from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pel-committed-tx-'));
    dirs.push(dir);
    let store = await ChainStore.open({ path: dir });
    let chain = await Chain.open(store, genesis, new SequentialExecutor());
    for (let h = 1; h <= 3; h++) {
      const p = await chain.propose([transfer(0, BigInt(2 * h - 2)), transfer(1, BigInt(h - 1), 5n), transfer(0, BigInt(2 * h - 1), 7n)], T0 + BigInt(h), validators[0]!.address);
      await chain.commit(p, []);
    }
    const check = async (): Promise<void> => {
      for (let h = 1n; h <= 3n; h++) {
        const b = (await chain.getBlock(h))!;
        expect(b.block.txs).toHaveLength(3);
        for (let i = 0; i < 3; i++) {
          const c = (await chain.getCommittedTx(h, i))!;
          expect(c.blockHash).toEqual(b.block.hash);
          expect(c.tx.raw).toEqual(b.block.txs[i]!.raw);
          expect(c.tx.hash).toEqual(b.block.txs[i]!.hash);
          expect(c.receipt).toEqual(b.receipts.at(i));
          expect(await chain.getTxLocation(c.tx.hash)).toEqual({ height: h, index: i });
        }
        expect(await chain.getCommittedTx(h, 3)).toBeUndefined();
      }
      expect(await chain.getCommittedTx(4n, 0)).toBeUndefined();
    };
    await check(); // recent-block cache
    await store.close();
    store = await ChainStore.open({ path: dir });
    chain = await Chain.open(store, genesis, new SequentialExecutor());
    await check(); // fresh Chain: everything from disk
    await store.close();
  });

  it('devnetGenesis is unchanged: one validator, dev validator key 0', () => {
    const g = devnetGenesis(2);
    expect(g.validators).toHaveLength(1);
    expect(bytesEqual(g.validators[0]!.publicKey, devValidatorKeyPair(0).publicKey)).toBe(true);
    expect(genesisToJson(testnetGenesis(1, 2))).toEqual(genesisToJson(g));
    expect(genesis.validators.map((v) => v.address)).toEqual(validators.map((k) => k.address));
  });
});

describe('ChainBftApp', () => {
  it('rejects a proposed block that carries a forged tx signature (the executor alone would accept it)', async () => {
    const a = await openChain();
    const b = await openChain();
    const { app } = openApp(b.chain, b.store);
    const victim = devKeyPair(0);
    const forged = signTx(
      { chainId: CHAIN_ID, senderPublicKey: victim.publicKey, nonce: 0n, gasLimit: 50_000n, gasPrice: 1n, expiry: 100n, module: 'coin', call: 'transfer', args: transfer(0, 0n).args },
      devKeyPair(66).privateKey,
    );
    const p = await a.chain.propose([transfer(1, 0n), forged], T0 + 1n, validators[0]!.address);
    expect(p.block.txs).toHaveLength(2);
    const err = await app.executeBlock(wire(p.block)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockValidationError);
    expect((err as Error).message).toMatch(/tx 1 .* signature/);
    expect(b.chain.height).toBe(0n);
  });

  it('verifies only the txs its mempool does not hold (those were verified on admission)', async () => {
    const a = await openChain();
    const b = await openChain();
    const mempool = new Mempool({}, mempoolViewOf(b.chain));
    const asked: Uint8Array[][] = [];
    const app = new ChainBftApp({}, {
      chain: b.chain, mempool, store: b.store, logger: silentLogger,
      verifyTxs: async (raws) => {
        asked.push([...raws]);
        return new Uint8Array(raws.length); // VERIFY.OK = 0
      },
    });
    const known = transfer(0, 0n);
    const fresh = transfer(1, 0n);
    mempool.add(known);
    const p = await a.chain.propose([known, fresh], T0 + 1n, validators[0]!.address);
    await app.executeBlock(wire(p.block));
    expect(asked).toHaveLength(1);
    expect(asked[0]!.map((r) => bytesEqual(r, fresh.raw))).toEqual([true]);
    // A block of known txs only needs no verification at all.
    const q = await a.chain.propose([known], T0 + 1n, validators[0]!.address);
    asked.length = 0;
    await app.executeBlock(wire(q.block));
    expect(asked).toHaveLength(0);
  });

  it('builds, executes on another node and commits; included txs (and same-nonce rivals) leave every mempool', async () => {
    const a = await openChain();
    const b = await openChain();
    const appA = openApp(a.chain, a.store);
    const committedB: { p: Proposal; dropped: readonly DroppedTx[] }[] = [];
    const appB = openApp(b.chain, b.store, (p, dropped) => committedB.push({ p, dropped }));
    const x = transfer(0, 0n, 5n);
    const rivalOfX = transfer(0, 0n, 6n); // same sender and nonce, another hash
    const y = transfer(1, 0n);
    appA.mempool.add(x);
    appA.mempool.add(y);
    appB.mempool.add(rivalOfX);
    appB.mempool.add(y);

    const built = await appA.app.buildBlock(T0 - 10n, validators[0]!.address);
    expect(built.block.header.timestamp).toBe(T0); // clamped to the parent's
    expect(built.block.txs.map((t) => t.hash)).toEqual([x.hash, y.hash]);
    const executed = await appB.app.executeBlock(wire(built.block));
    const cert = certify(built.block);
    await Promise.all([appA.app.commitBlock(built, cert), appB.app.commitBlock(executed, cert)]);

    expect(bytesEqual(a.chain.world.root, b.chain.world.root)).toBe(true);
    expect(appA.mempool.size).toBe(0);
    expect(appB.mempool.size).toBe(0);
    expect(committedB).toHaveLength(1);
    expect(committedB[0]!.dropped.map((d) => [d.code, d.tx.hash])).toEqual([['NONCE_TOO_LOW', rivalOfX.hash]]);
    expect(plain(await b.chain.getCertificate(1n))).toEqual(encodeCertificate(cert));
    expect(appB.app.head()).toEqual({ height: 1n, hash: built.block.hash, timestamp: T0 });
  });

  it('serialises commits: a second commit for the same height is refused with NOT_NEXT_BLOCK, nothing corrupted', async () => {
    const a = await openChain();
    const { app } = openApp(a.chain, a.store);
    const p = await app.buildBlock(T0 + 1n, validators[0]!.address);
    const rival = await app.buildBlock(T0 + 2n, validators[1]!.address);
    const results = await Promise.allSettled([app.commitBlock(p, certify(p.block)), app.commitBlock(rival, certify(rival.block)), app.commitBlock(p, certify(p.block))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    for (const r of results.slice(1)) expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'ChainError', code: 'NOT_NEXT_BLOCK' });
    expect(a.chain.height).toBe(1n);
    expect(bytesEqual(a.chain.head.hash, p.block.hash)).toBe(true);
    expect(bytesEqual(a.chain.world.root, p.block.header.stateRoot)).toBe(true);
    // A certificate for another block is refused outright.
    const next = await app.buildBlock(T0 + 3n, validators[0]!.address);
    await expect(app.commitBlock(next, certify(p.block))).rejects.toBeInstanceOf(BlockValidationError);
    // importBlock of the committed block is a no-op.
    expect(await app.importBlock(p.block, certify(p.block))).toBe('known');
    await expect(app.importBlock(rival.block, certify(rival.block))).rejects.toBeInstanceOf(BlockValidationError);
  });

  it('stores and reloads the sign state; refuses work after close', async () => {
    const a = await openChain();
    const { app } = openApp(a.chain, a.store);
    expect(await app.loadSignState()).toBeUndefined();
    await app.saveSignState(Uint8Array.of(9, 9));
    expect(plain(await app.loadSignState())).toEqual(Uint8Array.of(9, 9));
    await app.close();
    await expect(app.buildBlock(T0, validators[0]!.address)).rejects.toMatchObject({ code: 'APP_CLOSED' });
  });
});
