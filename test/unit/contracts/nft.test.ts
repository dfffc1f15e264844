/**
 * The nft module: the full royalty-paying marketplace path with exact balances, every rule
 * with bad input (its own error code, no effect beyond the sender's fee and nonce), the
 * views, and Block-STM (2 workers) == the sequential executor on random nft blocks.
 *
 * The parallel part needs the compiled dist/ tree (`npx tsc -p .`): the workers load it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeU128, decodeU64, encodeU128 } from '../../../protocol/codec.js';
import { toHex } from '../../../protocol/hex.js';
import type { KeyPair } from '../../../protocol/keys.js';
import type { Receipt } from '../../../protocol/receipt.js';
import type { SignedTx } from '../../../protocol/tx.js';
import { v, type Value } from '../../../protocol/value.js';
import { coinModule } from '../../../contracts/coin/module.js';
import { balanceKey, BURNED_KEY, nonceKey } from '../../../contracts/coin/state.js';
import { deriveId } from '../../../contracts/ids.js';
import { NFT_GAS } from '../../../contracts/nft/gas.js';
import { marketFeeBps, splitSale } from '../../../contracts/nft/market.js';
import { nftModule } from '../../../contracts/nft/module.js';
import { decodeCollection, decodeListing, decodeOwner, encodeCollection, encodeListing, NATIVE_CURRENCY } from '../../../contracts/nft/state.js';
import { moduleSet } from '../../../contracts/registry.js';
import { tokenModule } from '../../../contracts/token/module.js';
import { encodeTokenInfo, NO_AUTHORITY, tokenBalanceKey, tokenInfoKey, tokenSupplyKey } from '../../../contracts/token/state.js';
import type { Module } from '../../../contracts/types.js';
import { benchContext, benchGenesisState, rng } from '../../../bench/workload.js';
import { DEFAULT_GAS_SCHEDULE, intrinsicGas } from '../../../execution/gas.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import type * as ExecutorModule from '../../../execution/parallel/executor.js';
import type { BlockContext, BlockExecution } from '../../../execution/types.js';
import type { DiskWorldState } from '../../../state/disk-world.js';
import { scratchState } from '../../../bench/scratch-state.js';
import { buildCall } from '../../../sdk/tx.js';
import { assertDistFresh } from '../execution/parallel/dist.js';
import { diffExecutions, envelopeArb, key, NonceTracker, signCall, type Envelope } from '../execution/parallel/gen.js';

// The nft base gas is merged into the schedule here so that it is charged whatever the
// default schedule holds (the lead wires it into execution/gas.ts).
const BASE = benchContext(1n);
const CTX: BlockContext = { ...BASE, params: { ...BASE.params, gas: { ...DEFAULT_GAS_SCHEDULE, calls: { ...DEFAULT_GAS_SCHEDULE.calls, ...NFT_GAS } } } };
const TREASURY = CTX.params.fee.treasury;
const PROPOSER = CTX.proposer;
const MODULES: ReadonlyMap<string, Module> = new Map([coinModule, tokenModule, nftModule].map((m) => [m.name, m]));
const FUND = 10n ** 18n;
const EXPIRY = 1_000_000n;
/** A fungible token, created by writing its state directly (the token module is not wired yet). */
const TOKEN = new Uint8Array(20).fill(0x77);
const UNKNOWN_TOKEN = new Uint8Array(20).fill(0x66);
const COIN = NATIVE_CURRENCY;
const FEE_KEYS = (sender: Uint8Array): string[] => [balanceKey(sender), nonceKey(sender), balanceKey(PROPOSER), balanceKey(TREASURY), BURNED_KEY].sort();

const [A, B, C, D, E] = [0, 1, 2, 3, 4].map((i) => key(i)) as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];

function withToken(m: Map<string, Uint8Array>, balances: readonly (readonly [Uint8Array, bigint])[]): Map<string, Uint8Array> {
  m.set(tokenInfoKey(TOKEN), encodeTokenInfo({ name: 'Test', symbol: 'TST', decimals: 6, maxSupply: 0n, mintAuthority: NO_AUTHORITY, creator: A.address }));
  let supply = 0n;
  for (const [who, amount] of balances) {
    m.set(tokenBalanceKey(TOKEN, who), encodeU128(amount));
    supply += amount;
  }
  m.set(tokenSupplyKey(TOKEN), encodeU128(supply));
  return m;
}

const coinBal = (m: ReadonlyMap<string, Uint8Array>, a: Uint8Array): bigint => decodeU128(m.get(balanceKey(a)));
const tokBal = (m: ReadonlyMap<string, Uint8Array>, a: Uint8Array): bigint => decodeU128(m.get(tokenBalanceKey(TOKEN, a)));
function coinSupply(m: ReadonlyMap<string, Uint8Array>): bigint {
  let s = decodeU128(m.get(BURNED_KEY));
  for (const [k, val] of m) if (k.startsWith('coin/balance/')) s += decodeU128(val);
  return s;
}
function tokenSupply(m: ReadonlyMap<string, Uint8Array>): bigint {
  let s = 0n;
  const prefix = tokenBalanceKey(TOKEN, new Uint8Array(20)).slice(0, -40);
  for (const [k, val] of m) if (k.startsWith(prefix)) s += decodeU128(val);
  return s;
}

