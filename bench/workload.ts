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
import { buildTransfer } from '../sdk/tx.js';
import { v, type Value } from '../protocol/value.js';
import type { Event } from '../protocol/receipt.js';
import type { Module } from '../contracts/types.js';
import { encodePayoutPayload } from '../contracts/dao/payload.js';
import { executeBlockSequential } from '../execution/sequential.js';
import { signTxFast } from './sign.js';
import { rng } from './util.js';

export { rng };

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

export type WorkloadKind = 'transfer' | 'synthetic' | 'token' | 'nft' | 'dao' | 'mixed' | 'amm';
export const WORKLOADS: readonly WorkloadKind[] = ['transfer', 'synthetic', 'token', 'nft', 'dao', 'mixed', 'amm'];
/** amm workload: `instant` = amm.swap (read-modify-write of the pool's reserves), `batch` = amm.swap_batch (a deposit, settled at the block's end). */
export type SwapMode = 'instant' | 'batch';
export const SWAP_MODES: readonly SwapMode[] = ['instant', 'batch'];

export interface WorkloadOptions {
  workload: WorkloadKind;
  txs: number;
  accounts: number;
  feeSink: boolean;
  /** synthetic: iterations of deterministic work per tx. */
  iters?: number;
  seed?: number;
  /** amm: instant or batch swaps [instant]. */
  swapMode?: SwapMode;
}

/**
 * Tx i is sent by account i mod A (nonces in order); `transfer` moves 1..1000 to a random
 * account, `synthetic` does `iters` of work and a read-modify-write transfer to a random
 * account. Gas price 1 with --fee-sink, 0 without (then no tx touches a shared account).
 */
