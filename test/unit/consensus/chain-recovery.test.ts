/**
 * Recovery across the chain's two stores (consensus/chain.ts): a block is written to LevelDB
 * (with its write set as `w:<height>`) and then to the LMDB state store. A state store left
 * behind the LevelDB head is caught up at Chain.open by re-applying the kept write sets
 * (checked against each header's state root); a state store ahead of the head, a missing
 * write set or a tampered one is refused with a stable code.
 *
 * "State left behind" is made without killing anything: two data dirs run the same
 * deterministic chain, one of them stops early, and its state store (real LMDB on disk) is
 * moved into the other. The kill -9 between the two writes is test/e2e/restart.test.ts.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeU128 } from '../../../protocol/codec.js';
import { bytesEqual, toHex } from '../../../protocol/hex.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { balanceKey } from '../../../contracts/coin/state.js';
import { Chain, ChainError } from '../../../consensus/chain.js';
import { devnetGenesis } from '../../../consensus/genesis.js';
import { SequentialExecutor } from '../../../execution/sequential.js';
import { ChainStore, encodeWriteSet } from '../../../state/store.js';
import type { WriteSet } from '../../../state/types.js';
import { buildTransfer } from '../../../sdk/tx.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pel-recovery-'));
  dirs.push(d);
  return d;
}

const alice = devKeyPair(0);
const bob = devKeyPair(1);
const proposer = devKeyPair(100).address;
const genesis = devnetGenesis(3);

/** Runs `blocks` deterministic blocks (one transfer each) in a data dir and closes it. Returns each block's state root (and write set). */
async function runChain(dir: string, blocks: number, writeSets: WriteSet[] = []): Promise<Uint8Array[]> {
  const store = await ChainStore.open({ path: dir });
  const chain = await Chain.open(store, genesis, new SequentialExecutor());
  const roots = [chain.head.header.stateRoot];
  for (let i = 0; i < blocks; i++) {
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: BigInt(i), to: bob.address, amount: 10n + BigInt(i), expiry: 100n });
    const p = await chain.propose([tx], 1000n * BigInt(i + 1), proposer);
    writeSets[i + 1] = p.prepared.writeSet;
    // Alternate the two commit paths: pipelined apply and plain commit write the same way.
    if (i % 2 === 0) await chain.apply(p, []).written;
    else await chain.commit(p, []);
    roots.push(chain.head.header.stateRoot);
  }
  chain.close();
  await store.close();
  return roots;
}

/** Replaces `dir`'s state store with `from`'s (the state of a chain that stopped earlier). */
async function swapStateIn(dir: string, from: string): Promise<void> {
  await rm(join(dir, 'state'), { recursive: true, force: true });
  await rename(join(from, 'state'), join(dir, 'state'));
}

async function putRaw(dir: string, key: string, value: Uint8Array | null): Promise<void> {
  const { Level } = await import('level');
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  if (value === null) await db.del(key);
  else await db.put(key, value);
  await db.close();
}

async function keys(dir: string, prefix: string): Promise<string[]> {
  const { Level } = await import('level');
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  const out: string[] = [];
  for await (const k of db.keys({ gte: prefix, lt: prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1) })) out.push(k);
  await db.close();
  return out;
}

const wKey = (h: number): string => 'w:' + h.toString(16).padStart(16, '0');

