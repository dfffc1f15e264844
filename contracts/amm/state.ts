/**
 * Exchange state: layout, canonical encodings, derived accounts and the asset moves the
 * calls and the block-end settlement share (docs/MODULES.md, "amm"). <pool>, <id>,
 * <staker> are 40 lower-case hex digits, <txHash> 64.
 *
 *   amm/params                      u16 protocolFeeBps | u128 poolCreationFee   (absent = defaults)
 *   amm/pool/<pool>                 [20] asset0 | [20] asset1 | u16 feeBps | [20] lpToken | [20] creator
 *                                   (written once by create_pool, never changed)
 *   amm/reserves/<pool>             u128 reserve0 | u128 reserve1 | u256 price0Cumulative
 *                                   | u256 price1Cumulative | u64 lastHeight   (absent = all 0)
 *   amm/batch/<pool>/<txHash>       [20] trader | u8 direction | u128 amountIn | u128 minOut
 *                                   | u64 deadline | u64 height   (a queued batch swap; deleted by settlement)
 *   amm/result/<txHash>             [20] pool | [20] trader | u8 direction | u128 amountIn
 *                                   | u128 amountOut | u64 height | name code   (written by settlement)
 *   amm/programme/<id>              [20] pool | [20] lpToken | [20] rewardAsset | u128 amount
 *                                   | u64 start | u64 end | [20] funder   (never changed)
 *   amm/accrual/<id>                u128 accRewardPerShare | u128 undistributed | u64 lastHeight
 *   amm/staked/<id>                 u128 LP tokens staked in the programme (delta counter)
 *   amm/stake/<id>/<staker>         u128 staked | u128 accAtSettle | u128 claimable (contracts/rewards.ts)
 *
 * u256 is 32 bytes little-endian. Every asset the exchange holds is an ordinary balance
 * (coin/balance/<account> or token/balance/<asset>/<account>) of an account nobody has a
 * key for: the pool id itself holds the reserves, batchEscrow(pool) the queued batch
 * swaps, stakeEscrow(id) and rewardAccount(id) a programme's staked LP tokens and rewards.
 * So every asset's supply audit (chain_getSupply) holds unchanged. An asset sent to one of
 * these accounts by a plain transfer is never counted in a reserve: it stays there.
 *
 * The pool record never changes and the reserves live apart from it, so batch deposits
 * (which read the record) never conflict with swaps (which rewrite the reserves).
 */
import { decodeU128, Reader, U128_MAX, Writer } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import { addressHex, bytesEqual, toHexRaw } from '../../protocol/hex.js';
import { balanceKey, credit, debit } from '../coin/state.js';
import { deriveId } from '../ids.js';
import { decodePosition, EMPTY_POSITION, encodePosition, type Position } from '../rewards.js';
import { creditToken, debitToken, requireToken, tokenBalanceKey } from '../token/state.js';
import { ExecutionFailure, type StateView } from '../types.js';
import { accumulate, priceQ64 } from './math.js';

type Reads = Pick<StateView, 'get'>;

/** The asset id of the native coin (as in nft listings). */
export const NATIVE = new Uint8Array(20);
/** Holder of the MINIMUM_LIQUIDITY shares of every pool: the all-zero address, which no key controls. */
export const DEAD_ADDRESS = new Uint8Array(20);
/** Pool-creation fee (native coin, to the protocol treasury) while `amm/params` is absent. */
export const DEFAULT_POOL_CREATION_FEE = 1_000_000n;
/** Most pools a multi-hop swap may cross. */
export const MAX_PATH = 4;

export const PARAMS_KEY = 'amm/params';
export const poolKey = (pool: Uint8Array): string => `amm/pool/${addressHex(pool)}`;
export const reservesKey = (pool: Uint8Array): string => `amm/reserves/${addressHex(pool)}`;
/** Prefix of every queued batch swap (the block-end phase lists it). */
export const BATCH_PREFIX = 'amm/batch/';
export const batchPoolPrefix = (pool: Uint8Array): string => `${BATCH_PREFIX}${addressHex(pool)}/`;
export const batchKey = (pool: Uint8Array, txHash: Uint8Array): string => `${batchPoolPrefix(pool)}${toHexRaw(txHash)}`;
export const resultKey = (txHash: Uint8Array): string => `amm/result/${toHexRaw(txHash)}`;
export const programmeKey = (id: Uint8Array): string => `amm/programme/${addressHex(id)}`;
export const accrualKey = (id: Uint8Array): string => `amm/accrual/${addressHex(id)}`;
export const stakedKey = (id: Uint8Array): string => `amm/staked/${addressHex(id)}`;
export const stakeKey = (id: Uint8Array, staker: Uint8Array): string => `amm/stake/${addressHex(id)}/${addressHex(staker)}`;

