/**
 * Back-pressure: submissions arrive much faster than blocks commit. The node answers the
 * excess with MEMPOOL_FULL (-32007, data.code "MEMPOOL_FULL"), keeps committing while it
 * does, and every tx it accepted is committed exactly once (the client retries the rejected
 * ones, as the error tells it to).
 */
import { describe, expect, it, vi } from 'vitest';
import { buildTransfer, devKeyPair, generateKeyPair, PelClient } from '../../sdk/index.js';
import type { SignedTx } from '../../protocol/tx.js';
import { postRaw, startNode, useE2eCleanup, waitFor } from './harness.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 30_000 });
useE2eCleanup();

const SENDERS = 40;
const PER_SENDER = 100;
const MEMPOOL_MAX = 600;
const BATCH = 400;

const hex = (b: Uint8Array): string => '0x' + Buffer.from(b).toString('hex');

describe('overload', () => {
  it('rejects with MEMPOOL_FULL, keeps committing, and commits every accepted tx exactly once', async () => {
    const node = await startNode({ args: ['--accounts', String(SENDERS), '--mempool-max', String(MEMPOOL_MAX), '--max-block-txs', '150', '--block-time', '100'] });
    const client = new PelClient(node.url);
    const info = await client.getInfo();
    const to = generateKeyPair().address;
    const txs: SignedTx[] = [];
    for (let n = 0; n < PER_SENDER; n++) {
      for (let s = 0; s < SENDERS; s++) {
        txs.push(buildTransfer({ chainId: info.chainId, key: devKeyPair(s), nonce: BigInt(n), to, amount: 1n, expiry: 1_000_000n, gasLimit: 100_000n, gasPrice: 1n }));
      }
    }
    const accepted = new Set<string>();
    let fullRejections = 0;
    const heightsDuringOverload = new Set<number>();
    let pending = txs;
    for (let round = 0; pending.length > 0; round++) {
      expect(round, 'every tx is eventually accepted').toBeLessThan(400);
      const next: SignedTx[] = [];
      for (let i = 0; i < pending.length; i += BATCH) {
        const chunk = pending.slice(i, i + BATCH);
        const body = JSON.stringify(chunk.map((t, k) => ({ jsonrpc: '2.0', id: k, method: 'tx_send', params: [hex(t.raw)] })));
        const res = await postRaw(node.url, body);
        expect(res.status).toBe(200);
        const replies = res.json as { id: number; result?: { hash: string }; error?: { code: number; data?: { code?: string } } }[];
        for (const r of replies) {
          const t = chunk[r.id]!;
          if (r.result) accepted.add(hex(t.hash));
          else {
            expect(r.error?.code, JSON.stringify(r.error)).toBe(-32007);
            expect(r.error?.data?.code).toBe('MEMPOOL_FULL');
            fullRejections++;
            next.push(t);
          }
        }
        if (fullRejections > 0) heightsDuringOverload.add((await client.getInfo()).height);
      }
      pending = next;
    }
    expect(fullRejections, 'the mempool overflowed').toBeGreaterThan(0);
    expect(heightsDuringOverload.size, 'blocks kept coming while the node rejected').toBeGreaterThan(1);
    expect(accepted.size).toBe(txs.length);

    // Every accepted tx committed exactly once: the chain holds exactly SENDERS * PER_SENDER txs and each has a receipt.
    await waitFor(async () => (await client.request<{ total: number }>('mempool_status', [])).total === 0, { timeoutMs: 60_000, what: 'empty mempool' });
    const head = (await client.getInfo()).height;
    let onChain = 0;
    const seen = new Set<string>();
    for (let h = 1; h <= head; h++) {
      const b = (await client.request('block_get', [h, { txs: 'hashes' }])) as { txs: string[] };
      for (const t of b.txs) {
        expect(seen.has(t), `tx ${t} committed twice`).toBe(false);
        seen.add(t);
        onChain++;
      }
    }
    expect(onChain).toBe(txs.length);
    for (const h of accepted) expect(seen.has(h), `accepted tx ${h} committed`).toBe(true);
    const acct = await client.getAccount(hex(to));
    expect(acct.balance).toBe(String(txs.length));
  });
});
