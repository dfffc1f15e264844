/**
 * The genesis document: chain id, validators, initial balances, fee parameters and gas
 * schedule. Its state and block 0 are derived from it deterministically.
 */
import { parseAddress, formatAddress, addressFromPublicKey } from '../protocol/address.js';
import { U128_MAX, utf8 } from '../protocol/codec.js';
import { sha256 } from '../protocol/hash.js';
import { fromHex, toHex } from '../protocol/hex.js';
import { devKeyPair, devValidatorKeyPair } from '../protocol/keys.js';
import { encodeU128 } from '../protocol/codec.js';
import { parseAmount, parseU64 } from '../protocol/value.js';
import { balanceKey } from '../contracts/coin/state.js';
import { encodeFeeParams, FEE_ADMIN_KEY, FEE_PARAMS_KEY, validateFeeParams, type FeeParams } from '../contracts/fee/params.js';
import { DEFAULT_GAS_SCHEDULE, encodeGasSchedule, GAS_SCHEDULE_KEY, MAX_SCHEDULE_VALUE, type GasSchedule } from '../execution/gas.js';
import { sortWriteSet, type WriteSet } from '../state/types.js';

export class GenesisError extends Error {
  readonly code = 'INVALID_GENESIS';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GenesisError';
  }
}

export interface Genesis {
  readonly chainId: number;
  readonly timestamp: bigint;
  readonly validators: readonly { publicKey: Uint8Array; address: Uint8Array }[];
  readonly accounts: readonly { address: Uint8Array; balance: bigint }[];
  readonly fee: FeeParams;
  /** May change the fee parameters (fee.set_params); hand it to a DAO with fee.set_admin. */
  readonly feeAdmin: Uint8Array | null;
  readonly gas: GasSchedule;
  /**
   * Accounts without keys whose addresses derive from an index (indexAccountAddress): a big
   * funded state for benchmarks and devnets without a key or a JSON entry per account.
   */
  readonly indexAccounts: { readonly count: number; readonly balance: bigint } | null;
}

/** Most index accounts a genesis may ask for. */
export const MAX_INDEX_ACCOUNTS = 1_000_000_000;

const INDEX_ACCOUNT_TAG = utf8('pel index account');

/** Address of index account i: the first 20 bytes of SHA-256("pel index account" || u64 LE i). */
export function indexAccountAddress(i: number): Uint8Array {
  const pre = new Uint8Array(INDEX_ACCOUNT_TAG.length + 8);
  pre.set(INDEX_ACCOUNT_TAG, 0);
  new DataView(pre.buffer).setBigUint64(INDEX_ACCOUNT_TAG.length, BigInt(i), true);
  return sha256(pre).slice(0, 20);
}

export interface GenesisJson {
  chainId: number;
  timestamp: number;
  validators: { publicKey: string }[];
  accounts: { address: string; balance: string }[];
  fee: { minGasPrice: string; burnBps: number; proposerBps: number; treasuryBps: number; treasury: string; admin?: string };
  gas?: Record<string, string | Record<string, string>>;
  indexAccounts?: { count: number; balance: string };
}

const bps = (x: unknown, what: string): number => {
  if (!Number.isInteger(x) || (x as number) < 0 || (x as number) > 10_000) throw new GenesisError(`${what} must be an integer 0..10000`);
  return x as number;
};

