/**
 * JSON-RPC methods and their parameters, declared together: `method([param('address',
 * addressType)], run)`. `bindMethods` turns a table of them into the server's handlers, checking
 * the number of parameters and parsing each one by its declared type before `run` sees it.
 * The same declarations drive the usage strings and the fuzz tests (test/e2e/fuzz.test.ts
 * generates inputs for every method from `shape`).
 *
 * Rules every type keeps (docs/PROTOCOL.md, "Parameters"):
 * - Form and length are checked before any conversion: a u64 is at most 20 decimal digits
 *   before BigInt sees it, a raw tx at most 2 * MAX_TX_BYTES hex digits before it is decoded,
 *   an address exactly 42 characters before a regular expression runs over it.
 * - u64 and u128 are strict decimal strings ("0", "5", never "05", "+5", "5.0", 5 or null);
 *   heights and small counts are JSON integers written as plain integers (`1.0e0` is refused:
 *   see node/rpc/json.ts).
 * - An optional parameter is left out (a shorter array); `null` is not "absent".
 * - Every failure is INVALID_PARAMS (INVALID_TX_ENCODING for an over-long raw tx, as decoding
 *   it would say) with a message that names the parameter and shows at most PREVIEW_CHARS of
 *   what was sent. Untrusted input is never serialised whole into a message.
 */
import { MAX_TX_BYTES } from '../../protocol/tx.js';
import { MAX_VALUE_BYTES } from '../../protocol/value.js';
import { RpcError, invalidParams } from './errors.js';
import { JsonNumber, JsonTooDeep, preview } from './json.js';
import type { RpcContext, RpcHandler } from './server.js';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** What a parameter type accepts, as data: the fuzz tests generate valid and invalid inputs from it. */
export type ParamShape =
  | { readonly kind: 'address' | 'hash' | 'subscriptionId' | 'bool' | 'height' }
  | { readonly kind: 'u64' | 'u128' }
  | { readonly kind: 'int'; readonly min: number; readonly max: number }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'hex'; readonly maxBytes: number }
  | { readonly kind: 'string'; readonly maxBytes: number }
  | { readonly kind: 'oneOf'; readonly of: readonly ParamShape[] }
  | { readonly kind: 'options'; readonly fields: Readonly<Record<string, ParamShape>> };

export interface ParamType<T> {
  /** What it accepts, in words, for messages and usage strings. */
  readonly describe: string;
  readonly shape: ParamShape;
  /** The parsed value; throws RpcError (INVALID_PARAMS unless stated) naming `name`. */
  parse(v: unknown, name: string): T;
}

function mustBe(name: string, what: string, v: unknown): RpcError {
  return invalidParams(`${name} must be ${what}; got ${preview(v)}`);
}

function hexDigitsType(kind: 'address' | 'hash' | 'subscriptionId', bytes: number, describe: string): ParamType<string> {
  const length = 2 + 2 * bytes;
  const form = new RegExp(`^0x[0-9a-fA-F]{${2 * bytes}}$`);
  return {
    describe,
    shape: { kind },
    parse(v, name) {
      if (typeof v !== 'string' || v.length !== length || !form.test(v)) throw mustBe(name, describe, v);
      return v;
    },
  };
}

const addressHex = hexDigitsType('address', 20, '0x followed by 40 hex digits');
const hashHex = hexDigitsType('hash', 32, '0x followed by 64 hex digits');

function bytesOf(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.slice(2), 'hex'));
}

/** A 20-byte address (or module object id, which has the same form). */
export const addressType: ParamType<Uint8Array> = { ...addressHex, parse: (v, name) => bytesOf(addressHex.parse(v, name)) };

/** A 32-byte tx or block hash. */
export const hashType: ParamType<Uint8Array> = { ...hashHex, parse: (v, name) => bytesOf(hashHex.parse(v, name)) };

/** A subscription id as chain_subscribe returns it (16 random bytes). */
export const subscriptionIdType: ParamType<string> = hexDigitsType('subscriptionId', 16, 'a subscription id: 0x followed by 32 hex digits');

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function decimalType(bits: 64 | 128): ParamType<bigint> {
  const max = (1n << BigInt(bits)) - 1n;
  const maxDigits = max.toString().length;
  const describe = `a u${bits} as a decimal string ("0" to "${max}", no sign, no leading zeros)`;
  return {
    describe,
    shape: { kind: bits === 64 ? 'u64' : 'u128' },
    parse(v, name) {
      // Length first: BigInt of a long digit string costs time quadratic in its length.
      if (typeof v !== 'string' || v.length === 0 || v.length > maxDigits || !DECIMAL.test(v)) throw mustBe(name, describe, v);
      const n = BigInt(v);
      if (n > max) throw mustBe(name, describe, v);
      return n;
    },
  };
}

