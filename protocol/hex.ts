import { ProtocolError } from './errors.js';

/** Lower-case hex with a 0x prefix. */
export function toHex(bytes: Uint8Array): string {
  return '0x' + toHexRaw(bytes);
}

/**
 * Hex without prefix (used for storage keys and map ids). Node's native encoder: ~3x faster
 * than building the string a byte at a time, and the result is a flat string, which Map
 * lookups hash without flattening first.
 */
export function toHexRaw(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/**
 * A bounded memo keyed by the *contents* of a fixed-length byte string (a 20-byte address
 * by default), not by the array object: state keys are derived from addresses many times
 * per transaction and, on the executor's workers, from freshly decoded txs every block, so
 * an identity-keyed WeakMap would miss there and add ephemerons for the GC. The memo copies
 * its input (callers may pass views into shared memory that are reused), compares every
 * byte on a hit, and starts over when full. It only saves work: what it returns is
 * `make(bytes)`, and callers must treat that value as immutable.
 */
export class AddressMemo<T> {
  private readonly map = new Map<number, { readonly bytes: Uint8Array; readonly value: T }>();
  constructor(
    private readonly make: (bytes: Uint8Array) => T,
    private readonly length = 20,
    private readonly max = 1 << 16,
  ) {}

  get(a: Uint8Array): T {
    const len = this.length;
    if (a.length !== len) return this.make(a);
    // 30 bits of the (hash-derived, uniform) input: a small integer Map key.
    const k = (a[0]! | (a[1]! << 8) | (a[2]! << 16) | (a[3]! << 24)) & 0x3fffffff;
    const e = this.map.get(k);
    if (e !== undefined) {
      const b = e.bytes;
      let i = 0;
      while (i < len && b[i] === a[i]) i++;
      if (i === len) return e.value;
    }
    const value = this.make(a);
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(k, { bytes: a.slice(), value });
    return value;
  }
}

const hexMemo = new AddressMemo<string>(toHexRaw);

/** toHexRaw of an address, memoised by content (state keys are built from addresses). */
export function addressHex(address: Uint8Array): string {
  return hexMemo.get(address);
}

/**
 * Strict hex decoding: optional 0x prefix, even length, [0-9a-fA-F] only.
 * `expectedLength` (in bytes) is checked when given.
 */
export function fromHex(hex: string, expectedLength?: number, what = 'hex string'): Uint8Array {
  if (typeof hex !== 'string') throw new ProtocolError('INVALID_HEX', `${what} must be a string`);
  const s = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0) throw new ProtocolError('INVALID_HEX', `${what} has an odd number of hex digits`);
  // Node's decoder stops at the first pair that is not hex: a shorter result means a bad
  // character (cheaper than a regular expression over a whole raw tx).
  const out = Buffer.from(s, 'hex');
  if (out.length * 2 !== s.length) throw new ProtocolError('INVALID_HEX', `${what} contains a non-hex character`);
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new ProtocolError('INVALID_HEX', `${what} must be ${expectedLength} bytes, got ${out.length}`);
  }
  // Copy: small Buffers are views into Node's shared 8 KiB pool, and a caller that
  // transfers or wraps `.buffer` (worker hand-off) must not reach other allocations.
  return new Uint8Array(out);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Byte-wise lexicographic comparison (canonical ordering of keys and hashes). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
