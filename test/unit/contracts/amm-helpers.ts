/**
 * Helpers for the amm tests: a test chain on harness.ts's Chain (whose executor settles
 * batch swaps in the block-end phase), a Map-backed BlockEndView for settlement on its own,
 * genesis tokens, and the conservation audit of every asset.
 */
import { expect } from 'vitest';
import { decodeU128, encodeU128 } from '../../../protocol/codec.js';
import { toHexRaw } from '../../../protocol/hex.js';
import type { KeyPair } from '../../../protocol/keys.js';
import type { Event } from '../../../protocol/receipt.js';
import type { Value } from '../../../protocol/value.js';
import { ammModule } from '../../../contracts/amm/module.js';
import {
  assetBalanceKey, BATCH_PREFIX, batchEscrow, decodeAccrual, decodeBatchSwap, decodePoolInfo, decodeProgramme, decodeReserves, rewardAccount, stakeEscrow,
} from '../../../contracts/amm/state.js';
import { decodePosition, pendingRewards } from '../../../contracts/rewards.js';
import { encodeTokenInfo, NO_AUTHORITY, tokenBalanceKey, tokenInfoKey, tokenSupplyKey } from '../../../contracts/token/state.js';
import { applyDeltas } from '../../../execution/view.js';
import { ExecutionFailure, type BlockEndView } from '../../../contracts/types.js';
import { benchContext } from '../../../bench/workload.js';
import { Chain } from './harness.js';
import { coinTotal, type Sent, type TestChain } from './module-test-helpers.js';