function view(m: ReadonlyMap<string, Uint8Array>, name: string, ...args: (Uint8Array | bigint)[]): unknown {
  return nftModule.views![name]!.run({ get: (k) => m.get(k) }, args, { height: 1n });
}

interface Sent {
  readonly tx: SignedTx;
  readonly receipt: Receipt;
  readonly writeSet: BlockExecution['writeSet'];
}

/** A chain of one-tx blocks on a Map state, with fee bookkeeping per account. */
class Chain {
  readonly state: Map<string, Uint8Array>;
  private readonly nonces = new Map<Uint8Array, bigint>();
  /** Fees paid, per sender address object. */
  readonly fees = new Map<Uint8Array, bigint>();
  /** What the fee distribution credited to the treasury and the proposer. */
  treasuryFees = 0n;
  proposerFees = 0n;

  constructor(state: Map<string, Uint8Array>) {
    this.state = state;
  }

  nonce(k: KeyPair): bigint {
    return this.nonces.get(k.address) ?? 0n;
  }

  build(k: KeyPair, call: string, args: readonly Value[], gasLimit = 50_000n): SignedTx {
    return buildCall({ chainId: CTX.chainId, key: k, nonce: this.nonce(k), module: 'nft', call, args, expiry: EXPIRY, gasLimit });
  }

  send(k: KeyPair, call: string, args: readonly Value[]): Sent {
    const tx = this.build(k, call, args);
    const out = executeBlockSequential(CTX, [tx], this.state, MODULES);
    const o = out.outcomes[0]!;
    if (o.kind !== 'included') throw new Error(`tx discarded: ${o.code} ${o.message}`);
    this.nonces.set(k.address, this.nonce(k) + 1n);
    const fee = o.receipt.fee;
    this.fees.set(k.address, (this.fees.get(k.address) ?? 0n) + fee);
    this.proposerFees += (fee * BigInt(CTX.params.fee.proposerBps)) / 10_000n;
    this.treasuryFees += (fee * BigInt(CTX.params.fee.treasuryBps)) / 10_000n;
    for (const [kk, val] of out.writeSet) {
      if (val === null) this.state.delete(kk);
      else this.state.set(kk, val);
    }
    return { tx, receipt: o.receipt, writeSet: out.writeSet };
  }

  ok(k: KeyPair, call: string, args: readonly Value[]): Sent {
    const s = this.send(k, call, args);
    if (s.receipt.status !== 'success') throw new Error(`nft.${call} failed: ${s.receipt.errorCode}`);
    return s;
  }

  feesOf(k: KeyPair): bigint {
    return this.fees.get(k.address) ?? 0n;
  }

  /**
   * The call fails with `code`, emits nothing, and writes exactly what a failing no-op
   * (an unknown nft call) from the same sender writes: its balance and nonce and the fee
   * sinks; nothing else in state changes.
   */
  fails(k: KeyPair, call: string, args: readonly Value[], code: string): void {
    const before = new Map(this.state);
    const noop = executeBlockSequential(CTX, [this.build(k, 'no_such_call', [])], before, MODULES);
    const noopOutcome = noop.outcomes[0]!;
    expect(noopOutcome.kind === 'included' && noopOutcome.receipt.errorCode).toBe('UNKNOWN_CALL');
    const s = this.send(k, call, args);
    expect(s.receipt.status, `nft.${call}`).toBe('failed');
    expect(s.receipt.errorCode, `nft.${call}`).toBe(code);
    expect(s.receipt.events).toEqual([]);
    const keys = s.writeSet.map(([kk]) => kk);
    expect(keys).toEqual(noop.writeSet.map(([kk]) => kk));
    expect(keys).toEqual(FEE_KEYS(k.address));
    expect(coinBal(this.state, k.address)).toBe(coinBal(before, k.address) - s.receipt.fee);
    for (const [kk, val] of before) if (!keys.includes(kk)) expect(this.state.get(kk)).toBe(val);
    for (const kk of this.state.keys()) if (!keys.includes(kk)) expect(before.has(kk)).toBe(true);
  }
}

function eventOf(r: Receipt, name: string): Record<string, unknown> {
  const e = r.events.find((x) => x.module === 'nft' && x.name === name);
  if (!e) throw new Error(`no nft.${name} event in ${r.events.map((x) => `${x.module}.${x.name}`).join(', ')}`);
  return Object.fromEntries(e.fields.map((f) => [f.name, f.value.value]));
}

/** create_collection; returns the id (derived from the tx hash, as the event says). */
function createCollection(chain: Chain, k: KeyPair, royaltyBps: bigint, recipient: Uint8Array, maxSupply: bigint, name = 'Art'): Uint8Array {
  const s = chain.ok(k, 'create_collection', [v.string(name), v.string('ipfs://collection'), v.u64(royaltyBps), v.address(recipient), v.u64(maxSupply)]);
  const id = deriveId('nft-collection', s.tx.hash);
  expect(eventOf(s.receipt, 'collection_created').collection).toEqual(id);
  return id;
}

