/**
 * The one canonical binary encoding of pel (docs/PROTOCOL.md, "Encoding"):
 * fixed-width little-endian integers, u32-length-prefixed byte strings, u8-length-prefixed
 * names. Decoders reject truncated input, trailing bytes and out-of-range values, so every
 * object has exactly one encoding.
 */
import { ProtocolError } from './errors.js';

export const U64_MAX = (1n << 64n) - 1n;
export const U128_MAX = (1n << 128n) - 1n;
const textEncoder = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF. The default strips it, so EF BB BF 'coin' would decode
// to the name "coin" and two byte strings would decode to one value.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new ProtocolError('INVALID_VALUE', `u8 out of range: ${v}`);
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ProtocolError('INVALID_VALUE', `u16 out of range: ${v}`);
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ProtocolError('INVALID_VALUE', `u32 out of range: ${v}`);
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new ProtocolError('INVALID_VALUE', `u64 out of range: ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  u128(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v > U128_MAX) throw new ProtocolError('INVALID_VALUE', `u128 out of range: ${v}`);
    this.ensure(16);
    this.view.setBigUint64(this.pos, v & U64_MAX, true);
    this.view.setBigUint64(this.pos + 8, v >> 64n, true);
    this.pos += 16;
    return this;
  }

  /** Fixed-length bytes, no prefix. */
  raw(b: Uint8Array, expectedLength?: number): this {
    if (expectedLength !== undefined && b.length !== expectedLength) {
      throw new ProtocolError('INVALID_VALUE', `expected ${expectedLength} bytes, got ${b.length}`);
    }
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** u32 length prefix, then the bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.raw(b);
  }

  /** u8 length prefix, then the UTF-8 bytes; used for module, call, event and error names. */
  name(s: string): this {
    if (s.length < 256 && isAscii(s)) {
      // Hot path (receipts, events): names are ASCII, skip the TextEncoder.
      this.u8(s.length);
      this.ensure(s.length);
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
      return this;
    }
    const b = utf8(s);
    this.u8(b.length);
    return this.raw(b);
  }

  /** u32 length prefix, then UTF-8 bytes. */
  string(s: string): this {
    return this.bytes(utf8(s));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class Reader {
  private pos = 0;
  private readonly view: DataView;

  /**
   * `views`: raw() and bytes() return views into `buf` instead of copies. Only for a buffer
   * nobody changes while the decoded result is in use (decodeTx reads its own private copy).
   */
  constructor(
    private readonly buf: Uint8Array,
    private readonly what = 'input',
    private readonly views = false,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) {
      throw new ProtocolError('DECODE_ERROR', `${this.what}: truncated while reading ${field} at byte ${this.pos}`);
    }
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field = 'u16'): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(field = 'u64'): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u128(field = 'u128'): bigint {
    this.need(16, field);
    const lo = this.view.getBigUint64(this.pos, true);
    const hi = this.view.getBigUint64(this.pos + 8, true);
    this.pos += 16;
    return (hi << 64n) | lo;
  }

  /** Steps over `n` bytes, which must be there. */
  skip(n: number, field = 'bytes'): void {
    this.need(n, field);
    this.pos += n;
  }

  raw(n: number, field = 'bytes'): Uint8Array {
    this.need(n, field);
    const out = this.views ? this.buf.subarray(this.pos, this.pos + n) : this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  bytes(field = 'bytes', maxLength = 1 << 24): Uint8Array {
    const n = this.u32(`${field} length`);
    if (n > maxLength) throw new ProtocolError('DECODE_ERROR', `${this.what}: ${field} length ${n} exceeds ${maxLength}`);
    return this.raw(n, field);
  }

  name(field = 'name'): string {
    const n = this.u8(`${field} length`);
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n); // decoded at once: no copy needed
    this.pos += n;
    return decodeUtf8(b, `${this.what}: ${field}`);
  }

  string(field = 'string', maxLength = 1 << 20): string {
    return decodeUtf8(this.bytes(field, maxLength), `${this.what}: ${field}`);
  }

  /** Every decoder calls this last: canonical encodings have no trailing bytes. */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new ProtocolError('TRAILING_BYTES', `${this.what}: ${this.buf.length - this.pos} trailing bytes after byte ${this.pos}`);
    }
  }
}

function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return textDecoder.decode(b);
  } catch (cause) {
    throw new ProtocolError('DECODE_ERROR', `${what} is not valid UTF-8`, { cause });
  }
}

const TWO32 = 2 ** 32;

/** Little-endian uint32 at `o` (no DataView allocation: these run several times per tx). */
function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function put32(out: Uint8Array, o: number, v: number): void {
  out[o] = v & 0xff;
  out[o + 1] = (v >>> 8) & 0xff;
  out[o + 2] = (v >>> 16) & 0xff;
  out[o + 3] = (v >>> 24) & 0xff;
}

function decodeFixed(b: Uint8Array, words: 2 | 4, what: string): bigint {
  if (b.length !== words * 4) throw new ProtocolError('DECODE_ERROR', `${what}: expected ${words * 4} bytes, got ${b.length}`);
  const w0 = le32(b, 0);
  const w1 = le32(b, 4);
  if (words === 4) {
    const w2 = le32(b, 8);
    const w3 = le32(b, 12);
    if (w2 !== 0 || w3 !== 0) return (BigInt(w3) << 96n) | (BigInt(w2) << 64n) | (BigInt(w1) << 32n) | BigInt(w0);
  }
  if (w1 < 0x200000) return BigInt(w1 * TWO32 + w0);
  return (BigInt(w1) << 32n) | BigInt(w0);
}

function encodeFixed(v: bigint, words: 2 | 4, max: bigint, what: string): Uint8Array {
  if (typeof v !== 'bigint' || v < 0n || v > max) throw new ProtocolError('INVALID_VALUE', `${what} out of range: ${v}`);
  const out = new Uint8Array(words * 4);
  if (v <= 0x1fffffffffffffn) {
    const n = Number(v);
    put32(out, 0, n >>> 0);
    put32(out, 4, Math.floor(n / TWO32));
    return out;
  }
  for (let i = 0; i < words; i++) put32(out, i * 4, Number((v >> BigInt(32 * i)) & 0xffffffffn));
  return out;
}

/** A list of byte strings: u32 n | (u32 length | bytes)*. */
export function encodeBytesList(items: readonly Uint8Array[]): Uint8Array {
  let size = 4;
  for (const it of items) size += 4 + it.length;
  const w = new Writer(size);
  w.u32(items.length);
  for (const it of items) w.bytes(it);
  return w.finish();
}

/** `views`: the items are views into `b` (see Reader), for a buffer the caller owns. */
export function decodeBytesList(b: Uint8Array, what = 'bytes list', maxItemLength = 1 << 24, views = false): Uint8Array[] {
  const r = new Reader(b, what, views);
  const n = r.u32();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes('item', maxItemLength));
  r.end();
  return out;
}

/** u128 little-endian, 16 bytes: the encoding of every balance and counter in state. */
export function encodeU128(v: bigint): Uint8Array {
  return encodeFixed(v, 4, U128_MAX, 'u128');
}

export function decodeU128(b: Uint8Array | undefined): bigint {
  return b === undefined ? 0n : decodeFixed(b, 4, 'u128 value');
}

export function encodeU64(v: bigint): Uint8Array {
  return encodeFixed(v, 2, U64_MAX, 'u64');
}

export function decodeU64(b: Uint8Array | undefined): bigint {
  return b === undefined ? 0n : decodeFixed(b, 2, 'u64 value');
}
