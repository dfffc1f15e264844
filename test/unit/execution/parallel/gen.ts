/**
 * Generators and comparison helpers for the parallel-vs-sequential property tests.
 *
 * Arbitraries produce small plain *specs* (programs as op lists, txs as sender/nonce/gas
 * choices), not signed transactions: fast-check prints a readable counterexample and
 * shrinks on the spec; `build*` turns a spec into genesis entries and signed txs.
 */
import fc from 'fast-check';
import { encodeU128, U128_MAX } from '../../../../protocol/codec.js';
import { devKeyPair, type KeyPair } from '../../../../protocol/keys.js';
import { toHexRaw } from '../../../../protocol/hex.js';
import { encodeReceipt } from '../../../../protocol/receipt.js';
import type { SignedTx } from '../../../../protocol/tx.js';
import { v } from '../../../../protocol/value.js';
import { balanceKey } from '../../../../contracts/coin/state.js';
import { mockCounter, mockKey } from '../../../../contracts/testing/mock.js';
import { benchContext, benchGenesisState } from '../../../../bench/workload.js';
import type { BlockContext, BlockExecution, TxOutcome } from '../../../../execution/types.js';
import type { WriteSet } from '../../../../state/types.js';
import { buildCall } from '../../../../sdk/tx.js';

export const CHAIN_ID = 1337;
export const EXPIRY = 1_000_000n;
export const CTX: BlockContext = benchContext(1n);
export const PROPOSER_INDEX = 1_000_000; // benchContext's proposer is devKeyPair(1_000_000)
export const TREASURY: Uint8Array = CTX.params.fee.treasury;
export const FUND = 10n ** 18n;

const keyCache = new Map<number, KeyPair>();
/** devKeyPair is an Ed25519 key derivation: cache it. */
export function key(i: number): KeyPair {
  let k = keyCache.get(i);
  if (!k) keyCache.set(i, (k = devKeyPair(i)));
  return k;
}

// ---- mock programs ---------------------------------------------------------------------

export type MockOp =
  | { op: 'read'; k: number }
  | { op: 'write'; k: number }
  | { op: 'writeIfOdd'; k: number }
  | { op: 'delta'; k: number; neg: boolean; amount: number }
  | { op: 'delete'; k: number }
  | { op: 'failIfOdd' }
  | { op: 'throwIf'; k: number }
  | { op: 'burn'; n: number }
  | { op: 'emit' }
  | { op: 'readCounter'; k: number }
  | { op: 'badOp' };

/** contracts/testing/mock.ts byte encoding. */
export function encodeProgram(ops: readonly MockOp[]): Uint8Array {
  const out: number[] = [];
  for (const o of ops) {
    switch (o.op) {
      case 'read':
        out.push(1, o.k);
        break;
      case 'write':
        out.push(2, o.k);
        break;
      case 'writeIfOdd':
        out.push(3, o.k);
        break;
      case 'delta':
        // amount = b0 | b1 << 8 | b2 << 16, plus b3 * 2^24
        out.push(4, o.k, o.neg ? 1 : 0, o.amount & 0xff, (o.amount >>> 8) & 0xff, (o.amount >>> 16) & 0xff, Math.floor(o.amount / 16777216) & 0xff);
        break;
      case 'delete':
        out.push(5, o.k);
        break;
      case 'failIfOdd':
        out.push(6);
        break;
      case 'throwIf':
        out.push(7, o.k);
        break;
      case 'burn':
        out.push(8, o.n);
        break;
      case 'emit':
        out.push(9);
        break;
      case 'readCounter':
        out.push(10, o.k);
        break;
      case 'badOp':
        out.push(11); // unknown op: BAD_PROGRAM
        break;
    }
  }
  return new Uint8Array(out);
}

const deltaAmount = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 20 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 5_000 }), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 0xffffffff }), weight: 1 },
);

