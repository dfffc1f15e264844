/**
 * kill -9 between a block's two writes: the node writes a block to LevelDB (block, receipts,
 * tx index, the block's state write set as `w:<height>`) and then to the LMDB state store
 * (<dataDir>/state). PEL_TEST_CRASH_AT=after-chain-write:<h> makes the node SIGKILL itself
 * right between the two, at the first block of height >= h (consensus/chain.ts). The
 * restarted node must find its state store one block behind, re-apply that block's write set
 * (no re-execution), check the root against the header, and lose no accepted tx or block.
 * The crashing runs start with `--warmup 0`: the hook is process-wide and the start-up warm-up's
 * scratch chain (node/warmup.ts) would reach the height first.
 */
import { describe, expect, it, vi } from 'vitest';
import { buildTransfer, devKeyPair, formatAddress, generateKeyPair, PelClient } from '../../sdk/index.js';
import type { SignedTx } from '../../protocol/tx.js';
import { startNode, useE2eCleanup, waitFor, type RunningNode } from './harness.js';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 30_000 });
useE2eCleanup();

const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');

/** Resolves once the node process has exited by itself, with the signal that ended it. */
function exitOf(node: RunningNode): Promise<NodeJS.Signals | null> {
  const p = node.proc;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.signalCode);
  return new Promise((resolve) => p.once('exit', (_code, signal) => resolve(signal)));
}