export const u64Type = decimalType(64);
export const u128Type = decimalType(128);

/** A JSON integer in [min, max], written as a plain integer (no fraction, no exponent). */
export function intType(min: number, max: number, describe = `an integer from ${min} to ${max}`): ParamType<number> {
  return {
    describe,
    shape: { kind: 'int', min, max },
    parse(v, name) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw mustBe(name, describe, v);
      return v;
    },
  };
}

/** A block height as a JSON integer: the form every height in pel's answers has. */
export const heightType: ParamType<number> = { ...intType(0, Number.MAX_SAFE_INTEGER, 'a block height: a JSON integer from 0, e.g. 5'), shape: { kind: 'height' } };

export const boolType: ParamType<boolean> = {
  describe: 'true or false',
  shape: { kind: 'bool' },
  parse(v, name) {
    if (typeof v !== 'boolean') throw mustBe(name, 'true or false', v);
    return v;
  },
};

export function enumType<const V extends string>(values: readonly V[]): ParamType<V> {
  const describe = `one of ${values.map((x) => `"${x}"`).join(', ')}`;
  return {
    describe,
    shape: { kind: 'enum', values },
    parse(v, name) {
      if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw mustBe(name, describe, v);
      return v as V;
    },
  };
}

/**
 * 0x-hex bytes, at most `maxBytes`. The length is checked before decoding; past it the error
 * is `tooLong` (INVALID_PARAMS unless the caller knows a better code).
 */
export function hexBytesType(maxBytes: number, tooLong: (bytes: number, name: string) => RpcError = (b, name) => invalidParams(`${name} is ${b} bytes, at most ${maxBytes}`)): ParamType<Uint8Array> {
  const describe = `0x-prefixed hex of at most ${maxBytes} bytes`;
  return {
    describe,
    shape: { kind: 'hex', maxBytes },
    parse(v, name) {
      if (typeof v !== 'string' || !v.startsWith('0x')) throw mustBe(name, describe, v);
      if (v.length > 2 + 2 * maxBytes) throw tooLong(Math.floor((v.length - 2) / 2), name);
      if (v.length % 2 !== 0) throw invalidParams(`${name} has an odd number of hex digits`);
      const out = Buffer.from(v.slice(2), 'hex');
      // Node's decoder stops at the first pair that is not hex.
      if (out.length * 2 !== v.length - 2) throw invalidParams(`${name} contains a non-hex character`);
      return new Uint8Array(out);
    },
  };
}

/** A signed transaction's canonical bytes as 0x-hex; longer than a tx can be: INVALID_TX_ENCODING, as decoding says. */
export const rawTxType = hexBytesType(MAX_TX_BYTES, (bytes) => RpcError.of('INVALID_TX_ENCODING', `cannot decode transaction: transaction is ${bytes} bytes, limit ${MAX_TX_BYTES}`, { reason: 'TX_TOO_LARGE' }));

/** A string of at most `maxBytes` UTF-8 bytes. */
export function stringType(maxBytes: number): ParamType<string> {
  const describe = `a string of at most ${maxBytes} UTF-8 bytes`;
  return {
    describe,
    shape: { kind: 'string', maxBytes },
    parse(v, name) {
      // UTF-16 units never outnumber UTF-8 bytes, so the cheap check goes first.
      if (typeof v !== 'string' || v.length > maxBytes || Buffer.byteLength(v, 'utf8') > maxBytes) throw mustBe(name, describe, v);
      return v;
    },
  };
}

/** A view argument of type `string`: what a Value string can hold. */
export const viewStringType = stringType(MAX_VALUE_BYTES);

/** The first of `types` whose `accepts` says yes parses the value; none: one message listing them all. */
export function oneOfType<T>(alternatives: readonly { accepts: (v: unknown) => boolean; type: ParamType<T> }[], describe: string): ParamType<T> {
  return {
    describe,
    shape: { kind: 'oneOf', of: alternatives.map((a) => a.type.shape) },
    parse(v, name) {
      const alt = alternatives.find((a) => a.accepts(v));
      if (alt === undefined) throw mustBe(name, describe, v);
      return alt.type.parse(v, name);
    },
  };
}