export function mockOpArb(maxKey: number): fc.Arbitrary<MockOp> {
  const k = fc.integer({ min: 0, max: maxKey });
  return fc.oneof(
    { arbitrary: k.map((k) => ({ op: 'read' as const, k })), weight: 25 },
    { arbitrary: k.map((k) => ({ op: 'write' as const, k })), weight: 25 },
    { arbitrary: k.map((k) => ({ op: 'writeIfOdd' as const, k })), weight: 10 },
    { arbitrary: fc.record({ op: fc.constant('delta' as const), k, neg: fc.integer({ min: 0, max: 2 }).map((x) => x === 0), amount: deltaAmount }), weight: 25 },
    { arbitrary: k.map((k) => ({ op: 'delete' as const, k })), weight: 10 },
    { arbitrary: fc.constant({ op: 'failIfOdd' as const }), weight: 5 },
    { arbitrary: fc.integer({ min: 0, max: 7 }).map((k) => ({ op: 'throwIf' as const, k })), weight: 5 },
    // n*8 reads of ~100 gas each: n >= ~6 exhausts the tighter gas limits below.
    { arbitrary: fc.integer({ min: 0, max: 60 }).map((n) => ({ op: 'burn' as const, n })), weight: 5 },
    { arbitrary: fc.constant({ op: 'emit' as const }), weight: 10 },
    { arbitrary: k.map((k) => ({ op: 'readCounter' as const, k })), weight: 20 },
    { arbitrary: fc.constant({ op: 'badOp' as const }), weight: 1 },
  );
}

// ---- tx envelope choices -------------------------------------------------------------

/** How the tx's nonce relates to the sender's expected nonce. */
export type NonceKind = 'next' | 'duplicate' | 'gap';
/** Gas limit: a number, or a discard trigger. */
export type GasLimitSpec = number | 'belowIntrinsic' | 'aboveMax';

export interface Envelope {
  readonly nonce: NonceKind;
  readonly gasLimit: GasLimitSpec;
  readonly gasPrice: number;
  /** A static discard: another chain id, or already expired at the block's height. */
  readonly flaw?: 'none' | 'wrongChain' | 'expired';
}

export const envelopeArb: fc.Arbitrary<Envelope> = fc.record({
  nonce: fc.oneof({ arbitrary: fc.constant('next' as const), weight: 30 }, { arbitrary: fc.constant('duplicate' as const), weight: 1 }, { arbitrary: fc.constant('gap' as const), weight: 1 }),
  gasLimit: fc.oneof(
    { arbitrary: fc.constant(50_000), weight: 10 },
    { arbitrary: fc.integer({ min: 4_000, max: 60_000 }), weight: 6 },
    { arbitrary: fc.constant('belowIntrinsic' as const), weight: 1 },
    { arbitrary: fc.constant('aboveMax' as const), weight: 1 },
  ),
  // 0 is below the minimum gas price: discarded.
  gasPrice: fc.oneof({ arbitrary: fc.constant(1), weight: 12 }, { arbitrary: fc.integer({ min: 2, max: 3 }), weight: 3 }, { arbitrary: fc.constant(0), weight: 1 }),
  flaw: fc.oneof({ arbitrary: fc.constant('none' as const), weight: 60 }, { arbitrary: fc.constant('wrongChain' as const), weight: 1 }, { arbitrary: fc.constant('expired' as const), weight: 1 }),
});

/** Nonce bookkeeping: a tx that certainly will not pass the prologue's static checks does not advance the nonce. */
export class NonceTracker {
  private readonly next = new Map<number, bigint>();
  take(sender: number, env: Envelope): bigint {
    const n = this.next.get(sender) ?? 0n;
    const staticDiscard = env.gasPrice === 0 || env.gasLimit === 'belowIntrinsic' || env.gasLimit === 'aboveMax' || (env.flaw ?? 'none') !== 'none';
    if (env.nonce === 'duplicate') return n > 0n ? n - 1n : n + 5n;
    if (env.nonce === 'gap') return n + 1n;
    if (!staticDiscard) this.next.set(sender, n + 1n);
    return n;
  }
}

function gasLimitOf(g: GasLimitSpec): bigint {
  if (g === 'belowIntrinsic') return 1_000n;
  if (g === 'aboveMax') return CTX.params.gas.maxTxGas + 1n;
  return BigInt(g);
}

export function signCall(sender: KeyPair, nonce: bigint, env: Envelope, module: string, call: string, args: Parameters<typeof buildCall>[0]['args']): SignedTx {
  const chainId = env.flaw === 'wrongChain' ? CHAIN_ID + 1 : CHAIN_ID;
  const expiry = env.flaw === 'expired' ? CTX.height - 1n : EXPIRY;
  return buildCall({ chainId, key: sender, nonce, module, call, args, expiry, gasLimit: gasLimitOf(env.gasLimit), gasPrice: BigInt(env.gasPrice) });
}

