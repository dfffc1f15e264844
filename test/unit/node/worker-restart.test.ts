/**
 * A whole node (from dist/, so its pool runs the compiled workers) loses a worker while
 * submissions and blocks are in flight: the pool gets back to full size, the restart shows in
 * pel_worker_restarts_total, /health and chain_getInfo, every submitted tx is committed exactly
 * once, and the chain on disk equals a sequential replay from genesis.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as ExecutorModule from '../../../execution/parallel/executor.js';
import type * as ConfigModule from '../../../node/config.js';
import type * as NodeModule from '../../../node/node.js';
import { replayChain } from '../../../bench/replay.js';
import { toHex, toHexRaw } from '../../../protocol/hex.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { silentLogger } from '../../../protocol/logger.js';
import type { SignedTx } from '../../../protocol/tx.js';
import { PelClient } from '../../../sdk/client.js';
import { buildTransfer } from '../../../sdk/tx.js';
import { waitFor } from '../../e2e/harness.js';
import { assertDistFresh } from '../execution/parallel/dist.js';

const SENDERS = 40;

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.split(' ')[1]);
}

describe('a node whose pool loses a worker under load', () => {
  let root: string;
  let PelNode: typeof NodeModule.PelNode;
  let config: typeof ConfigModule.DEFAULT_CONFIG;
  beforeAll(async () => {
    assertDistFresh(['protocol', 'state', 'contracts', 'execution', 'consensus', 'p2p', 'node']);
    root = await mkdtemp(join(tmpdir(), 'pel-worker-restart-'));
    PelNode = ((await import('../../../dist/node/node.js' as string)) as typeof NodeModule).PelNode;
    config = ((await import('../../../dist/node/config.js' as string)) as typeof ConfigModule).DEFAULT_CONFIG;
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('replaces it, commits every tx exactly once, and its blocks replay sequentially to the same roots and receipts', async () => {
    const dataDir = join(root, 'data');
    const node = await PelNode.start({ ...config, port: 0, dataDir, accounts: SENDERS, workers: 2, warmupTxs: 0, maxBlockTxs: 200, logLevel: 'error' }, silentLogger);
    let stopped = false;
    try {
      const ex = node.executor as unknown as ExecutorModule.ParallelExecutor;
      const client = new PelClient(node.rpcUrl);
      const { chainId } = await client.getInfo();
      const nonces = new Array<bigint>(SENDERS).fill(0n);
      const round = (perSender: number): SignedTx[] => {
        const txs: SignedTx[] = [];
        for (let r = 0; r < perSender; r++) {
          for (let s = 0; s < SENDERS; s++) txs.push(buildTransfer({ chainId, key: devKeyPair(s), nonce: nonces[s]!++, to: devKeyPair((s * 7 + r) % SENDERS).address, amount: BigInt(1 + r), expiry: 1_000_000n }));
        }
        return txs;
      };
      const send = async (txs: readonly SignedTx[]): Promise<void> => {
        const res = await client.batch(txs.map((t) => ({ method: 'tx_send', params: [toHex(t.raw)] })));
        expect(res.filter((r) => !r.ok)).toEqual([]);
      };

      // Batches of 100 submissions, two in flight at a time, blocks of up to 200 built as they
      // arrive; worker 1 is killed after the fifth batch went out, with the sixth right behind it.
      const all = round(30);
      const batches = Array.from({ length: all.length / 100 }, (_, i) => all.slice(i * 100, (i + 1) * 100));
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < batches.length; i++) {
        inFlight.push(send(batches[i]!));
        if (i === 5) await ex.killWorkerForTest(1);
        if (inFlight.length >= 2) await inFlight.shift();
      }
      await Promise.all(inFlight);

      await waitFor(() => ex.poolStats().workers === 2, { what: 'worker 1 replaced', timeoutMs: 30_000 });
      expect(ex.poolStats()).toMatchObject({ configured: 2, workers: 2, restarts: 1, lost: null });
      // Blocks run on the pool again once it is back: more txs, at least one more parallel block.
      const parallelBlocks = async (): Promise<number> => {
        const m = /pel_executor_blocks_total\{executor="parallel",path="parallel"\} (\d+)/.exec((await node.metrics.render()).body);
        return Number(m?.[1] ?? 0);
      };
      const before = await parallelBlocks();
      const more = round(10);
      await send(more);
      const txs = [...all, ...more];
      await waitFor(async () => node.mempool.size === 0 && (await node.chain.getTxLocation(txs.at(-1)!.hash)) !== undefined, { what: 'every tx committed', timeoutMs: 60_000 });
      expect(await parallelBlocks()).toBeGreaterThan(before);

      // Every tx committed exactly once: each has a location, and the blocks hold no more txs than were sent.
      const seen = new Set<string>();
      for (const t of txs) {
        const loc = await node.chain.getTxLocation(t.hash);
        expect(loc, `tx ${toHex(t.hash)} committed`).toBeDefined();
        seen.add(toHexRaw(t.hash));
      }
      let inBlocks = 0;
      for (let h = 1n; h <= node.chain.height; h++) inBlocks += (await node.chain.getBlock(h))!.block.txs.length;
      expect(inBlocks).toBe(txs.length);
      expect(seen.size).toBe(txs.length);

      const text = (await node.metrics.render()).body;
      expect(metric(text, 'pel_workers')).toBe(2);
      expect(metric(text, 'pel_worker_restarts_total')).toBe(1);
      expect(metric(text, 'pel_txs_committed_total')).toBe(txs.length);
      expect(await (await fetch(new URL('/health', node.rpcUrl))).json()).toEqual({ status: 'ok' });
      expect(await client.request('chain_getInfo')).toMatchObject({ executorStatus: 'parallel', workers: { configured: 2, inService: 2, restarts: 1 } });

      const height = Number(node.chain.height);
      await node.stop();
      stopped = true;
      const replay = await replayChain(dataDir);
      expect(replay.height).toBe(height);
      expect(replay.firstMismatch).toBeNull();
      expect(replay.rootsMatch && replay.receiptsMatch).toBe(true);
      expect(replay.txs).toBe(txs.length);
    } finally {
      if (!stopped) await node.stop();
    }
  }, 180_000);
});
