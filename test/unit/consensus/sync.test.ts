import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBlock, encodeBlock, type Block } from '../../../protocol/block.js';
import { bytesEqual } from '../../../protocol/hex.js';
import { devKeyPair, devValidatorKeyPair, type KeyPair } from '../../../protocol/keys.js';
import { silentLogger } from '../../../protocol/logger.js';
import { signTx, unsignedTx } from '../../../protocol/tx.js';
import { createVerifier } from '../../../protocol/verify.js';
import { ChainBftApp } from '../../../consensus/bft/app.js';
import { certificateFromPrecommits, decodeCertificate, encodeCertificate, signVote } from '../../../consensus/bft/messages.js';
import { Chain } from '../../../consensus/chain.js';
import { testnetGenesis } from '../../../consensus/genesis.js';
import { Mempool, mempoolViewOf } from '../../../consensus/mempool.js';
import { BlockSync, type BlockSyncOptions } from '../../../consensus/sync.js';
import { SequentialExecutor } from '../../../execution/sequential.js';
import { MemoryHub, type MemoryNetwork } from '../../../p2p/memory.js';
import { MAX_SYNC_BLOCKS, type SyncHandler, type SyncResponse } from '../../../p2p/types.js';
import { ChainStore } from '../../../state/store.js';
import { buildTransfer } from '../../../sdk/tx.js';

const genesis = testnetGenesis(4, 4);
const CHAIN_ID = genesis.chainId;
const validators = [0, 1, 2, 3].map((i) => devValidatorKeyPair(i));
const sink = devKeyPair(9).address;

function sign(block: Block, keys: readonly KeyPair[] = validators.slice(0, 3), indices: readonly number[] = [0, 1, 2]): Uint8Array {
  return encodeCertificate(
    certificateFromPrecommits(
      keys.map((k, j) => signVote({ type: 'precommit', chainId: CHAIN_ID, height: block.header.height, round: 0, blockHash: block.hash, validatorIndex: indices[j]! }, k.privateKey)),
    ),
  );
}

interface TestNode {
  id: string;
  net: MemoryNetwork;
  store: ChainStore;
  chain: Chain;
  app: ChainBftApp;
  sync: BlockSync;
  synced: bigint[];
}

async function makeNode(hub: MemoryHub, id: string, opts: Partial<BlockSyncOptions> = {}): Promise<TestNode> {
  const store = await ChainStore.open({ inMemory: true });
  const chain = await Chain.open(store, genesis, new SequentialExecutor());
  const mempool = new Mempool({}, mempoolViewOf(chain));
  const app = new ChainBftApp({}, { chain, mempool, store, logger: silentLogger });
  const net = hub.create(id);
  const synced: bigint[] = [];
  const sync = new BlockSync(opts, {
    network: net, app, store, verifier: createVerifier('native'), logger: silentLogger,
    onSynced: (h) => synced.push(h),
    onFatal: (e) => {
      throw e;
    },
  });
  await net.start();
  return { id, net, store, chain, app, sync, synced };
}