// ---- genesis values ----------------------------------------------------------------------

/** Counter genesis: absent, near 0, mid, or near u128 max (bound failures on both sides). */
export type CounterSpec = { kind: 'absent' } | { kind: 'low'; n: number } | { kind: 'mid'; n: number } | { kind: 'high'; below: number };

export const counterArb: fc.Arbitrary<CounterSpec> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'absent' as const }), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 50 }).map((n) => ({ kind: 'low' as const, n })), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 1_000_000 }).map((n) => ({ kind: 'mid' as const, n })), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 50 }).map((below) => ({ kind: 'high' as const, below })), weight: 1 },
);

export function counterValue(c: CounterSpec): bigint | undefined {
  switch (c.kind) {
    case 'absent':
      return undefined;
    case 'low':
    case 'mid':
      return BigInt(c.n);
    case 'high':
      return U128_MAX - BigInt(c.below);
  }
}

// ---- mock blocks ----------------------------------------------------------------------

export interface MockTxSpec {
  readonly sender: number;
  readonly env: Envelope;
  readonly program: readonly MockOp[];
}

export interface MockBlockSpec {
  readonly chaos: Chaos;
  readonly senders: number;
  /** Balance of sender 0: 'rich' or a small amount that runs out within the block. */
  readonly poorSender0: number | null;
  readonly keys: readonly (readonly [number, Uint8Array])[];
  readonly counters: readonly (readonly [number, CounterSpec])[];
  readonly txs: readonly MockTxSpec[];
}

/**
 * How much can go wrong in a block. Any call that fails while it holds pending deltas, and
 * any delta whose bound replay fails, makes the executor re-run the rest of the block
 * sequentially: blocks full of those prove little about the parallel path. So:
 *   calm  - no failing ops, positive deltas only, counters never near u128 max, ample gas
 *           (discards still happen): the whole block must come out of the parallel run;
 *   mixed - mostly calm txs, a few unrestricted ones;
 *   wild  - every tx unrestricted (OUT_OF_GAS, MOCK_UNDERFLOW, MODULE_ERROR, ... everywhere).
 */
export type Chaos = 'calm' | 'mixed' | 'wild';

/** Ops that cannot fail: no FAIL_IF_ODD / THROW_IF / bad op, short burns, positive deltas. */
export function calmOpArb(maxKey: number): fc.Arbitrary<MockOp> {
  return mockOpArb(maxKey).map((o): MockOp => {
    switch (o.op) {
      case 'failIfOdd':
      case 'badOp':
        return { op: 'emit' };
      case 'throwIf':
        return { op: 'read', k: o.k };
      case 'burn':
        return { op: 'burn', n: o.n % 4 };
      case 'delta':
        return { ...o, neg: false, amount: o.amount % 100_000 };
      default:
        return o;
    }
  });
}

const calmEnvelopeArb: fc.Arbitrary<Envelope> = envelopeArb.map((e) => ({ ...e, gasLimit: typeof e.gasLimit === 'number' ? Math.max(e.gasLimit, 50_000) : e.gasLimit }));

export function mockBlockArb(opts: { maxKey: number; maxTxs: number; maxOps: number; genesisKeys: number }): fc.Arbitrary<MockBlockSpec> {
  const k = fc.integer({ min: 0, max: opts.maxKey });
  const chaosArb = fc.oneof({ arbitrary: fc.constant('calm' as const), weight: 2 }, { arbitrary: fc.constant('mixed' as const), weight: 2 }, { arbitrary: fc.constant('wild' as const), weight: 1 });
  return fc.tuple(fc.integer({ min: 1, max: 6 }), chaosArb).chain(([senders, chaos]) => {
    const sender = fc.integer({ min: 0, max: senders - 1 });
    const calmTx = fc.record({ sender, env: calmEnvelopeArb, program: fc.array(calmOpArb(opts.maxKey), { minLength: 1, maxLength: opts.maxOps, size: 'max' }) });
    const wildTx = fc.record({ sender, env: envelopeArb, program: fc.array(mockOpArb(opts.maxKey), { minLength: 1, maxLength: opts.maxOps, size: 'max' }) });
    const tx = chaos === 'calm' ? calmTx : chaos === 'wild' ? wildTx : fc.oneof({ arbitrary: calmTx, weight: 30 }, { arbitrary: wildTx, weight: 1 });
    const counter = chaos === 'calm' ? counterArb.filter((c) => c.kind !== 'high') : counterArb;
    return fc.record({
      chaos: fc.constant(chaos),
      senders: fc.constant(senders),
      poorSender0: fc.option(fc.integer({ min: 40_000, max: 300_000 }), { freq: 4 }),
      keys: fc.array(fc.tuple(k, fc.uint8Array({ minLength: 1, maxLength: 6 })), { maxLength: opts.genesisKeys }),
      counters: fc.array(fc.tuple(k, counter), { maxLength: opts.genesisKeys }),
      txs: fc.array(tx, { minLength: 1, maxLength: opts.maxTxs, size: 'max' }),
    });
  });
}