export function buildWorkload(o: WorkloadOptions, accounts: readonly KeyPair[], setup: WorkloadSetup | null = null): SignedTx[] {
  const next = rng(o.seed ?? 42);
  const nonces = new Array<bigint>(accounts.length).fill(0n);
  if (setup) setup.nonces.forEach((n, i) => (nonces[i] = n));
  const gasPrice = o.feeSink ? 1n : 0n;
  const kinds: WorkloadKind[] = o.workload === 'mixed' ? ['transfer', 'token', 'nft', 'dao'] : [o.workload];
  const out: SignedTx[] = [];
  for (let i = 0; i < o.txs; i++) {
    const s = i % accounts.length;
    const to = accounts[next() % accounts.length]!.address;
    const kind = kinds[i % kinds.length]!;
    const call = (module: string, name: string, args: Value[]) =>
      signTxFast({ chainId: 1337, senderPublicKey: accounts[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 200_000n, gasPrice, expiry: 1_000_000n, module, call: name, args }, accounts[s]!);
    if (kind === 'transfer') out.push(call('coin', 'transfer', [v.address(to), v.u128(1n + BigInt(next() % 1000))]));
    else if (kind === 'token') out.push(call('token', 'transfer', [v.address(BENCH_TOKEN), v.address(to), v.u128(1n + BigInt(next() % 1000))]));
    else if (kind === 'synthetic') out.push(call('synthetic', 'work', [v.address(to), v.u128(1n), v.u64(BigInt(o.iters ?? 0))]));
    else if (kind === 'amm') {
      // Account s trades on pool s mod P; half the accounts sell the native coin, half the pool's token.
      const j = s % setup!.pools.length;
      const assetIn = Math.floor(s / setup!.pools.length) % 2 === 0 ? NATIVE_ASSET : ammBenchToken(j);
      out.push(call('amm', o.swapMode === 'batch' ? 'swap_batch' : 'swap', [v.address(setup!.pools[j]!), v.address(assetIn), v.u128(1_000n + BigInt(next() % 1000)), v.u128(0n), v.u64(1_000_000n)]));
    }
    else if (kind === 'nft') {
      // Buy a listed NFT owned by someone else (token k is owned by account k mod A).
      const k = 1 + ((s + 1) % setup!.nfts);
      out.push(call('nft', 'buy', [v.address(setup!.collection!), v.u64(BigInt(k)), v.u128(NFT_PRICE), v.address(new Uint8Array(20))]));
    } else out.push(call('dao', 'vote', [v.address(setup!.dao!), v.address(setup!.proposal!), v.bool(next() % 3 !== 0), v.u128(1n)]));
  }
  return out;
}

export const NFT_PRICE = 1_000n;

/** The native coin as an amm asset id. */
const NATIVE_ASSET = new Uint8Array(20);
/** Token j of the amm workload (pool j trades it against the native coin): 0xa1 × 18 then j as u16 big-endian. */
export function ammBenchToken(j: number): Uint8Array {
  const t = new Uint8Array(20).fill(0xa1);
  t[18] = j >> 8;
  t[19] = j & 0xff;
  return t;
}
/** Liquidity of each side of every amm workload pool. */
export const AMM_BENCH_LIQUIDITY = 10n ** 12n;

/** State prepared by real setup blocks for the nft / dao / mixed / amm workloads. */
export interface WorkloadSetup {
  readonly state: Map<string, Uint8Array>;
  readonly nonces: readonly bigint[];
  readonly collection: Uint8Array | null;
  readonly nfts: number;
  readonly dao: Uint8Array | null;
  readonly proposal: Uint8Array | null;
  /** amm: the pools (pool j trades the native coin against ammBenchToken(j)). */
  readonly pools: readonly Uint8Array[];
}

/**
 * nft: account 0 creates a collection and mints token k to account k mod A; every owner
 * lists its token at NFT_PRICE. dao: account 0 creates a DAO on BENCH_TOKEN and proposes a
 * payout, which the workload's txs vote on. Runs the modules' own code (sequentially).
 */
export function prepareWorkload(kind: WorkloadKind, accounts: readonly KeyPair[], txs: number, state: Map<string, Uint8Array>, modules: ReadonlyMap<string, Module>, pools = 1): WorkloadSetup | null {
  if (kind !== 'nft' && kind !== 'dao' && kind !== 'mixed' && kind !== 'amm') return null;
  const nonces = new Array<bigint>(accounts.length).fill(0n);
  let height = 1n;
  const run = (block: SignedTx[]): Event[] => {
    const r = executeBlockSequential(benchContextWithFees(false, height++), block, { get: (k) => state.get(k) }, modules);
    for (const [k, val] of r.writeSet) if (val === null) state.delete(k);
    else state.set(k, val);
    const events: Event[] = [];
    r.outcomes.forEach((o, i) => {
      if (o.kind !== 'included' || o.receipt.status !== 'success') throw new Error(`bench setup tx ${i} (${block[i]!.module}.${block[i]!.call}) failed: ${o.kind === 'included' ? o.receipt.errorCode : o.code}`);
      events.push(...o.receipt.events);
    });
    return events;
  };
  const tx = (s: number, module: string, call: string, args: Value[]) =>
    signTxFast({ chainId: 1337, senderPublicKey: accounts[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 1_000_000n, gasPrice: 0n, expiry: 1_000_000n, module, call, args }, accounts[s]!);
  const field = (events: Event[], name: string, f: string): Uint8Array => events.find((e) => `${e.module}.${e.name}` === name)!.fields.find((x) => x.name === f)!.value.value as Uint8Array;
  let collection: Uint8Array | null = null;
  let nfts = 0;
  if (kind === 'nft' || kind === 'mixed') {
    collection = field(run([tx(0, 'nft', 'create_collection', [v.string('Bench'), v.string('bench://'), v.u64(500n), v.address(accounts[0]!.address), v.u64(0n)])]), 'nft.collection_created', 'collection');
    nfts = Math.min(accounts.length, Math.max(1, txs));
    const mints: SignedTx[] = [];
    for (let k = 1; k <= nfts; k++) mints.push(tx(0, 'nft', 'mint', [v.address(collection), v.address(accounts[k % accounts.length]!.address), v.string(`bench://${k}`)]));
    run(mints);
    const lists: SignedTx[] = [];
    for (let k = 1; k <= nfts; k++) lists.push(tx(k % accounts.length, 'nft', 'list', [v.address(collection), v.u64(BigInt(k)), v.u128(NFT_PRICE), v.address(new Uint8Array(20))]));
    run(lists);
  }
  let dao: Uint8Array | null = null;
  let proposal: Uint8Array | null = null;
  if (kind === 'dao' || kind === 'mixed') {
    dao = field(run([tx(0, 'dao', 'create', [v.address(BENCH_TOKEN), v.string('Bench DAO'), v.u128(1n), v.u64(5000n), v.u64(1_000_000n)])]), 'dao.created', 'dao');
    proposal = field(run([tx(0, 'dao', 'propose', [v.address(dao), v.u64(1n), v.bytes(encodePayoutPayload({ currency: new Uint8Array(20), to: accounts[0]!.address, amount: 1n })), v.string('bench')])]), 'dao.proposed', 'proposal');
  }
  const ammPools: Uint8Array[] = [];
  if (kind === 'amm') {
    // P tokens in the genesis state: account 0 holds the liquidity of each, account s holds
    // AMM_BENCH_LIQUIDITY of the token of its pool (s mod P). Then real blocks create the
    // pools (native / token j, 30 bps) and add AMM_BENCH_LIQUIDITY of each side.
    if (pools < 1 || pools > 65_536) throw new Error('--pools must be between 1 and 65536');
    const supply = new Array<bigint>(pools).fill(AMM_BENCH_LIQUIDITY);
    for (let s = 1; s < accounts.length; s++) {
      const j = s % pools;
      state.set(tokenBalanceKey(ammBenchToken(j), accounts[s]!.address), encodeU128(AMM_BENCH_LIQUIDITY));
      supply[j]! += AMM_BENCH_LIQUIDITY;
    }
    for (let j = 0; j < pools; j++) {
      const t = ammBenchToken(j);
      state.set(tokenInfoKey(t), encodeTokenInfo({ name: `Pool token ${j}`, symbol: `P${j}`, decimals: 0, maxSupply: 0n, mintAuthority: NO_AUTHORITY, creator: NO_AUTHORITY }));
      state.set(tokenBalanceKey(t, accounts[0]!.address), encodeU128(AMM_BENCH_LIQUIDITY));
      state.set(tokenSupplyKey(t), encodeU128(supply[j]!));
    }
    const created = run(Array.from({ length: pools }, (_, j) => tx(0, 'amm', 'create_pool', [v.address(NATIVE_ASSET), v.address(ammBenchToken(j)), v.u64(30n)])));
    for (const e of created) if (e.module === 'amm' && e.name === 'pool_created') ammPools.push(e.fields.find((f) => f.name === 'pool')!.value.value as Uint8Array);
    run(ammPools.map((p) => tx(0, 'amm', 'add_liquidity', [v.address(p), v.u128(AMM_BENCH_LIQUIDITY), v.u128(AMM_BENCH_LIQUIDITY), v.u128(0n), v.u128(0n), v.u64(1_000_000n)])));
  }
  return { state, nonces, collection, nfts, dao, proposal, pools: ammPools };
}