const mintArgs = (c: Uint8Array, to: Uint8Array, uri = 'ipfs://token'): Value[] => [v.address(c), v.address(to), v.string(uri)];
const tokArgs = (c: Uint8Array, id: bigint): Value[] => [v.address(c), v.u64(id)];
const priceArgs = (c: Uint8Array, id: bigint, price: bigint, currency: Uint8Array): Value[] => [v.address(c), v.u64(id), v.u128(price), v.address(currency)];

describe('nft: collections, royalties on every sale, marketplace', () => {
  it('create (5% royalty), mint, list in coin, buy, resell in a token: exact balances, supply conserved', () => {
    const genesis = withToken(benchGenesisState([A!, B!, C!, D!], FUND), [
      [D.address, 1_000_000n],
      [E.address, 123n],
    ]);
    const coin0 = coinSupply(genesis);
    const chain = new Chain(genesis);

    const coll = createCollection(chain, A, 500n, A.address, 0n);
    expect(view(chain.state, 'getCollection', coll)).toEqual({
      id: toHex(coll),
      creator: toHex(A.address),
      name: 'Art',
      uri: 'ipfs://collection',
      royaltyBps: 500,
      royaltyRecipient: toHex(A.address),
      maxSupply: '0',
      minted: '0',
      burned: '0',
    });

    const minted = chain.ok(A, 'mint', mintArgs(coll, B.address, 'ipfs://one'));
    expect(eventOf(minted.receipt, 'minted')).toEqual({ collection: coll, token_id: 1n, to: B.address, uri: 'ipfs://one' });
    expect(view(chain.state, 'getToken', coll, 1n)).toEqual({ collection: toHex(coll), tokenId: '1', owner: toHex(B.address), uri: 'ipfs://one' });

    // First sale, native coin: 1,000,003 -> royalty 50,000, protocol fee 25,000, seller 925,003.
    const P1 = 1_000_003n;
    chain.ok(B, 'list', priceArgs(coll, 1n, P1, COIN));
    expect(view(chain.state, 'getListing', coll, 1n)).toEqual({ seller: toHex(B.address), price: P1.toString(), currency: toHex(COIN) });
    const sale1 = chain.ok(C, 'buy', priceArgs(coll, 1n, P1, COIN));
    expect(eventOf(sale1.receipt, 'sold')).toEqual({
      collection: coll,
      token_id: 1n,
      seller: B.address,
      buyer: C.address,
      price: P1,
      currency: COIN,
      royalty: 50_000n,
      protocol_fee: 25_000n,
    });
    expect(sale1.receipt.gasUsed).toBeGreaterThanOrEqual(intrinsicGas(CTX.params.gas, sale1.tx.raw.length) + NFT_GAS['nft.buy']!);
    expect(view(chain.state, 'getListing', coll, 1n)).toBeNull();
    expect(view(chain.state, 'getToken', coll, 1n)).toMatchObject({ owner: toHex(C.address) });

    // Resale to a third account, in the token: 40,001 -> royalty 2,000, protocol fee 1,000, seller 37,001.
    const P2 = 40_001n;
    chain.ok(C, 'list', priceArgs(coll, 1n, P2, TOKEN));
    const sale2 = chain.ok(D, 'buy', priceArgs(coll, 1n, P2, TOKEN));
    expect(eventOf(sale2.receipt, 'sold')).toMatchObject({ seller: C.address, buyer: D.address, price: P2, currency: TOKEN, royalty: 2_000n, protocol_fee: 1_000n });
    expect(view(chain.state, 'getToken', coll, 1n)).toMatchObject({ owner: toHex(D.address) });
    expect(view(chain.state, 'getListing', coll, 1n)).toBeNull();

    // Native coin: royalty (first sale) to the creator, protocol fee to the treasury, the rest to the seller.
    const s = chain.state;
    expect(coinBal(s, A.address)).toBe(FUND - chain.feesOf(A) + 50_000n);
    expect(coinBal(s, B.address)).toBe(FUND - chain.feesOf(B) + 925_003n);
    expect(coinBal(s, C.address)).toBe(FUND - chain.feesOf(C) - P1);
    expect(coinBal(s, D.address)).toBe(FUND - chain.feesOf(D));
    expect(coinBal(s, TREASURY)).toBe(chain.treasuryFees + 25_000n);
    expect(coinBal(s, PROPOSER)).toBe(chain.proposerFees);
    expect(coinSupply(s)).toBe(coin0);
    // Token: the creator earns the royalty again on the resale.
    expect(tokBal(s, A.address)).toBe(2_000n);
    expect(tokBal(s, TREASURY)).toBe(1_000n);
    expect(tokBal(s, C.address)).toBe(37_001n);
    expect(tokBal(s, D.address)).toBe(1_000_000n - P2);
    expect(tokenSupply(s)).toBe(1_000_123n);
    expect(view(s, 'getCollection', coll)).toMatchObject({ minted: '1', burned: '0' });
  });

  it('the sale split: floors royalty and fee, the seller takes the remainder (the docs example)', () => {
    expect(marketFeeBps).toBe(250);
    expect(splitSale(1_000_003n, 500)).toEqual({ royalty: 50_000n, protocolFee: 25_000n, seller: 925_003n });
    expect(splitSale(39n, 5_000)).toEqual({ royalty: 19n, protocolFee: 0n, seller: 20n });
    expect(splitSale(1n, 0)).toEqual({ royalty: 0n, protocolFee: 0n, seller: 1n });
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 5_000 }), (price, bps) => {
        const sp = splitSale(price, bps);
        return sp.royalty + sp.protocolFee + sp.seller === price && sp.seller >= 0n && sp.royalty === (price * BigInt(bps)) / 10_000n;
      }),
    );
  });

  it('state encodings round-trip', () => {
    const c = { creator: A.address, name: 'n', uri: 'u', royaltyBps: 5_000, royaltyRecipient: B.address, maxSupply: 7n };
    expect(decodeCollection(encodeCollection(c))).toEqual(c);
    const l = { seller: C.address, price: (1n << 127n) + 5n, currency: TOKEN };
    expect(decodeListing(encodeListing(l))).toEqual(l);
  });
});

