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
import type { SignatureVerifier } from './verify.js';

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

/**
 * A signed tx. Every one this code base makes is an EncodedTx (below), whose fields are
 * accessors over its bytes: copy one with `unsignedTx(tx)`, not with `{ ...tx }`.
 */
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
  return signedTxOf(tx, body, sign(txSigningBytes(body), privateKey));
}

/** The SignedTx for an encoded body and its signature (signTx, and the bench's faster signer). */
export function signedTxOf(tx: UnsignedTx, body: Uint8Array, signature: Uint8Array): SignedTx {
  const raw = concatBytes(body, signature);
  return new EncodedTx(raw, sha256(raw), addressFromPublicKey(tx.senderPublicKey), { module: tx.module, call: tx.call, args: [...tx.args] });
}

/** Byte offsets in a tx: the fixed-width head of the body, then module, call and args. */
const AT = { chainId: 1, publicKey: 5, nonce: 37, gasLimit: 45, gasPrice: 53, expiry: 61, module: 69 } as const;
const SIGNATURE_LENGTH = 64;
/**
 * The shortest signed tx decodeTx can accept (139 bytes): the fixed-width head, one-letter
 * module and call names (u8 length + 1 byte each), no arguments (u16 0) and the signature.
 * Shorter bytes are not a tx, whatever they hold.
 */
export const MIN_TX_BYTES = AT.module + 2 + 2 + 2 + SIGNATURE_LENGTH;

/** The variable-width part of a tx body. */
interface TxTail {
  readonly module: string;
  readonly call: string;
  readonly args: readonly Value[];
}

/** Reads module, call and args (the reader stands at AT.module), checking them as decodeTx does. */
function readTail(r: Reader): TxTail {
  const module = r.name('module');
  checkName(module, 'module');
  const call = r.name('call');
  checkName(call, 'call');
  const argc = r.u16('argCount');
  if (argc > MAX_ARGS) throw new ProtocolError('DECODE_ERROR', `transaction: ${argc} arguments, at most ${MAX_ARGS}`);
  const args: Value[] = [];
  for (let i = 0; i < argc; i++) args.push(readValue(r));
  return { module, call, args };
}