const recoveredLog = /state store was behind the chain: re-applied the kept write sets \{"from":(\d+),"to":(\d+)/;

describe('kill -9 between the LevelDB write and the state store write', () => {
  it('manual blocks: the restarted node re-applies the block, its root matches the header, nothing is lost', async () => {
    const node = await startNode({ args: ['--mining', 'manual', '--warmup', '0'], env: { PEL_TEST_CRASH_AT: 'after-chain-write:3' } });
    const client = new PelClient(node.url);
    const { chainId } = await client.getInfo();
    const alice = devKeyPair(1);
    const bob = generateKeyPair().address;
    const sent: string[] = [];
    const send = async (nonce: bigint, amount: bigint): Promise<void> => {
      const tx = buildTransfer({ chainId, key: alice, nonce, to: bob, amount, expiry: 1_000_000n });
      const r = await client.sendRawTx(tx.raw);
      sent.push(r.hash);
    };
    await send(0n, 5n);
    expect(await client.mine()).toEqual({ heights: [1] });
    await send(1n, 7n);
    expect(await client.mine()).toEqual({ heights: [2] });
    const block2 = await client.getBlock(2);
    await send(2n, 11n);
    // Block 3's LevelDB batch is written, then the node kills itself before the state write.
    const died = exitOf(node);
    await expect(client.mine()).rejects.toThrow();
    expect(await died).toBe('SIGKILL');
    expect(node.stderr()).not.toMatch(recoveredLog);

    const again = await startNode({ dataDir: node.dataDir, args: ['--mining', 'manual'] });
    const c2 = new PelClient(again.url);
    const m = recoveredLog.exec(again.stderr());
    expect(m, `recovery log line in:\n${again.stderr()}`).not.toBeNull();
    expect([Number(m![1]), Number(m![2])]).toEqual([3, 3]);
    const info = await c2.getInfo();
    expect(info.height).toBe(3);
    const block3 = (await c2.getBlock(3))!;
    // The root of the re-applied state is the one block 3's header commits to (the node also
    // refuses to start otherwise), and the chain links up to the block seen before the crash.
    expect(info.stateRoot).toBe(block3.header.stateRoot);
    expect(block3.header.parentHash).toBe(block2!.hash);
    // Every accepted tx is committed exactly once: block 3 holds the last one, the mempool
    // journal no longer does.
    for (const [i, h] of sent.entries()) expect(await c2.getReceipt(h), `tx ${i}`).toMatchObject({ status: 'success', blockHeight: i + 1 });
    expect(await c2.request('mempool_status')).toMatchObject({ total: 0 });
    expect(await c2.getAccount(formatAddress(bob))).toMatchObject({ balance: '23', nonce: '0' });
    expect((await c2.getAccount(formatAddress(alice.address))).nonce).toBe('3');
    // And it goes on: the next block builds on the recovered state.
    const next = buildTransfer({ chainId, key: alice, nonce: 3n, to: bob, amount: 1n, expiry: 1_000_000n });
    await c2.sendRawTx(next.raw);
    expect(await c2.mine()).toEqual({ heights: [4] });
    expect((await c2.getAccount(formatAddress(bob))).balance).toBe('24');
    const root4 = (await c2.getInfo()).stateRoot;
    expect(await again.stop('SIGINT')).toBe(0);

    // A clean restart has nothing to re-apply.
    const third = await startNode({ dataDir: node.dataDir, args: ['--mining', 'manual'] });
    expect(third.stderr()).not.toMatch(recoveredLog);
    expect(await new PelClient(third.url).getInfo()).toMatchObject({ height: 4, stateRoot: root4 });
    expect(await third.stop('SIGINT')).toBe(0);
  });

  it('pipelined blocks under load: every accepted tx is committed once after the restart', async () => {
    const SENDERS = [1, 2, 3, 4].map((i) => devKeyPair(i));
    const node = await startNode({ args: ['--block-time', '0', '--max-block-txs', '16', '--warmup', '0'], env: { PEL_TEST_CRASH_AT: 'after-chain-write:4' } });
    const client = new PelClient(node.url);
    const { chainId } = await client.getInfo();
    const died = exitOf(node);
    const recipients = [generateKeyPair(), generateKeyPair()].map((k) => k.address);
    const accepted = new Map<string, SignedTx>();
    const expected = new Map<string, bigint>(recipients.map((r) => [formatAddress(r), 0n]));
    const nonces = new Map<string, bigint>(SENDERS.map((k) => [formatAddress(k.address), 0n]));
    // Batches of 40 txs until the node kills itself (block 4's LevelDB batch): the last batch
    // may be cut off; only what it accepted counts.
    for (let b = 0; b < 20 && node.proc.signalCode === null; b++) {
      const batch: SignedTx[] = [];
      for (let j = 0; j < 10; j++) {
        for (const [si, key] of SENDERS.entries()) {
          const from = formatAddress(key.address);
          const nonce = BigInt(b * 10 + j);
          batch.push(buildTransfer({ chainId, key, nonce, to: recipients[(j + si) % 2]!, amount: BigInt(1 + ((b + j + si) % 5)), expiry: 1_000_000n }));
          nonces.set(from, nonce + 1n);
        }
      }
      let results;
      try {
        results = await client.batch<{ hash: string }>(batch.map((t) => ({ method: 'tx_send', params: [hex(t.raw)] })));
      } catch {
        break; // the node died during this request
      }
      results.forEach((r, i) => {
        if (!r.ok) return;
        const tx = batch[i]!;
        accepted.set(r.result.hash, tx);
        const to = formatAddress(tx.args[0]!.value as Uint8Array);
        expected.set(to, expected.get(to)! + (tx.args[1]!.value as bigint));
      });
    }
    expect(await died).toBe('SIGKILL');
    expect(accepted.size).toBeGreaterThan(0);

    const again = await startNode({ dataDir: node.dataDir, args: ['--block-time', '0', '--max-block-txs', '16'] });
    const m = recoveredLog.exec(again.stderr());
    expect(m, `recovery log line in:\n${again.stderr()}`).not.toBeNull();
    expect(Number(m![1])).toBe(4);
    const c2 = new PelClient(again.url);
    const hashes = [...accepted.keys()];
    let missing = hashes.length;
    await waitFor(
      async () => {
        const rs = await c2.batch<unknown>(hashes.map((h) => ({ method: 'tx_getReceipt', params: [h] })));
        missing = rs.filter((r) => !r.ok || r.result === null).length;
        return missing === 0;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: () => `receipts for all ${hashes.length} accepted txs (${missing} missing)` },
    );
    // Exactly once: each sender's nonce counts its accepted txs, and the recipients hold the exact sums.
    const perSender = new Map<string, bigint>();
    for (const tx of accepted.values()) perSender.set(formatAddress(tx.sender), (perSender.get(formatAddress(tx.sender)) ?? 0n) + 1n);
    for (const [addr, n] of perSender) expect((await c2.getAccount(addr)).nonce, `nonce of ${addr}`).toBe(n.toString());
    for (const [addr, bal] of expected) expect((await c2.getAccount(addr)).balance, `balance of ${addr}`).toBe(bal.toString());
    // Block 4, the one cut between the stores, is there with the root the state was re-applied to.
    const info = await c2.getInfo();
    expect(info.height).toBeGreaterThanOrEqual(4);
    const b4 = (await c2.getBlock(4))!;
    const b5 = await c2.getBlock(5);
    if (b5) expect(b5.header.parentHash).toBe(b4.hash);
    expect(await again.stop('SIGINT')).toBe(0);
  });
});
