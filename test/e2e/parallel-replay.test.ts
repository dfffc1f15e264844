/**
 * The node's default executor is Block-STM. Blocks it produced must be exactly what the
 * sequential reference produces: stop the node, open its LevelDB, re-execute every block
 * from genesis sequentially, and require the same state root and receipts at every height.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../protocol/hex.js';
import { devKeyPair } from '../../protocol/keys.js';
import { v } from '../../protocol/value.js';
import { PelClient } from '../../sdk/client.js';
import { replayChain } from '../../bench/replay.js';
import { buildCall, buildTransfer } from '../../sdk/tx.js';
import { startNode, useE2eCleanup } from './harness.js';

useE2eCleanup();

describe('Block-STM in the running node', () => {
  it('produces blocks that a sequential replay from genesis reproduces exactly', async () => {
    const node = await startNode({ args: ['--accounts', '40', '--max-block-txs', '400', '--mining', 'manual'] });
    const client = new PelClient(node.url);
    const { chainId } = await client.getInfo();
    const senders = Array.from({ length: 40 }, (_, i) => devKeyPair(i));
    // Transfers among few recipients (contention on credits and fee sinks) plus token calls.
    const created = await client.sendRawTx(buildCall({ chainId, key: senders[0]!, nonce: 0n, module: 'token', call: 'create', args: [v.string('R'), v.string('R'), v.u64(0n), v.u128(0n)], expiry: 10_000n }).raw);
    await client.mine(1);
    const token = (await client.getReceipt(created.hash))!.events[0]!.fields.token!.value as string;
    const txs = [];
    const nonces = senders.map((_, i) => (i === 0 ? 1n : 0n));
    for (let round = 0; round < 30; round++) {
      for (let s = 0; s < senders.length; s++) {
        const key = senders[s]!;
        const to = senders[(s * 7 + round) % 5]!.address;
        if (s === 0 && round % 3 === 0) txs.push(buildCall({ chainId, key, nonce: nonces[s]!++, module: 'token', call: 'mint', args: [v.address(Buffer.from(token.slice(2), 'hex')), v.address(to), v.u128(BigInt(round + 1))], expiry: 10_000n }));
        else txs.push(buildTransfer({ chainId, key, nonce: nonces[s]!++, to, amount: BigInt(1 + ((round * s) % 50)), expiry: 10_000n }));
      }
    }
    for (let i = 0; i < txs.length; i += 200) {
      const res = await client.batch(txs.slice(i, i + 200).map((t) => ({ method: 'tx_send', params: [toHex(t.raw)] })));
      expect(res.every((r) => r.ok)).toBe(true);
    }
    while (((await client.request('mempool_status')) as { total: number }).total > 0) await client.mine(1);
    const metrics = await (await fetch(new URL('/metrics', node.url))).text();
    const parallelBlocks = Number(/pel_executor_blocks_total\{executor="parallel",path="parallel"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(parallelBlocks, 'at least one block must have gone through the Block-STM path').toBeGreaterThan(0);
    const head = (await client.getInfo()).height;
    expect(await node.stop()).toBe(0);

    // Sequential replay from the node's own database.
    const replay = await replayChain(node.dataDir);
    expect(replay.height).toBe(head);
    expect(replay.firstMismatch).toBeNull();
    expect(replay.rootsMatch && replay.receiptsMatch).toBe(true);
    expect(replay.txs).toBe(txs.length + 1);
  }, 180_000);
});