const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
function u64le(b: Uint8Array, at: number): bigint {
  const lo = u32le(b, at);
  const hi = u32le(b, at + 4);
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * The one SignedTx implementation: a tx is its canonical bytes, and its fields are cut from
 * them. The fixed-width head (chain id, nonce, gas, expiry) is read when the tx is made,
 * since the mempool needs it at once; key and signature are views into `raw`; module, call
 * and args are decoded on first use, which on the node's ingestion path is when the tx is
 * executed (on a worker, from the block arena), so the main thread never decodes them.
 *
 * Only made from bytes that decodeTx accepts (decodeTx itself, signing, or `checkedTx` for
 * bytes a worker decoded), so the lazy decode cannot fail. `raw` is private to the tx.
 */
class EncodedTx implements SignedTx {
  readonly chainId: number;
  readonly nonce: bigint;
  readonly gasLimit: bigint;
  readonly gasPrice: bigint;
  readonly expiry: bigint;
  readonly bodyLength: number;
  #tail: TxTail | undefined;

  constructor(
    readonly raw: Uint8Array,
    readonly hash: Uint8Array,
    readonly sender: Uint8Array,
    tail?: TxTail,
  ) {
    this.bodyLength = raw.length - SIGNATURE_LENGTH;
    this.chainId = u32le(raw, AT.chainId);
    this.nonce = u64le(raw, AT.nonce);
    this.gasLimit = u64le(raw, AT.gasLimit);
    this.gasPrice = u64le(raw, AT.gasPrice);
    this.expiry = u64le(raw, AT.expiry);
    this.#tail = tail;
  }

  get senderPublicKey(): Uint8Array {
    return this.raw.subarray(AT.publicKey, AT.publicKey + 32);
  }

  get signature(): Uint8Array {
    return this.raw.subarray(this.bodyLength);
  }

  get module(): string {
    return this.tail().module;
  }

  get call(): string {
    return this.tail().call;
  }

  get args(): readonly Value[] {
    return this.tail().args;
  }

  private tail(): TxTail {
    if (this.#tail === undefined) {
      const r = new Reader(this.raw.subarray(0, this.bodyLength), 'transaction', true);
      r.skip(AT.module, 'head');
      this.#tail = readTail(r);
      r.end();
    }
    return this.#tail;
  }
}

/**
 * Decode a signed transaction. Checks encoding only; the signature is checked by a verifier.
 * The tx gets a private copy of `raw` (one allocation with 32 more bytes for its hash), and
 * its fields (key, signature, byte arguments) are views into that copy.
 *
 * `known`: the parallel executor's workers, which get the hash and sender from the main
 * thread, skip recomputing them and decode in place: `raw` (the block arena) stays
 * unchanged while the tx is used.
 */
export function decodeTx(raw: Uint8Array, known?: { hash: Uint8Array; sender: Uint8Array }): SignedTx {
  checkSize(raw);
  if (known) return new EncodedTx(raw, known.hash, known.sender, readTx(raw));
  const store = new Uint8Array(raw.length + 32);
  store.set(raw);
  const copy = store.subarray(0, raw.length);
  const tail = readTx(copy);
  return new EncodedTx(copy, hashInto(store, copy), addressFromPublicKey(copy.subarray(AT.publicKey, AT.publicKey + 32)), tail);
}

/**
 * Everything decodeTx checks, without making the tx: throws its errors for bytes it
 * rejects. The worker pool's ingestion runs this (and hashes the bytes itself).
 */
export function checkTxEncoding(raw: Uint8Array): void {
  checkSize(raw);
  readTx(raw);
}

/** Bytes of a length no tx has are refused from their length alone, whatever they hold. */
function checkSize(raw: Uint8Array): void {
  if (raw.length > MAX_TX_BYTES) throw new ProtocolError('TX_TOO_LARGE', `transaction is ${raw.length} bytes, limit ${MAX_TX_BYTES}`);
  if (raw.length < MIN_TX_BYTES) throw new ProtocolError('DECODE_ERROR', `transaction is ${raw.length} bytes, shorter than the shortest possible (${MIN_TX_BYTES})`);
}

/** Reads a whole signed tx, checking every field; returns the variable-width part. */
function readTx(raw: Uint8Array): TxTail {
  const r = new Reader(raw, 'transaction', true);
  const version = r.u8('version');
  if (version !== TX_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `transaction version ${version} is not supported (expected ${TX_VERSION})`);
  r.skip(4, 'chainId');
  r.skip(32, 'senderPublicKey');
  r.skip(8, 'nonce');
  r.skip(8, 'gasLimit');
  r.skip(8, 'gasPrice');
  r.skip(8, 'expiry');
  const tail = readTail(r);
  r.skip(SIGNATURE_LENGTH, 'signature');
  r.end();
  return tail;
}

/**
 * A tx from bytes that decodeTx has accepted elsewhere, with the hash computed there: the
 * node's ingestion, where the worker pool decodes, hashes and verifies, and this thread only
 * copies the bytes and the hash into one private allocation and reads the fixed-width head.
 */
export function checkedTx(raw: Uint8Array, hash: Uint8Array): SignedTx {
  const n = raw.length;
  const store = new Uint8Array(n + 32);
  store.set(raw);
  for (let i = 0; i < 32; i++) store[n + i] = hash[i]!;
  const copy = store.subarray(0, n);
  return new EncodedTx(copy, store.subarray(n), addressFromPublicKey(copy.subarray(AT.publicKey, AT.publicKey + 32)));
}

/**
 * The parts a signature check needs, cut from raw signed-tx bytes without parsing the body:
 * the public key sits at a fixed offset and the signature is the last 64 bytes (decodeTx
 * requires nothing after it). For bytes that decodeTx accepts this gives exactly what
 * decodeTx + txSigningBytesOf give; it does not check the rest of the encoding, so callers
 * decode the tx as well (the node does, before and after verification runs on the pool).
 * null for bytes too short or of another version.
 */
export function txSignatureParts(raw: Uint8Array, scratch?: SigningScratch): { publicKey: Uint8Array; signingBytes: Uint8Array; signature: Uint8Array } | null {
  if (raw.length < AT.publicKey + 32 + SIGNATURE_LENGTH || raw.length > MAX_TX_BYTES || raw[0] !== TX_VERSION) return null;
  const bodyLength = raw.length - SIGNATURE_LENGTH;
  const body = raw.subarray(0, bodyLength);
  let signingBytes: Uint8Array;
  if (scratch) {
    scratch.bytes.set(body, TX_SIGN_DOMAIN.length);
    signingBytes = scratch.bytes.subarray(0, TX_SIGN_DOMAIN.length + bodyLength);
  } else signingBytes = txSigningBytes(body);
  return { publicKey: raw.subarray(AT.publicKey, AT.publicKey + 32), signingBytes, signature: raw.subarray(bodyLength) };
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
  const at = raw.length;
  writeTxHash(raw, store, at);
  return store.subarray(at, at + 32);
}

/**
 * The tx hash (SHA-256 of the signed bytes) written into `out` at `at`. A one-shot binary
 * digest copied in costs ~0.4 us against ~0.85 us for a digest Buffer.
 */
export function writeTxHash(raw: Uint8Array, out: Uint8Array, at: number): void {
  const h = sha256H32(raw);
  for (let i = 0; i < 32; i++) out[at + i] = h.charCodeAt(i);
}

/** The unsigned fields of a tx as a plain object (to change some and sign again). */
export function unsignedTx(tx: UnsignedTx): UnsignedTx {
  const { chainId, senderPublicKey, nonce, gasLimit, gasPrice, expiry, module, call, args } = tx;
  return { chainId, senderPublicKey, nonce, gasLimit, gasPrice, expiry, module, call, args: [...args] };
}

export function txSigningBytesOf(tx: SignedTx): Uint8Array {
  return txSigningBytes(tx.raw.subarray(0, tx.bodyLength));
}

/** Whether a decoded tx's signature verifies for its sender key over its signing bytes. */
export function txSignatureValid(verifier: Pick<SignatureVerifier, 'verify'>, tx: SignedTx): boolean {
  return verifier.verify(tx.senderPublicKey, txSigningBytesOf(tx), tx.signature);
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
