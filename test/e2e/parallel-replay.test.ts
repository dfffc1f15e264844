/**
 * The node's default executor is Block-STM. Blocks it produced must be exactly what the
 * sequential reference produces: stop the node, open its LevelDB, re-execute every block
 * from genesis sequentially, and require the same state root and receipts at every height.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../protocol/hex.js';
import { devKeyPair } from '../../protocol/keys.js';
import { decodeBlock } from '../../protocol/block.js';
import { v } from '../../protocol/value.js';
import { decodeFeeParams, FEE_PARAMS_KEY } from '../../contracts/fee/params.js';
import { builtinModules } from '../../contracts/registry.js';
import { genesisWriteSet, parseGenesis } from '../../consensus/genesis.js';
import { decodeGasSchedule, GAS_SCHEDULE_KEY } from '../../execution/gas.js';
import { executeBlockSequential } from '../../execution/sequential.js';
import { ChainStore } from '../../state/store.js';
import { WorldState } from '../../state/world.js';
import { PelClient } from '../../sdk/client.js';
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
    const store = await ChainStore.open({ path: node.dataDir });
    try {
      const genesis = parseGenesis(JSON.parse((await store.getGenesisJson())!));
      const world = WorldState.empty();
      world.commit(world.prepare(genesisWriteSet(genesis)));
      let replayed = 0;
      for (let h = 1n; h <= BigInt(head); h++) {
        const block = decodeBlock((await store.getBlockBytes(h))!);
        const params = { fee: decodeFeeParams(world.get(FEE_PARAMS_KEY)!), gas: decodeGasSchedule(world.get(GAS_SCHEDULE_KEY)!) };
        const ctx = { chainId: genesis.chainId, height: h, timestamp: block.header.timestamp, proposer: block.header.proposer, params };
        const r = executeBlockSequential(ctx, block.txs, world, builtinModules);
        expect(r.outcomes.every((o) => o.kind === 'included'), `block ${h} holds no discarded tx`).toBe(true);
        const stored = (await store.getReceipts(h))!;
        r.outcomes.forEach((o, i) => expect(o.kind === 'included' && toHex(o.encoded), `receipt ${i} of block ${h}`).toBe(toHex(stored[i]!)));
        const prepared = world.prepare(r.writeSet);
        expect(toHex(prepared.root), `state root at height ${h}`).toBe(toHex(block.header.stateRoot));
        world.commit(prepared);
        replayed += block.txs.length;
      }
      expect(replayed).toBe(txs.length + 1);
    } finally {
      await store.close();
    }
  }, 180_000);
});
