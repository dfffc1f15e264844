/** Native coin state: balances (u128 LE) and account nonces (u64 LE). */
import { decodeU128, decodeU64, encodeU128, encodeU64 } from '../../protocol/codec.js';
import { AddressMemo, toHexRaw } from '../../protocol/hex.js';
import { ExecutionFailure, type StateView } from '../types.js';

/** The account's state keys, memoised by address contents: the same string objects then
 *  hit V8's cached string hash in every Map lookup, block after block. */
const accountKeys = new AddressMemo((address: Uint8Array) => {
  const hex = toHexRaw(address);
  return { balance: 'coin/balance/' + hex, nonce: 'account/nonce/' + hex };
});

export const balanceKey = (address: Uint8Array): string => accountKeys.get(address).balance;
export const nonceKey = (address: Uint8Array): string => accountKeys.get(address).nonce;
/** Total native coin burned by fees (u128). genesis supply = sum(balances) + burned. */
export const BURNED_KEY = 'coin/burned';

export function getBalance(view: Pick<StateView, 'get'>, address: Uint8Array): bigint {
  return decodeU128(view.get(balanceKey(address)));
}

export function getNonce(view: Pick<StateView, 'get'>, address: Uint8Array): bigint {
  return decodeU64(view.get(nonceKey(address)));
}

export function setNonce(view: StateView, address: Uint8Array, nonce: bigint): void {
  view.set(nonceKey(address), encodeU64(nonce));
}

/** Read-modify-write debit; fails with INSUFFICIENT_BALANCE. */
export function debit(view: StateView, address: Uint8Array, amount: bigint): void {
  const key = balanceKey(address);
  const bal = decodeU128(view.get(key));
  if (bal < amount) throw new ExecutionFailure('INSUFFICIENT_BALANCE', `balance ${bal} is less than ${amount}`);
  view.set(key, encodeU128(bal - amount));
}

/** Credit as a commutative delta: no read, no conflict with other credits. */
export function credit(view: StateView, address: Uint8Array, amount: bigint): void {
  if (amount === 0n) return;
  view.addDelta(balanceKey(address), amount, 'ARITHMETIC_OVERFLOW');
}