/** A BlockEndView over a plain map: eager deltas, events collected, prefix listing by sorting. */
export class MapBlockEndView implements BlockEndView {
  readonly events: Event[] = [];
  /** Per event (same index as `events`), the tx hash it was attributed to. */
  readonly attributedTo: Uint8Array[] = [];
  /** Keys written (null = deleted), in write order, so a test can build a write set. */
  readonly writes = new Map<string, Uint8Array | null>();
  constructor(readonly state: Map<string, Uint8Array>) {}
  get(key: string): Uint8Array | undefined {
    return this.state.get(key);
  }
  set(key: string, value: Uint8Array | null): void {
    if (value === null) this.state.delete(key);
    else this.state.set(key, value);
    this.writes.set(key, value);
  }
  addDelta(key: string, amount: bigint, errorCode = 'ARITHMETIC_OVERFLOW', max?: bigint): void {
    if (amount === 0n) return;
    const r = applyDeltas(decodeU128(this.state.get(key)), [max === undefined ? [amount, errorCode] : [amount, errorCode, max]]);
    if (!r.ok) throw new ExecutionFailure(r.code, `delta ${amount} on ${key}`);
    this.set(key, encodeU128(r.value));
  }
  emit(event: Event): void {
    throw new Error(`block-end events are attributed (emitTo): ${event.name}`);
  }
  emitTo(txHash: Uint8Array, event: Event): void {
    this.events.push(event);
    this.attributedTo.push(txHash);
  }
  keysWithPrefix(prefix: string): readonly string[] {
    return [...this.state.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

export const TREASURY = benchContext().params.fee.treasury;

/** A token in genesis: info (no mint authority), balances and the matching supply. */
export function addToken(m: Map<string, Uint8Array>, id: Uint8Array, holders: readonly (readonly [Uint8Array, bigint])[], symbol = 'TKN'): void {
  m.set(tokenInfoKey(id), encodeTokenInfo({ name: symbol, symbol, decimals: 0, maxSupply: 0n, mintAuthority: NO_AUTHORITY, creator: NO_AUTHORITY }));
  let supply = decodeU128(m.get(tokenSupplyKey(id)));
  for (const [a, n] of holders) {
    m.set(tokenBalanceKey(id, a), encodeU128(decodeU128(m.get(tokenBalanceKey(id, a))) + n));
    supply += n;
  }
  m.set(tokenSupplyKey(id), encodeU128(supply));
}

/** harness.ts's Chain with module-test-helpers' send / ok, views, and the block-end events of the last block. */
export class AmmChain extends Chain implements TestChain {
  /**
   * The last block's settlement events (batch_settled / batch_cleared, taken from the
   * receipts they were attributed to) in emission order: per pool, its swaps by tx hash,
   * then the pool's batch_cleared.
   */
  lastSettlement: Event[] = [];
  readonly coinSupply: bigint;

  constructor(funded: readonly KeyPair[], extra: Map<string, Uint8Array> = new Map()) {
    super(funded, extra);
    this.coinSupply = coinTotal(this.state);
  }

  block(txs: ReturnType<Chain['tx']>[]): Sent[] {
    const r = this.run(...txs);
    this.lastSettlement = settlementEvents(r.outcomes.flatMap((o) => (o.kind === 'included' ? o.receipt.events : [])));
    return r.outcomes.map((o, i) => {
      if (o.kind !== 'included') throw new Error(`tx ${i} discarded: ${o.code} ${o.message}`);
      return { tx: txs[i]!, receipt: o.receipt };
    });
  }

  send(key: KeyPair, module: string, call: string, args: readonly Value[]): Sent {
    return this.block([this.tx(key, module, call, [...args], 2_000_000n)])[0]!;
  }

  ok(key: KeyPair, module: string, call: string, args: readonly Value[]): Sent {
    const s = this.send(key, module, call, args);
    if (s.receipt.status !== 'success') throw new Error(`${module}.${call} failed with ${s.receipt.errorCode}`);
    return s;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  view(name: string, args: readonly (Uint8Array | bigint | string)[]): any {
    return ammModule.views![name]!.run({ get: (k) => this.state.get(k) }, args, { height: this.height });
  }

  bal(asset: Uint8Array, owner: Uint8Array): bigint {
    return decodeU128(this.state.get(assetBalanceKey(asset, owner)));
  }
}

const hexField = (e: Event, name: string): string => toHexRaw(e.fields.find((f) => f.name === name)!.value.value as Uint8Array);

/** The settlement events among `events`, in settlement's emission order (pool, then tx hash; the pool's batch_cleared last). */
export function settlementEvents(events: readonly Event[]): Event[] {
  const settled = events.filter((e) => e.module === 'amm' && e.name === 'batch_settled');
  const cleared = events.filter((e) => e.module === 'amm' && e.name === 'batch_cleared');
  const key = (e: Event): string => `${hexField(e, 'pool')}/${e.name === 'batch_settled' ? hexField(e, 'tx_hash') : 'z'}`;
  return [...settled, ...cleared].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
}

/**
 * Every asset is conserved and every exchange account covers its books: native coin =
 * genesis supply (balances + burned); each token's supply = Σ balances (+ staking and DAO
 * escrows, unused here); each pool account holds at least its reserves, each batch escrow
 * at least its queued swaps.
 */
export function checkAmmInvariants(state: Map<string, Uint8Array>, coinSupply: bigint, tokens: readonly Uint8Array[]): void {
  expect(coinTotal(state), 'native coin: balances + burned').toBe(coinSupply);
  const lpTokens: Uint8Array[] = [];
  for (const [k, val] of state) {
    if (!k.startsWith('amm/pool/')) continue;
    const pool = Uint8Array.from(Buffer.from(k.slice('amm/pool/'.length), 'hex'));
    const info = decodePoolInfo(val);
    lpTokens.push(info.lpToken);
    const rb = state.get(`amm/reserves/${k.slice('amm/pool/'.length)}`);
    const r = rb ? decodeReserves(rb) : { reserve0: 0n, reserve1: 0n };
    const held = (a: Uint8Array, who: Uint8Array): bigint => decodeU128(state.get(assetBalanceKey(a, who)));
    expect(held(info.asset0, pool), 'pool account >= reserve0').toBeGreaterThanOrEqual(r.reserve0);
    expect(held(info.asset1, pool), 'pool account >= reserve1').toBeGreaterThanOrEqual(r.reserve1);
    let q0 = 0n;
    let q1 = 0n;
    for (const [bk, bv] of state) {
      if (!bk.startsWith(`${BATCH_PREFIX}${toHexRaw(pool)}/`)) continue;
      const s = decodeBatchSwap(bv);
      if (s.direction === 0) q0 += s.amountIn;
      else q1 += s.amountIn;
    }
    expect(held(info.asset0, batchEscrow(pool)), 'batch escrow >= queued asset0').toBeGreaterThanOrEqual(q0);
    expect(held(info.asset1, batchEscrow(pool)), 'batch escrow >= queued asset1').toBeGreaterThanOrEqual(q1);
  }
  // Each programme: the stake escrow holds the staked LP tokens, the reward account covers
  // everything owed (claimable + pending at the stored accumulator + undistributed).
  for (const [k, val] of state) {
    if (!k.startsWith('amm/programme/')) continue;
    const idHex = k.slice('amm/programme/'.length);
    const id = Uint8Array.from(Buffer.from(idHex, 'hex'));
    const p = decodeProgramme(val);
    const acc = state.get(`amm/accrual/${idHex}`);
    const { acc: a, undistributed } = acc ? decodeAccrual(acc) : { acc: 0n, undistributed: 0n };
    let owed = undistributed;
    let staked = 0n;
    for (const [sk, sv] of state) {
      if (!sk.startsWith(`amm/stake/${idHex}/`)) continue;
      const pos = decodePosition(sv);
      owed += pos.claimable + pendingRewards(pos, a);
      staked += pos.staked;
    }
    expect(decodeU128(state.get(`amm/staked/${idHex}`)), 'programme total = Σ stakes').toBe(staked);
    expect(decodeU128(state.get(assetBalanceKey(p.lpToken, stakeEscrow(id)))), 'stake escrow >= staked').toBeGreaterThanOrEqual(staked);
    expect(decodeU128(state.get(assetBalanceKey(p.rewardAsset, rewardAccount(id)))), 'reward account >= owed').toBeGreaterThanOrEqual(owed);
  }
  for (const t of [...tokens, ...lpTokens]) {
    const prefix = `token/balance/${toHexRaw(t)}/`;
    let sum = 0n;
    for (const [k, val] of state) if (k.startsWith(prefix)) sum += decodeU128(val);
    expect(sum, `token ${toHexRaw(t)}: Σ balances = supply`).toBe(decodeU128(state.get(tokenSupplyKey(t))));
  }
}
