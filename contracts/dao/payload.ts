/**
 * Proposal payloads, by kind (docs/MODULES.md, "Proposal kinds"):
 *
 *   1 payout  [20] currency (all zero = native coin, else a token id) | [20] to | u128 amount
 *   2 params  u128 quorum | u64 approvalBps | u64 votingPeriod   (the dao/params encoding)
 *   3 call    name module | name call | u16 argCount | Value*     (as in a transaction body)
 *
 * Encoders are exported for clients (SDK, CLI); the decoders fail the call with
 * INVALID_PAYLOAD, never with a protocol error (which would surface as MODULE_ERROR).
 */
import { Reader, Writer } from '../../protocol/codec.js';
import { MAX_ARGS } from '../../protocol/tx.js';
import { readValue, writeValue, type Value } from '../../protocol/value.js';
import { ExecutionFailure } from '../types.js';
import { decodeDaoParams, encodeDaoParams, type DaoParams } from './state.js';

/** The all-zero currency of a payout: the native coin. */
export const NATIVE_COIN = new Uint8Array(20);

export interface PayoutPayload {
  readonly currency: Uint8Array;
  readonly to: Uint8Array;
  readonly amount: bigint;
}

export interface CallPayload {
  readonly module: string;
  readonly call: string;
  readonly args: readonly Value[];
}

export function encodePayoutPayload(p: PayoutPayload): Uint8Array {
  return new Writer(56).raw(p.currency, 20).raw(p.to, 20).u128(p.amount).finish();
}

export function encodeParamsPayload(p: DaoParams): Uint8Array {
  return encodeDaoParams(p);
}

export function encodeCallPayload(p: CallPayload): Uint8Array {
  const w = new Writer(64).name(p.module).name(p.call).u16(p.args.length);
  for (const a of p.args) writeValue(w, a);
  return w.finish();
}

function decoding<T>(kind: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ExecutionFailure) throw e;
    throw new ExecutionFailure('INVALID_PAYLOAD', `${kind} payload: ${(e as Error).message}`);
  }
}

export function decodePayoutPayload(b: Uint8Array): PayoutPayload {
  return decoding('payout', () => {
    const r = new Reader(b, 'payout payload');
    const p = { currency: r.raw(20, 'currency'), to: r.raw(20, 'to'), amount: r.u128('amount') };
    r.end();
    return p;
  });
}

export function decodeParamsPayload(b: Uint8Array): DaoParams {
  return decoding('params', () => decodeDaoParams(b));
}

export function decodeCallPayload(b: Uint8Array): CallPayload {
  return decoding('call', () => {
    const r = new Reader(b, 'call payload');
    const module = r.name('module');
    const call = r.name('call');
    const n = r.u16('argCount');
    if (n > MAX_ARGS) throw new ExecutionFailure('INVALID_PAYLOAD', `call payload: ${n} arguments, at most ${MAX_ARGS}`);
    const args: Value[] = [];
    for (let i = 0; i < n; i++) args.push(readValue(r));
    r.end();
    return { module, call, args };
  });
}
