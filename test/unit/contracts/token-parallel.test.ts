/**
 * Token calls under Block-STM: random blocks of mints (racing a small max supply: the
 * bounded supply delta), burns, transfers, approvals and transfer_from over few accounts
 * give exactly the sequential result.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeU128 } from '../../../protocol/codec.js';
import type { SignedTx } from '../../../protocol/tx.js';
import { v } from '../../../protocol/value.js';
import { builtinModules } from '../../../contracts/registry.js';
import { encodeTokenInfo, tokenAllowanceKey, tokenBalanceKey, tokenInfoKey, tokenSupplyKey } from '../../../contracts/token/state.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import type * as ExecutorModule from '../../../execution/parallel/executor.js';
import { scratchState } from '../../../bench/scratch-state.js';
import { benchGenesisState } from '../../../bench/workload.js';
import { assertDistFresh } from '../execution/parallel/dist.js';
import { CTX, diffExecutions, key } from '../execution/parallel/gen.js';

const ACCOUNTS = 4;
const TOKENS = [new Uint8Array(20).fill(0xa1), new Uint8Array(20).fill(0xa2)];
const MAX = [600n, 0n]; // token 0: small max supply; token 1: unlimited

/** The genesis state of these blocks. */
function genesis(): Map<string, Uint8Array> {
  const m = benchGenesisState(Array.from({ length: ACCOUNTS }, (_, i) => key(i)));
  TOKENS.forEach((t, j) => {
    m.set(tokenInfoKey(t), encodeTokenInfo({ name: `T${j}`, symbol: `T${j}`, decimals: 0, maxSupply: MAX[j]!, mintAuthority: key(0).address, creator: key(0).address }));
    // Supply 560 of 600 for token 0: a few mints reach the bound.
    m.set(tokenSupplyKey(t), encodeU128(560n));
    for (let i = 0; i < ACCOUNTS; i++) m.set(tokenBalanceKey(t, key(i).address), encodeU128(140n));
    m.set(tokenAllowanceKey(t, key(1).address, key(2).address), encodeU128(150n));
  });
  return m;
}

const callArb = fc.record({
  sender: fc.integer({ min: 0, max: ACCOUNTS - 1 }),
  kind: fc.constantFrom('mint', 'mint', 'burn', 'transfer', 'transfer', 'approve', 'transfer_from', 'set_mint_authority'),
  token: fc.integer({ min: 0, max: 1 }),
  a: fc.integer({ min: 0, max: ACCOUNTS - 1 }),
  b: fc.integer({ min: 0, max: ACCOUNTS - 1 }),
  amount: fc.bigInt({ min: 0n, max: 120n }),
});

function block(specs: fc.RecordValue<typeof callArb extends fc.Arbitrary<infer T> ? T : never>[]): SignedTx[] {
  const nonces = new Array<bigint>(ACCOUNTS).fill(0n);
  return specs.map((s) => {
    const t = v.address(TOKENS[s.token]!);
    const A = v.address(key(s.a).address);
    const B = v.address(key(s.b).address);
    const amt = v.u128(s.amount);
    const args = {
      mint: [t, A, amt], burn: [t, amt], transfer: [t, A, amt], approve: [t, A, amt],
      transfer_from: [t, A, B, amt], set_mint_authority: [t, A],
    }[s.kind]!;
    // Most mints come from the mint authority (account 0), so they succeed until the bound.
    const sender = s.kind === 'mint' && s.b !== 3 ? 0 : s.sender;
    return buildTx(sender, nonces[sender]!++, s.kind, args);
  });
}

let buildTx: (sender: number, nonce: bigint, call: string, args: ReturnType<typeof v.u128>[]) => SignedTx;

describe('token calls: parallel == sequential', () => {
  let ex: ExecutorModule.ParallelExecutor;
  beforeAll(async () => {
    assertDistFresh();
    const { ParallelExecutor } = (await import('../../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule;
    ex = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000, modules: 'builtin' });
    const { buildCall } = await import('../../../sdk/tx.js');
    buildTx = (sender, nonce, call, args) => buildCall({ chainId: 1337, key: key(sender), nonce, module: 'token', call, args, expiry: 1_000_000n, gasLimit: 100_000n });
  });
  afterAll(async () => ex?.close());

  it('random token blocks over 4 accounts and a 600-unit max supply', async () => {
    let maxSupplyHits = 0;
    let parallelRuns = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 60 }), async (specs) => {
        // A real LMDB state store (the workers read it), removed after the run.
        const state = await scratchState(genesis());
        const w = state.world;
        const txs = block(specs);
        const seq = executeBlockSequential(CTX, txs, w, builtinModules);
        let d: string | null;
        let par;
        try {
          par = await ex.execute(CTX, txs, w);
          d = diffExecutions(seq, par, w);
        } finally {
          await state.close();
        }
        if (d) throw new Error(d);
        if (par.stats.fallback === null) parallelRuns++;
        maxSupplyHits += seq.outcomes.filter((o) => o.kind === 'included' && o.receipt.errorCode === 'MAX_SUPPLY_EXCEEDED').length;
      }),
      { numRuns: 120, seed: 4242 },
    );
    // The interesting paths really ran: parallel (not the fallback) and the supply bound.
    expect(parallelRuns).toBeGreaterThan(60);
    expect(maxSupplyHits).toBeGreaterThan(10);
  });
});