describe('nft: every rule, each failing with its own code and no effect but fee and nonce', () => {
  /** A 5% collection by A, max supply 3, tokens 1 (B, listed at 1000 coin), 2 (B, listed at 500 TOKEN), 3 (C, unlisted). */
  function fixture(): { chain: Chain; coll: Uint8Array } {
    const chain = new Chain(
      withToken(benchGenesisState([A!, B!, C!, D!, E!], FUND), [
        [D.address, 10_000n],
        [E.address, 100n],
      ]),
    );
    const coll = createCollection(chain, A, 500n, A.address, 3n);
    chain.ok(A, 'mint', mintArgs(coll, B.address));
    chain.ok(A, 'mint', mintArgs(coll, B.address));
    chain.ok(A, 'mint', mintArgs(coll, C.address));
    chain.ok(B, 'list', priceArgs(coll, 1n, 1_000n, COIN));
    chain.ok(B, 'list', priceArgs(coll, 2n, 500n, TOKEN));
    return { chain, coll };
  }

  it('create_collection: royalty above 50% -> ROYALTY_TOO_HIGH (50% itself is allowed)', () => {
    const { chain } = fixture();
    chain.fails(A, 'create_collection', [v.string('x'), v.string(''), v.u64(5_001n), v.address(A.address), v.u64(0n)], 'ROYALTY_TOO_HIGH');
    chain.fails(A, 'create_collection', [v.string('x'), v.string(''), v.u64(1n << 40n), v.address(A.address), v.u64(0n)], 'ROYALTY_TOO_HIGH');
    createCollection(chain, A, 5_000n, B.address, 0n);
  });

  it('mint: only the creator; not past max supply; unknown collection', () => {
    const { chain, coll } = fixture();
    chain.fails(B, 'mint', mintArgs(coll, B.address), 'NOT_COLLECTION_CREATOR');
    chain.fails(A, 'mint', mintArgs(coll, B.address), 'MAX_SUPPLY_EXCEEDED');
    chain.fails(A, 'mint', mintArgs(UNKNOWN_TOKEN, B.address), 'COLLECTION_NOT_FOUND');
    // Burning does not free supply: max supply bounds the tokens ever minted.
    chain.ok(C, 'burn', tokArgs(coll, 3n));
    chain.fails(A, 'mint', mintArgs(coll, B.address), 'MAX_SUPPLY_EXCEEDED');
    expect(view(chain.state, 'getCollection', coll)).toMatchObject({ maxSupply: '3', minted: '3', burned: '1' });
  });

  it('token ids are sequential per collection; an unlimited collection keeps minting', () => {
    const { chain } = fixture();
    const other = createCollection(chain, B, 0n, B.address, 0n, 'Other');
    for (let i = 1n; i <= 5n; i++) expect(eventOf(chain.ok(B, 'mint', mintArgs(other, C.address)).receipt, 'minted').token_id).toBe(i);
    expect(view(chain.state, 'getCollection', other)).toMatchObject({ minted: '5' });
  });

  it('buy: unlisted, unknown token, unknown collection -> NOT_LISTED / COLLECTION_NOT_FOUND', () => {
    const { chain, coll } = fixture();
    chain.fails(D, 'buy', priceArgs(coll, 3n, 1_000n, COIN), 'NOT_LISTED');
    chain.fails(D, 'buy', priceArgs(coll, 99n, 1_000n, COIN), 'NOT_LISTED');
    chain.fails(D, 'buy', priceArgs(UNKNOWN_TOKEN, 1n, 1_000n, COIN), 'COLLECTION_NOT_FOUND');
  });

  it('buy: already sold -> NOT_LISTED', () => {
    const { chain, coll } = fixture();
    chain.ok(C, 'buy', priceArgs(coll, 1n, 1_000n, COIN));
    chain.fails(D, 'buy', priceArgs(coll, 1n, 1_000n, COIN), 'NOT_LISTED');
  });

  it('buy: wrong price or wrong currency -> WRONG_PRICE; buying your own -> CANNOT_BUY_OWN', () => {
    const { chain, coll } = fixture();
    chain.fails(D, 'buy', priceArgs(coll, 1n, 999n, COIN), 'WRONG_PRICE');
    chain.fails(D, 'buy', priceArgs(coll, 1n, 1_001n, COIN), 'WRONG_PRICE');
    chain.fails(D, 'buy', priceArgs(coll, 1n, 1_000n, TOKEN), 'WRONG_PRICE');
    chain.fails(D, 'buy', priceArgs(coll, 2n, 500n, COIN), 'WRONG_PRICE');
    chain.fails(B, 'buy', priceArgs(coll, 1n, 1_000n, COIN), 'CANNOT_BUY_OWN');
  });

  it('buy: the buyer cannot pay -> INSUFFICIENT_BALANCE (coin) / INSUFFICIENT_TOKEN_BALANCE (token)', () => {
    const { chain, coll } = fixture();
    chain.fails(E, 'buy', priceArgs(coll, 2n, 500n, TOKEN), 'INSUFFICIENT_TOKEN_BALANCE');
    chain.ok(C, 'list', priceArgs(coll, 3n, 2n * FUND, COIN));
    chain.fails(D, 'buy', priceArgs(coll, 3n, 2n * FUND, COIN), 'INSUFFICIENT_BALANCE');
    // The same buyers can pay what they have.
    chain.ok(D, 'buy', priceArgs(coll, 2n, 500n, TOKEN));
  });

  it('cancel: only the lister; not listed -> NOT_LISTED', () => {
    const { chain, coll } = fixture();
    chain.fails(C, 'cancel', tokArgs(coll, 1n), 'NOT_LISTER');
    chain.fails(A, 'cancel', tokArgs(coll, 1n), 'NOT_LISTER');
    chain.fails(C, 'cancel', tokArgs(coll, 3n), 'NOT_LISTED');
    const r = chain.ok(B, 'cancel', tokArgs(coll, 1n));
    expect(eventOf(r.receipt, 'cancelled')).toEqual({ collection: coll, token_id: 1n, seller: B.address, reason: 'cancel' });
    expect(view(chain.state, 'getListing', coll, 1n)).toBeNull();
    chain.fails(D, 'buy', priceArgs(coll, 1n, 1_000n, COIN), 'NOT_LISTED');
  });

  it('transfer and burn: owner only; unknown token -> NFT_NOT_FOUND', () => {
    const { chain, coll } = fixture();
    chain.fails(C, 'transfer', [...tokArgs(coll, 1n), v.address(C.address)], 'NOT_TOKEN_OWNER');
    chain.fails(A, 'transfer', [...tokArgs(coll, 1n), v.address(A.address)], 'NOT_TOKEN_OWNER');
    chain.fails(B, 'transfer', [...tokArgs(coll, 42n), v.address(C.address)], 'NFT_NOT_FOUND');
    chain.fails(B, 'transfer', [...tokArgs(UNKNOWN_TOKEN, 1n), v.address(C.address)], 'COLLECTION_NOT_FOUND');
    chain.fails(C, 'burn', tokArgs(coll, 1n), 'NOT_TOKEN_OWNER');
    chain.fails(B, 'burn', tokArgs(coll, 0n), 'NFT_NOT_FOUND');
  });

  it('list: owner only, price > 0, currency must exist', () => {
    const { chain, coll } = fixture();
    chain.fails(C, 'list', priceArgs(coll, 1n, 10n, COIN), 'NOT_TOKEN_OWNER');
    chain.fails(C, 'list', priceArgs(coll, 3n, 0n, COIN), 'INVALID_PRICE');
    chain.fails(C, 'list', priceArgs(coll, 3n, 10n, UNKNOWN_TOKEN), 'TOKEN_NOT_FOUND');
    chain.fails(C, 'list', priceArgs(coll, 7n, 10n, COIN), 'NFT_NOT_FOUND');
    // Relisting replaces the listing: the old price no longer buys it.
    chain.ok(B, 'list', priceArgs(coll, 1n, 2_000n, COIN));
    chain.fails(D, 'buy', priceArgs(coll, 1n, 1_000n, COIN), 'WRONG_PRICE');
    chain.ok(D, 'buy', priceArgs(coll, 1n, 2_000n, COIN));
  });

  it('a transfer ends the listing: the old listing cannot be bought, the new owner may list', () => {
    const { chain, coll } = fixture();
    const r = chain.ok(B, 'transfer', [...tokArgs(coll, 1n), v.address(C.address)]);
    expect(eventOf(r.receipt, 'transferred')).toEqual({ collection: coll, token_id: 1n, from: B.address, to: C.address });
    expect(eventOf(r.receipt, 'cancelled')).toEqual({ collection: coll, token_id: 1n, seller: B.address, reason: 'transfer' });
    expect(view(chain.state, 'getListing', coll, 1n)).toBeNull();
    chain.fails(D, 'buy', priceArgs(coll, 1n, 1_000n, COIN), 'NOT_LISTED');
    chain.fails(B, 'cancel', tokArgs(coll, 1n), 'NOT_LISTED');
    chain.ok(C, 'list', priceArgs(coll, 1n, 1_000n, COIN));
    chain.ok(D, 'buy', priceArgs(coll, 1n, 1_000n, COIN));
  });

  it('a burn ends the listing and removes the token', () => {
    const { chain, coll } = fixture();
    const r = chain.ok(B, 'burn', tokArgs(coll, 2n));
    expect(eventOf(r.receipt, 'burned')).toEqual({ collection: coll, token_id: 2n, owner: B.address });
    expect(eventOf(r.receipt, 'cancelled')).toMatchObject({ reason: 'burn' });
    expect(view(chain.state, 'getListing', coll, 2n)).toBeNull();
    expect(view(chain.state, 'getToken', coll, 2n)).toBeNull();
    expect([...chain.state.keys()].filter((k) => k.startsWith('nft/') && k.endsWith('/2'))).toEqual([]);
    chain.fails(D, 'buy', priceArgs(coll, 2n, 500n, TOKEN), 'NOT_LISTED');
    chain.fails(B, 'transfer', [...tokArgs(coll, 2n), v.address(C.address)], 'NFT_NOT_FOUND');
    chain.fails(B, 'burn', tokArgs(coll, 2n), 'NFT_NOT_FOUND');
    expect(view(chain.state, 'getCollection', coll)).toMatchObject({ minted: '3', burned: '1' });
  });

  it('arguments are checked against the call spec before run -> INVALID_ARGUMENTS', () => {
    const { chain, coll } = fixture();
    chain.fails(D, 'buy', [v.address(coll), v.u128(1n), v.u128(1_000n), v.address(COIN)], 'INVALID_ARGUMENTS');
    chain.fails(A, 'mint', [v.address(coll), v.address(A.address)], 'INVALID_ARGUMENTS');
  });

  it('views: null for unknown objects; state keys are printable ASCII under nft/', () => {
    const { chain, coll } = fixture();
    expect(view(chain.state, 'getCollection', UNKNOWN_TOKEN)).toBeNull();
    expect(view(chain.state, 'getToken', coll, 9n)).toBeNull();
    expect(view(chain.state, 'getListing', coll, 3n)).toBeNull();
    expect(view(chain.state, 'getListing', coll, 2n)).toEqual({ seller: toHex(B.address), price: '500', currency: toHex(TOKEN) });
    for (const k of chain.state.keys()) if (k.startsWith('nft/')) expect(k).toMatch(/^nft\/[a-z]+\/[0-9a-f]{40}(\/[0-9]+)?$/);
    expect(decodeOwner(chain.state.get(`nft/owner/${toHex(coll).slice(2)}/3`)!)).toEqual(C.address);
    expect(decodeU64(chain.state.get(`nft/minted/${toHex(coll).slice(2)}`))).toBe(3n);
    for (const name of Object.keys(nftModule.calls)) expect(NFT_GAS[`nft.${name}`], name).toBeGreaterThan(0n);
  });
});