export function mockGenesis(spec: Pick<MockBlockSpec, 'senders' | 'poorSender0' | 'keys' | 'counters'>): Map<string, Uint8Array> {
  const accounts = Array.from({ length: spec.senders }, (_, i) => key(i));
  const m = benchGenesisState(accounts, FUND);
  if (spec.poorSender0 !== null) m.set(balanceKey(key(0).address), encodeU128(BigInt(spec.poorSender0)));
  for (const [k, val] of spec.keys) m.set(mockKey(k), val);
  for (const [k, c] of spec.counters) {
    const n = counterValue(c);
    if (n === undefined) m.delete(mockCounter(k));
    else m.set(mockCounter(k), encodeU128(n));
  }
  return m;
}

export function mockTxs(txs: readonly MockTxSpec[]): SignedTx[] {
  const nonces = new NonceTracker();
  return txs.map((t) => signCall(key(t.sender), nonces.take(t.sender, t.env), t.env, 'mock', 'run', [v.bytes(encodeProgram(t.program))]));
}

// ---- transfers ---------------------------------------------------------------------------

/** A party of a transfer: a funded account, the proposer, the fee treasury (no key), a fresh unfunded account. */
export type Party = { kind: 'account'; i: number } | { kind: 'proposer' } | { kind: 'treasury' } | { kind: 'fresh'; i: number } | { kind: 'self' };

export interface TransferSpec {
  readonly from: Party; // never 'treasury' or 'self'
  readonly to: Party;
  readonly amount: bigint;
  readonly env: Envelope;
}

export interface TransferBlockSpec {
  readonly accounts: number;
  /** Per-account genesis balance overrides (index mod accounts). */
  readonly balances: readonly (readonly [number, bigint])[];
  readonly proposerBalance: bigint | null;
  readonly treasuryBalance: bigint | null;
  readonly txs: readonly TransferSpec[];
}

const FRESH_BASE = 5_000;

export function partyAddress(p: Party, sender: Uint8Array | null): Uint8Array {
  switch (p.kind) {
    case 'account':
      return key(p.i).address;
    case 'proposer':
      return CTX.proposer;
    case 'treasury':
      return TREASURY;
    case 'fresh':
      return key(FRESH_BASE + p.i).address;
    case 'self':
      return sender!;
  }
}

function partyKeyIndex(p: Party): number {
  if (p.kind === 'account') return p.i;
  if (p.kind === 'proposer') return PROPOSER_INDEX;
  if (p.kind === 'fresh') return FRESH_BASE + p.i;
  throw new Error(`no key for ${p.kind}`);
}

const amountArb = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 1_000n }), weight: 6 },
  { arbitrary: fc.bigInt({ min: 1_000n, max: 500_000n }), weight: 3 },
  { arbitrary: fc.bigInt({ min: FUND / 2n, max: FUND * 2n }), weight: 1 },
  { arbitrary: fc.bigInt({ min: 1n << 100n, max: U128_MAX }), weight: 1 },
);

