import { describe, expect, it } from 'vitest';
import { WORKER_YOUNG_GENERATION_MB } from '../../execution/parallel/executor.js';
import { devKeyPair } from '../../protocol/keys.js';
import { PelClient } from '../../sdk/client.js';
import { buildTransfer } from '../../sdk/tx.js';
import { startNode, useE2eCleanup } from './harness.js';

useE2eCleanup();

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(name + labels + ' ') || (labels === '' && l.startsWith(name + ' ')));
  if (!line) throw new Error(`metric ${name}${labels} not found`);
  return Number(line.split(' ')[1]);
}

describe('metrics', () => {
  it('serves Prometheus text with committed blocks, txs and the executor path of each block', async () => {
    const node = await startNode({ args: ['--mining', 'manual'] });
    const client = new PelClient(node.url);
    const { chainId, height } = await client.getInfo();
    const key = devKeyPair(3);
    const tx = buildTransfer({ chainId, key, nonce: 0n, to: devKeyPair(4).address, amount: 5n, expiry: BigInt(height) + 100n });
    await client.sendRawTx(tx.raw);
    await client.mine(2);
    const res = await fetch(new URL('/metrics', node.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(metric(text, 'pel_blocks_committed_total')).toBe(2);
    expect(metric(text, 'pel_txs_committed_total')).toBe(1);
    expect(metric(text, 'pel_chain_height')).toBe(height + 2);
    // Default executor is parallel; a 1-tx block is below the parallel threshold and says so.
    expect(metric(text, 'pel_executor_blocks_total', '{executor="parallel",path="small-block"}')).toBe(2);
    expect(metric(text, 'pel_executor_incarnations_total')).toBe(1);
    expect(text).toContain('pel_block_stage_seconds_bucket{le="0.0005",stage="execute"}');
    // Block time: two commits, one interval between them.
    expect(metric(text, 'pel_block_interval_seconds_count')).toBe(1);
    // The worker pool: its size, the tx's decode and signature check (ingest) on it, and each
    // worker's heap, whose young generation stays at the pool's cap.
    const workers = metric(text, 'pel_workers');
    expect(workers).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'pel_worker_busy_seconds_total', '{work="ingest"}')).toBeGreaterThan(0);
    expect(metric(text, 'pel_worker_busy_seconds_total', '{work="execute"}')).toBe(0); // 1-tx blocks run sequentially
    const young = [...text.matchAll(/^pel_worker_heap_bytes\{worker="(\d+)",space="new"\} (\d+)$/gm)];
    expect(young.length).toBeGreaterThanOrEqual(1); // every worker that has done a job or block
    for (const [, w, bytes] of young) {
      expect(Number(w)).toBeLessThan(workers);
      expect(Number(bytes)).toBeGreaterThan(0);
      expect(Number(bytes)).toBeLessThanOrEqual(WORKER_YOUNG_GENERATION_MB * 2 ** 20);
      expect(metric(text, 'pel_worker_heap_bytes', `{worker="${w}",space="used"}`)).toBeGreaterThan(0);
    }
  });
});