// ---- Block-STM == sequential on random nft blocks ----------------------------------------

const EXECUTOR_JS = process.env.PEL_PARALLEL_EXECUTOR;
const SCALE = Number(process.env.PEL_FC_SCALE ?? '1');
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
const seed = (fixed: number): number => (process.env.PEL_FC_SEED ? Number(process.env.PEL_FC_SEED) : fixed);
const BUILTIN = moduleSet('builtin');
const ACCOUNTS = 5;
const PRICES = [100n, 25_003n, 3n * FUND] as const;
const CURRENCIES = [COIN, TOKEN, UNKNOWN_TOKEN] as const;

/** Listed at genesis (seller = the owner): indexes into the collections, PRICES and CURRENCIES. */
const GENESIS_LISTINGS = [
  { seller: 1, coll: 0, token: 1, price: 0, currency: 0 },
  { seller: 2, coll: 0, token: 2, price: 1, currency: 1 },
  { seller: 4, coll: 1, token: 2, price: 0, currency: 1 },
  { seller: 0, coll: 2, token: 1, price: 2, currency: 0 },
  { seller: 1, coll: 2, token: 2, price: 2, currency: 1 },
] as const;

/** Genesis for the property test: 3 collections (one capped at 4), 7 tokens, 5 listed (two too dear for anyone); accounts 3 and 4 hold few tokens. */
function marketGenesis(): { state: Map<string, Uint8Array>; collections: Uint8Array[] } {
  const chain = new Chain(
    withToken(
      benchGenesisState(
        Array.from({ length: ACCOUNTS }, (_, i) => key(i)),
        FUND,
      ),
      Array.from({ length: ACCOUNTS }, (_, i) => [key(i).address, i >= 3 ? 150n : 100_000n] as const),
    ),
  );
  const x = createCollection(chain, key(0), 500n, key(0).address, 0n, 'X');
  const y = createCollection(chain, key(1), 1_000n, key(3).address, 4n, 'Y');
  const z = createCollection(chain, key(2), 5_000n, key(4).address, 0n, 'Z');
  for (const to of [1, 2, 3]) chain.ok(key(0), 'mint', mintArgs(x, key(to).address));
  for (const to of [0, 4]) chain.ok(key(1), 'mint', mintArgs(y, key(to).address));
  for (const to of [0, 1]) chain.ok(key(2), 'mint', mintArgs(z, key(to).address));
  const colls = [x, y, z];
  for (const l of GENESIS_LISTINGS) chain.ok(key(l.seller), 'list', priceArgs(colls[l.coll]!, BigInt(l.token), PRICES[l.price]!, CURRENCIES[l.currency]!));
  return { state: chain.state, collections: [x, y, z] };
}

