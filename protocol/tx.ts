/**
 * Transactions: fields, canonical encoding, signing bytes and hash (docs/PROTOCOL.md).
 *
 * body   = u8 version(=1) | u32 chainId | [32] senderPublicKey | u64 nonce | u64 gasLimit
 *          | u64 gasPrice | u64 expiry | name module | name call | u16 argCount | Value*
 * signed = body | [64] signature
 * signingBytes = SHA-256("pel:tx:v1") | body
 * hash   = SHA-256(signed)
 */
import { Reader, Writer } from './codec.js';
import { ProtocolError } from './errors.js';
import { domainTag, sha256, sha256H32 } from './hash.js';
import { addressFromPublicKey } from './address.js';
import { concatBytes, toHex } from './hex.js';
import { readValue, valueToJson, writeValue, type JsonValue, type Value } from './value.js';
import { sign } from './keys.js';

export const TX_VERSION = 1;
export const MAX_TX_BYTES = 64 * 1024;
export const MAX_ARGS = 32;
export const TX_SIGN_DOMAIN = domainTag('pel:tx:v1');
const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;

export interface UnsignedTx {
  readonly chainId: number;
  readonly senderPublicKey: Uint8Array;
  readonly nonce: bigint;
  readonly gasLimit: bigint;
  readonly gasPrice: bigint;
  /** Last block height at which the transaction may be included. */
  readonly expiry: bigint;
  readonly module: string;
  readonly call: string;
  readonly args: readonly Value[];
}

export interface SignedTx extends UnsignedTx {
  readonly signature: Uint8Array;
  /** Derived, not encoded: address of senderPublicKey. */
  readonly sender: Uint8Array;
  /** Derived: SHA-256 of `raw`. */
  readonly hash: Uint8Array;
  /** The canonical signed encoding. */
  readonly raw: Uint8Array;
  /** Length of the body inside `raw` (signature follows). */
  readonly bodyLength: number;
}

export function checkName(name: string, what: string): void {
  if (!NAME_RE.test(name)) throw new ProtocolError('INVALID_NAME', `${what} must match ${NAME_RE.source}, got ${JSON.stringify(name)}`);
}

export function encodeTxBody(tx: UnsignedTx): Uint8Array {
  checkName(tx.module, 'module');
  checkName(tx.call, 'call');
  if (tx.args.length > MAX_ARGS) throw new ProtocolError('INVALID_VALUE', `at most ${MAX_ARGS} arguments`);
  const w = new Writer(160);
  w.u8(TX_VERSION).u32(tx.chainId).raw(tx.senderPublicKey, 32).u64(tx.nonce).u64(tx.gasLimit).u64(tx.gasPrice).u64(tx.expiry);
  w.name(tx.module).name(tx.call).u16(tx.args.length);
  for (const a of tx.args) writeValue(w, a);
  const body = w.finish();
  if (body.length + 64 > MAX_TX_BYTES) throw new ProtocolError('TX_TOO_LARGE', `transaction is ${body.length + 64} bytes, limit ${MAX_TX_BYTES}`);
  return body;
}

export function txSigningBytes(body: Uint8Array): Uint8Array {
  return concatBytes(TX_SIGN_DOMAIN, body);
}

export function signTx(tx: UnsignedTx, privateKey: Uint8Array): SignedTx {
  const body = encodeTxBody(tx);
  const signature = sign(txSigningBytes(body), privateKey);
  const raw = concatBytes(body, signature);
  return { ...tx, args: [...tx.args], signature, sender: addressFromPublicKey(tx.senderPublicKey), hash: sha256(raw), raw, bodyLength: body.length };
}

/**
 * Decode a signed transaction. Checks encoding only; the signature is checked by a verifier.
 * `known` lets a caller that already derived the hash and sender (the parallel executor's
 * workers get them from the main thread) skip recomputing them.
 */
