import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeU128 } from '../../../protocol/codec.js';
import { bytesEqual } from '../../../protocol/hex.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { encodeBlock, decodeBlock, blockHash } from '../../../protocol/block.js';
import { balanceKey } from '../../../contracts/coin/state.js';
import { Chain, ChainError } from '../../../consensus/chain.js';
import { devnetGenesis } from '../../../consensus/genesis.js';
import { SequentialExecutor } from '../../../execution/sequential.js';
import { ChainStore } from '../../../state/store.js';
import { buildTransfer } from '../../../sdk/tx.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pel-chain-'));
  dirs.push(d);
  return d;
}

const alice = devKeyPair(0);
const bob = devKeyPair(1);
const proposer = devKeyPair(100).address;

describe('Chain on LevelDB', () => {
  it('commits blocks atomically and restarts with the same head, state root, blocks and receipts', async () => {
    const dir = await tempDir();
    const genesis = devnetGenesis(3);
    let store = await ChainStore.open({ path: dir });
    let chain = await Chain.open(store, genesis, new SequentialExecutor());
    const txs = [0n, 1n, 2n].map((n) => buildTransfer({ chainId: 1337, key: alice, nonce: n, to: bob.address, amount: 10n + n, expiry: 100n }));
    const p1 = await chain.propose(txs.slice(0, 2), 1000n, proposer);
    await chain.commit(p1, []);
    const p2 = await chain.propose([txs[2]!, txs[0]!], 2000n, proposer);
    expect(p2.discarded.map((d) => d.code)).toEqual(['NONCE_TOO_LOW']);
    expect(p2.block.txs).toHaveLength(1);
    await chain.commit(p2, []);
    const head = chain.head;
    const root = chain.world.root;
    expect(bytesEqual(head.header.stateRoot, root)).toBe(true);
    await store.close();

    store = await ChainStore.open({ path: dir });
    chain = await Chain.open(store, genesis, new SequentialExecutor());
    expect(chain.height).toBe(2n);
    expect(bytesEqual(chain.head.hash, head.hash)).toBe(true);
    expect(bytesEqual(chain.world.root, root)).toBe(true);
    expect(decodeU128(chain.world.get(balanceKey(bob.address)))).toBe(10n ** 18n + 33n);
    const b1 = await chain.getBlock(1n);
    expect([0, 1].map((i) => b1!.receipts.at(i)!.status)).toEqual(['success', 'success']);
    const loc = await chain.getTxLocation(txs[2]!.hash);
    expect(loc).toEqual({ height: 2n, index: 0 });
    expect(bytesEqual((await chain.getBlockByHash(p1.block.hash))!.block.hash, p1.block.hash)).toBe(true);
    await store.close();
  });

  it('refuses a data dir whose state store does not match the head state root', async () => {
    // Two chains from the same genesis, each one block on, with different blocks: the same
    // height in both stores, different states. Swapping their state stores leaves each data
    // dir with a state whose root is not its head's.
    const genesis = devnetGenesis(2);
    const dirs = [await tempDir(), await tempDir()];
    for (const [i, dir] of dirs.entries()) {
      const store = await ChainStore.open({ path: dir });
      const chain = await Chain.open(store, genesis, new SequentialExecutor());
      const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: bob.address, amount: 1n + BigInt(i), expiry: 100n });
      await chain.commit(await chain.propose([tx], 1000n, proposer), []);
      chain.close();
      await store.close();
    }
    await rename(join(dirs[0]!, 'state'), join(dirs[0]!, 'state-0'));
    await rename(join(dirs[1]!, 'state'), join(dirs[0]!, 'state'));
    const store = await ChainStore.open({ path: dirs[0]! });
    const err = await Chain.open(store, genesis, new SequentialExecutor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe('STATE_ROOT_MISMATCH');
    expect((err as ChainError).message).toContain(join(dirs[0]!, 'state'));
    await store.close();
  });

  it('refuses a data dir created with another genesis', async () => {
    const store = await ChainStore.open({ inMemory: true });
    await Chain.open(store, devnetGenesis(2), new SequentialExecutor());
    const err = await Chain.open(store, devnetGenesis(3), new SequentialExecutor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe('GENESIS_MISMATCH');
    await store.close();
  });

  it('a proposal does not change committed state until it is committed', async () => {
    const store = await ChainStore.open({ inMemory: true });
    const chain = await Chain.open(store, devnetGenesis(2), new SequentialExecutor());
    const before = chain.world.root;
    const p = await chain.propose([buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: bob.address, amount: 1n, expiry: 9n })], 5n, proposer);
    expect(bytesEqual(chain.world.root, before)).toBe(true);
    expect(bytesEqual(p.block.header.stateRoot, before)).toBe(false);
    const round = decodeBlock(encodeBlock(p.block));
    expect(bytesEqual(blockHash(round.header), p.block.hash)).toBe(true);
    await store.close();
  });
});