type NftOp =
  | { op: 'create'; royalty: number; max: number }
  | { op: 'mint'; coll: number; to: number }
  | { op: 'transfer'; coll: number; token: number; to: number }
  | { op: 'burn'; coll: number; token: number }
  | { op: 'list'; coll: number; token: number; price: number; currency: number }
  | { op: 'cancel'; coll: number; token: number }
  | { op: 'buy'; coll: number; token: number; price: number; currency: number };

interface NftTxSpec {
  readonly sender: number;
  readonly env: Envelope;
  readonly op: NftOp;
}

function nftOpArb(): fc.Arbitrary<NftOp> {
  // Collection 3 does not exist; token 5 is never minted in genesis.
  const coll = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 2 }), weight: 12 }, { arbitrary: fc.constant(3), weight: 1 });
  const token = fc.integer({ min: 1, max: 5 });
  const who = fc.integer({ min: 0, max: ACCOUNTS - 1 });
  const price = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 1 }), weight: 8 }, { arbitrary: fc.constant(2), weight: 1 });
  const currency = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 1 }), weight: 10 }, { arbitrary: fc.constant(2), weight: 1 });
  return fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('create' as const), royalty: fc.constantFrom(0, 250, 5_000, 5_001), max: fc.integer({ min: 0, max: 2 }) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('mint' as const), coll, to: who }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('transfer' as const), coll, token, to: who }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('burn' as const), coll, token }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('list' as const), coll, token, price, currency }), weight: 6 },
    { arbitrary: fc.record({ op: fc.constant('cancel' as const), coll, token }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('buy' as const), coll, token, price, currency }), weight: 5 },
    // On the exact terms of a genesis listing: buyers race each other (and transfers, burns, relists).
    { arbitrary: fc.constantFrom(...GENESIS_LISTINGS).map(({ coll, token, price, currency }) => ({ op: 'buy' as const, coll, token, price, currency })), weight: 8 },
  );
}