export function decodeTx(raw: Uint8Array, known?: { hash: Uint8Array; sender: Uint8Array; noCopy?: boolean }): SignedTx {
  if (raw.length > MAX_TX_BYTES) throw new ProtocolError('TX_TOO_LARGE', `transaction is ${raw.length} bytes, limit ${MAX_TX_BYTES}`);
  // noCopy: the caller guarantees `raw` stays unchanged while the tx is used (a worker's
  // block arena); everyone else gets a private copy. Either way the tx owns those bytes, so
  // its fields (key, signature, byte arguments) are views into them, not further copies.
  //
  // The private copy has 32 bytes more for the hash (computed below unless `known`): one
  // allocation per tx for its bytes and its hash instead of a copy plus a digest Buffer.
  let copy: Uint8Array;
  let store: Uint8Array | null = null;
  if (known?.noCopy) copy = raw;
  else {
    store = new Uint8Array(raw.length + (known ? 0 : 32));
    store.set(raw);
    copy = known ? store : store.subarray(0, raw.length);
  }
  const r = new Reader(copy, 'transaction', true);
  const version = r.u8('version');
  if (version !== TX_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `transaction version ${version} is not supported (expected ${TX_VERSION})`);
  const chainId = r.u32('chainId');
  const senderPublicKey = r.raw(32, 'senderPublicKey');
  const nonce = r.u64('nonce');
  const gasLimit = r.u64('gasLimit');
  const gasPrice = r.u64('gasPrice');
  const expiry = r.u64('expiry');
  const module = r.name('module');
  checkName(module, 'module');
  const call = r.name('call');
  checkName(call, 'call');
  const argc = r.u16('argCount');
  if (argc > MAX_ARGS) throw new ProtocolError('DECODE_ERROR', `transaction: ${argc} arguments, at most ${MAX_ARGS}`);
  const args: Value[] = [];
  for (let i = 0; i < argc; i++) args.push(readValue(r));
  const bodyLength = r.offset;
  const signature = r.raw(64, 'signature');
  r.end();
  return {
    chainId, senderPublicKey, nonce, gasLimit, gasPrice, expiry, module, call, args, signature,
    sender: known ? known.sender : addressFromPublicKey(senderPublicKey), hash: known ? known.hash : hashInto(store!, copy), raw: copy, bodyLength,
  };
}

/** Byte offset of senderPublicKey in a tx (after u8 version and u32 chainId). */
const PUBLIC_KEY_OFFSET = 5;

/**
 * The parts a signature check needs, cut from raw signed-tx bytes without parsing the body:
 * the public key sits at a fixed offset and the signature is the last 64 bytes (decodeTx
 * requires nothing after it). For bytes that decodeTx accepts this gives exactly what
 * decodeTx + txSigningBytesOf give; it does not check the rest of the encoding, so callers
 * decode the tx as well (the node does, before and after verification runs on the pool).
 * null for bytes too short or of another version.
 */
export function txSignatureParts(raw: Uint8Array, scratch?: SigningScratch): { publicKey: Uint8Array; signingBytes: Uint8Array; signature: Uint8Array } | null {
  if (raw.length < PUBLIC_KEY_OFFSET + 32 + 64 || raw.length > MAX_TX_BYTES || raw[0] !== TX_VERSION) return null;
  const bodyLength = raw.length - 64;
  const body = raw.subarray(0, bodyLength);
  let signingBytes: Uint8Array;
  if (scratch) {
    scratch.bytes.set(body, TX_SIGN_DOMAIN.length);
    signingBytes = scratch.bytes.subarray(0, TX_SIGN_DOMAIN.length + bodyLength);
  } else signingBytes = txSigningBytes(body);
  return { publicKey: raw.subarray(PUBLIC_KEY_OFFSET, PUBLIC_KEY_OFFSET + 32), signingBytes, signature: raw.subarray(bodyLength) };
}

/**
 * A reusable buffer for signing bytes (domain tag, then the body): txSignatureParts with one
 * fills it instead of allocating per tx. Its signingBytes are valid until the next call.
 */
export class SigningScratch {
  readonly bytes = new Uint8Array(TX_SIGN_DOMAIN.length + MAX_TX_BYTES);
  constructor() {
    this.bytes.set(TX_SIGN_DOMAIN, 0);
  }
}

/** SHA-256 of `raw` written into the 32 bytes after it in `store`; returns that view. */
function hashInto(store: Uint8Array, raw: Uint8Array): Uint8Array {
  const h = sha256H32(raw);
  const at = raw.length;
  for (let i = 0; i < 32; i++) store[at + i] = h.charCodeAt(i);
  return store.subarray(at, at + 32);
}

export function txSigningBytesOf(tx: SignedTx): Uint8Array {
  return txSigningBytes(tx.raw.subarray(0, tx.bodyLength));
}

export interface TxJson {
  hash: string;
  chainId: number;
  sender: string;
  senderPublicKey: string;
  nonce: string;
  gasLimit: string;
  gasPrice: string;
  expiry: string;
  module: string;
  call: string;
  args: JsonValue[];
  signature: string;
}

export function txToJson(tx: SignedTx): TxJson {
  return {
    hash: toHex(tx.hash),
    chainId: tx.chainId,
    sender: toHex(tx.sender),
    senderPublicKey: toHex(tx.senderPublicKey),
    nonce: tx.nonce.toString(),
    gasLimit: tx.gasLimit.toString(),
    gasPrice: tx.gasPrice.toString(),
    expiry: tx.expiry.toString(),
    module: tx.module,
    call: tx.call,
    args: tx.args.map(valueToJson),
    signature: toHex(tx.signature),
  };
}
