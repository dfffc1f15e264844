import { describe, expect, it } from 'vitest';
import { runCli, startNode, useE2eCleanup } from './harness.js';

useE2eCleanup();

describe('pel demo', () => {
  it('passes against a fresh devnet: tokens, NFT royalties on every sale, DAO treasury and fees, staking rewards, the exchange, conservation', async () => {
    const node = await startNode();
    const r = await runCli(['demo', '--rpc', node.url], { timeoutMs: 120_000 });
    if (r.code !== 0) console.error(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('creator royalty on the resale = 5%');
    expect(r.stdout).toContain('PGOV: total supply = Σ balances + staked + locked');
    // The exchange: pool, swaps, the DAO switching the protocol fee on, batch settlement, mining, removal.
    expect(r.stdout).toContain('the pool-creation fee went to the DAO treasury');
    expect(r.stdout).toContain('the protocol fee share reached the DAO treasury');
    expect(r.stdout.match(/amm\.swap_batch .* success {2}filled/g)).toHaveLength(3);
    expect(r.stdout).toContain('its receipt carries the settlement');
    expect(r.stdout).toContain('the only staker earned the whole programme');
    expect(r.stdout).toContain('the LP burned its shares and got PGOV back');
    expect(r.stdout).toContain('LP token: total supply = Σ balances');
    expect(r.stdout).toMatch(/demo passed: \d+ transactions/);
    // A second run on the same chain is refused (the fee admin has moved to the DAO).
    const again = await runCli(['demo', '--rpc', node.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('needs a fresh devnet');
  }, 180_000);
});
