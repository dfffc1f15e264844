/**
 * The block-end phase of batch swaps (docs/EXECUTION.md "Block-end phase"; Penumbra's batch
 * swaps). During the block, `amm.swap_batch` only deposits: it debits the trader, credits
 * the pool's batch escrow by a delta and writes its own record `amm/batch/<pool>/<txHash>`,
 * so batch deposits never conflict with each other or with instant swaps. After the
 * block's last transaction, settleBatches clears every pool with queued swaps at one
 * price and empties the batches.
 *
 * Per pool, in ascending pool id order (the order of the keys):
 *   1. The oracle step of the pool's touch at this height (state.ts accrueOracle).
 *   2. Swaps past their deadline are refunded (DEADLINE_EXPIRED); all of them when the pool
 *      has no liquidity (INSUFFICIENT_LIQUIDITY).
 *   3. The clearing price of the remaining set (math.ts clearingPrice: the two directions
 *      net against each other, the net amount swaps against the curve, and every swap gets
 *      the price that net swap ends at). Swaps whose output at that price is below their
 *      min_out (MINIMUM_NOT_MET) or zero (ZERO_OUTPUT) are refunded, all at once, and the
 *      price is computed again for the rest, until every remaining swap is satisfied. The
 *      set only shrinks, so this ends after at most as many rounds as there are swaps.
 *   4. Each remaining swap receives floor(its input × the price); the pool takes what is
 *      left of the inputs and pays the rest; the protocol's share of the fee on the pool's
 *      net input goes to the treasury, as for an instant swap.
 *   5. Each swap's result is written under amm/result/<txHash> and reported by an
 *      `amm.batch_settled` event (in tx hash order) in the receipt of the tx that queued it;
 *      the pool's totals by `amm.batch_cleared`, in the receipt of the pool's queued swap
 *      with the lowest tx hash (after its batch_settled); the batch records are deleted.
 * Every step is a function of the set of queued swaps (sums and per-swap floors), never of
 * their order, so permuting the swaps of a block changes no swap's output.
 *
 * The executors run this as the amm module's block-end hook (Module.blockEnd; the
 * phase is execution/blockend.ts, docs/EXECUTION.md "Block-end phase"): once per block,
 * after the last transaction, unmetered (the swap_batch base gas pays for its share), on a
 * view over the pre-block state plus the block's write set, with ctx = { height: the
 * block's height, treasury: the fee parameters' treasury in force for the block }.
 * keysWithPrefix('amm/batch/') lists the records this block's transactions queued; since
 * every block's settlement deletes them all, that is every queued swap. settleBatches never
 * fails a bound on a consistent state; it throws only on a corrupt state (a record that
 * does not decode, a batch of a pool that does not exist), which is fatal, not a failed tx.
 */
import { fromHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { eventsOf } from '../args.js';
import type { BlockEndContext, BlockEndView } from '../types.js';
import { ExecutionFailure } from '../types.js';
import { clearingOut, clearingPrice, protocolCut, type ClearingPrice } from './math.js';
import {
  assetIn as assetInOf, assetOut as assetOutOf, BATCH_PREFIX, batchEscrow, creditAsset, decodeBatchSwap, encodeBatchResult,
  getParams, getPoolInfo, resultKey, takeAsset, touchReserves, writeReserves, type BatchSwap, type PoolInfo, type Reserves,
} from './state.js';

const event = eventsOf('amm');
/** resultKey(txHash) from the batch key's own hex tail (the same lower-case hex). */
const RESULT_PREFIX = resultKey(new Uint8Array(32)).slice(0, -64);

interface Queued {
  readonly key: string;
  readonly txHash: Uint8Array;
  readonly swap: BatchSwap;
}

/** The outcome of one pool's batch: per queued swap, its output or why it was refunded. */
export interface PoolClearing {
  readonly price: ClearingPrice | null;
  /** Per swap (same order as the input): amount out, or 0n with a refund code. */
  readonly results: readonly { readonly amountOut: bigint; readonly code: string }[];
}

/**
 * Steps 2-4 for one pool as a pure function of its reserves, fee and queued swaps (no
 * state): the part test/unit/contracts/amm-settle.test.ts permutes.
 */
export function clearBatch(swaps: readonly BatchSwap[], r: Pick<Reserves, 'reserve0' | 'reserve1'>, feeBps: bigint, height: bigint): PoolClearing {
  const code: string[] = swaps.map((s) => (s.deadline < height ? 'DEADLINE_EXPIRED' : r.reserve0 === 0n || r.reserve1 === 0n ? 'INSUFFICIENT_LIQUIDITY' : ''));
  const out: bigint[] = swaps.map(() => 0n);
  let price: ClearingPrice | null = null;
  for (;;) {
    let total0 = 0n;
    let total1 = 0n;
    swaps.forEach((s, i) => {
      if (code[i] !== '') return;
      if (s.direction === 0) total0 += s.amountIn;
      else total1 += s.amountIn;
    });
    price = clearingPrice(total0, total1, r.reserve0, r.reserve1, feeBps);
    if (price === null) break;
    let refunded = false;
    swaps.forEach((s, i) => {
      if (code[i] !== '') return;
      const o = clearingOut(price!, s.direction, s.amountIn);
      out[i] = o;
      if (o === 0n || o < s.minOut) {
        code[i] = o === 0n ? 'ZERO_OUTPUT' : 'MINIMUM_NOT_MET';
        refunded = true;
      }
    });
    if (!refunded) break;
  }
  return { price, results: swaps.map((_, i) => ({ amountOut: code[i] === '' ? out[i]! : 0n, code: code[i]! })) };
}

/** Settle every pool's batch of this block (see the file comment for the executors' contract). */
export function settleBatches(view: BlockEndView, ctx: BlockEndContext): void {
  const keys = view.keysWithPrefix(BATCH_PREFIX);
  for (let i = 0; i < keys.length; ) {
    const prefix = keys[i]!.slice(0, BATCH_PREFIX.length + 41); // amm/batch/<pool>/
    let j = i;
    while (j < keys.length && keys[j]!.startsWith(prefix)) j++;
    settlePool(view, ctx, fromHex(prefix.slice(BATCH_PREFIX.length, -1), 20, 'batch pool id'), keys.slice(i, j));
    i = j;
  }
}

function settlePool(view: BlockEndView, ctx: BlockEndContext, pool: Uint8Array, keys: readonly string[]): void {
  const info = getPoolInfo(view, pool);
  if (!info) throw new ExecutionFailure('CORRUPT_STATE', `batch swaps queued for a pool that does not exist: ${keys[0]}`);
  const queued: Queued[] = keys.map((key) => {
    const b = view.get(key);
    if (!b) throw new ExecutionFailure('CORRUPT_STATE', `keysWithPrefix listed ${key}, which holds no value`);
    return { key, txHash: fromHex(key.slice(-64), 32, 'batch tx hash'), swap: decodeBatchSwap(b) };
  });
  const before = touchReserves(view, pool, ctx.height);
  const { price, results } = clearBatch(queued.map((q) => q.swap), before, info.feeBps, ctx.height);

  // The escrow pays out everything queued: refunds and fills to the traders, the rest to the pool.
  const escrow = batchEscrow(pool);
  const queuedIn: [bigint, bigint] = [0n, 0n];
  const filledIn: [bigint, bigint] = [0n, 0n];
  const paidOut: [bigint, bigint] = [0n, 0n]; // by the asset paid: [asset0, asset1]
  queued.forEach(({ swap }, i) => {
    queuedIn[swap.direction] += swap.amountIn;
    if (results[i]!.code !== '') return;
    filledIn[swap.direction] += swap.amountIn;
    paidOut[1 - swap.direction] += results[i]!.amountOut;
  });
  takeAsset(view, info.asset0, escrow, queuedIn[0], 'INSUFFICIENT_LIQUIDITY');
  takeAsset(view, info.asset1, escrow, queuedIn[1], 'INSUFFICIENT_LIQUIDITY');

  queued.forEach(({ key, txHash, swap }, i) => {
    const { amountOut, code } = results[i]!;
    const refunded = code !== '';
    const assetIn = assetInOf(info, swap.direction);
    const assetOut = assetOutOf(info, swap.direction);
    if (refunded) creditAsset(view, assetIn, swap.trader, swap.amountIn);
    else creditAsset(view, assetOut, swap.trader, amountOut);
    view.set(key, null);
    view.set(`${RESULT_PREFIX}${key.slice(-64)}`, encodeBatchResult({ pool, trader: swap.trader, direction: swap.direction, amountIn: swap.amountIn, amountOut, height: ctx.height, code }));
    view.emitTo(txHash, event('batch_settled', {
      pool: v.address(pool), tx_hash: v.bytes(txHash), trader: v.address(swap.trader), asset_in: v.address(assetIn),
      amount_in: v.u128(swap.amountIn), asset_out: v.address(assetOut), amount_out: v.u128(amountOut), code: v.string(code),
    }));
  });

  // The pool's side: what the filled inputs leave after paying the fills; the protocol's
  // share of the fee on the pool's net input (only when one side outweighs the other).
  const net: [bigint, bigint] = [filledIn[0] - paidOut[0], filledIn[1] - paidOut[1]];
  const cut: [bigint, bigint] = [0n, 0n];
  const { protocolFeeBps } = getParams(view);
  if (price?.kind === 'heavy0') cut[0] = protocolCut(net[0], info.feeBps, protocolFeeBps);
  if (price?.kind === 'heavy1') cut[1] = protocolCut(net[1], info.feeBps, protocolFeeBps);
  movePool(view, info, pool, 0, net[0] - cut[0]);
  movePool(view, info, pool, 1, net[1] - cut[1]);
  creditAsset(view, info.asset0, ctx.treasury, cut[0]);
  creditAsset(view, info.asset1, ctx.treasury, cut[1]);
  const after: Reserves = { ...before, reserve0: before.reserve0 + net[0] - cut[0], reserve1: before.reserve1 + net[1] - cut[1] };
  writeReserves(view, pool, after);
  view.emitTo(queued[0]!.txHash, event('batch_cleared', {
    pool: v.address(pool), amount0_in: v.u128(filledIn[0]), amount1_in: v.u128(filledIn[1]), amount0_out: v.u128(paidOut[0]),
    amount1_out: v.u128(paidOut[1]), protocol_fee0: v.u128(cut[0]), protocol_fee1: v.u128(cut[1]),
    reserve0: v.u128(after.reserve0), reserve1: v.u128(after.reserve1),
  }));
}

/** Credit (amount > 0) or take (amount < 0) one asset of the pool account. */
function movePool(view: BlockEndView, info: PoolInfo, pool: Uint8Array, which: 0 | 1, amount: bigint): void {
  const asset = which === 0 ? info.asset0 : info.asset1;
  if (amount > 0n) creditAsset(view, asset, pool, amount);
  else takeAsset(view, asset, pool, -amount, 'INSUFFICIENT_LIQUIDITY');
}