describe('Chain recovery across LevelDB and the LMDB state store', () => {
  it('keeps only the write sets the state store has not passed', async () => {
    const dir = await tempDir();
    await runChain(dir, 4);
    // Each block's batch drops the record of the block before it (the state store wrote it);
    // the last block's record stays until the next block or the next open.
    expect(await keys(dir, 'w:')).toEqual([wKey(4)]);
    expect(await keys(dir, 's:')).toEqual([]);
    const store = await ChainStore.open({ path: dir });
    const chain = await Chain.open(store, genesis, new SequentialExecutor());
    chain.close();
    await store.close();
    expect(await keys(dir, 'w:')).toEqual([]);
  });

  it('re-applies the blocks the state store misses, checking each root against its header', async () => {
    const [full, behind] = [await tempDir(), await tempDir()];
    const writeSets: WriteSet[] = [];
    const roots = await runChain(full, 5, writeSets);
    // Write sets of blocks 3..5 kept as they would be had the state store stopped at 2 (the
    // node keeps a record until the state store has written its block).
    const records = new Map([3, 4, 5].map((h) => [h, encodeWriteSet(writeSets[h]!)]));
    await runChain(behind, 2);
    await swapStateIn(full, behind);
    for (const [h, v] of records) await putRaw(full, wKey(h), v);

    const store = await ChainStore.open({ path: full });
    expect(store.state.height).toBe(2n);
    const chain = await Chain.open(store, genesis, new SequentialExecutor());
    expect(store.state.height).toBe(5n);
    expect(chain.height).toBe(5n);
    expect(toHex(chain.world.root)).toBe(toHex(roots[5]!));
    expect(decodeU128(chain.world.get(balanceKey(bob.address)))).toBe(10n ** 18n + 10n + 11n + 12n + 13n + 14n);
    // The recovered chain goes on.
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 5n, to: bob.address, amount: 1n, expiry: 100n });
    await chain.commit(await chain.propose([tx], 9000n, proposer), []);
    expect(store.state.height).toBe(6n);
    chain.close();
    await store.close();
    expect(await keys(full, 'w:')).toEqual([wKey(6)]);
  });

  it('refuses a re-applied write set whose root is not its header\'s (STATE_ROOT_MISMATCH), changing nothing', async () => {
    const [full, behind] = [await tempDir(), await tempDir()];
    await runChain(full, 1);
    await runChain(behind, 0);
    await swapStateIn(full, behind);
    // Tamper with block 1's write set: Bob gets one more unit.
    const s0 = await ChainStore.open({ path: full });
    const ws = (await s0.getWriteSet(1n))!;
    await s0.close();
    const bobKey = balanceKey(bob.address);
    const tampered = ws.map(([k, v]) => [k, k === bobKey ? new Uint8Array(v!.length).fill(7) : v] as const);
    await putRaw(full, wKey(1), encodeWriteSet(tampered));
    const store = await ChainStore.open({ path: full });
    const err = await Chain.open(store, genesis, new SequentialExecutor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe('STATE_ROOT_MISMATCH');
    expect((err as ChainError).message).toContain('block 1');
    expect(store.state.height).toBe(0n);
    await store.close();
  });

  it('refuses a state store that misses a block whose write set is gone (STATE_BEHIND)', async () => {
    const [full, behind] = [await tempDir(), await tempDir()];
    await runChain(full, 3);
    await runChain(behind, 1);
    await swapStateIn(full, behind);
    // Only block 3's record is still there: blocks 2 cannot be re-applied.
    const store = await ChainStore.open({ path: full });
    const err = await Chain.open(store, genesis, new SequentialExecutor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe('STATE_BEHIND');
    expect((err as ChainError).message).toMatch(/height 1 but the write set of block 2/);
    await store.close();
  });

  it('refuses a state store ahead of the chain (STATE_AHEAD)', async () => {
    const [short, long] = [await tempDir(), await tempDir()];
    await runChain(short, 1);
    await runChain(long, 3);
    await swapStateIn(short, long);
    const store = await ChainStore.open({ path: short });
    const err = await Chain.open(store, genesis, new SequentialExecutor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainError);
    expect((err as ChainError).code).toBe('STATE_AHEAD');
    expect((err as ChainError).message).toMatch(/height 3, above the chain's head 1/);
    await store.close();

    // State without any chain (a data dir whose LevelDB was wiped by hand) is refused too.
    const bare = await tempDir();
    await rename(join(short, 'state'), join(bare, 'state'));
    const s2 = await ChainStore.open({ path: bare });
    await expect(Chain.open(s2, genesis, new SequentialExecutor())).rejects.toMatchObject({ code: 'STATE_AHEAD' });
    await s2.close();
  });

  it('writes genesis LevelDB first: a state store that never got it is filled from w:0', async () => {
    const [dir, empty] = [await tempDir(), await tempDir()];
    const roots = await runChain(dir, 0);
    // An empty state store: what a crash right after the genesis batch leaves.
    const s = await ChainStore.open({ path: empty });
    await s.close();
    const g = await ChainStore.open({ path: dir });
    const ws = (await g.getWriteSet(0n)) ?? null;
    await g.close();
    expect(ws).toBeNull(); // pruned at open once the state store had it
    // Put it back as it was right after the genesis batch.
    const genesisWs = await import('../../../consensus/genesis.js').then((m) => m.genesisWriteSet(genesis));
    await putRaw(dir, wKey(0), encodeWriteSet(genesisWs));
    await swapStateIn(dir, empty);
    const store = await ChainStore.open({ path: dir });
    expect(store.state.height).toBeUndefined();
    const chain = await Chain.open(store, genesis, new SequentialExecutor());
    expect(store.state.height).toBe(0n);
    expect(bytesEqual(chain.world.root, roots[0]!)).toBe(true);
    chain.close();
    await store.close();
  });
});

