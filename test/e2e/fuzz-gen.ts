/**
 * Seeded input generators for test/e2e/fuzz.test.ts. Everything here is a pure function of the
 * Rng, so a seed replays the same inputs in the same order. Each generator returns the JSON
 * text it sends together with what a correct node must answer (an oracle written from the
 * JSON-RPC 2.0 specification and docs/PROTOCOL.md, not from the node's code).
 */
import { keyPairFromPrivateKey, type KeyPair } from '../../protocol/keys.js';
import { MAX_TX_BYTES } from '../../protocol/tx.js';
import { v, type Value } from '../../protocol/value.js';
import type { ParamShape, RpcMethod } from '../../node/rpc/params.js';
import { buildCall } from '../../sdk/tx.js';

// ------------------------------------------------------------------------------------------
// the generator
// ------------------------------------------------------------------------------------------

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** sfc32 seeded through splitmix32: small, fast, and the same sequence on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Long generated strings since the last takeMarkers(): no error may echo more than 32 characters of them. */
  private markers: string[] = [];

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** 0 <= n < max (max <= 2^32). */
  int(max: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * max);
  }

  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** An item with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    const total = items.reduce((n, [w]) => n + w, 0);
    let r = (this.u32() / 0x1_0000_0000) * total;
    for (const [w, item] of items) {
      if (r < w) return item;
      r -= w;
    }
    return items[items.length - 1]![1];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const words = new Uint32Array(out.buffer, 0, n >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = this.u32();
    for (let i = words.length * 4; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  hex(nBytes: number): string {
    return Buffer.from(this.bytes(nBytes)).toString('hex');
  }

  /** Letters and digits: survives any transport unchanged, so echoes can be searched for. */
  ascii(n: number): string {
    // Long strings: a random block repeated (generation stays cheap for megabytes).
    if (n > 4096) {
      const block = this.ascii(4096);
      return block.repeat(Math.ceil(n / 4096)).slice(0, n);
    }
    let s = '';
    for (let i = 0; i < n; i++) s += ALPHANUMERIC[this.int(ALPHANUMERIC.length)];
    if (n >= 64) this.markers.push(s);
    return s;
  }

  takeMarkers(): string[] {
    const m = this.markers;
    this.markers = [];
    return m;
  }

  /** Unicode: multi-byte, astral, combining, bidi and invisible characters (well-formed UTF-16). */
  unicode(n: number): string {
    const pools = ['é', 'ß', 'Ω', 'ж', '中', '文', '😀', '👩‍👩‍👧', '\u0301', '\u200b', '\u200f', '\u202e', '\ufeff', '\u2028', '\u0000', '\u001f', '"', '\\', '/', 'a', '0', ' ', '\ud83c\udff3'];
    let s = '';
    while (s.length < n) s += this.pick(pools);
    return s;
  }
}

// ------------------------------------------------------------------------------------------
// JSON text pieces
// ------------------------------------------------------------------------------------------

const str = (s: string): string => JSON.stringify(s);

/** Sizes for "huge" strings: mostly small, sometimes around the transport and parser limits. */
export function hugeLength(rng: Rng, maxBytes: number): number {
  return Math.min(
    maxBytes,
    rng.weighted([
      [70, rng.range(33, 200)],
      [22, rng.range(1000, 20_000)],
      [6, rng.range(60_000, 70_000)],
      [1.5, rng.range(1 << 20, (1 << 20) + 100)],
      [0.5, rng.range(4 << 20, 7 << 20)],
    ]),
  );
}

/** A container nested `depth` levels around `inner`. */
export function nested(rng: Rng, depth: number, inner = '1'): string {
  if (rng.bool()) return '['.repeat(depth) + inner + ']'.repeat(depth);
  return '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}

export function deepDepth(rng: Rng): number {
  return rng.weighted([
    [60, rng.range(33, 100)],
    [35, rng.range(1000, 10_000)],
    [5, rng.range(50_000, 100_000)],
  ]);
}

/** Number literals, including the ones JSON.parse would round or reformat. */
export function numberText(rng: Rng): string {
  return rng.pick([
    '0', '1', '-1', '5', '42', '1000', '1001', '-0', '0.5', '1.5', '1.0', '1.0e0', '1e0', '1E+2', '1e-7', '5e-324', '1e308', '1e400', '-1e400',
    '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '18446744073709551615', '18446744073709551616',
    '340282366920938463463374607431768211456', String(rng.u32()), `${rng.u32()}.${rng.u32()}`, `-${rng.u32()}`, '1' + '0'.repeat(rng.range(20, 400)),
  ]);
}

/** Any JSON value, as text, with at most `budget` containers inside. */
export function anyJson(rng: Rng, depth = 0): string {
  const k = rng.int(depth > 3 ? 6 : 9);
  switch (k) {
    case 0:
      return numberText(rng);
    case 1:
      return str(rng.ascii(rng.int(12)));
    case 2:
      return str(rng.unicode(rng.range(1, 12)));
    case 3:
      return rng.pick(['true', 'false', 'null', '""', '"0x"', '"latest"', '"newBlocks"', '"tx"', '"2.0"']);
    case 4:
      return str('0x' + rng.hex(rng.pick([0, 1, 16, 20, 32, 33, rng.int(64)])));
    case 5:
      return str(rng.pick(['0', '5', '05', '+5', '-5', '5.0', ' 5', '0x05', '1e3', '18446744073709551616']));
    case 6:
      return `[${Array.from({ length: rng.int(4) }, () => anyJson(rng, depth + 1)).join(',')}]`;
    case 7:
      return `{${Array.from({ length: rng.int(4) }, () => `${str(rng.pick(['txs', 'receipts', 'wait', 'timeoutMs', '__proto__', 'constructor', rng.ascii(4)]))}:${anyJson(rng, depth + 1)}`).join(',')}}`;
    default:
      return nested(rng, rng.range(2, 40), anyJson(rng, 4));
  }
}

// ------------------------------------------------------------------------------------------
// parameters from their declared shapes
// ------------------------------------------------------------------------------------------

const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;

function decimal(rng: Rng, max: bigint): string {
  return rng.weighted<() => string>([
    [1, () => '0'],
    [1, () => max.toString()],
    [1, () => '1'],
    [3, () => String(rng.u32())],
    [2, () => ((BigInt(rng.u32()) << 32n | BigInt(rng.u32())) % (max + 1n)).toString()],
  ])();
}

function mixedCaseHex(rng: Rng, bytes: number): string {
  const h = rng.hex(bytes);
  return rng.bool(0.8) ? h : [...h].map((c) => (rng.bool() ? c.toUpperCase() : c)).join('');
}

/** A valid value of the shape, as JSON text. */
export function validParam(rng: Rng, shape: ParamShape): string {
  switch (shape.kind) {
    case 'u64':
      return str(decimal(rng, U64_MAX));
    case 'u128':
      return str(decimal(rng, U128_MAX));
    case 'height':
      return rng.pick(['0', '1', '2', String(rng.int(50)), String(rng.u32()), '9007199254740991']);
    case 'int':
      return String(rng.pick([shape.min, shape.max, shape.min + rng.int(shape.max - shape.min + 1)]));
    case 'bool':
      return rng.pick(['true', 'false']);
    case 'address':
      return str('0x' + mixedCaseHex(rng, 20));
    case 'hash':
      return str('0x' + mixedCaseHex(rng, 32));
    case 'subscriptionId':
      return str('0x' + rng.hex(16));
    case 'enum':
      return str(rng.pick(shape.values));
    case 'hex':
      return str('0x' + rng.hex(rng.pick([0, 1, 2, 100, 187, 300, rng.int(2000)].filter((n) => n <= shape.maxBytes))));
    case 'string':
      return str(rng.bool() ? rng.ascii(rng.int(Math.min(100, shape.maxBytes))) : rng.unicode(rng.int(Math.min(20, shape.maxBytes / 4))));
    case 'oneOf':
      return validParam(rng, rng.pick(shape.of));
    case 'options': {
      const fields = Object.entries(shape.fields).filter(() => rng.bool());
      return `{${fields.map(([k, s]) => `${str(k)}:${validParam(rng, s)}`).join(',')}}`;
    }
  }
}

/** Values no parameter of any type accepts. */
function neverValid(rng: Rng): string {
  return rng.pick([
    () => nested(rng, deepDepth(rng)),
    () => '{"a":{"b":{"c":1}}}',
    () => '[[1]]',
    () => str(rng.ascii(hugeLength(rng, 7 << 20))),
    () => `[${str(rng.unicode(rng.range(1, 50)))}]`,
  ])();
}

/** What the node must answer for a parameter generated invalid: INVALID_PARAMS, or for an over-long raw tx INVALID_TX_ENCODING. */
export type InvalidCode = 'INVALID_PARAMS' | 'INVALID_PARAMS_OR_TX_ENCODING';

/** A value the shape refuses, as JSON text. */
export function invalidParam(rng: Rng, shape: ParamShape): { text: string; code: InvalidCode } {
  const p = (text: string): { text: string; code: InvalidCode } => ({ text, code: 'INVALID_PARAMS' });
  // neverValid may be a plain string of 33+ characters: valid where a view takes a string.
  if (rng.bool(0.1) && shape.kind !== 'string') return p(neverValid(rng));
  switch (shape.kind) {
    case 'u64':
    case 'u128': {
      const max = shape.kind === 'u64' ? U64_MAX : U128_MAX;
      return p(rng.pick([
        () => String(rng.int(1000)), // a JSON number
        () => str('0' + String(rng.range(0, 999))),
        () => str('+' + String(rng.u32())),
        () => str('-' + String(rng.u32())),
        () => str('-0'),
        () => str(`${rng.u32()}.0`),
        () => str(`${rng.range(1, 9)}e${rng.range(0, 9)}`),
        () => str((max + 1n + BigInt(rng.u32())).toString()),
        () => str('9'.repeat(rng.bool() ? rng.pick([21, 40]) : hugeLength(rng, 7 << 20))),
        () => str(` ${rng.u32()}`),
        () => str('0x' + rng.hex(4)),
        () => str('５'),
        () => '""',
        () => 'null',
        () => 'true',
        () => numberText(rng),
      ])());
    }
    case 'height':
    case 'int': {
      const [min, max] = shape.kind === 'int' ? [shape.min, shape.max] : [0, Number.MAX_SAFE_INTEGER];
      return p(rng.pick([
        () => str(String(min + 1)),
        () => String(min - 1),
        () => (max === Number.MAX_SAFE_INTEGER ? '9007199254740992' : String(max + 1)),
        () => rng.pick(['1.0e0', '1.0', '-0', '1e2', '0.5', '9007199254740993', '1e400']),
        () => 'null',
        () => 'false',
        () => '[1]',
      ])());
    }
    case 'bool':
      return p(rng.pick(['"true"', '0', '1', 'null', '"false"', '[]']));
    case 'address':
    case 'hash':
    case 'subscriptionId': {
      const bytes = shape.kind === 'address' ? 20 : shape.kind === 'hash' ? 32 : 16;
      return p(rng.pick([
        () => str('0x' + rng.hex(bytes).slice(1)),
        () => str('0x' + rng.hex(bytes) + '0'),
        () => str('0x' + rng.hex(bytes + 1)),
        () => str('0X' + rng.hex(bytes)),
        () => str(rng.hex(bytes)),
        () => str('0x' + 'g'.repeat(2 * bytes)),
        () => str('0x' + rng.hex(bytes - 1) + 'zz'),
        () => str(' 0x' + rng.hex(bytes)),
        () => str('0x' + 'a1'.repeat(hugeLength(rng, 3 << 20))),
        () => String(rng.u32()),
        () => 'null',
      ])());
    }
    case 'enum':
      return p(rng.pick([
        () => str(rng.pick(shape.values).toUpperCase()),
        () => str(rng.pick(shape.values) + ' '),
        () => str(rng.ascii(rng.range(1, 10))),
        () => str(rng.ascii(hugeLength(rng, 7 << 20))),
        () => str('toString'),
        () => '1',
        () => 'null',
      ])());
    case 'hex':
      return rng.pick([
        () => p(str('0x' + rng.hex(rng.range(1, 40)).slice(1))),
        () => p(str('0x' + rng.hex(4) + 'zz')),
        () => p(str(rng.hex(rng.range(1, 40)))),
        () => p(str('0X' + rng.hex(4))),
        () => p(String(rng.u32())),
        () => p('null'),
        // Longer than the type allows: refused by length before decoding.
        () => ({ text: str('0x' + '00'.repeat(shape.maxBytes + rng.pick([1, 2, 1000]))), code: 'INVALID_PARAMS_OR_TX_ENCODING' as const }),
      ])();
    case 'string':
      return p(rng.pick([() => str('x'.repeat(shape.maxBytes + 1)), () => str('€'.repeat(Math.ceil(shape.maxBytes / 3) + 1)), () => '1', () => 'null', () => '["x"]'])());
    case 'oneOf': {
      // Invalid for every alternative: forms none of heights, keywords and hashes take.
      return p(rng.pick(['"5"', '"0"', 'null', '1.0e0', '-1', '"0x1234"', '"LATEST"', '{}', '[]', 'true', '"0x' + 'zz'.repeat(32) + '"']));
    }
    case 'options': {
      const names = Object.keys(shape.fields);
      return rng.pick([
        () => p(rng.pick(['null', '[]', '"x"', '1', 'true', '[{}]'])),
        () => p(`{${str(rng.pick(['extra', 'Txs', '__proto__', 'constructor', 'wait ', rng.ascii(hugeLength(rng, 1 << 20))]))}:true}`),
        () => {
          const field = rng.pick(names);
          const bad = invalidParam(rng, shape.fields[field]!);
          return { text: `{${str(field)}:${bad.text}}`, code: bad.code };
        },
      ])();
    }
  }
}

// ------------------------------------------------------------------------------------------
// requests for every method
// ------------------------------------------------------------------------------------------

/** What a correct node answers to one request object (null: no answer, it is a notification). */
export type EntryExpect =
  | { readonly kind: 'invalid-request' }
  | { readonly kind: 'method-not-found' }
  | { readonly kind: 'invalid-params'; readonly code: InvalidCode }
  /** Parameters valid for the method: anything but a request, method or parameter error. */
  | { readonly kind: 'valid' }
  | { readonly kind: 'not-available' }
  /** No oracle: only a well-formed answer with a documented code. */
  | { readonly kind: 'any' };

export interface GeneratedEntry {
  readonly text: string;
  readonly expect: EntryExpect;
  /** The id its answer must carry, as JSON text ('null' included); undefined: no answer (a valid notification). */
  readonly answerId: string | undefined;
}

/** The answer's id: an invalid request is answered with its id if that is valid, else null; a valid notification not at all. */
function answerIdOf(expect: EntryExpect, id: string | undefined, idValid: boolean): string | undefined {
  if (expect.kind === 'invalid-request') return id !== undefined && idValid ? id : 'null';
  return id;
}

/** Methods whose params are checked together as well as one by one, and valid params that cost too much to send often. */
const VALID_PARAMS_OVERRIDE: Record<string, (rng: Rng) => string[]> = {
  chain_subscribe: (rng) => (rng.bool() ? ['"newBlocks"'] : ['"tx"', str('0x' + rng.hex(32))]),
  // dev_mine [1000] builds 1000 blocks: valid, but kept small so the run measures input handling.
  dev_mine: (rng) => (rng.bool() ? [] : [String(rng.range(1, 2))]),
  // A cursor is valid only as an earlier answer gave it, and fromHeight must not pass toHeight.
  events_query: (rng) => {
    if (rng.bool(0.2)) return [];
    const from = rng.int(20);
    const fields = [
      rng.bool() ? `"module":${str(rng.pick(['coin', 'token', 'nft', 'x']))}` : '',
      rng.bool() ? `"name":${str(rng.pick(['transfer', 'created', 'x']))}` : '',
      rng.bool() ? `"field":${str(rng.pick(['to', 'from', 'amount']))}` : '',
      rng.bool() ? `"value":${str(rng.pick(['0x' + rng.hex(20), '5', 'x']))}` : '',
      rng.bool() ? `"fromHeight":${from}` : '',
      rng.bool() ? `"toHeight":${from + rng.int(1000)}` : '',
      rng.bool() ? `"limit":${rng.range(1, 1000)}` : '',
      rng.bool() ? `"cursor":"${from}.${rng.int(3)}.${rng.int(3)}"` : '',
    ].filter((f) => f !== '');
    return [`{${fields.join(',')}}`];
  },
};

export interface MethodFuzzer {
  readonly names: readonly string[];
  /** The params array of a request to `name`, as JSON text, and the expected answer class. */
  params(rng: Rng, name: string, transport: 'http' | 'ws'): { text: string; expect: EntryExpect };
}

export function methodFuzzer(table: Readonly<Record<string, RpcMethod<unknown>>>): MethodFuzzer {
  const names = Object.keys(table).sort();
  return {
    names,
    params(rng, name, transport) {
      const m = table[name]!;
      const wsOnlyHere = m.transport === 'ws' && transport !== 'ws';
      const required = m.params.filter((p) => !p.optional).length;
      const mode = rng.weighted([
        [45, 'valid'],
        [40, 'invalid-value'],
        [10, 'arity'],
        [5, 'random'],
      ] as const);
      const validList = (): string[] => {
        const override = VALID_PARAMS_OVERRIDE[name];
        if (override) return override(rng);
        const n = rng.range(required, m.params.length);
        return m.params.slice(0, n).map((p) => validParam(rng, p.type.shape));
      };
      const withNot = (e: EntryExpect): EntryExpect => (wsOnlyHere ? { kind: 'not-available' } : e);
      if (mode === 'valid') return { text: `[${validList().join(',')}]`, expect: withNot({ kind: 'valid' }) };
      if (mode === 'invalid-value' && m.params.length > 0) {
        const list = validList();
        // Fill up to a random param and replace it with an invalid one.
        const at = rng.int(m.params.length);
        while (list.length <= at) list.push(validParam(rng, m.params[list.length]!.type.shape));
        if (name === 'chain_subscribe' && at === 1 && list[0] === '"newBlocks"') list[0] = '"tx"';
        const bad = invalidParam(rng, m.params[at]!.type.shape);
        list[at] = bad.text;
        return { text: `[${list.join(',')}]`, expect: withNot({ kind: 'invalid-params', code: bad.code }) };
      }
      if (mode === 'arity' || mode === 'invalid-value') {
        const list = m.params.map((p) => validParam(rng, p.type.shape));
        const tooMany = rng.bool() || required === 0;
        const params = tooMany ? [...list, ...Array.from({ length: rng.pick([1, 2, 100]) }, () => anyJson(rng))] : list.slice(0, rng.int(required));
        return { text: `[${params.join(',')}]`, expect: withNot({ kind: 'invalid-params', code: 'INVALID_PARAMS' }) };
      }
      // Random JSON: named params (an object), garbage arrays.
      const text = rng.bool() ? `[${Array.from({ length: rng.int(4) }, () => anyJson(rng)).join(',')}]` : `{${str(rng.pick(['a', '0', 'txs']))}:${anyJson(rng)}}`;
      return { text, expect: wsOnlyHere ? { kind: 'not-available' } : { kind: 'any' } };
    },
  };
}

/** Ids a client may send: numbers as written (2^53 + 1, 1.5, -0), strings, null. */
export function validId(rng: Rng, counter: number): string {
  return rng.weighted<() => string>([
    [40, () => String(counter)],
    [10, () => str(`r${counter}`)],
    [5, () => str(`${rng.unicode(rng.range(1, 6))}#${counter}`)],
    [5, () => `9007199254${String(740993 + counter)}`], // beyond 2^53, must not be rounded
    [3, () => `-90071992547${String(40993 + counter)}`],
    [3, () => `${counter}.5`],
    [3, () => `${counter}e0`],
    [2, () => `${counter}${'0'.repeat(30)}`],
    [2, () => str(`${counter}:${rng.ascii(hugeLength(rng, 1 << 20))}`)],
  ])();
}

export function invalidId(rng: Rng): string {
  return rng.pick(['true', 'false', '[]', '[1]', '{}', '{"id":1}', nested(rng, rng.range(2, 100))]);
}

/**
 * One request object (or something in its place in a batch) with its expected answer. `counter`
 * makes ids unique within a body.
 */
export function requestEntry(rng: Rng, methods: MethodFuzzer, counter: number, transport: 'http' | 'ws', inBatch: boolean): GeneratedEntry {
  const shape = rng.weighted([
    [80, 'request'],
    [8, 'bad-envelope'],
    [4, 'notification'],
    [4, 'not-an-object'],
    [4, 'unknown-method'],
  ] as const);
  if (shape === 'not-an-object') {
    // Outside a batch an array would be a batch itself.
    const text = inBatch ? rng.pick(['1', '"x"', 'null', 'true', '[]', '[1]', numberText(rng), nested(rng, deepDepth(rng))]) : rng.pick(['1', '"x"', 'null', 'true', numberText(rng), '{}', '{"a":1}']);
    return { text, expect: { kind: 'invalid-request' }, answerId: 'null' };
  }
  // Over WebSocket, frames are answered concurrently: only invalid requests are answered with
  // id null there, so those answers stay interchangeable.
  const idText = shape === 'notification' ? undefined : transport === 'http' && rng.bool(0.03) ? 'null' : validId(rng, counter);
  const members: string[] = [];
  let expect: EntryExpect;
  let id = idText;
  let idValid = true;
  const method = shape === 'unknown-method'
    ? str(rng.pick(['eth_blockNumber', 'rpc.discover', '__proto__', 'toString', 'constructor', 'hasOwnProperty', 'chain_getinfo', ' chain_getInfo', '', rng.unicode(5), rng.ascii(hugeLength(rng, 1 << 20))]))
    : str(rng.pick(methods.names));
  const { text: paramsText, expect: paramsExpect } =
    shape === 'unknown-method' ? { text: '[]', expect: { kind: 'method-not-found' } as EntryExpect } : methods.params(rng, JSON.parse(method) as string, transport);
  expect = paramsExpect;
  let jsonrpc = '"2.0"';
  let params: string | undefined = paramsText === '[]' && rng.bool(0.3) ? undefined : paramsText;
  if (shape === 'bad-envelope') {
    const what = rng.pick(['jsonrpc', 'jsonrpc-missing', 'method', 'method-missing', 'params', 'id'] as const);
    if (what === 'jsonrpc') jsonrpc = rng.pick(['"2"', '2.0', '2', '"1.0"', 'null', '"2.0 "', '["2.0"]', '" 2.0"', '"3.0"']);
    if (what === 'jsonrpc-missing') jsonrpc = '';
    if (what === 'params') params = rng.pick(['"bar"', 'null', '1', 'true', '1.0e0', str(rng.ascii(hugeLength(rng, 1 << 20)))]);
    expect = { kind: 'invalid-request' };
    if (what === 'method' || what === 'method-missing') {
      members.push(...(what === 'method' ? [`"method":${rng.pick(['1', 'null', '["chain_getInfo"]', '{}', 'true'])}`] : []));
      if (jsonrpc) members.unshift(`"jsonrpc":${jsonrpc}`);
      if (id !== undefined) members.push(`"id":${id}`);
      if (params !== undefined) members.push(`"params":${params}`);
      return { text: `{${shuffle(rng, members).join(',')}}`, expect, answerId: answerIdOf(expect, id, idValid) };
    }
    if (what === 'id') {
      id = invalidId(rng);
      idValid = false;
    }
  }
  if (jsonrpc) members.push(`"jsonrpc":${jsonrpc}`);
  members.push(`"method":${method}`);
  if (params !== undefined) members.push(`"params":${params}`);
  if (id !== undefined) members.push(`"id":${id}`);
  if (rng.bool(0.05)) members.push(`${str(rng.pick(['extra', 'jsonrpc2', '__proto__']))}:${anyJson(rng)}`);
  return { text: `{${shuffle(rng, members).join(',')}}`, expect, answerId: answerIdOf(expect, id, idValid) };
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

// ------------------------------------------------------------------------------------------
// raw transactions
// ------------------------------------------------------------------------------------------

/** Sizes a raw tx mutation jumps to: the limit, one past it, and the sizes that once killed a worker. */
export const RAW_TX_EXTREMES = [0, 1, MAX_TX_BYTES - 1, MAX_TX_BYTES, MAX_TX_BYTES + 1, 1 << 20, (1 << 20) + 1, 2 << 20, 3 << 20] as const;

function randomValue(rng: Rng): Value {
  switch (rng.int(6)) {
    case 0:
      return v.bool(rng.bool());
    case 1:
      return v.u64(BigInt(rng.u32()));
    case 2:
      return v.u128((BigInt(rng.u32()) << 64n) | BigInt(rng.u32()));
    case 3:
      return v.address(rng.bytes(20));
    case 4:
      return v.bytes(rng.bytes(rng.pick([0, 1, 32, 1000, 16 * 1024])));
    default:
      return v.string(rng.unicode(rng.range(0, 30)));
  }
}

/**
 * Signed txs to mutate, made once (signing costs a millisecond; mutating a copy, microseconds):
 * transfers and module calls from fresh (unfunded) keys and funded dev accounts.
 */
export function baseTxPool(rng: Rng, chainId: number, devKeys: readonly KeyPair[], size = 64): Uint8Array[] {
  return Array.from({ length: size }, () => baseTx(rng, chainId, devKeys));
}

/** A signed tx to mutate: transfers and module calls, from fresh (unfunded) keys and funded dev accounts. */
export function baseTx(rng: Rng, chainId: number, devKeys: readonly KeyPair[]): Uint8Array {
  const key = rng.bool(0.6) ? keyPairFromPrivateKey(rng.bytes(32)) : rng.pick(devKeys);
  const nonce = BigInt(rng.pick([0, 1, 2, rng.int(100), 1_000_000]));
  const call = rng.pick([
    ['coin', 'transfer', [v.address(rng.bytes(20)), v.u128(BigInt(rng.int(1000)))]],
    ['token', 'create', [v.string('Fuzz'), v.string('FZ'), v.u64(2n), v.u128(1000n)]],
    ['nft', 'mint', [v.address(rng.bytes(20)), v.address(rng.bytes(20)), v.string('ipfs://x')]],
    ['fuzz', 'f' + rng.ascii(rng.range(0, 8)).toLowerCase(), Array.from({ length: rng.int(5) }, () => randomValue(rng))],
  ] as const);
  return buildCall({
    chainId: rng.bool(0.95) ? chainId : rng.u32(), key, nonce, module: call[0], call: call[1], args: call[2],
    // Short expiry: what the mempool accepts leaves it soon.
    expiry: BigInt(rng.pick([0, 1, 5, 20])),
    gasLimit: BigInt(rng.pick([50_000, 0, 100, 10_000_001])), gasPrice: BigInt(rng.pick([1, 0, 2])),
  }).raw;
}

/** A mutation of `raw`: bit flips, byte changes, truncation, extension, splices, size extremes. */
export function mutateTx(rng: Rng, raw: Uint8Array): Uint8Array {
  const out = raw.slice();
  switch (rng.int(9)) {
    case 0: {
      for (let i = rng.range(1, 3); i > 0; i--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    }
    case 1:
      out[rng.int(out.length)] = rng.pick([0, 0xff, rng.int(256)]);
      return out;
    case 2:
      return out.subarray(0, rng.int(out.length));
    case 3:
      return concat(out, rng.bytes(rng.pick([1, 2, 64, 1000])));
    case 4: {
      // A length or count field in the body set huge (module/call lengths, argCount, value lengths).
      const at = rng.pick([69, 70, 74, 83, 84, rng.int(out.length)]);
      out[Math.min(at, out.length - 1)] = 0xff;
      return out;
    }
    case 5: {
      const at = rng.int(out.length);
      return concat(out.subarray(0, at), rng.bytes(rng.range(1, 8)), out.subarray(at + rng.int(8)));
    }
    case 6:
      return rng.bool() ? out.fill(0, out.length - 64) : out.fill(0, 0, 1);
    case 7: {
      // Size extremes: the tx padded or cut to one of the sizes around the limits (the
      // megabyte ones rarely: they cost their size in every layer, and are queued once anyway).
      const size = rng.bool(0.05) ? rng.pick(RAW_TX_EXTREMES) : rng.pick(RAW_TX_EXTREMES.filter((n) => n <= MAX_TX_BYTES + 1));
      return size <= out.length ? out.subarray(0, size) : concat(out, new Uint8Array(size - out.length).fill(rng.int(256)));
    }
    default:
      return raw;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
