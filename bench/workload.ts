/** Deterministic benchmark blocks: genesis state for A accounts and a block of transfers. */
import { encodeU128 } from '../protocol/codec.js';
import { devKeyPair, type KeyPair } from '../protocol/keys.js';
import type { SignedTx } from '../protocol/tx.js';
import { balanceKey } from '../contracts/coin/state.js';
import { encodeTokenInfo, NO_AUTHORITY, tokenBalanceKey, tokenInfoKey, tokenSupplyKey } from '../contracts/token/state.js';
import { encodeFeeParams, FEE_PARAMS_KEY } from '../contracts/fee/params.js';
import { DEFAULT_GAS_SCHEDULE, encodeGasSchedule, GAS_SCHEDULE_KEY } from '../execution/gas.js';
import { DEVNET_TREASURY } from '../consensus/genesis.js';
import type { BlockContext } from '../execution/types.js';
import { buildCall, buildTransfer } from '../sdk/tx.js';
import { v } from '../protocol/value.js';

/** xorshift32: deterministic pseudo-random numbers for workloads (never for consensus). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function benchAccounts(n: number): KeyPair[] {
  return Array.from({ length: n }, (_, i) => devKeyPair(i));
}

/** The token every bench account holds (workload `token`): created in the genesis state. */
export const BENCH_TOKEN = new Uint8Array(20).fill(0x7e);

export function benchGenesisState(accounts: readonly KeyPair[], balance = 10n ** 18n): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  m.set(tokenInfoKey(BENCH_TOKEN), encodeTokenInfo({ name: 'Bench', symbol: 'BNCH', decimals: 0, maxSupply: 0n, mintAuthority: NO_AUTHORITY, creator: NO_AUTHORITY }));
  m.set(tokenSupplyKey(BENCH_TOKEN), encodeU128(balance * BigInt(accounts.length)));
  for (const a of accounts) m.set(tokenBalanceKey(BENCH_TOKEN, a.address), encodeU128(balance));
  m.set(FEE_PARAMS_KEY, encodeFeeParams(benchFeeParams()));
  m.set(GAS_SCHEDULE_KEY, encodeGasSchedule(DEFAULT_GAS_SCHEDULE));
  for (const a of accounts) m.set(balanceKey(a.address), encodeU128(balance));
  return m;
}

export function benchFeeParams() {
  return { minGasPrice: 1n, burnBps: 2_000, proposerBps: 5_000, treasuryBps: 3_000, treasury: DEVNET_TREASURY };
}

export function benchContext(height = 1n): BlockContext {
  return { chainId: 1337, height, timestamp: 1_767_225_600_000n, proposer: devKeyPair(1_000_000).address, params: { gas: DEFAULT_GAS_SCHEDULE, fee: benchFeeParams() } };
}

/** `txs` transfers; tx i is sent by account i mod A (nonces in order) to a pseudo-random account. */
export function transferBlock(accounts: readonly KeyPair[], txs: number, seed = 42): SignedTx[] {
  const next = rng(seed);
  const nonces = new Array<bigint>(accounts.length).fill(0n);
  const out: SignedTx[] = [];
  for (let i = 0; i < txs; i++) {
    const s = i % accounts.length;
    const to = accounts[next() % accounts.length]!.address;
    out.push(buildTransfer({ chainId: 1337, key: accounts[s]!, nonce: nonces[s]!++, to, amount: 1n + BigInt(next() % 1000), expiry: 1_000_000n }));
  }
  return out;
}

/** Context whose fee parameters either charge fees (every tx pays into the fee sinks) or not. */
export function benchContextWithFees(feeSink: boolean, height = 1n): BlockContext {
  const c = benchContext(height);
  return feeSink ? c : { ...c, params: { ...c.params, fee: { ...c.params.fee, minGasPrice: 0n } } };
}

/** Iterations of `spin` per microsecond on this machine (calibrated once per run). */
export function calibrateSpin(spin: (iters: number, seed: number) => number): number {
  let iters = 100_000;
  for (;;) {
    const t0 = performance.now();
    spin(iters, 7);
    const ms = performance.now() - t0;
    if (ms > 50) return iters / (ms * 1000);
    iters *= 2;
  }
}

export interface WorkloadOptions {
  workload: 'transfer' | 'synthetic' | 'token';
  txs: number;
  accounts: number;
  feeSink: boolean;
  /** synthetic: iterations of deterministic work per tx. */
  iters?: number;
  seed?: number;
}

/**
 * Tx i is sent by account i mod A (nonces in order); `transfer` moves 1..1000 to a random
 * account, `synthetic` does `iters` of work and a read-modify-write transfer to a random
 * account. Gas price 1 with --fee-sink, 0 without (then no tx touches a shared account).
 */
export function buildWorkload(o: WorkloadOptions, accounts: readonly KeyPair[]): SignedTx[] {
  const next = rng(o.seed ?? 42);
  const nonces = new Array<bigint>(accounts.length).fill(0n);
  const gasPrice = o.feeSink ? 1n : 0n;
  const out: SignedTx[] = [];
  for (let i = 0; i < o.txs; i++) {
    const s = i % accounts.length;
    const to = accounts[next() % accounts.length]!.address;
    const common = { chainId: 1337, key: accounts[s]!, nonce: nonces[s]!++, expiry: 1_000_000n, gasPrice };
    if (o.workload === 'transfer') out.push(buildTransfer({ ...common, to, amount: 1n + BigInt(next() % 1000) }));
    else if (o.workload === 'token') out.push(buildCall({ ...common, module: 'token', call: 'transfer', args: [v.address(BENCH_TOKEN), v.address(to), v.u128(1n + BigInt(next() % 1000))] }));
    else out.push(buildCall({ ...common, module: 'synthetic', call: 'work', args: [v.address(to), v.u128(1n), v.u64(BigInt(o.iters ?? 0))] }));
  }
  return out;
}
