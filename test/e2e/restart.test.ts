/**
 * Durability of the real node on a real LevelDB dir: a clean SIGINT restart reproduces the
 * chain exactly; kill -9 while blocks are being committed loses nothing that was reported
 * committed or accepted and applies nothing twice; --reset wipes; one node per data dir.
 */
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { buildTransfer, devKeyPair, formatAddress, generateKeyPair, PelClient, type KeyPair, type ReceiptJson } from '../../sdk/index.js';
import type { SignedTx } from '../../protocol/tx.js';
import { makeTempDir, runCli, startNode, useE2eCleanup, waitFor, type RunningNode } from './harness.js';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 30_000 });
useE2eCleanup();

const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');

interface FullBlock {
  hash: string;
  header: { height: number; stateRoot: string; parentHash: string; [k: string]: unknown };
  txs: { hash: string }[];
  receipts: ReceiptJson[];
}

/** block_get for every height in [from, to], with full txs and receipts, in JSON-RPC batches. */
async function fetchBlocks(client: PelClient, from: number, to: number): Promise<FullBlock[]> {
  const out: FullBlock[] = [];
  for (let start = from; start <= to; start += 500) {
    const heights = Array.from({ length: Math.min(500, to - start + 1) }, (_, i) => start + i);
    const rs = await client.batch<FullBlock | null>(heights.map((h) => ({ method: 'block_get', params: [h, { txs: 'full', receipts: true }] })));
    rs.forEach((r, i) => {
      if (!r.ok) throw r.error;
      if (r.result === null) throw new Error(`block ${heights[i]} missing`);
      out.push(r.result);
    });
  }
  return out;
}

/** Receipts for `hashes` (null where none yet), in JSON-RPC batches. */
async function fetchReceipts(client: PelClient, hashes: readonly string[]): Promise<(ReceiptJson | null)[]> {
  const out: (ReceiptJson | null)[] = [];
  for (let i = 0; i < hashes.length; i += 1000) {
    const rs = await client.batch<ReceiptJson | null>(hashes.slice(i, i + 1000).map((h) => ({ method: 'tx_getReceipt', params: [h] })));
    for (const r of rs) {
      if (!r.ok) throw r.error;
      out.push(r.result);
    }
  }
  return out;
}

function expectLinkedChain(blocks: readonly FullBlock[]): void {
  for (let i = 1; i < blocks.length; i++) {
    expect(blocks[i]!.header.height).toBe(blocks[i - 1]!.header.height + 1);
    expect(blocks[i]!.header.parentHash, `parent of block ${blocks[i]!.header.height}`).toBe(blocks[i - 1]!.hash);
  }
}

describe('restart after SIGINT', () => {
  it('reproduces every block hash, state root and receipt', async () => {
    const node = await startNode();
    const client = new PelClient(node.url);
    const { chainId } = await client.getInfo();
    const recipients = [generateKeyPair(), generateKeyPair()];

    // A few rounds of concurrent transfers from different senders -> several blocks with several txs,
    // plus one tx that fails in execution so a failed receipt is covered too.
    const hashes: string[] = [];
    for (let round = 0; round < 4; round++) {
      const txs = [1, 2, 3].map((s) =>
        buildTransfer({ chainId, key: devKeyPair(s), nonce: BigInt(round), to: recipients[(s + round) % 2]!.address, amount: BigInt(100 * s + round), expiry: 1_000_000n }),
      );
      const receipts = await Promise.all(txs.map((t) => client.sendRawTxAndWait(t.raw)));
      for (const r of receipts) expect(r.status).toBe('success');
      hashes.push(...receipts.map((r) => r.txHash));
    }
    const failing = buildTransfer({ chainId, key: devKeyPair(4), nonce: 0n, to: recipients[0]!.address, amount: 10n ** 19n, expiry: 1_000_000n });
    const failed = await client.sendRawTxAndWait(failing.raw);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'INSUFFICIENT_BALANCE' });
    hashes.push(failed.txHash);

    const before = await client.getInfo();
    const H = before.height;
    expect(H).toBeGreaterThanOrEqual(2);
    const blocks = await fetchBlocks(client, 0, H);
    expectLinkedChain(blocks);
    const receipts = await fetchReceipts(client, hashes);
    expect(receipts.every((r) => r !== null)).toBe(true);
    const accounts = await Promise.all([...recipients.map((k) => k.address), ...[1, 2, 3, 4].map((i) => devKeyPair(i).address)].map((a) => client.getAccount(a)));

    expect(await node.stop('SIGINT')).toBe(0);
    expect(node.stderr()).toContain('SIGINT: stopping');

    const again = await startNode({ dataDir: node.dataDir });
    const c2 = new PelClient(again.url);
    const after = await c2.getInfo();
    expect(after.height).toBeGreaterThanOrEqual(H);
    expect(after.genesisHash).toBe(before.genesisHash);
    expect(await fetchBlocks(c2, 0, H)).toEqual(blocks);
    for (const b of blocks) expect(b.header.stateRoot).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await fetchReceipts(c2, hashes)).toEqual(receipts);
    expect(await Promise.all(accounts.map((a) => c2.getAccount(a.address)))).toEqual(accounts);
    if (after.height === H) expect(after.stateRoot).toBe(before.stateRoot);
    expect(await again.stop('SIGINT')).toBe(0);
  });
});