export function transferBlockArb(opts: { accounts: number; maxTxs: number }): fc.Arbitrary<TransferBlockSpec> {
  const acct = fc.integer({ min: 0, max: opts.accounts - 1 }).map((i) => ({ kind: 'account' as const, i }));
  const fresh = fc.integer({ min: 0, max: 2 }).map((i) => ({ kind: 'fresh' as const, i }));
  const from: fc.Arbitrary<Party> = fc.oneof(
    { arbitrary: acct, weight: 12 },
    { arbitrary: fc.constant({ kind: 'proposer' as const }), weight: 1 },
    { arbitrary: fresh, weight: 1 },
  );
  const to: fc.Arbitrary<Party> = fc.oneof(
    { arbitrary: acct, weight: 10 },
    { arbitrary: fc.constant({ kind: 'self' as const }), weight: 1 },
    { arbitrary: fc.constant({ kind: 'proposer' as const }), weight: 2 },
    { arbitrary: fc.constant({ kind: 'treasury' as const }), weight: 2 },
    { arbitrary: fresh, weight: 1 },
  );
  const smallOrRich = fc.oneof(fc.constant(FUND), fc.bigInt({ min: 0n, max: 400_000n }));
  return fc.record({
    accounts: fc.constant(opts.accounts),
    balances: fc.array(fc.tuple(fc.integer({ min: 0, max: opts.accounts - 1 }), fc.bigInt({ min: 0n, max: 400_000n })), { maxLength: 3 }),
    proposerBalance: fc.option(smallOrRich),
    treasuryBalance: fc.option(smallOrRich),
    txs: fc.array(fc.record({ from, to, amount: amountArb, env: envelopeArb }), { minLength: 1, maxLength: opts.maxTxs, size: 'max' }),
  });
}

export function transferGenesis(spec: TransferBlockSpec): Map<string, Uint8Array> {
  const m = benchGenesisState(Array.from({ length: spec.accounts }, (_, i) => key(i)), FUND);
  for (const [i, b] of spec.balances) m.set(balanceKey(key(i).address), encodeU128(b));
  if (spec.proposerBalance !== null) m.set(balanceKey(CTX.proposer), encodeU128(spec.proposerBalance));
  if (spec.treasuryBalance !== null) m.set(balanceKey(TREASURY), encodeU128(spec.treasuryBalance));
  return m;
}

export function transferTxs(txs: readonly TransferSpec[]): SignedTx[] {
  const nonces = new NonceTracker();
  return txs.map((t) => {
    const ki = partyKeyIndex(t.from);
    const sender = key(ki);
    const to = partyAddress(t.to, sender.address);
    return signCall(sender, nonces.take(ki, t.env), t.env, 'coin', 'transfer', [v.address(to), v.u128(t.amount)]);
  });
}

// ---- synthetic.work ---------------------------------------------------------------------

export interface SyntheticTxSpec {
  readonly from: number;
  readonly to: number;
  readonly amount: bigint;
  readonly iters: number;
  readonly env: Envelope;
}

export interface SyntheticBlockSpec {
  readonly accounts: number;
  readonly poor: number | null; // index of an account with a small balance
  readonly txs: readonly SyntheticTxSpec[];
}

export const syntheticBlockArb: fc.Arbitrary<SyntheticBlockSpec> = fc.integer({ min: 2, max: 10 }).chain((accounts) => {
  const a = fc.integer({ min: 0, max: accounts - 1 });
  return fc.record({
    accounts: fc.constant(accounts),
    poor: fc.option(a),
    txs: fc.array(
      fc.record({
        from: a,
        to: a,
        amount: fc.oneof({ arbitrary: fc.bigInt({ min: 0n, max: 5_000n }), weight: 5 }, { arbitrary: fc.bigInt({ min: 100_000n, max: 2n * FUND }), weight: 1 }),
        iters: fc.integer({ min: 0, max: 3_000 }),
        env: envelopeArb,
      }),
      { minLength: 1, maxLength: 60, size: 'max' },
    ),
  });
});

export function syntheticGenesis(spec: SyntheticBlockSpec): Map<string, Uint8Array> {
  const m = benchGenesisState(Array.from({ length: spec.accounts }, (_, i) => key(i)), FUND);
  if (spec.poor !== null) m.set(balanceKey(key(spec.poor).address), encodeU128(200_000n));
  return m;
}

export function syntheticTxs(txs: readonly SyntheticTxSpec[]): SignedTx[] {
  const nonces = new NonceTracker();
  return txs.map((t) =>
    signCall(key(t.from), nonces.take(t.from, t.env), t.env, 'synthetic', 'work', [v.address(key(t.to).address), v.u128(t.amount), v.u64(BigInt(t.iters))]),
  );
}

