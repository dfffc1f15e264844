/**
 * Gas schedule, stored in state at `gas/schedule` (set at genesis; a change takes effect
 * from the next block).
 * encoding: u64 txBase | u64 txPerByte | u64 read | u64 readPerByte | u64 write
 *           | u64 writePerByte | u64 delta | u64 event | u64 eventPerByte | u64 maxTxGas
 *           | u16 n | (name "module.call" | u64 gas)*   (calls sorted by name)
 */
import { Reader, Writer } from '../protocol/codec.js';
import { ExecutionFailure } from '../contracts/types.js';
import { FEE_GAS } from '../contracts/fee/module.js';
import { TOKEN_GAS } from '../contracts/token/module.js';
import { NFT_GAS } from '../contracts/nft/gas.js';
import { DAO_GAS } from '../contracts/dao/gas.js';
import { STAKING_GAS } from '../contracts/staking/gas.js';
import { AMM_GAS } from '../contracts/amm/gas.js';

export const GAS_SCHEDULE_KEY = 'gas/schedule';

export interface GasSchedule {
  readonly txBase: bigint;
  readonly txPerByte: bigint;
  readonly read: bigint;
  readonly readPerByte: bigint;
  readonly write: bigint;
  readonly writePerByte: bigint;
  readonly delta: bigint;
  readonly event: bigint;
  readonly eventPerByte: bigint;
  readonly maxTxGas: bigint;
  /** Extra base cost per call, keyed "module.call"; missing = 0. */
  readonly calls: Readonly<Record<string, bigint>>;
}

export const DEFAULT_GAS_SCHEDULE: GasSchedule = {
  txBase: 2_000n,
  txPerByte: 10n,
  read: 100n,
  readPerByte: 1n,
  write: 500n,
  writePerByte: 5n,
  delta: 200n,
  event: 100n,
  eventPerByte: 2n,
  maxTxGas: 10_000_000n,
  calls: { 'coin.transfer': 0n, ...TOKEN_GAS, ...NFT_GAS, ...DAO_GAS, ...STAKING_GAS, ...FEE_GAS, ...AMM_GAS },
};

const FIELDS = ['txBase', 'txPerByte', 'read', 'readPerByte', 'write', 'writePerByte', 'delta', 'event', 'eventPerByte', 'maxTxGas'] as const;

export function encodeGasSchedule(s: GasSchedule): Uint8Array {
  const w = new Writer(128);
  for (const f of FIELDS) w.u64(s[f]);
  const names = Object.keys(s.calls).sort();
  w.u16(names.length);
  for (const n of names) w.name(n).u64(s.calls[n]!);
  return w.finish();
}

export function decodeGasSchedule(b: Uint8Array): GasSchedule {
  const r = new Reader(b, 'gas schedule');
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = r.u64(f);
  const n = r.u16();
  const calls: Record<string, bigint> = {};
  for (let i = 0; i < n; i++) calls[r.name('call name')] = r.u64();
  r.end();
  out.calls = calls;
  return out as unknown as GasSchedule;
}

export function intrinsicGas(s: GasSchedule, txBytes: number): bigint {
  return s.txBase + s.txPerByte * BigInt(txBytes);
}

/**
 * The schedule as plain numbers for metering (every gas figure is bounded by maxTxGas,
 * and genesis rejects schedule values above 2^40, so Number arithmetic is exact).
 */
export interface GasCosts {
  readonly read: number;
  readonly readPerByte: number;
  readonly write: number;
  readonly writePerByte: number;
  readonly delta: number;
  readonly event: number;
  readonly eventPerByte: number;
}

const costCache = new WeakMap<GasSchedule, GasCosts>();

export function gasCosts(s: GasSchedule): GasCosts {
  let c = costCache.get(s);
  if (!c) {
    c = { read: Number(s.read), readPerByte: Number(s.readPerByte), write: Number(s.write), writePerByte: Number(s.writePerByte), delta: Number(s.delta), event: Number(s.event), eventPerByte: Number(s.eventPerByte) };
    costCache.set(s, c);
  }
  return c;
}

export const MAX_SCHEDULE_VALUE = 1n << 40n;

export class GasMeter {
  used = 0;
  readonly limit: number;
  constructor(limit: bigint, readonly costs: GasCosts) {
    this.limit = Number(limit);
  }
  charge(amount: number): void {
    this.used += amount;
    if (this.used > this.limit) {
      this.used = this.limit;
      throw new ExecutionFailure('OUT_OF_GAS', `gas limit ${this.limit} exceeded`);
    }
  }
}