type OptionsOf<F extends Record<string, ParamType<unknown>>> = { [K in keyof F]?: F[K] extends ParamType<infer T> ? T : never };

/** An object of optional named fields; an unknown field is an error (a misspelt option must not be ignored). */
export function optionsType<F extends Record<string, ParamType<unknown>>>(fields: F): ParamType<OptionsOf<F>> {
  const names = Object.keys(fields);
  const describe = `an object with optional fields ${names.join(', ')}`;
  const shape: ParamShape = { kind: 'options', fields: Object.fromEntries(names.map((k) => [k, fields[k]!.shape])) };
  return {
    describe,
    shape,
    parse(v, name) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof JsonNumber || v instanceof JsonTooDeep) throw mustBe(name, describe, v);
      const out: Record<string, unknown> = {};
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        if (!Object.hasOwn(fields, k)) throw invalidParams(`${name} has no field ${preview(k)}; fields: ${names.join(', ')}`);
        out[k] = fields[k]!.parse((v as Record<string, unknown>)[k], `${name}.${k}`);
      }
      return out as OptionsOf<F>;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

export interface Param<T = unknown, O extends boolean = boolean> {
  readonly name: string;
  readonly type: ParamType<T>;
  readonly optional: O;
}

export function param<T>(name: string, type: ParamType<T>): Param<T, false> {
  return { name, type, optional: false };
}

/** Optional parameters come last; absent ones reach `run` as undefined. */
export function optional<T>(name: string, type: ParamType<T>): Param<T, true> {
  return { name, type, optional: true };
}

type ArgsOf<P extends readonly Param[]> = { -readonly [K in keyof P]: P[K] extends Param<infer T, infer O> ? (O extends true ? T | undefined : T) : never };

export interface RpcMethod<D> {
  readonly params: readonly Param[];
  /** 'ws': needs a WebSocket connection; elsewhere NOT_AVAILABLE, whatever the parameters. */
  readonly transport: 'any' | 'ws';
  readonly run: (args: unknown[], deps: D, ctx: RpcContext) => unknown;
}

/** The `method` helper for methods whose `run` gets `D` (the node), e.g. `const method = methodsOf<PelNode>()`. */
export function methodsOf<D>() {
  return function method<const P extends readonly Param[]>(
    params: P,
    run: (args: ArgsOf<P>, deps: D, ctx: RpcContext) => unknown,
    opts: { transport?: 'any' | 'ws' } = {},
  ): RpcMethod<D> {
    let seenOptional = false;
    for (const p of params) {
      if (seenOptional && !p.optional) throw new Error(`parameter ${p.name}: a required parameter cannot follow an optional one`);
      seenOptional ||= p.optional;
    }
    return { params, transport: opts.transport ?? 'any', run: run as RpcMethod<D>['run'] };
  };
}

/** `[address, options?]`: the parameter list as a message shows it. */
export function usage(params: readonly Param[]): string {
  return `[${params.map((p) => `${p.name}${p.optional ? '?' : ''}`).join(', ')}]`;
}

/** Checks the parameter count, then parses each parameter by its type, in order. */
export function parseParams(params: readonly Param[], given: readonly unknown[]): unknown[] {
  const required = params.filter((p) => !p.optional).length;
  if (given.length < required || given.length > params.length) {
    const expected = params.length === 0 ? 'no parameters' : usage(params);
    throw invalidParams(`expected ${expected}, got ${given.length} parameter${given.length === 1 ? '' : 's'}`);
  }
  return params.map((p, i) => (i < given.length ? p.type.parse(given[i], p.name) : undefined));
}

/** The server's handlers for a method table, bound to `deps`. */
export function bindMethods<D>(table: Readonly<Record<string, RpcMethod<D>>>, deps: D): Record<string, RpcHandler> {
  const out: Record<string, RpcHandler> = {};
  for (const [name, m] of Object.entries(table)) {
    out[name] = (given, ctx) => {
      if (m.transport === 'ws' && ctx.transport !== 'ws') throw RpcError.of('NOT_AVAILABLE', `${name} needs a WebSocket connection (ws://host:port)`);
      return m.run(parseParams(m.params, given), deps, ctx);
    };
  }
  return out;
}