// ---- comparison ------------------------------------------------------------------------------

/** Canonical JSON of a value: bigints and bytes spelled out, so equal means byte-identical. */
export function canon(x: unknown): string {
  return JSON.stringify(x, (_k, val: unknown) => {
    if (typeof val === 'bigint') return `${val}n`;
    if (val instanceof Uint8Array) return `0x${toHexRaw(val)}`;
    return val;
  });
}

function describeOutcome(o: TxOutcome): string {
  return canon(o);
}

const OUTCOME_FIELDS = ['kind', 'code', 'message'] as const;
const RECEIPT_FIELDS = ['status', 'errorCode', 'gasUsed', 'fee', 'events'] as const;

/** First difference between the reference and the parallel result, or null when identical. */
export function diffExecutions(seq: BlockExecution, par: BlockExecution, world: { prepare(ws: WriteSet): { readonly root: Uint8Array } }): string | null {
  const problems: string[] = [];
  if (seq.outcomes.length !== par.outcomes.length) problems.push(`outcome count: sequential ${seq.outcomes.length}, parallel ${par.outcomes.length}`);
  for (let i = 0; i < Math.min(seq.outcomes.length, par.outcomes.length); i++) {
    const a = seq.outcomes[i]!;
    const b = par.outcomes[i]!;
    // The chain hashes `encoded` when an executor supplies it (receiptsRoot): it must be the canonical encoding.
    if (a.kind === 'included' && b.kind === 'included') {
      const ea = canon(a.encoded ?? encodeReceipt(a.receipt));
      const eb = canon(b.encoded ?? encodeReceipt(b.receipt));
      if (ea !== eb) {
        problems.push(`encoded receipt of tx ${i} differs:\n    sequential ${ea}\n    parallel   ${eb}`);
        break;
      }
    }
    if (canon(a) === canon(b)) continue;
    const fields: string[] = [];
    for (const f of OUTCOME_FIELDS) if (canon((a as Record<string, unknown>)[f]) !== canon((b as Record<string, unknown>)[f])) fields.push(f);
    if (a.kind === 'included' && b.kind === 'included') for (const f of RECEIPT_FIELDS) if (canon(a.receipt[f]) !== canon(b.receipt[f])) fields.push(`receipt.${f}`);
    problems.push(`outcome of tx ${i} differs in [${fields.join(', ')}]:\n    sequential ${describeOutcome(a)}\n    parallel   ${describeOutcome(b)}`);
    break;
  }
  const ws = (w: BlockExecution['writeSet']): Map<string, string> => new Map(w.map(([k, val]) => [k, val === null ? 'DELETED' : canon(val)]));
  const sw = ws(seq.writeSet);
  const pw = ws(par.writeSet);
  const wsDiff: string[] = [];
  for (const [k, val] of sw) {
    if (!pw.has(k)) wsDiff.push(`  ${k}: sequential ${val}, parallel MISSING`);
    else if (pw.get(k) !== val) wsDiff.push(`  ${k}: sequential ${val}, parallel ${pw.get(k)}`);
  }
  for (const [k, val] of pw) if (!sw.has(k)) wsDiff.push(`  ${k}: sequential MISSING, parallel ${val}`);
  if (wsDiff.length > 0) problems.push(`writeSet differs at ${wsDiff.length} keys:\n${wsDiff.slice(0, 8).join('\n')}`);
  else if (canon(seq.writeSet.map(([k]) => k)) !== canon(par.writeSet.map(([k]) => k))) problems.push('writeSet has the same entries in a different order');
  if (seq.gasUsed !== par.gasUsed) problems.push(`gasUsed: sequential ${seq.gasUsed}, parallel ${par.gasUsed}`);
  const rs = toHexRaw(world.prepare(seq.writeSet).root);
  const rp = toHexRaw(world.prepare(par.writeSet).root);
  if (rs !== rp) problems.push(`state root: sequential ${rs}, parallel ${rp}`);
  if (problems.length === 0) return null;
  return `parallel != sequential (fallback=${par.stats.fallback}, incarnations=${par.stats.incarnations}, validations=${par.stats.validations}, waits=${par.stats.dependencyWaits}):\n  ${problems.join('\n  ')}`;
}
