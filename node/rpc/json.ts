/**
 * The JSON parser of the JSON-RPC server. It accepts exactly the texts `JSON.parse` accepts
 * and builds the same values, with two differences a JSON-RPC node needs:
 *
 * - A number whose source is not a plain safe integer (a fraction, an exponent, `-0`, or an
 *   integer beyond 2^53 - 1) is kept as written, as a `JsonNumber`, instead of being rounded
 *   to a double. An `id` of 9007199254740993 then goes back exactly as sent, and a parameter
 *   that must be an integer can tell `1` from `1.0e0` (the second is refused).
 * - Containers nested deeper than `maxDepth` are still checked for syntax but not built: the
 *   value at depth `maxDepth + 1` is `JSON_TOO_DEEP`. No parameter of any method is that deep,
 *   so such input fails validation like any other wrong shape, and nothing downstream (error
 *   messages, logs, serialisation) ever walks an unbounded structure.
 *
 * Node 20's JSON.parse has no access to a number's source text (the reviver `context`
 * argument arrived in V8 12), hence this parser. It is iterative (no recursion, whatever the
 * depth) and skips plain string content with a sticky regular expression, so its cost stays
 * close to JSON.parse's on JSON-RPC bodies, which are mostly long hex strings; strings with
 * escapes are decoded by JSON.parse itself, so escapes mean exactly what they mean there.
 */

/** A JSON number that is not a plain safe integer, kept as its source text. */
export class JsonNumber {
  constructor(readonly source: string) {}
  /** When echoed in a result (never in pel's own answers): the nearest double, like JSON.parse. */
  toJSON(): number {
    return Number(this.source);
  }
}

/** Stands for a container nested deeper than the parser's `maxDepth`. */
export class JsonTooDeep {
  toJSON(): null {
    return null;
  }
}
export const JSON_TOO_DEEP: JsonTooDeep = Object.freeze(new JsonTooDeep());

/** Deepest container built by default: a JSON-RPC request needs 4 (batch, request, params, options). */
export const MAX_JSON_DEPTH = 32;

export class JsonSyntaxError extends Error {
  constructor(readonly position: number) {
    super(`invalid JSON at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

// Sticky: each matches at lastIndex or not at all. Neither can backtrack more than linearly.
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PLAIN_STRING_CHARS = /[^"\\\u0000-\u001f]*/y;
const PLAIN_INTEGER = /^-?[0-9]+$/;
const ESCAPE_OR_CONTROL = /[\\\u0000-\u001f]/;

interface Frame {
  readonly isArray: boolean;
  /** null while discarding a container nested deeper than maxDepth. */
  readonly array: unknown[] | null;
  readonly object: Record<string, unknown> | null;
  key: string;
}

export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let i = 0;
  const n = text.length;
  const stack: Frame[] = [];

  const fail = (at = i): never => {
    throw new JsonSyntaxError(at);
  };
  const skipWs = (): number => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return c;
    }
  };
  const string = (): string => {
    // text[i] is the opening quote. Fast path: no escape and no control character before the
    // next quote (two native scans; JSON-RPC strings are mostly long hex).
    const start = i + 1;
    const quote = text.indexOf('"', start);
    if (quote === -1) fail(start);
    const content = text.slice(start, quote);
    if (!ESCAPE_OR_CONTROL.test(content)) {
      i = quote + 1;
      return content;
    }
    let j = start;
    for (;;) {
      PLAIN_STRING_CHARS.lastIndex = j;
      PLAIN_STRING_CHARS.test(text);
      j = PLAIN_STRING_CHARS.lastIndex;
      const c = text.charCodeAt(j);
      if (c === 0x22) break;
      if (c !== 0x5c || j + 1 >= n) fail(j); // a control character, or the text ends
      j += 2;
    }
    i = j + 1;
    try {
      return JSON.parse(text.slice(start - 1, j + 1)) as string;
    } catch {
      return fail(start);
    }
  };
  const number = (): number | JsonNumber => {
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) fail();
    const end = NUMBER.lastIndex;
    const source = text.slice(i, end);
    i = end;
    const digits = source.charCodeAt(0) === 0x2d ? source.length - 1 : source.length;
    if (digits <= 16 && source !== '-0' && PLAIN_INTEGER.test(source)) {
      const v = Number(source);
      if (Number.isSafeInteger(v)) return v;
    }
    return new JsonNumber(source);
  };
  const literal = (word: string, value: unknown): unknown => {
    if (!text.startsWith(word, i)) fail();
    i += word.length;
    return value;
  };
  const open = (isArray: boolean): void => {
    const keep = stack.length < maxDepth;
    stack.push({ isArray, array: keep && isArray ? [] : null, object: keep && !isArray ? {} : null, key: '' });
  };
  const closed = (f: Frame): unknown => (f.isArray ? f.array : f.object) ?? JSON_TOO_DEEP;
  /** Reads `"key" :` into the frame. */
  const key = (f: Frame): void => {
    if (text.charCodeAt(i) !== 0x22) fail();
    f.key = string();
    if (skipWs() !== 0x3a) fail();
    i++;
  };

  for (;;) {
    // A value starts here.
    let value: unknown;
    const c = skipWs();
    if (c === 0x7b || c === 0x5b) {
      const isArray = c === 0x5b;
      i++;
      open(isArray);
      const f = stack[stack.length - 1]!;
      const next = skipWs();
      if (next === (isArray ? 0x5d : 0x7d)) {
        i++;
        stack.pop();
        value = closed(f);
      } else {
        if (!isArray) key(f);
        continue;
      }
    } else if (c === 0x22) value = string();
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) value = number();
    else if (c === 0x74) value = literal('true', true);
    else if (c === 0x66) value = literal('false', false);
    else if (c === 0x6e) value = literal('null', null);
    else fail();

    // Hand the value to its container; close every container that ends here.
    for (;;) {
      const f = stack[stack.length - 1];
      if (f === undefined) {
        skipWs();
        if (i !== n) fail();
        return value;
      }
      if (f.array !== null) f.array.push(value);
      else if (f.object !== null) {
        // JSON.parse defines "__proto__" as an own property; assigning it would set the prototype.
        if (f.key === '__proto__') Object.defineProperty(f.object, f.key, { value, writable: true, enumerable: true, configurable: true });
        else f.object[f.key] = value;
      }
      const next = skipWs();
      if (next === 0x2c) {
        i++;
        if (!f.isArray) {
          skipWs();
          key(f);
        }
        break;
      }
      if (next !== (f.isArray ? 0x5d : 0x7d)) fail();
      i++;
      stack.pop();
      value = closed(f);
    }
  }
}

/** The most characters of an offending input an error message shows. */
export const PREVIEW_CHARS = 32;

/**
 * A short description of a parsed, untrusted value for an error message: its type and at
 * most PREVIEW_CHARS of its text. Never walks into arrays or objects.
 */
export function preview(v: unknown): string {
  if (typeof v === 'string') {
    const head = JSON.stringify(v.slice(0, PREVIEW_CHARS));
    return v.length > PREVIEW_CHARS ? `${head.slice(0, -1)}…" (${v.length} characters)` : head;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v instanceof JsonNumber) return v.source.length > PREVIEW_CHARS ? `${v.source.slice(0, PREVIEW_CHARS)}… (a number of ${v.source.length} characters)` : v.source;
  if (v instanceof JsonTooDeep) return 'a value nested too deep';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'an object';
  return 'nothing';
}