export function parseGenesis(json: unknown): Genesis {
  try {
    const g = json as GenesisJson;
    if (typeof g !== 'object' || g === null) throw new GenesisError('genesis must be a JSON object');
    if (!Number.isInteger(g.chainId) || g.chainId < 0 || g.chainId > 0xffffffff) throw new GenesisError('chainId must be an integer 0..2^32-1');
    if (!Number.isSafeInteger(g.timestamp) || g.timestamp < 0) throw new GenesisError('timestamp must be a non-negative integer (ms)');
    if (!Array.isArray(g.validators) || g.validators.length === 0) throw new GenesisError('validators must be a non-empty array');
    const validators = g.validators.map((v, i) => {
      const publicKey = fromHex(v.publicKey, 32, `validators[${i}].publicKey`);
      return { publicKey, address: addressFromPublicKey(publicKey) };
    });
    if (!Array.isArray(g.accounts)) throw new GenesisError('accounts must be an array');
    const seen = new Set<string>();
    let supply = 0n;
    const accounts = g.accounts.map((a, i) => {
      const address = parseAddress(a.address, `accounts[${i}].address`);
      const key = toHex(address);
      if (seen.has(key)) throw new GenesisError(`accounts[${i}]: duplicate address ${key}`);
      seen.add(key);
      const balance = parseAmount(a.balance, `accounts[${i}].balance`);
      supply += balance;
      return { address, balance };
    });
    let indexAccounts: Genesis['indexAccounts'] = null;
    if (g.indexAccounts !== undefined) {
      const ia = g.indexAccounts;
      if (typeof ia !== 'object' || ia === null) throw new GenesisError('indexAccounts must be an object { count, balance }');
      if (!Number.isInteger(ia.count) || ia.count < 0 || ia.count > MAX_INDEX_ACCOUNTS) throw new GenesisError(`indexAccounts.count must be an integer 0..${MAX_INDEX_ACCOUNTS}`);
      const balance = parseAmount(ia.balance, 'indexAccounts.balance');
      if (balance === 0n) throw new GenesisError('indexAccounts.balance must be above 0');
      supply += balance * BigInt(ia.count);
      indexAccounts = { count: ia.count, balance };
    }
    if (supply > U128_MAX) throw new GenesisError('total genesis supply exceeds u128');
    const f = g.fee;
    if (typeof f !== 'object' || f === null) throw new GenesisError('fee must be an object');
    const fee: FeeParams = {
      minGasPrice: parseU64(f.minGasPrice, 'fee.minGasPrice'),
      burnBps: bps(f.burnBps, 'fee.burnBps'),
      proposerBps: bps(f.proposerBps, 'fee.proposerBps'),
      treasuryBps: bps(f.treasuryBps, 'fee.treasuryBps'),
      treasury: parseAddress(f.treasury, 'fee.treasury'),
    };
    const bad = validateFeeParams(fee);
    if (bad) throw new GenesisError(`fee: ${bad}`);
    const gas = { ...DEFAULT_GAS_SCHEDULE, calls: { ...DEFAULT_GAS_SCHEDULE.calls } } as Record<string, unknown>;
    for (const [k, val] of Object.entries(g.gas ?? {})) {
      if (k === 'calls') {
        for (const [c, n] of Object.entries(val as Record<string, string>)) {
          const g = parseU64(n, `gas.calls.${c}`);
          if (g > MAX_SCHEDULE_VALUE) throw new GenesisError(`gas.calls.${c} must be at most 2^40`);
          (gas.calls as Record<string, bigint>)[c] = g;
        }
      } else if (k in DEFAULT_GAS_SCHEDULE) gas[k] = parseU64(val, `gas.${k}`);
      else throw new GenesisError(`gas.${k} is not a gas schedule field`);
    }
    const feeAdmin = f.admin === undefined ? null : parseAddress(f.admin, 'fee.admin');
    return { chainId: g.chainId, timestamp: BigInt(g.timestamp), validators, accounts, fee, feeAdmin, gas: gas as unknown as GasSchedule, indexAccounts };
  } catch (e) {
    if (e instanceof GenesisError) throw e;
    throw new GenesisError(`invalid genesis: ${(e as Error).message}`, { cause: e });
  }
}

export function genesisToJson(g: Genesis): GenesisJson {
  const gas: Record<string, string | Record<string, string>> = {};
  for (const [k, val] of Object.entries(g.gas)) {
    if (k === 'calls') gas.calls = Object.fromEntries(Object.entries(val as Record<string, bigint>).map(([c, n]) => [c, n.toString()]));
    else gas[k] = (val as bigint).toString();
  }
  return {
    chainId: g.chainId,
    timestamp: Number(g.timestamp),
    validators: g.validators.map((v) => ({ publicKey: toHex(v.publicKey) })),
    accounts: g.accounts.map((a) => ({ address: formatAddress(a.address), balance: a.balance.toString() })),
    fee: {
      minGasPrice: g.fee.minGasPrice.toString(), burnBps: g.fee.burnBps, proposerBps: g.fee.proposerBps, treasuryBps: g.fee.treasuryBps, treasury: formatAddress(g.fee.treasury),
      ...(g.feeAdmin ? { admin: formatAddress(g.feeAdmin) } : {}),
    },
    gas,
    ...(g.indexAccounts ? { indexAccounts: { count: g.indexAccounts.count, balance: g.indexAccounts.balance.toString() } } : {}),
  };
}

