/** Helpers shared by the dao and staking tests (each keeps its own Chain). */
import { expect } from 'vitest';
import { decodeU128, decodeU64 } from '../../../protocol/codec.js';
import { bytesEqual } from '../../../protocol/hex.js';
import type { KeyPair } from '../../../protocol/keys.js';
import type { Receipt } from '../../../protocol/receipt.js';
import type { SignedTx } from '../../../protocol/tx.js';
import type { Value } from '../../../protocol/value.js';
import { balanceKey, BURNED_KEY, nonceKey } from '../../../contracts/coin/state.js';
import { benchContext } from '../../../bench/workload.js';

export interface Sent {
  readonly tx: SignedTx;
  readonly receipt: Receipt;
}

/** What the helpers need of a test chain. */
export interface TestChain {
  readonly state: Map<string, Uint8Array>;
  readonly height: bigint;
  send(key: KeyPair, module: string, call: string, args: readonly Value[]): Sent;
}

export function expectOk(s: Sent): Sent {
  if (s.receipt.status !== 'success') throw new Error(`${s.tx.module}.${s.tx.call} failed with ${s.receipt.errorCode}`);
  return s;
}

export function eventsOf(s: Sent, name: string): Record<string, unknown>[] {
  return s.receipt.events.filter((e) => e.name === name).map((e) => Object.fromEntries(e.fields.map((f) => [f.name, f.value.value])));
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => (a === undefined || b === undefined ? a === b : bytesEqual(a, b));

/**
 * The call fails with `code`, emits nothing, and changes nothing but the sender's nonce and
 * balance (by exactly the fee) and the fee sinks.
 */
export function fails(c: TestChain, key: KeyPair, module: string, call: string, args: readonly Value[], code: string): void {
  const before = new Map(c.state);
  const ctx = benchContext(c.height);
  const { receipt } = c.send(key, module, call, args);
  expect(receipt.status, `${module}.${call}`).toBe('failed');
  expect(receipt.errorCode, `${module}.${call}`).toBe(code);
  expect(receipt.events).toEqual([]);
  const allowed = new Set([balanceKey(key.address), nonceKey(key.address), balanceKey(ctx.proposer), balanceKey(ctx.params.fee.treasury), BURNED_KEY]);
  const changed = [...new Set([...before.keys(), ...c.state.keys()])].filter((k) => !same(before.get(k), c.state.get(k)));
  expect(changed.filter((k) => !allowed.has(k))).toEqual([]);
  expect(decodeU128(c.state.get(balanceKey(key.address)))).toBe(decodeU128(before.get(balanceKey(key.address))) - receipt.fee);
  expect(decodeU64(c.state.get(nonceKey(key.address)))).toBe(decodeU64(before.get(nonceKey(key.address))) + 1n);
}
