/** Parameter validation for JSON-RPC methods: each failure is INVALID_PARAMS with a message that names the parameter. */
import { ProtocolError } from '../../protocol/errors.js';
import { parseAddress } from '../../protocol/address.js';
import { fromHex } from '../../protocol/hex.js';
import { invalidParams } from './errors.js';

export function arity(params: unknown[], min: number, max: number, usage: string): void {
  if (params.length < min || params.length > max) throw invalidParams(`expected ${usage}, got ${params.length} parameter(s)`);
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ProtocolError) throw invalidParams(e.message);
    throw e;
  }
}

export function addressParam(v: unknown, name: string): Uint8Array {
  return wrap(() => parseAddress(v, name));
}

export function hashParam(v: unknown, name: string): Uint8Array {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw invalidParams(`${name} must be 0x followed by 64 hex digits`);
  return fromHex(v, 32, name);
}

export function hexBytesParam(v: unknown, name: string): Uint8Array {
  if (typeof v !== 'string' || !v.startsWith('0x')) throw invalidParams(`${name} must be a 0x-prefixed hex string`);
  return wrap(() => fromHex(v, undefined, name));
}

export function optionsParam(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParams(`${name} must be an object`);
  return v as Record<string, unknown>;
}

export function intParam(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidParams(`${name} must be an integer between ${min} and ${max}`);
  return v;
}
