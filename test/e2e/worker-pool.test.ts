/**
 * Issue #14's fuzzer find against a real devnet: a `tx_send` of a 1,048,577-byte raw tx (a
 * ~2 MB JSON body, under the 8 MiB body limit) used to kill a pool worker, after which the
 * node ran sequentially until restarted while /health still said ok. Now such bytes are
 * refused before they reach the pool, which keeps every worker.
 */
import { describe, expect, it } from 'vitest';
import { devKeyPair } from '../../protocol/keys.js';
import { MAX_TX_BYTES } from '../../protocol/tx.js';
import { PelClient } from '../../sdk/client.js';
import { buildTransfer } from '../../sdk/tx.js';
import { startNode, useE2eCleanup } from './harness.js';

useE2eCleanup();

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.split(' ')[1]);
}

describe('worker pool against bad input', () => {
  it('a 1 MiB + 1 raw tx is INVALID_TX_ENCODING (TX_TOO_LARGE); the pool keeps both workers and transfers still commit', async () => {
    const node = await startNode({ args: ['--workers', '2'] });
    const post = async (body: string): Promise<{ status: number; json: { error?: { code: number; message: string; data: Record<string, unknown> } } }> => {
      const res = await fetch(node.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: res.status, json: (await res.json()) as never };
    };

    // The reproducer from the issue, byte for byte: the hex of 2^20 + 1 zero bytes.
    const reproducer = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_send', params: ['0x' + '00'.repeat(2 ** 20 + 1)] });
    expect(reproducer.length).toBeGreaterThan(2 * 2 ** 20);
    const big = await post(reproducer);
    expect(big.status).toBe(200);
    expect(big.json.error).toMatchObject({ code: -32001, data: { code: 'INVALID_TX_ENCODING', reason: 'TX_TOO_LARGE' } });
    // The edge of the length check: one byte over MAX_TX_BYTES is refused from the hex length,
    // MAX_TX_BYTES itself is decoded (on the pool) and refused for what it holds.
    const send = (id: number, bytes: number): Promise<Awaited<ReturnType<typeof post>>> => post(JSON.stringify({ jsonrpc: '2.0', id, method: 'tx_send', params: ['0x' + '00'.repeat(bytes)] }));
    expect((await send(3, MAX_TX_BYTES + 1)).json.error).toMatchObject({ code: -32001, data: { code: 'INVALID_TX_ENCODING', reason: 'TX_TOO_LARGE' } });
    expect((await send(4, MAX_TX_BYTES)).json.error).toMatchObject({ code: -32001, data: { code: 'INVALID_TX_ENCODING', reason: 'UNSUPPORTED_VERSION' } });
    // Too short to be a tx: refused the same way, with the decoder's reason.
    const short = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tx_send', params: ['0x' + '01'.repeat(100)] }));
    expect(short.json.error).toMatchObject({ code: -32001, data: { code: 'INVALID_TX_ENCODING', reason: 'DECODE_ERROR' } });

    const metrics = async (): Promise<string> => (await fetch(new URL('/metrics', node.url))).text();
    const after = await metrics();
    expect(metric(after, 'pel_workers')).toBe(2);
    expect(metric(after, 'pel_worker_restarts_total')).toBe(0);
    expect(await (await fetch(new URL('/health', node.url))).json()).toEqual({ status: 'ok' });
    const client = new PelClient(node.url);
    const info = (await client.request('chain_getInfo')) as Record<string, unknown>;
    expect(info).toMatchObject({ executor: 'parallel', executorStatus: 'parallel', workers: { configured: 2, inService: 2, restarts: 0 } });

    // A valid transfer still goes through the pool's ingestion and commits.
    const { chainId, height } = await client.getInfo();
    const tx = buildTransfer({ chainId, key: devKeyPair(1), nonce: 0n, to: devKeyPair(2).address, amount: 1234n, expiry: BigInt(height) + 100n });
    const receipt = await client.sendRawTxAndWait(tx.raw);
    expect(receipt.status).toBe('success');
    const end = await metrics();
    expect(metric(end, 'pel_workers')).toBe(2);
    expect(metric(end, 'pel_worker_restarts_total')).toBe(0);
    expect(node.stderr()).not.toMatch(/worker exited|out of service/);
    expect(await node.stop()).toBe(0);
  }, 120_000);
});