/** Mostly well-formed envelopes; a few discards and tight gas limits (out of gas inside a call). */
const nftEnvArb: fc.Arbitrary<Envelope> = fc.oneof(
  { arbitrary: fc.constant<Envelope>({ nonce: 'next', gasLimit: 50_000, gasPrice: 1 }), weight: 8 },
  { arbitrary: envelopeArb.map((e) => (typeof e.gasLimit === 'number' ? { ...e, gasLimit: 6_000 + (e.gasLimit % 14_000) } : e)), weight: 2 },
);

const nftBlockArb = (maxTxs: number): fc.Arbitrary<NftTxSpec[]> =>
  fc.array(fc.record({ sender: fc.integer({ min: 0, max: ACCOUNTS - 1 }), env: nftEnvArb, op: nftOpArb() }), { minLength: 1, maxLength: maxTxs, size: 'max' });

/** The account's nonce in `state` (the genesis setup already sent txs). */
const stateNonce = (state: ReadonlyMap<string, Uint8Array>, i: number): bigint => decodeU64(state.get(nonceKey(key(i).address)));

function nftTxs(specs: readonly NftTxSpec[], collections: readonly Uint8Array[], state: ReadonlyMap<string, Uint8Array>): SignedTx[] {
  const nonces = new NonceTracker();
  const collOf = (i: number): Uint8Array => collections[i] ?? UNKNOWN_TOKEN;
  return specs.map(({ sender, env, op }) => {
    const call = (name: string, args: Value[]): SignedTx => signCall(key(sender), stateNonce(state, sender) + nonces.take(sender, env), env, 'nft', name, args);
    switch (op.op) {
      case 'create':
        return call('create_collection', [v.string('C'), v.string('u'), v.u64(BigInt(op.royalty)), v.address(key(op.max).address), v.u64(BigInt(op.max))]);
      case 'mint':
        return call('mint', mintArgs(collOf(op.coll), key(op.to).address));
      case 'transfer':
        return call('transfer', [...tokArgs(collOf(op.coll), BigInt(op.token)), v.address(key(op.to).address)]);
      case 'burn':
        return call('burn', tokArgs(collOf(op.coll), BigInt(op.token)));
      case 'list':
        return call('list', priceArgs(collOf(op.coll), BigInt(op.token), PRICES[op.price]!, CURRENCIES[op.currency]!));
      case 'cancel':
        return call('cancel', tokArgs(collOf(op.coll), BigInt(op.token)));
      case 'buy':
        return call('buy', priceArgs(collOf(op.coll), BigInt(op.token), PRICES[op.price]!, CURRENCIES[op.currency]!));
    }
  });
}

