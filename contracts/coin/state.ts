/** Native coin state: balances (u128 LE) and account nonces (u64 LE). */
import { decodeU128, decodeU64, encodeU128, encodeU64 } from '../../protocol/codec.js';
import { addressHex } from '../../protocol/hex.js';
import { ExecutionFailure, type StateView } from '../types.js';

const keyCache = new WeakMap<Uint8Array, { balance: string; nonce: string }>();

/** The account's state keys, built once per address object (the same string object then
 *  hits V8's cached string hash in every Map lookup). */
function accountKeys(address: Uint8Array): { balance: string; nonce: string } {
  let k = keyCache.get(address);
  if (!k) {
    const hex = addressHex(address);
    k = { balance: 'coin/balance/' + hex, nonce: 'account/nonce/' + hex };
    keyCache.set(address, k);
  }
  return k;
}

export const balanceKey = (address: Uint8Array): string => accountKeys(address).balance;
export const nonceKey = (address: Uint8Array): string => accountKeys(address).nonce;
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
