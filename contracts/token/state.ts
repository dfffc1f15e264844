/**
 * Fungible tokens: state layout and the helpers other modules use (nft, dao, staking).
 *
 *   token/info/<id>                 name | symbol | decimals | maxSupply | mintAuthority (encodeTokenInfo)
 *   token/supply/<id>               u128 total supply (delta counter)
 *   token/balance/<id>/<addr>       u128
 *   token/allowance/<id>/<owner>/<spender>   u128
 * <id> and <addr> are 40 lower-case hex digits.
 */
import { decodeU128, encodeU128, Reader, Writer } from '../../protocol/codec.js';
import { addressHex } from '../../protocol/hex.js';
import { ExecutionFailure, type StateView } from '../types.js';

export interface TokenInfo {
  readonly name: string;
  readonly symbol: string;
  readonly decimals: number;
  /** 0 = unlimited (up to u128). */
  readonly maxSupply: bigint;
  /** All-zero address = no mint authority (renounced). */
  readonly mintAuthority: Uint8Array;
  readonly creator: Uint8Array;
}

export const NO_AUTHORITY = new Uint8Array(20);

export const tokenInfoKey = (id: Uint8Array): string => `token/info/${addressHex(id)}`;
export const tokenSupplyKey = (id: Uint8Array): string => `token/supply/${addressHex(id)}`;
export const tokenBalanceKey = (id: Uint8Array, owner: Uint8Array): string => `token/balance/${addressHex(id)}/${addressHex(owner)}`;
export const tokenAllowanceKey = (id: Uint8Array, owner: Uint8Array, spender: Uint8Array): string =>
  `token/allowance/${addressHex(id)}/${addressHex(owner)}/${addressHex(spender)}`;

export function encodeTokenInfo(t: TokenInfo): Uint8Array {
  return new Writer(96).string(t.name).string(t.symbol).u8(t.decimals).u128(t.maxSupply).raw(t.mintAuthority, 20).raw(t.creator, 20).finish();
}

export function decodeTokenInfo(b: Uint8Array): TokenInfo {
  const r = new Reader(b, 'token info');
  const t = { name: r.string(), symbol: r.string(), decimals: r.u8(), maxSupply: r.u128(), mintAuthority: r.raw(20), creator: r.raw(20) };
  r.end();
  return t;
}

export function getTokenInfo(view: Pick<StateView, 'get'>, id: Uint8Array): TokenInfo | undefined {
  const b = view.get(tokenInfoKey(id));
  return b ? decodeTokenInfo(b) : undefined;
}

/** The token's info, or fails the call with TOKEN_NOT_FOUND. */
export function requireToken(view: Pick<StateView, 'get'>, id: Uint8Array): TokenInfo {
  const t = getTokenInfo(view, id);
  if (!t) throw new ExecutionFailure('TOKEN_NOT_FOUND', `no token ${addressHex(id)}`);
  return t;
}

export function tokenBalance(view: Pick<StateView, 'get'>, id: Uint8Array, owner: Uint8Array): bigint {
  return decodeU128(view.get(tokenBalanceKey(id, owner)));
}

/** Read-modify-write debit; fails with INSUFFICIENT_TOKEN_BALANCE. */
export function debitToken(view: StateView, id: Uint8Array, owner: Uint8Array, amount: bigint): void {
  if (amount === 0n) return;
  const key = tokenBalanceKey(id, owner);
  const bal = decodeU128(view.get(key));
  if (bal < amount) throw new ExecutionFailure('INSUFFICIENT_TOKEN_BALANCE', `token balance ${bal} is less than ${amount}`);
  view.set(key, encodeU128(bal - amount));
}

/** Credit as a delta (no read, no conflict with other credits). */
export function creditToken(view: StateView, id: Uint8Array, owner: Uint8Array, amount: bigint): void {
  if (amount === 0n) return;
  view.addDelta(tokenBalanceKey(id, owner), amount, 'ARITHMETIC_OVERFLOW');
}

/** Move tokens between accounts (debit checked, credit as delta). */
export function transferToken(view: StateView, id: Uint8Array, from: Uint8Array, to: Uint8Array, amount: bigint): void {
  debitToken(view, id, from, amount);
  creditToken(view, id, to, amount);
}
