/** Helpers for module tests: run txs through the reference executor and inspect state. */
import { decodeU128 } from '../../../protocol/codec.js';
import { devKeyPair, type KeyPair } from '../../../protocol/keys.js';
import type { Value } from '../../../protocol/value.js';
import { balanceKey, BURNED_KEY, nonceKey } from '../../../contracts/coin/state.js';
import { builtinModules } from '../../../contracts/registry.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import type { BlockExecution } from '../../../execution/types.js';
import { buildCall } from '../../../sdk/tx.js';
import { benchContext, benchGenesisState } from '../../../bench/workload.js';

export const keys = Array.from({ length: 6 }, (_, i) => devKeyPair(i));

export class Chain {
  state: Map<string, Uint8Array>;
  height = 1n;
  private nonces = new Map<KeyPair, bigint>();
  constructor(funded: readonly KeyPair[] = keys, extra: Map<string, Uint8Array> = new Map()) {
    this.state = benchGenesisState(funded, 10n ** 15n);
    for (const [k, v] of extra) this.state.set(k, v);
  }
  tx(key: KeyPair, module: string, call: string, args: Value[], gasLimit = 200_000n) {
    const nonce = this.nonces.get(key) ?? 0n;
    this.nonces.set(key, nonce + 1n);
    return buildCall({ chainId: 1337, key, nonce, module, call, args, expiry: 1_000_000n, gasLimit });
  }
  /** Execute one block of txs and apply it; returns the execution. */
  run(...txs: ReturnType<Chain['tx']>[]): BlockExecution {
    const ctx = { ...benchContext(this.height) };
    const r = executeBlockSequential(ctx, txs, { get: (k) => this.state.get(k) }, builtinModules);
    for (const [k, v] of r.writeSet) if (v === null) this.state.delete(k);
    else this.state.set(k, v);
    this.height++;
    return r;
  }
  /** Run one tx alone and return its receipt (throws if discarded). */
  call(key: KeyPair, module: string, call: string, args: Value[], gasLimit?: bigint) {
    const r = this.run(this.tx(key, module, call, args, gasLimit));
    const o = r.outcomes[0]!;
    if (o.kind !== 'included') throw new Error(`discarded: ${o.code} ${o.message}`);
    return { receipt: o.receipt, writeSet: r.writeSet };
  }
  u128(key: string): bigint {
    return decodeU128(this.state.get(key));
  }
}

/** Keys a failed call may write: the sender's balance and nonce, and the fee sinks. */
export function feeOnlyKeys(sender: KeyPair): Set<string> {
  const ctx = benchContext();
  return new Set([balanceKey(sender.address), nonceKey(sender.address), balanceKey(ctx.proposer), balanceKey(ctx.params.fee.treasury), BURNED_KEY]);
}

export function expectFailedFeeOnly(res: { receipt: { status: string; errorCode: string }; writeSet: readonly (readonly [string, unknown])[] }, sender: KeyPair, code: string): void {
  if (res.receipt.status !== 'failed' || res.receipt.errorCode !== code) throw new Error(`expected failed ${code}, got ${res.receipt.status} ${res.receipt.errorCode}`);
  const allowed = feeOnlyKeys(sender);
  const extra = res.writeSet.map(([k]) => k).filter((k) => !allowed.has(k));
  if (extra.length) throw new Error(`failed call changed state beyond fee and nonce: ${extra.join(', ')}`);
}
