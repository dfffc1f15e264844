/** Helpers shared by the dao and staking tests: a sequential test chain and assertions on calls. */
import { expect } from 'vitest';
import { decodeU128, decodeU64 } from '../../../protocol/codec.js';
import { bytesEqual } from '../../../protocol/hex.js';
import type { KeyPair } from '../../../protocol/keys.js';
import type { Receipt } from '../../../protocol/receipt.js';
import type { SignedTx } from '../../../protocol/tx.js';
import type { Value } from '../../../protocol/value.js';
import { balanceKey, BURNED_KEY, nonceKey } from '../../../contracts/coin/state.js';
import { benchContext } from '../../../bench/workload.js';
import { builtinModules } from '../../../contracts/registry.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import { toHexRaw } from '../../../protocol/hex.js';
import { buildCall } from '../../../sdk/tx.js';

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

export const TEST_GAS_LIMIT = 1_000_000n;

/** Native coin in circulation: every balance plus what was burned. */
export function coinTotal(m: Map<string, Uint8Array>): bigint {
  let s = decodeU128(m.get(BURNED_KEY));
  for (const [k, val] of m) if (k.startsWith('coin/balance/')) s += decodeU128(val);
  return s;
}

/** A chain of one-block steps over a plain state map, run by the sequential executor with the built-in modules. */
export class ModuleTestChain implements TestChain {
  height = 1n;
  private readonly nonces = new Map<string, bigint>();
  readonly coinSupply: bigint;

  constructor(readonly state: Map<string, Uint8Array>) {
    this.coinSupply = coinTotal(state);
  }

  tx(key: KeyPair, module: string, call: string, args: readonly Value[]): SignedTx {
    const id = toHexRaw(key.address);
    const nonce = this.nonces.get(id) ?? 0n;
    this.nonces.set(id, nonce + 1n);
    return buildCall({ chainId: 1337, key, nonce, module, call, args, expiry: 1_000_000n, gasLimit: TEST_GAS_LIMIT });
  }

  /** One block at the current height; the height then moves on by one. */
  block(txs: readonly SignedTx[]): Sent[] {
    const out = executeBlockSequential(benchContext(this.height), txs, { get: (k) => this.state.get(k) }, builtinModules);
    for (const [k, val] of out.writeSet) {
      if (val === null) this.state.delete(k);
      else this.state.set(k, val);
    }
    this.height++;
    return out.outcomes.map((o, i) => {
      if (o.kind !== 'included') throw new Error(`tx ${i} discarded: ${o.code} ${o.message}`);
      return { tx: txs[i]!, receipt: o.receipt };
    });
  }

  send(key: KeyPair, module: string, call: string, args: readonly Value[]): Sent {
    return this.block([this.tx(key, module, call, args)])[0]!;
  }

  /** Like send, but the call must succeed. */
  ok(key: KeyPair, module: string, call: string, args: readonly Value[]): Sent {
    return expectOk(this.send(key, module, call, args));
  }
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