/** Commits `count` blocks (two transfers each) with quorum certificates signed by the dev validators. */
async function extend(node: TestNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const h = node.chain.height;
    const txs = [0, 1].map((k) => buildTransfer({ chainId: CHAIN_ID, key: devKeyPair(k), nonce: h, to: sink, amount: h + 1n, expiry: 100_000n }));
    const p = await node.chain.propose(txs, node.chain.head.header.timestamp + 1_000n, validators[Number(h % 4n)]!.address);
    expect(p.discarded).toEqual([]);
    await node.chain.commit(p, [], sign(p.block));
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A peer with a hand-written sync handler (a liar or a broken node). */
async function evilPeer(hub: MemoryHub, id: string, handler: SyncHandler): Promise<MemoryNetwork> {
  const net = hub.create(id);
  net.onSyncRequest(handler);
  await net.start();
  return net;
}

const sameState = (a: TestNode, b: TestNode): boolean => a.chain.height === b.chain.height && bytesEqual(a.chain.world.root, b.chain.world.root) && bytesEqual(a.chain.head.hash, b.chain.head.hash);

describe('BlockSync', () => {
  let hub: MemoryHub;
  let source: TestNode;

  beforeAll(async () => {
    hub = new MemoryHub();
    source = await makeNode(hub, 'A');
    await extend(source, 150);
  });

  it('serves at most MAX_SYNC_BLOCKS consecutive certified blocks, never genesis, and reports its head', async () => {
    const s = source.sync;
    expect(await s.handleSyncRequest({ from: 1n, max: 0 })).toEqual({ head: 150n, blocks: [] });
    expect((await s.handleSyncRequest({ from: 0n, max: 10 })).blocks).toEqual([]);
    const batch = await s.handleSyncRequest({ from: 1n, max: 1_000 });
    expect(batch.blocks).toHaveLength(MAX_SYNC_BLOCKS);
    batch.blocks.forEach((b, i) => {
      expect(decodeBlock(b.block).header.height).toBe(BigInt(i + 1));
      expect(decodeCertificate(b.certificate).height).toBe(BigInt(i + 1));
    });
    expect((await s.handleSyncRequest({ from: 149n, max: 10 })).blocks).toHaveLength(2);
    expect(await s.handleSyncRequest({ from: 151n, max: 10 })).toEqual({ head: 150n, blocks: [] });
  });

  it('an empty node syncs 150 certified blocks and reaches the same head, state root and certificates', async () => {
    const b = await makeNode(hub, 'B-empty');
    const r = await b.sync.syncFrom(['A']);
    expect(r).toEqual({ head: 150n, committed: 150 });
    expect(sameState(b, source)).toBe(true);
    expect(Uint8Array.from((await b.chain.getCertificate(150n))!)).toEqual(Uint8Array.from((await source.chain.getCertificate(150n))!));
    expect(b.synced).toEqual([150n]);
    expect(b.net.penalties).toEqual([]);
    expect(b.sync.status()).toMatchObject({ syncing: false, target: null, peerHeads: [{ peerId: 'A', head: 150n }] });
    // Nothing left to do: a second pass commits nothing and does not call onSynced again.
    expect(await b.sync.syncFrom(['A'])).toEqual({ head: 150n, committed: 0 });
    expect(b.synced).toEqual([150n]);
    hub.isolate('B-empty');
  });

  const tamperings: [string, RegExp, (res: SyncResponse, from: bigint) => Promise<SyncResponse>][] = [
    [
      'a certificate signed by keys outside the validator set',
      /invalid commit certificate: precommit signature of validator/,
      async (res) => ({ ...res, blocks: res.blocks.map((b) => ({ block: b.block, certificate: sign(decodeBlock(b.block), [devKeyPair(1), devKeyPair(2), devKeyPair(3)]) })) }),
    ],
    [
      'a certificate below quorum',
      /invalid commit certificate: certificate has 2 signatures, quorum is 3/,
      async (res) => ({ ...res, blocks: res.blocks.map((b) => ({ block: b.block, certificate: sign(decodeBlock(b.block), validators.slice(0, 2), [0, 1]) })) }),
    ],
    [
      'a block whose txs were swapped under a certified header',
      /does not validate: block 1: txRoot/,
      async (res) => {
        const first = decodeBlock(res.blocks[0]!.block);
        const other = buildTransfer({ chainId: CHAIN_ID, key: devKeyPair(3), nonce: 0n, to: sink, amount: 1n, expiry: 100_000n });
        const forged = encodeBlock({ ...first, txs: [first.txs[0]!, other] });
        return { ...res, blocks: [{ block: forged, certificate: res.blocks[0]!.certificate }, ...res.blocks.slice(1)] };
      },
    ],
    [
      'blocks from the wrong height',
      /sent block 2 where block 1 was asked for/,
      async (res, from) => (from === 1n ? source.sync.handleSyncRequest({ from: 2n, max: res.blocks.length }) : res),
    ],
    [
      'undecodable bytes',
      /undecodable block or certificate at height 1/,
      async (res) => ({ ...res, blocks: [{ block: res.blocks[0]!.block.subarray(0, 100), certificate: res.blocks[0]!.certificate }] }),
    ],
  ];

  for (const [what, reason, rewrite] of tamperings) {
    it(`penalises a peer serving ${what} and syncs from the honest peer`, async () => {
      const evilId = `evil-${what.replaceAll(' ', '-')}`;
      const b = await makeNode(hub, `B-${evilId}`);
      // The liar claims a higher head, so it is asked first.
      await evilPeer(hub, evilId, async (req) => {
        const res = await source.sync.handleSyncRequest(req);
        const out = req.max === 0 ? res : await rewrite(res, req.from);
        return { ...out, head: out.head + 10n };
      });
      const r = await b.sync.syncFrom([evilId, 'A']);
      expect(r.head).toBe(150n);
      expect(sameState(b, source)).toBe(true);
      expect(b.net.penalties.map((p) => p.peerId)).toEqual([evilId]);
      expect(b.net.penalties[0]!.reason).toMatch(reason);
      // Benched: the next pass does not ask the liar again.
      expect((await b.sync.syncFrom([evilId, 'A'])).committed).toBe(0);
      expect(b.net.penalties).toHaveLength(1);
      hub.isolate(b.id);
      hub.isolate(evilId);
    });
  }

  it('a peer that throws or serves nothing does not stall the sync', async () => {
    const b = await makeNode(hub, 'B-throws');
    await evilPeer(hub, 'thrower', async (req) => {
      if (req.max === 0) return { head: 1_000n, blocks: [] };
      throw new Error('handler blew up');
    });
    await evilPeer(hub, 'empty', async () => ({ head: 999n, blocks: [] }));
    const r = await b.sync.syncFrom(['thrower', 'empty', 'A']);
    expect(r).toEqual({ head: 150n, committed: 150 });
    expect(sameState(b, source)).toBe(true);
    expect(b.net.penalties).toEqual([]);
    hub.isolate('B-throws');
    hub.isolate('thrower');
    hub.isolate('empty');
  });

  it('polls connected peers, catches up when told it is behind, and restarts the engine via onSynced', async () => {
    const hub2 = new MemoryHub();
    const a = await makeNode(hub2, 'A2');
    await extend(a, 70);
    const b = await makeNode(hub2, 'B2', { pollMs: 60_000 });
    b.sync.start(); // first pass runs at once; the next poll is far away
    await waitFor('B2 to reach 70', () => b.chain.height === 70n);
    await waitFor('onSynced', () => b.synced.length === 1);
    expect(b.synced).toEqual([70n]);

    await extend(a, 5);
    b.sync.notifyBehind(75n, 'A2');
    await waitFor('B2 to reach 75', () => b.chain.height === 75n);
    await waitFor('second onSynced', () => b.synced.length === 2);
    expect(sameState(a, b)).toBe(true);
    // A served by B: a third node syncs from B alone.
    const c = await makeNode(hub2, 'C2');
    hub2.disconnect('C2', 'A2');
    expect(await c.sync.syncFrom()).toEqual({ head: 75n, committed: 75 });
    expect(sameState(c, a)).toBe(true);
    await b.sync.stop();
    expect(b.sync.status().syncing).toBe(false);
  });

  it('refuses a certified block whose tx signature is forged (signatures are checked before execution)', async () => {
    const hub3 = new MemoryHub();
    const a = await makeNode(hub3, 'A3');
    const victim = devKeyPair(0);
    const honest = buildTransfer({ chainId: CHAIN_ID, key: victim, nonce: 0n, to: sink, amount: 5n, expiry: 100n });
    const forged = signTx(unsignedTx(honest), devKeyPair(66).privateKey);
    // Chain.propose does not check signatures; a byzantine quorum certifies the block.
    const p = await a.chain.propose([forged], a.chain.head.header.timestamp + 1n, validators[0]!.address);
    expect(p.block.txs).toHaveLength(1);
    await a.chain.commit(p, [], sign(p.block));
    const b = await makeNode(hub3, 'B3');
    expect(await b.sync.syncFrom()).toEqual({ head: 0n, committed: 0 });
    expect(b.net.penalties.map((x) => x.peerId)).toEqual(['A3']);
    expect(b.net.penalties[0]!.reason).toMatch(/block 1: tx 0 .* signature that does not verify/);
  });

  it('a block the engine committed meanwhile is skipped as known, not re-committed', async () => {
    const b = await makeNode(hub, 'B-race');
    const res = await source.sync.handleSyncRequest({ from: 1n, max: 3 });
    const block1 = decodeBlock(res.blocks[0]!.block);
    const cert1 = decodeCertificate(res.blocks[0]!.certificate);
    // The engine's path: execute, then commit with the certificate.
    await b.app.commitBlock(await b.app.executeBlock(block1), cert1);
    expect(await b.app.importBlock(block1, cert1)).toBe('known');
    const r = await b.sync.syncFrom(['A']);
    expect(r).toEqual({ head: 150n, committed: 149 });
    expect(sameState(b, source)).toBe(true);
    hub.isolate('B-race');
  });
});
