import { ProtocolError } from './errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex with a 0x prefix. */
export function toHex(bytes: Uint8Array): string {
  let out = '0x';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** Hex without prefix (used for storage keys). */
export function toHexRaw(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

const hexCache = new WeakMap<Uint8Array, string>();

/**
 * toHexRaw memoised per array object: state keys are built from the same address objects
 * (a tx's sender, its arguments) several times per transaction. Only for arrays that are
 * never mutated after creation (decoded addresses).
 */
export function addressHex(address: Uint8Array): string {
  let h = hexCache.get(address);
  if (h === undefined) {
    h = toHexRaw(address);
    hexCache.set(address, h);
  }
  return h;
}

/**
 * Strict hex decoding: optional 0x prefix, even length, [0-9a-fA-F] only.
 * `expectedLength` (in bytes) is checked when given.
 */
export function fromHex(hex: string, expectedLength?: number, what = 'hex string'): Uint8Array {
  if (typeof hex !== 'string') throw new ProtocolError('INVALID_HEX', `${what} must be a string`);
  const s = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0) throw new ProtocolError('INVALID_HEX', `${what} has an odd number of hex digits`);
  if (!/^[0-9a-fA-F]*$/.test(s)) throw new ProtocolError('INVALID_HEX', `${what} contains a non-hex character`);
  const out = Buffer.from(s, 'hex');
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
