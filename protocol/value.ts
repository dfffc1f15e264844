/**
 * Tagged values: the arguments of a call and the fields of an event. Self-describing, so a
 * client in any language can encode arguments and read events without module-specific code.
 *   tag 1 bool (1 byte: 0 or 1) | 2 u64 | 3 u128 | 4 address (20 bytes)
 *   tag 5 bytes (u32 length + bytes) | 6 string (u32 length + UTF-8)
 */
import { Reader, utf8, Writer } from './codec.js';
import { ProtocolError } from './errors.js';
import { fromHex, toHex } from './hex.js';
import { parseAddress } from './address.js';

export type Value =
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'u64'; readonly value: bigint }
  | { readonly type: 'u128'; readonly value: bigint }
  | { readonly type: 'address'; readonly value: Uint8Array }
  | { readonly type: 'bytes'; readonly value: Uint8Array }
  | { readonly type: 'string'; readonly value: string };

export type ValueType = Value['type'];
export type JsonValue = { type: ValueType; value: string | boolean };

const TAGS: Record<ValueType, number> = { bool: 1, u64: 2, u128: 3, address: 4, bytes: 5, string: 6 };
export const MAX_VALUE_BYTES = 16 * 1024;

export const v = {
  bool: (value: boolean): Value => ({ type: 'bool', value }),
  u64: (value: bigint): Value => ({ type: 'u64', value }),
  u128: (value: bigint): Value => ({ type: 'u128', value }),
  address: (value: Uint8Array): Value => ({ type: 'address', value }),
  bytes: (value: Uint8Array): Value => ({ type: 'bytes', value }),
  string: (value: string): Value => ({ type: 'string', value }),
};

export function writeValue(w: Writer, val: Value): void {
  w.u8(TAGS[val.type]);
  switch (val.type) {
    case 'bool':
      w.u8(val.value ? 1 : 0);
      break;
    case 'u64':
      w.u64(val.value);
      break;
    case 'u128':
      w.u128(val.value);
      break;
    case 'address':
      w.raw(val.value, 20);
      break;
    case 'bytes':
      if (val.value.length > MAX_VALUE_BYTES) throw new ProtocolError('INVALID_VALUE', `bytes value longer than ${MAX_VALUE_BYTES}`);
      w.bytes(val.value);
      break;
    case 'string': {
      // Same limit as readValue, so every encodable value also decodes.
      const b = utf8(val.value);
      if (b.length > MAX_VALUE_BYTES) throw new ProtocolError('INVALID_VALUE', `string value longer than ${MAX_VALUE_BYTES} bytes`);
      w.bytes(b);
      break;
    }
  }
}

export function readValue(r: Reader): Value {
  const tag = r.u8('value tag');
  switch (tag) {
    case 1: {
      const b = r.u8('bool');
      if (b > 1) throw new ProtocolError('DECODE_ERROR', `bool must be 0 or 1, got ${b}`);
      return { type: 'bool', value: b === 1 };
    }
    case 2:
      return { type: 'u64', value: r.u64() };
    case 3:
      return { type: 'u128', value: r.u128() };
    case 4:
      return { type: 'address', value: r.raw(20, 'address') };
    case 5:
      return { type: 'bytes', value: r.bytes('bytes value', MAX_VALUE_BYTES) };
    case 6:
      return { type: 'string', value: r.string('string value', MAX_VALUE_BYTES) };
    default:
      throw new ProtocolError('DECODE_ERROR', `unknown value tag ${tag}`);
  }
}

export function valueToJson(val: Value): JsonValue {
  switch (val.type) {
    case 'bool':
      return { type: 'bool', value: val.value };
    case 'u64':
    case 'u128':
      return { type: val.type, value: val.value.toString() };
    case 'address':
    case 'bytes':
      return { type: val.type, value: toHex(val.value) };
    case 'string':
      return { type: 'string', value: val.value };
  }
}

function parseUint(s: unknown, bits: 64 | 128, what: string): bigint {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]*)$/.test(s)) {
    throw new ProtocolError('INVALID_VALUE', `${what} must be a decimal string without sign or leading zeros`);
  }
  const n = BigInt(s);
  if (n >= 1n << BigInt(bits)) throw new ProtocolError('INVALID_VALUE', `${what} exceeds u${bits}`);
  return n;
}

export function valueFromJson(j: unknown, what = 'value'): Value {
  if (typeof j !== 'object' || j === null) throw new ProtocolError('INVALID_VALUE', `${what} must be an object {type, value}`);
  const { type, value } = j as { type?: unknown; value?: unknown };
  switch (type) {
    case 'bool':
      if (typeof value !== 'boolean') throw new ProtocolError('INVALID_VALUE', `${what}: bool value must be true or false`);
      return { type, value };
    case 'u64':
      return { type, value: parseUint(value, 64, what) };
    case 'u128':
      return { type, value: parseUint(value, 128, what) };
    case 'address':
      return { type, value: parseAddress(value, what) };
    case 'bytes':
      if (typeof value !== 'string') throw new ProtocolError('INVALID_VALUE', `${what}: bytes value must be 0x-hex`);
      return { type, value: fromHex(value, undefined, what) };
    case 'string':
      if (typeof value !== 'string') throw new ProtocolError('INVALID_VALUE', `${what}: string value must be a string`);
      return { type, value };
    default:
      throw new ProtocolError('INVALID_VALUE', `${what}: unknown type ${String(type)}`);
  }
}

/** Parse a decimal amount string (u128), as used for amounts in JSON-RPC. */
export function parseAmount(s: unknown, what = 'amount'): bigint {
  if (typeof s === 'number' && Number.isSafeInteger(s) && s >= 0) return BigInt(s);
  return parseUint(s, 128, what);
}

export function parseU64(s: unknown, what = 'value'): bigint {
  if (typeof s === 'number' && Number.isSafeInteger(s) && s >= 0) return BigInt(s);
  return parseUint(s, 64, what);
}
