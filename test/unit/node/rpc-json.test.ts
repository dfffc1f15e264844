/**
 * node/rpc/json.ts against JSON.parse, the reference: the same texts are accepted and give the
 * same values, except that numbers which are not plain safe integers stay as written and
 * containers past the depth limit are replaced by JSON_TOO_DEEP.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JSON_TOO_DEEP, JsonNumber, JsonSyntaxError, MAX_JSON_DEPTH, parseJson, preview, PREVIEW_CHARS } from '../../../node/rpc/json.js';

/** parseJson's value with every JsonNumber read as JSON.parse would read it. */
function asJsonParse(v: unknown): unknown {
  if (v instanceof JsonNumber) return Number(v.source);
  if (Array.isArray(v)) return v.map(asJsonParse);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: asJsonParse(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof SyntaxError || e instanceof JsonSyntaxError) return { ok: false };
    throw e;
  }
}

function expectSameAsJsonParse(text: string): void {
  const ref = outcome(() => JSON.parse(text));
  const ours = outcome(() => parseJson(text));
  expect(ours.ok, `accepts ${JSON.stringify(text)}`).toBe(ref.ok);
  if (ref.ok && ours.ok) expect(asJsonParse(ours.value)).toStrictEqual(ref.value);
}

// Texts near valid JSON: fragments and characters that matter to a JSON parser.
const jsonish = fc
  .array(
    fc.oneof(
      fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '\t', '\r', '\u0000', '\u001f', '\u2028', '\ufeff', 'true', 'false', 'null', 'nul', '-', '0', '1', '.', 'e', 'E', '+', '"a"', '\\u00e9', '\\ud83d', '\\x', '\\"', '01', '1e', '-0', '1.'),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(''));

describe('parseJson', () => {
  it('accepts and rejects exactly what JSON.parse does, with the same values (generated JSON)', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), fc.constantFrom(0, 1, 2), (text, ws) => {
        const spaced = ws === 0 ? text : JSON.stringify(JSON.parse(text), null, ws === 1 ? 1 : '\t');
        expectSameAsJsonParse(spaced);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts and rejects exactly what JSON.parse does (near-JSON garbage)', () => {
    fc.assert(fc.property(jsonish, expectSameAsJsonParse), { numRuns: 20_000 });
  });

  it('agrees with JSON.parse on unicode strings and escapes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expectSameAsJsonParse(JSON.stringify(s));
        expectSameAsJsonParse(JSON.stringify([s, { [s]: s }]));
      }),
      { numRuns: 2000 },
    );
    for (const t of ['"\\u00e9\\n\\"\\/\\b\\f\\r\\t\\\\"', '"\\ud83d\\ude00"', '"\\ud800"', '"\\u12"', '"\\u12G4"', '"a\\', '"\\', '"\u0001"', '"\u007f"', '"abc']) expectSameAsJsonParse(t);
  });

  it('keeps numbers that are not plain safe integers as written', () => {
    expect(parseJson('[0, -1, 9007199254740991, -9007199254740991, 123456789012345]')).toEqual([0, -1, 9007199254740991, -9007199254740991, 123456789012345]);
    for (const src of ['9007199254740992', '9007199254740993', '-9007199254740993', '1.0e0', '1.0', '1e3', '-0', '0.1', '1E+2', '12345678901234567890123', '1' + '0'.repeat(400)]) {
      const v = parseJson(`{"id":${src}}`) as { id: unknown };
      expect(v.id, src).toBeInstanceOf(JsonNumber);
      expect((v.id as JsonNumber).source).toBe(src);
    }
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }), (n) => {
        const v = parseJson(n.toString());
        if (n >= BigInt(-Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)) expect(v).toBe(Number(n));
        else expect(v).toEqual(new JsonNumber(n.toString()));
      }),
    );
  });

  it('builds containers up to the depth limit and replaces deeper ones, whatever the depth', () => {
    const nest = (d: number, inner = '1'): string => '['.repeat(d) + inner + ']'.repeat(d);
    let v = parseJson(nest(MAX_JSON_DEPTH));
    for (let d = 0; d < MAX_JSON_DEPTH; d++) v = (v as unknown[])[0];
    expect(v).toBe(1);
    v = parseJson(nest(MAX_JSON_DEPTH + 1));
    for (let d = 0; d < MAX_JSON_DEPTH; d++) v = (v as unknown[])[0];
    expect(v).toBe(JSON_TOO_DEEP);
    // 10^6 deep: no stack overflow, still a syntax check.
    expect((parseJson(nest(1_000_000)) as unknown[]).length).toBe(1);
    expect(() => parseJson(nest(1_000_000).slice(0, -1))).toThrow(JsonSyntaxError);
    expect(() => parseJson('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000))).not.toThrow();
    // Depth counts from the top: here the object is depth 1, so the params array holds depth 2..
    let p = (parseJson('{"params":' + nest(100, '{"x":[]}') + '}') as { params: unknown }).params;
    for (let d = 2; d <= MAX_JSON_DEPTH; d++) p = (p as unknown[])[0];
    expect(p).toBe(JSON_TOO_DEEP);
    expect(parseJson('[[]]', 1)).toEqual([JSON_TOO_DEEP]);
    expect(parseJson('[{}]', 1)).toEqual([JSON_TOO_DEEP]);
  });

  it('defines "__proto__" as an own property, like JSON.parse, without touching the prototype', () => {
    const v = parseJson('{"__proto__":{"polluted":1},"a":1}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.hasOwn(v, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expectSameAsJsonParse('{"__proto__":[1],"__proto__":2}');
  });

  it('keeps the last of duplicate keys, like JSON.parse', () => {
    expectSameAsJsonParse('{"a":1,"b":2,"a":3}');
  });
});

describe('preview', () => {
  it('shows at most PREVIEW_CHARS of a value and never walks into containers', () => {
    const long = 'x'.repeat(1_000_000);
    expect(preview(long).length).toBeLessThan(PREVIEW_CHARS + 40);
    expect(preview(long)).toContain('1000000 characters');
    expect(preview('abc')).toBe('"abc"');
    expect(preview(new JsonNumber('9'.repeat(10_000))).length).toBeLessThan(PREVIEW_CHARS + 40);
    expect(preview(new Array(5))).toBe('an array of 5 items');
    expect(preview(JSON_TOO_DEEP)).toBe('a value nested too deep');
    expect(preview({ a: 'x'.repeat(1000) })).toBe('an object');
    expect(preview(null)).toBe('null');
    expect(preview(undefined)).toBe('nothing');
  });
});