describe('kill -9 while producing blocks', () => {
  const SENDERS = [1, 2, 3, 4].map((i) => devKeyPair(i));
  const TXS_PER_SENDER_PER_BATCH = 10;
  /** The last batch before a kill is bigger, so a backlog is still being mined when the kill lands. */
  const TXS_PER_SENDER_LAST_BATCH = 50;
  /** Fewer txs per block than per batch, so a backlog builds up and blocks are committed back to back. */
  const MAX_BLOCK_TXS = 16;
  /**
   * Three different moments: after `batches` accepted batches, kill at once (the last batch is
   * surely pending) or once `blocks` more blocks have been committed after the last response
   * (mid-backlog, while the producer is executing or writing the next block). The last round
   * spaces blocks 40 ms apart, so its backlog (13 blocks' worth) is surely still pending when the
   * kill lands even if this test process is starved of CPU; the other rounds mine back to back.
   */
  const ROUNDS = [
    { batches: 3, blocks: 0, blockTimeMs: 0 },
    { batches: 8, blocks: 1, blockTimeMs: 0 },
    { batches: 12, blocks: 3, blockTimeMs: 40 },
  ];
  const nodeArgs = (blockTimeMs = 0): string[] => ['--block-time', String(blockTimeMs), '--max-block-txs', String(MAX_BLOCK_TXS)];

  interface Expectation {
    accepted: string[];
    nonces: Map<string, bigint>;
    balances: Map<string, bigint>;
    blocks: Map<number, { hash: string; stateRoot: string }>;
    maxHeight: number;
  }

  function restoredCount(node: RunningNode): number {
    const m = /mempool restored from journal \{"restored":(\d+),"dropped":(\d+)\}/.exec(node.stderr());
    return m ? Number(m[1]) : 0;
  }

  /** Records hash and state root of every block committed since the last look. */
  async function observeBlocks(client: PelClient, exp: Expectation): Promise<void> {
    const info = await client.getInfo();
    const fresh = Array.from({ length: info.height - exp.maxHeight }, (_, i) => exp.maxHeight + 1 + i).filter((h) => !exp.blocks.has(h));
    if (fresh.length > 0) {
      const rs = await client.batch<FullBlock | null>(fresh.map((h) => ({ method: 'block_get', params: [h, { txs: 'none' }] })));
      rs.forEach((r, i) => {
        if (!r.ok || r.result === null) throw new Error(`block ${fresh[i]} not readable`);
        exp.blocks.set(fresh[i]!, { hash: r.result.hash, stateRoot: r.result.header.stateRoot });
      });
    }
    exp.maxHeight = Math.max(exp.maxHeight, info.height);
  }

  /** After a restart: blocks seen before kept, every accepted tx committed once, exact balances. */
  async function verify(client: PelClient, exp: Expectation): Promise<void> {
    const info = await client.getInfo();
    expect(info.height).toBeGreaterThanOrEqual(exp.maxHeight);
    const heights = [...exp.blocks.keys()].sort((a, b) => a - b);
    if (heights.length > 0) {
      const rs = await client.batch<FullBlock | null>(heights.map((h) => ({ method: 'block_get', params: [h] })));
      rs.forEach((r, i) => {
        expect(r.ok).toBe(true);
        const b = (r as { result: FullBlock | null }).result;
        expect(b, `block ${heights[i]}`).not.toBeNull();
        expect({ hash: b!.hash, stateRoot: b!.header.stateRoot }, `block ${heights[i]}`).toEqual(exp.blocks.get(heights[i]!));
      });
    }

    // The node re-admits its journaled mempool at startup and keeps mining: every accepted tx gets a receipt.
    let receipts: (ReceiptJson | null)[] = [];
    await waitFor(
      async () => {
        receipts = await fetchReceipts(client, exp.accepted);
        return receipts.every((r) => r !== null);
      },
      { timeoutMs: 30_000, intervalMs: 100, what: () => `receipts for all ${exp.accepted.length} accepted txs (${receipts.filter((r) => r === null).length} missing)` },
    );
    for (const r of receipts) expect(r!.status).toBe('success');
    expect(new Set(receipts.map((r) => r!.txHash)).size).toBe(exp.accepted.length);

    // No tx applied twice (and none lost): nonces count accepted txs, fresh recipients hold exact sums.
    for (const [addr, nonce] of exp.nonces) expect((await client.getAccount(addr)).nonce, `nonce of ${addr}`).toBe(nonce.toString());
    for (const [addr, bal] of exp.balances) expect((await client.getAccount(addr)).balance, `balance of ${addr}`).toBe(bal.toString());

    // The whole chain still links up.
    const latest = (await client.getInfo()).height;
    const all = await client.batch<FullBlock | null>(Array.from({ length: latest + 1 }, (_, h) => ({ method: 'block_get', params: [h, { txs: 'none' }] })));
    const blocks = all.map((r) => (r as { result: FullBlock }).result);
    expectLinkedChain(blocks);
  }

  it(`keeps committed blocks and accepted txs across ${ROUNDS.length} kills, applying none twice`, async () => {
    const dataDir = join(await makeTempDir('kill9'), 'data');
    const exp: Expectation = { accepted: [], nonces: new Map(), balances: new Map(), blocks: new Map(), maxHeight: 0 };
    for (const k of SENDERS) exp.nonces.set(formatAddress(k.address), 0n);
    /** Txs re-admitted from the journal at each restart. */
    const restored: number[] = [];
    let chainId = 0;

    for (const [round, { batches, blocks: killAfterBlocks, blockTimeMs }] of ROUNDS.entries()) {
      const node = await startNode({ dataDir, args: nodeArgs(blockTimeMs) });
      const client = new PelClient(node.url);
      if (round > 0) {
        restored.push(restoredCount(node));
        await verify(client, exp);
      }
      chainId = (await client.getInfo()).chainId;

      // Pre-sign this round's stream so submission is fast: per batch, consecutive nonces from
      // every sender, interleaved, to this round's fresh recipients.
      const recipients = [generateKeyPair(), generateKeyPair(), generateKeyPair()].map((k) => k.address);
      for (const r of recipients) exp.balances.set(formatAddress(r), 0n);
      const nextNonce = new Map<KeyPair, bigint>(SENDERS.map((k) => [k, exp.nonces.get(formatAddress(k.address))!]));
      const stream: SignedTx[][] = [];
      for (let b = 0; b < batches; b++) {
        const batch: SignedTx[] = [];
        const perSender = b === batches - 1 ? TXS_PER_SENDER_LAST_BATCH : TXS_PER_SENDER_PER_BATCH;
        for (let j = 0; j < perSender; j++) {
          for (const [si, key] of SENDERS.entries()) {
            const nonce = nextNonce.get(key)!;
            nextNonce.set(key, nonce + 1n);
            batch.push(buildTransfer({ chainId, key, nonce, to: recipients[(j + si) % recipients.length]!, amount: BigInt(1 + ((b * 7 + j * 3 + si) % 11)), expiry: 1_000_000n }));
          }
        }
        stream.push(batch);
      }

      for (const [b, batch] of stream.entries()) {
        const results = await client.batch<{ hash: string }>(batch.map((t) => ({ method: 'tx_send', params: [hex(t.raw)] })));
        results.forEach((r, i) => {
          const tx = batch[i]!;
          if (!r.ok) throw new Error(`tx_send rejected in round ${round} batch ${b}: ${r.error.reason} ${r.error.message}`);
          expect(r.result.hash).toBe(hex(tx.hash));
          exp.accepted.push(r.result.hash);
          const from = formatAddress(tx.sender);
          exp.nonces.set(from, exp.nonces.get(from)! + 1n);
          const to = formatAddress(tx.args[0]!.value as Uint8Array);
          exp.balances.set(to, exp.balances.get(to)! + (tx.args[1]!.value as bigint));
        });
        if (b === stream.length - 1) break;
        await observeBlocks(client, exp);
      }
      if (killAfterBlocks > 0) {
        // Only read-only requests from here on: the set of accepted txs is final.
        const h0 = (await client.getInfo()).height;
        await waitFor(
          async () => (await client.getInfo()).height >= h0 + killAfterBlocks || (await client.request<{ total: number }>('mempool_status')).total === 0,
          { timeoutMs: 20_000, intervalMs: 2, what: `${killAfterBlocks} more blocks` },
        );
      }
      await observeBlocks(client, exp);
      await node.kill9();
      expect(node.proc.signalCode).toBe('SIGKILL');
    }

    // Final restart: everything accepted in every round is there exactly once.
    const last = await startNode({ dataDir, args: nodeArgs() });
    restored.push(restoredCount(last));
    const client = new PelClient(last.url);
    await verify(client, exp);
    expect(exp.accepted.length).toBe(ROUNDS.reduce((n, r) => n + (r.batches - 1) * TXS_PER_SENDER_PER_BATCH + TXS_PER_SENDER_LAST_BATCH, 0) * SENDERS.length);
    // The kills hit while accepted txs were still pending, so the journal path was exercised.
    expect(restored.filter((n) => n > 0).length, `txs restored per restart: ${restored.join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(await client.request('mempool_status')).toMatchObject({ total: 0 });
    expect(await last.stop('SIGINT')).toBe(0);
  });
});

describe('data dir handling', () => {
  it('--reset wipes the chain back to genesis', async () => {
    const node = await startNode({ args: ['--mining', 'manual'] });
    const client = new PelClient(node.url);
    const genesis = await client.getInfo();
    const to = generateKeyPair().address;
    const r = await client.sendRawTx(buildTransfer({ chainId: genesis.chainId, key: devKeyPair(0), nonce: 0n, to, amount: 5n, expiry: 100n }).raw);
    expect(await client.mine(3)).toEqual({ heights: [1, 2, 3] });
    expect(await node.stop()).toBe(0);

    const kept = await startNode({ dataDir: node.dataDir, args: ['--mining', 'manual'] });
    const c2 = new PelClient(kept.url);
    expect((await c2.getInfo()).height).toBe(3);
    expect(await c2.getReceipt(r.hash)).toMatchObject({ status: 'success' });
    expect(await kept.stop('SIGTERM')).toBe(0);

    const reset = await startNode({ dataDir: node.dataDir, args: ['--mining', 'manual', '--reset'] });
    expect(reset.stdout()).toMatch(/^ {2}height +0$/m);
    const c3 = new PelClient(reset.url);
    const info = await c3.getInfo();
    expect(info.height).toBe(0);
    expect(info.genesisHash).toBe(genesis.genesisHash);
    expect(info.stateRoot).toBe(genesis.stateRoot);
    expect(await c3.getReceipt(r.hash)).toBeNull();
    expect(await c3.getBlock(1)).toBeNull();
    expect((await c3.getAccount(to)).balance).toBe('0');
    expect(await reset.stop()).toBe(0);
  });

  it('a second node on the same data dir fails with a clear error and a non-zero exit', async () => {
    const first = await startNode({ args: ['--mining', 'manual'] });
    const client = new PelClient(first.url);
    await client.mine(2);
    const second = await runCli(['devnet', '--port', '0', '--data-dir', first.dataDir]);
    expect(second.code).not.toBe(0);
    expect(second.code).not.toBeNull();
    expect(second.stderr).toContain('STORE_OPEN_FAILED');
    expect(second.stderr).toContain(first.dataDir);
    expect(second.stderr).toContain('another pel node');
    expect(second.stdout).not.toMatch(/RPC +http/);
    // The first node is unharmed.
    expect((await client.getInfo()).height).toBe(2);
    expect(await client.mine()).toEqual({ heights: [3] });
    expect(await first.stop()).toBe(0);
  });

  // Regression: --reset used to delete the data dir before LevelDB's lock was taken, wiping a
  // running node's database.
  it('--reset on the data dir of a running node is refused and leaves its chain alone', async () => {
    const first = await startNode({ args: ['--mining', 'manual'] });
    const client = new PelClient(first.url);
    await client.mine(2);
    await expect(startNode({ dataDir: first.dataDir, args: ['--mining', 'manual', '--reset'] })).rejects.toThrow(/STORE_OPEN_FAILED/);
    await client.mine(1);
    expect(await first.stop()).toBe(0);
    const again = await startNode({ dataDir: first.dataDir, args: ['--mining', 'manual'] });
    expect((await new PelClient(again.url).getInfo()).height).toBe(3);
  });
});