// ---- derived ids and accounts -----------------------------------------------------------

/** Byte order of asset ids; a pool's asset0 is the lower one. */
export function compareAssets(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 20; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * The pool of a pair and fee tier: SHA-256("pel:amm-pool" || asset0 || asset1 || u8 feeBps)[0..20]
 * with asset0 < asset1, so each pair and tier has exactly one pool. Also the account that
 * holds the pool's reserves.
 */
export function poolId(asset0: Uint8Array, asset1: Uint8Array, feeBps: bigint): Uint8Array {
  const pair = new Uint8Array(40);
  pair.set(asset0, 0);
  pair.set(asset1, 20);
  return deriveId('amm-pool', pair, Number(feeBps));
}

/** The pool's LP token: SHA-256("pel:amm-lp" || pool || 0x00)[0..20]. */
export const lpTokenId = (pool: Uint8Array): Uint8Array => deriveId('amm-lp', pool);
/** The account escrowing a pool's queued batch swaps: SHA-256("pel:amm-batch" || pool || 0x00)[0..20]. */
export const batchEscrow = (pool: Uint8Array): Uint8Array => deriveId('amm-batch', pool);
/** The account holding the LP tokens staked in a programme. */
export const stakeEscrow = (programme: Uint8Array): Uint8Array => deriveId('amm-stake', programme);
/** The account holding a programme's rewards. */
export const rewardAccount = (programme: Uint8Array): Uint8Array => deriveId('amm-rewards', programme);

// ---- assets: the native coin or a token --------------------------------------------------

export const isNative = (asset: Uint8Array): boolean => bytesEqual(asset, NATIVE);

export function assetBalanceKey(asset: Uint8Array, owner: Uint8Array): string {
  return isNative(asset) ? balanceKey(owner) : tokenBalanceKey(asset, owner);
}

export function assetBalance(view: Reads, asset: Uint8Array, owner: Uint8Array): bigint {
  return decodeU128(view.get(assetBalanceKey(asset, owner)));
}

/** Fails with TOKEN_NOT_FOUND unless `asset` is the native coin or an existing token. */
export function requireAsset(view: Reads, asset: Uint8Array): void {
  if (!isNative(asset)) requireToken(view, asset);
}

/** Checked read-modify-write debit of a user (INSUFFICIENT_BALANCE / INSUFFICIENT_TOKEN_BALANCE). */
export function debitAsset(view: StateView, asset: Uint8Array, from: Uint8Array, amount: bigint): void {
  if (isNative(asset)) debit(view, from, amount);
  else debitToken(view, asset, from, amount);
}

/** Credit as a delta: no read, no conflict with other credits. */
export function creditAsset(view: StateView, asset: Uint8Array, to: Uint8Array, amount: bigint): void {
  if (isNative(asset)) credit(view, to, amount);
  else creditToken(view, asset, to, amount);
}

/**
 * Take `amount` out of one of the exchange's own accounts as a negative delta: the
 * accounting keeps those balances above what is taken, so the bound (`code`) never fails
 * and takes from the same account do not conflict.
 */
export function takeAsset(view: StateView, asset: Uint8Array, from: Uint8Array, amount: bigint, code: string): void {
  if (amount > 0n) view.addDelta(assetBalanceKey(asset, from), -amount, code);
}

// ---- parameters ---------------------------------------------------------------------------

export interface AmmParams {
  /** Share of every swap fee paid to the protocol treasury, in basis points of the fee (0 = off). */
  readonly protocolFeeBps: bigint;
  /** Native coin paid to the protocol treasury by create_pool. */
  readonly poolCreationFee: bigint;
}

export const DEFAULT_PARAMS: AmmParams = { protocolFeeBps: 0n, poolCreationFee: DEFAULT_POOL_CREATION_FEE };

export function encodeParams(p: AmmParams): Uint8Array {
  return new Writer(18).u16(Number(p.protocolFeeBps)).u128(p.poolCreationFee).finish();
}

export function decodeParams(b: Uint8Array): AmmParams {
  const r = new Reader(b, 'amm params');
  const p = { protocolFeeBps: BigInt(r.u16('protocolFeeBps')), poolCreationFee: r.u128('poolCreationFee') };
  r.end();
  return p;
}

export function getParams(view: Reads): AmmParams {
  const b = view.get(PARAMS_KEY);
  return b ? decodeParams(b) : DEFAULT_PARAMS;
}

// ---- pools --------------------------------------------------------------------------------

export interface PoolInfo {
  readonly asset0: Uint8Array;
  readonly asset1: Uint8Array;
  readonly feeBps: bigint;
  readonly lpToken: Uint8Array;
  readonly creator: Uint8Array;
}

export function encodePoolInfo(p: PoolInfo): Uint8Array {
  return new Writer(82).raw(p.asset0, 20).raw(p.asset1, 20).u16(Number(p.feeBps)).raw(p.lpToken, 20).raw(p.creator, 20).finish();
}

export function decodePoolInfo(b: Uint8Array): PoolInfo {
  const r = new Reader(b, 'amm pool');
  const p = { asset0: r.raw(20, 'asset0'), asset1: r.raw(20, 'asset1'), feeBps: BigInt(r.u16('feeBps')), lpToken: r.raw(20, 'lpToken'), creator: r.raw(20, 'creator') };
  r.end();
  return p;
}

export function getPoolInfo(view: Reads, pool: Uint8Array): PoolInfo | undefined {
  const b = view.get(poolKey(pool));
  return b ? decodePoolInfo(b) : undefined;
}

/** The pool's record, or fails with POOL_NOT_FOUND. */
export function requirePool(view: Reads, pool: Uint8Array): PoolInfo {
  const p = getPoolInfo(view, pool);
  if (!p) throw new ExecutionFailure('POOL_NOT_FOUND', `no pool ${addressHex(pool)}: create it with amm.create_pool, or read its id with amm_getPoolId`);
  return p;
}

/** 0 when `asset` is the pool's asset0 (asset0 in, asset1 out), 1 for asset1; else ASSET_NOT_IN_POOL. */
export function directionOf(p: PoolInfo, pool: Uint8Array, asset: Uint8Array): 0 | 1 {
  if (bytesEqual(asset, p.asset0)) return 0;
  if (bytesEqual(asset, p.asset1)) return 1;
  throw new ExecutionFailure('ASSET_NOT_IN_POOL', `asset ${addressHex(asset)} is not traded by pool ${addressHex(pool)} (${addressHex(p.asset0)} / ${addressHex(p.asset1)})`);
}

export const assetIn = (p: PoolInfo, dir: 0 | 1): Uint8Array => (dir === 0 ? p.asset0 : p.asset1);
export const assetOut = (p: PoolInfo, dir: 0 | 1): Uint8Array => (dir === 0 ? p.asset1 : p.asset0);

// ---- reserves and the price oracle -------------------------------------------------------

export interface Reserves {
  readonly reserve0: bigint;
  readonly reserve1: bigint;
  /** Σ price of asset0 in asset1 (× 2^64) × blocks, modulo 2^256. */
  readonly price0Cumulative: bigint;
  /** Σ price of asset1 in asset0 (× 2^64) × blocks, modulo 2^256. */
  readonly price1Cumulative: bigint;
  /** Height of the block that last touched the reserves. */
  readonly lastHeight: bigint;
}

export const EMPTY_RESERVES: Reserves = { reserve0: 0n, reserve1: 0n, price0Cumulative: 0n, price1Cumulative: 0n, lastHeight: 0n };

const writeU256 = (w: Writer, x: bigint): Writer => w.u128(x & U128_MAX).u128(x >> 128n);
const readU256 = (r: Reader, field: string): bigint => r.u128(field) | (r.u128(field) << 128n);

export function encodeReserves(x: Reserves): Uint8Array {
  const w = new Writer(104).u128(x.reserve0).u128(x.reserve1);
  writeU256(w, x.price0Cumulative);
  writeU256(w, x.price1Cumulative);
  return w.u64(x.lastHeight).finish();
}

export function decodeReserves(b: Uint8Array): Reserves {
  const r = new Reader(b, 'amm reserves');
  const x = { reserve0: r.u128('reserve0'), reserve1: r.u128('reserve1'), price0Cumulative: readU256(r, 'price0Cumulative'), price1Cumulative: readU256(r, 'price1Cumulative'), lastHeight: r.u64('lastHeight') };
  r.end();
  return x;
}

export function getReserves(view: Reads, pool: Uint8Array): Reserves {
  const b = view.get(reservesKey(pool));
  return b ? decodeReserves(b) : EMPTY_RESERVES;
}

/**
 * The oracle step of the first touch of a pool in a block (Uniswap v2's _update): add each
 * price × the blocks since the last touch, with the reserves as they were at the start of
 * this block (nothing has changed them yet in this block). Later touches in the same block
 * add nothing. An empty pool accumulates nothing.
 */
export function accrueOracle(x: Reserves, height: bigint): Reserves {
  if (height <= x.lastHeight) return x;
  if (x.reserve0 === 0n || x.reserve1 === 0n) return { ...x, lastHeight: height };
  const blocks = height - x.lastHeight;
  return {
    reserve0: x.reserve0,
    reserve1: x.reserve1,
    price0Cumulative: accumulate(x.price0Cumulative, priceQ64(x.reserve1, x.reserve0), blocks),
    price1Cumulative: accumulate(x.price1Cumulative, priceQ64(x.reserve0, x.reserve1), blocks),
    lastHeight: height,
  };
}

/** The reserves as of `height`, oracle accrued: what a call at that height starts from. */
export function touchReserves(view: Reads, pool: Uint8Array, height: bigint): Reserves {
  return accrueOracle(getReserves(view, pool), height);
}

export function writeReserves(view: StateView, pool: Uint8Array, x: Reserves): void {
  view.set(reservesKey(pool), encodeReserves(x));
}

/** `x`, or fails the call with ARITHMETIC_OVERFLOW when a reserve would leave u128. */
export function checkedReserve(x: bigint): bigint {
  if (x > U128_MAX) throw new ExecutionFailure('ARITHMETIC_OVERFLOW', `a reserve of ${x} overflows u128`);
  return x;
}

// ---- batch swaps ----------------------------------------------------------------------------

export interface BatchSwap {
  readonly trader: Uint8Array;
  /** 0: asset0 in, asset1 out; 1: the reverse. */
  readonly direction: 0 | 1;
  readonly amountIn: bigint;
  readonly minOut: bigint;
  readonly deadline: bigint;
  /** Height of the block that queued it. */
  readonly height: bigint;
}

function readDirection(r: Reader): 0 | 1 {
  const d = r.u8('direction');
  if (d !== 0 && d !== 1) throw new ProtocolError('DECODE_ERROR', `amm: direction ${d} is neither 0 nor 1`);
  return d;
}

export function encodeBatchSwap(s: BatchSwap): Uint8Array {
  return new Writer(69).raw(s.trader, 20).u8(s.direction).u128(s.amountIn).u128(s.minOut).u64(s.deadline).u64(s.height).finish();
}

export function decodeBatchSwap(b: Uint8Array): BatchSwap {
  const r = new Reader(b, 'amm batch swap');
  const trader = r.raw(20, 'trader');
  const s = { trader, direction: readDirection(r), amountIn: r.u128('amountIn'), minOut: r.u128('minOut'), deadline: r.u64('deadline'), height: r.u64('height') };
  r.end();
  return s;
}

/** How settlement ended a batch swap: filled (code ''), or refunded with a reason. */
export interface BatchResult {
  readonly pool: Uint8Array;
  readonly trader: Uint8Array;
  readonly direction: 0 | 1;
  readonly amountIn: bigint;
  /** What the trader received of the other asset (0 when refunded). */
  readonly amountOut: bigint;
  /** Height of the settlement. */
  readonly height: bigint;
  /** '' = filled; else why it was refunded: DEADLINE_EXPIRED, INSUFFICIENT_LIQUIDITY, ZERO_OUTPUT, MINIMUM_NOT_MET. */
  readonly code: string;
}

export function encodeBatchResult(x: BatchResult): Uint8Array {
  return new Writer(104).raw(x.pool, 20).raw(x.trader, 20).u8(x.direction).u128(x.amountIn).u128(x.amountOut).u64(x.height).name(x.code).finish();
}

export function decodeBatchResult(b: Uint8Array): BatchResult {
  const r = new Reader(b, 'amm batch result');
  const pool = r.raw(20, 'pool');
  const trader = r.raw(20, 'trader');
  const x = { pool, trader, direction: readDirection(r), amountIn: r.u128('amountIn'), amountOut: r.u128('amountOut'), height: r.u64('height'), code: r.name('code') };
  r.end();
  return x;
}

// ---- liquidity mining programmes -----------------------------------------------------------

export interface Programme {
  readonly pool: Uint8Array;
  readonly lpToken: Uint8Array;
  readonly rewardAsset: Uint8Array;
  /** Rewards paid out over the heights [start, end), evenly per block. */
  readonly amount: bigint;
  readonly start: bigint;
  readonly end: bigint;
  readonly funder: Uint8Array;
}

export function encodeProgramme(p: Programme): Uint8Array {
  return new Writer(96).raw(p.pool, 20).raw(p.lpToken, 20).raw(p.rewardAsset, 20).u128(p.amount).u64(p.start).u64(p.end).raw(p.funder, 20).finish();
}

export function decodeProgramme(b: Uint8Array): Programme {
  const r = new Reader(b, 'amm programme');
  const p = { pool: r.raw(20, 'pool'), lpToken: r.raw(20, 'lpToken'), rewardAsset: r.raw(20, 'rewardAsset'), amount: r.u128('amount'), start: r.u64('start'), end: r.u64('end'), funder: r.raw(20, 'funder') };
  r.end();
  return p;
}

export function getProgramme(view: Reads, id: Uint8Array): Programme | undefined {
  const b = view.get(programmeKey(id));
  return b ? decodeProgramme(b) : undefined;
}

export function requireProgramme(view: Reads, id: Uint8Array): Programme {
  const p = getProgramme(view, id);
  if (!p) throw new ExecutionFailure('PROGRAMME_NOT_FOUND', `no liquidity mining programme ${addressHex(id)}`);
  return p;
}

export interface Accrual {
  readonly acc: bigint;
  readonly undistributed: bigint;
  /** Height up to which the programme's emission has been spread. */
  readonly lastHeight: bigint;
}

export function encodeAccrual(a: Accrual): Uint8Array {
  return new Writer(40).u128(a.acc).u128(a.undistributed).u64(a.lastHeight).finish();
}

export function decodeAccrual(b: Uint8Array): Accrual {
  const r = new Reader(b, 'amm accrual');
  const a = { acc: r.u128('acc'), undistributed: r.u128('undistributed'), lastHeight: r.u64('lastHeight') };
  r.end();
  return a;
}

/** The programme's accumulator; before the first accrual it starts at the programme's start. */
export function getAccrual(view: Reads, id: Uint8Array, p: Programme): Accrual {
  const b = view.get(accrualKey(id));
  return b ? decodeAccrual(b) : { acc: 0n, undistributed: 0n, lastHeight: p.start };
}

export function getTotalStaked(view: Reads, id: Uint8Array): bigint {
  return decodeU128(view.get(stakedKey(id)));
}

export function getStake(view: Reads, id: Uint8Array, staker: Uint8Array): Position {
  const b = view.get(stakeKey(id, staker));
  return b ? decodePosition(b, 'amm stake') : EMPTY_POSITION;
}

export function writeStake(view: StateView, id: Uint8Array, staker: Uint8Array, p: Position): void {
  view.set(stakeKey(id, staker), p.staked === 0n && p.claimable === 0n ? null : encodePosition(p));
}