describe('nft: parallel executor (2 workers) == sequential executor', () => {
  let ex: ExecutorModule.ParallelExecutor;
  const fallbacks = new Map<string, number>();
  let blocks = 0;
  const codes = new Map<string, number>();

  beforeAll(async () => {
    if (EXECUTOR_JS === undefined) assertDistFresh();
    const { ParallelExecutor } = (await import(EXECUTOR_JS ?? ('../../../dist/execution/parallel/executor.js' as string))) as typeof ExecutorModule;
    ex = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000, modules: 'builtin' });
  });

  afterAll(async () => {
    await ex?.close();
    // eslint-disable-next-line no-console
    console.log(`nft parallel equivalence: ${blocks} blocks, fallback ${JSON.stringify(Object.fromEntries(fallbacks))}; receipts ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
  });

  async function check(world: DiskWorldState, txs: readonly SignedTx[]): Promise<void> {
    const seq = executeBlockSequential(CTX, txs, world, BUILTIN);
    for (const o of seq.outcomes) {
      const c = o.kind === 'included' ? o.receipt.errorCode || 'success' : `discarded:${o.code}`;
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    const par = await ex.execute(CTX, txs, world);
    blocks++;
    const f = par.stats.fallback === null ? 'none' : par.stats.fallback.replace(/[0-9]+$/, 'N');
    fallbacks.set(f, (fallbacks.get(f) ?? 0) + 1);
    if (f.startsWith('worker-error')) throw new Error(`parallel executor worker error: ${par.stats.fallback}`);
    const d = diffExecutions(seq, par, world);
    if (d !== null) throw new Error(d);
  }

  it('random blocks of nft calls over 3 collections (contended tokens, racing buys)', async () => {
    const { state, collections } = marketGenesis();
    await fc.assert(
      fc.asyncProperty(nftBlockArb(60), async (specs) => {
        // A real LMDB state store (the workers read it), removed after the run.
        const s = await scratchState(state);
        try {
          await check(s.world, nftTxs(specs, collections, state));
        } finally {
          await s.close();
        }
      }),
      { numRuns: runs(60), seed: seed(0x0f7_0001) },
    );
    // The parallel run, not the fallback, must have produced (nearly) every block.
    const parallel = (fallbacks.get('none') ?? 0) + (fallbacks.get('suffix-from-N') ?? 0);
    expect(parallel / blocks).toBeGreaterThanOrEqual(0.9);
    // The generator reaches the interesting outcomes.
    for (const c of ['success', 'NOT_LISTED', 'WRONG_PRICE', 'NOT_TOKEN_OWNER', 'INSUFFICIENT_BALANCE', 'INSUFFICIENT_TOKEN_BALANCE']) expect(codes.get(c), c).toBeGreaterThan(0);
  }, 300_000);

  it('fixed block, repeated: 40 buyers race for the same listings while the owner transfers and relists', async () => {
    const { state, collections } = marketGenesis();
    const [x, y] = collections as [Uint8Array, Uint8Array];
    const r = rng(11);
    const nonces = new Map<number, bigint>();
    const next = (i: number): bigint => {
      const n = nonces.get(i) ?? stateNonce(state, i);
      nonces.set(i, n + 1n);
      return n;
    };
    const tx = (i: number, call: string, args: Value[]): SignedTx => buildCall({ chainId: CTX.chainId, key: key(i), nonce: next(i), module: 'nft', call, args, expiry: EXPIRY });
    const txs: SignedTx[] = [];
    for (let i = 0; i < 40; i++) {
      const s = r() % ACCOUNTS;
      if (i === 13) txs.push(tx(1, 'transfer', [...tokArgs(x, 1n), v.address(key(3).address)]));
      else if (i === 20) txs.push(tx(3, 'list', priceArgs(x, 1n, 100n, COIN)));
      else if (i === 30) txs.push(tx(3, 'list', priceArgs(x, 1n, 25_003n, TOKEN)));
      else if (i % 4 === 0) txs.push(tx(s, 'buy', priceArgs(y, 2n, 100n, TOKEN)));
      else txs.push(tx(s, 'buy', priceArgs(x, r() % 2 === 0 ? 1n : 2n, r() % 2 === 0 ? 100n : 25_003n, r() % 2 === 0 ? COIN : TOKEN)));
    }
    const s = await scratchState(state);
    try {
      for (let rep = 0; rep < runs(20); rep++) {
        try {
          await check(s.world, txs);
        } catch (e) {
          throw new Error(`repeat ${rep}: ${(e as Error).message}`);
        }
      }
    } finally {
      await s.close();
    }
  }, 300_000);
});