/** The genesis state's entries other than the index accounts. */
function listedEntries(g: Genesis): [string, Uint8Array][] {
  const entries: [string, Uint8Array][] = [
    [FEE_PARAMS_KEY, encodeFeeParams(g.fee)],
    [GAS_SCHEDULE_KEY, encodeGasSchedule(g.gas)],
  ];
  for (const a of g.accounts) if (a.balance > 0n) entries.push([balanceKey(a.address), encodeU128(a.balance)]);
  if (g.feeAdmin) entries.push([FEE_ADMIN_KEY, g.feeAdmin.slice()]);
  return entries;
}

/**
 * The genesis state as a generator: `count` entries, `entry(i)` each, index accounts first and
 * the listed entries after them (a later entry of the same key wins), for a bulk load that
 * never holds the whole state (state/bulk-load.ts).
 */
export function genesisEntries(g: Genesis): { count: number; entry: (i: number) => readonly [string, Uint8Array] } {
  const listed = listedEntries(g);
  const n = g.indexAccounts?.count ?? 0;
  const value = g.indexAccounts ? encodeU128(g.indexAccounts.balance) : new Uint8Array(0);
  return {
    count: n + listed.length,
    entry: (i) => (i < n ? [balanceKey(indexAccountAddress(i)), value] : listed[i - n]!),
  };
}

/** The genesis state as one write set (small genesis files; big ones go through genesisEntries). */
export function genesisWriteSet(g: Genesis): WriteSet {
  const { count, entry } = genesisEntries(g);
  const m = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const [k, v] = entry(i);
    m.set(k, v);
  }
  return sortWriteSet(m);
}

/** Address that receives the treasury share of fees on a default devnet. */
export const DEVNET_TREASURY = sha256(utf8('pel devnet treasury')).slice(0, 20);
export const DEVNET_CHAIN_ID = 1337;
/** 1e18 base units (1e9 coins of 9 decimals) per dev account. */
export const DEVNET_ACCOUNT_BALANCE = 10n ** 18n;

/** Balance of each index account of a devnet started with --state-accounts (1 coin of 9 decimals). */
export const DEVNET_INDEX_ACCOUNT_BALANCE = 10n ** 9n;

export function devnetGenesis(accounts: number, chainId = DEVNET_CHAIN_ID, stateAccounts = 0): Genesis {
  const g = testnetGenesis(1, accounts, chainId);
  return stateAccounts > 0 ? { ...g, indexAccounts: { count: stateAccounts, balance: DEVNET_INDEX_ACCOUNT_BALANCE } } : g;
}

/**
 * A devnet genesis whose validators are the dev validator keys 0..validatorCount-1 (a local
 * multi-validator testnet). With one validator it is exactly devnetGenesis, so existing data
 * dirs keep matching.
 */
export function testnetGenesis(validatorCount: number, accounts: number, chainId = DEVNET_CHAIN_ID): Genesis {
  if (!Number.isInteger(validatorCount) || validatorCount < 1 || validatorCount > 0xffff) throw new GenesisError('validatorCount must be an integer 1..65535');
  return {
    chainId,
    timestamp: BigInt(Date.UTC(2026, 0, 1)),
    validators: Array.from({ length: validatorCount }, (_, i) => {
      const v = devValidatorKeyPair(i);
      return { publicKey: v.publicKey, address: v.address };
    }),
    accounts: Array.from({ length: accounts }, (_, i) => ({ address: devKeyPair(i).address, balance: DEVNET_ACCOUNT_BALANCE })),
    fee: { minGasPrice: 1n, burnBps: 2_000, proposerBps: 5_000, treasuryBps: 3_000, treasury: DEVNET_TREASURY },
    feeAdmin: devKeyPair(0).address,
    gas: DEFAULT_GAS_SCHEDULE,
    indexAccounts: null,
  };
}
