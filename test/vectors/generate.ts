/**
 * Builds the known-answer vectors checked in beside this file (keys.json, txs.json,
 * blocks.json, signatures.json). Everything is derived from fixed inputs, so the output is
 * the same on every run; vectors.test.ts compares it with the checked-in JSON and
 * recomputes every value from the inputs in the files.
 *
 * To regenerate after a deliberate protocol change:
 *   PEL_UPDATE_VECTORS=1 npx vitest run test/vectors
 * and review the diff: a changed vector is a consensus change.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { formatAddress } from '../../protocol/address.js';
import { encodeBlock, encodeHeader, blockHash, makeBlock, type BlockHeader } from '../../protocol/block.js';
import { utf8, U128_MAX, U64_MAX } from '../../protocol/codec.js';
import { merkleRoot, sha256 } from '../../protocol/hash.js';
import { concatBytes, fromHex, toHex } from '../../protocol/hex.js';
import { devKeyPair, devValidatorKeyPair, keyPairFromPrivateKey, sign } from '../../protocol/keys.js';
import { encodeReceipt, receiptHash, type Event, type Receipt } from '../../protocol/receipt.js';
import { encodeTxBody, signTx, TX_SIGN_DOMAIN, txSigningBytes, txToJson, type TxJson, type UnsignedTx } from '../../protocol/tx.js';
import { v, valueToJson, type JsonValue } from '../../protocol/value.js';

// ---------------------------------------------------------------------------------------
// Curve constants and small helpers (also used by test/unit/protocol/verify.test.ts)

export const FIELD_P = (1n << 255n) - 19n;
export const ORDER_L = (1n << 252n) + 27742317777372353535851937790883648493n;

export type CurvePoint = typeof ed25519.Point.BASE;

export function bytesToBigintLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

export function bigintToBytesLE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new Error(`${n} does not fit in ${length} bytes`);
  return out;
}

/** A 32-byte point encoding with the given y (any value below 2^255) and x sign bit. */
export function encodeY(y: bigint, xSign: 0 | 1): Uint8Array {
  const out = bigintToBytesLE(y, 32);
  if (xSign === 1) out[31]! |= 0x80;
  return out;
}

/** k = SHA-512(R || A || M) mod L, as in RFC 8032 section 5.1.7. */
export function challenge(R: Uint8Array, A: Uint8Array, M: Uint8Array): bigint {
  return bytesToBigintLE(sha512(concatBytes(R, A, M))) % ORDER_L;
}

/** A deterministic scalar in [1, L) from a label. */
export function scalarFromLabel(label: string): bigint {
  return (bytesToBigintLE(sha512(utf8(label))) % (ORDER_L - 1n)) + 1n;
}

/** Sign by hand with a raw scalar: R = r*B, S = r + k*a mod L. A is the public key bytes. */
export function signWithScalar(a: bigint, r: bigint, A: Uint8Array, M: Uint8Array): Uint8Array {
  const R = ed25519.Point.BASE.multiply(r).toBytes();
  const S = (r + challenge(R, A, M) * a) % ORDER_L;
  return concatBytes(R, bigintToBytesLE(S, 32));
}

/** The eight points of order dividing 8, as [point, order]; index i is i*T8. */
export function smallOrderPoints(): Array<{ point: CurvePoint; order: number }> {
  const t8 = ed25519.Point.fromBytes(fromHex('0x26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'));
  const out: Array<{ point: CurvePoint; order: number }> = [];
  let q = ed25519.Point.ZERO;
  for (let i = 0; i < 8; i++) {
    let order = 1;
    let m = q;
    while (!m.is0()) {
      m = m.add(q);
      order++;
    }
    out.push({ point: q, order });
    q = q.add(t8);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Vector types (the JSON shape of each file)

export interface KeyVector {
  name: string;
  source: string;
  privateKey: string;
  publicKey: string;
  address: string;
}

export interface KeysFile {
  description: string;
  keys: KeyVector[];
}

/** The unsigned fields of a transaction; u64 values are decimal strings. */
export interface TxFieldsJson {
  chainId: number;
  senderPublicKey: string;
  nonce: string;
  gasLimit: string;
  gasPrice: string;
  expiry: string;
  module: string;
  call: string;
  args: JsonValue[];
}

export interface TxVector {
  name: string;
  description: string;
  privateKey: string;
  fields: TxFieldsJson;
  sender: string;
  body: string;
  signingBytes: string;
  signature: string;
  raw: string;
  hash: string;
  json: TxJson;
}

export interface TxsFile {
  description: string;
  signDomainLabel: string;
  signDomain: string;
  txs: TxVector[];
}

export interface HeaderJson {
  chainId: number;
  height: string;
  parentHash: string;
  timestamp: string;
  proposer: string;
  txRoot: string;
  receiptsRoot: string;
  stateRoot: string;
  txCount: number;
  gasUsed: string;
}

export interface EventFieldVectorJson {
  name: string;
  value: JsonValue;
}

export interface EventVectorJson {
  module: string;
  name: string;
  fields: EventFieldVectorJson[];
}

export interface ReceiptJson {
  status: 'success' | 'failed';
  errorCode: string;
  gasUsed: string;
  fee: string;
  events: EventVectorJson[];
}

export interface ReceiptVector {
  txHash: string;
  receipt: ReceiptJson;
  encoding: string;
  receiptHash: string;
}

export interface MerkleVector {
  name: string;
  items: string[];
  root: string;
}

export interface BlocksFile {
  description: string;
  merkle: MerkleVector[];
  receipts: ReceiptVector[];
  header: HeaderJson;
  headerEncoding: string;
  blockHash: string;
  /** Hashes of the transactions of txs.json, in block order. */
  txHashes: string[];
  blockEncoding: string;
}

export interface SignatureVector {
  name: string;
  reason: string;
  publicKey: string;
  message: string;
  signature: string;
  valid: boolean;
}

export interface SignaturesFile {
  description: string;
  rules: string[];
  cases: SignatureVector[];
}

export interface Vectors {
  keys: KeysFile;
  txs: TxsFile;
  blocks: BlocksFile;
  signatures: SignaturesFile;
}

// ---------------------------------------------------------------------------------------
// JSON <-> protocol objects (shared with vectors.test.ts)

export function txFieldsToJson(tx: UnsignedTx): TxFieldsJson {
  return {
    chainId: tx.chainId,
    senderPublicKey: toHex(tx.senderPublicKey),
    nonce: tx.nonce.toString(),
    gasLimit: tx.gasLimit.toString(),
    gasPrice: tx.gasPrice.toString(),
    expiry: tx.expiry.toString(),
    module: tx.module,
    call: tx.call,
    args: tx.args.map(valueToJson),
  };
}

export function headerToVectorJson(h: BlockHeader): HeaderJson {
  return {
    chainId: h.chainId,
    height: h.height.toString(),
    parentHash: toHex(h.parentHash),
    timestamp: h.timestamp.toString(),
    proposer: toHex(h.proposer),
    txRoot: toHex(h.txRoot),
    receiptsRoot: toHex(h.receiptsRoot),
    stateRoot: toHex(h.stateRoot),
    txCount: h.txCount,
    gasUsed: h.gasUsed.toString(),
  };
}

export function receiptToVectorJson(rc: Receipt): ReceiptJson {
  return {
    status: rc.status,
    errorCode: rc.errorCode,
    gasUsed: rc.gasUsed.toString(),
    fee: rc.fee.toString(),
    events: rc.events.map((e) => ({
      module: e.module,
      name: e.name,
      fields: e.fields.map((f) => ({ name: f.name, value: valueToJson(f.value) })),
    })),
  };
}

// ---------------------------------------------------------------------------------------
// keys.json

const RFC8032_TEST1_SECRET = '0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const ONES_SECRET = toHex(new Uint8Array(32).fill(1));

function buildKeys(): KeysFile {
  const entry = (name: string, source: string, privateKey: Uint8Array): KeyVector => {
    const kp = keyPairFromPrivateKey(privateKey);
    return { name, source, privateKey: toHex(kp.privateKey), publicKey: toHex(kp.publicKey), address: formatAddress(kp.address) };
  };
  return {
    description:
      'Ed25519 private key (32-byte seed, RFC 8032) -> public key -> address. address = first 20 bytes of SHA-256(0x00 || publicKey). See docs/PROTOCOL.md, "Keys and addresses".',
    keys: [
      entry('ones', 'private key = 32 bytes of 0x01', fromHex(ONES_SECRET)),
      entry('rfc8032-test1', 'RFC 8032 section 7.1, TEST 1 secret key', fromHex(RFC8032_TEST1_SECRET)),
      entry('dev-account-0', 'private key = SHA-256("pel devnet account 0") (public devnet key, never hold value with it)', devKeyPair(0).privateKey),
      entry('dev-account-1', 'private key = SHA-256("pel devnet account 1")', devKeyPair(1).privateKey),
      entry('dev-validator-0', 'private key = SHA-256("pel devnet validator 0")', devValidatorKeyPair(0).privateKey),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// txs.json

interface TxInput {
  name: string;
  description: string;
  privateKey: Uint8Array;
  tx: UnsignedTx;
}

function txInputs(): TxInput[] {
  const dev0 = devKeyPair(0);
  const dev1 = devKeyPair(1);
  const rfc = keyPairFromPrivateKey(fromHex(RFC8032_TEST1_SECRET));
  const ones = keyPairFromPrivateKey(fromHex(ONES_SECRET));
  return [
    {
      name: 'coin-transfer',
      description:
        'Native transfer: dev account 0 sends 1000000000 base units to dev account 1 (module "coin", call "transfer", args [address to, u128 amount]). Devnet chain id 1337 and nonce 0: the first transaction of dev account 0 on a fresh devnet.',
      privateKey: dev0.privateKey,
      tx: {
        chainId: 1337,
        senderPublicKey: dev0.publicKey,
        nonce: 0n,
        gasLimit: 50_000n,
        gasPrice: 1n,
        expiry: 1_000_000n,
        module: 'coin',
        call: 'transfer',
        args: [v.address(dev1.address), v.u128(1_000_000_000n)],
      },
    },
    {
      name: 'every-value-type',
      description:
        'One argument of every Value type, including bounds (0 and maximum) and multi-byte UTF-8. The module and call are encoding examples and need not exist on a chain.',
      privateKey: rfc.privateKey,
      tx: {
        chainId: 0xfffffffe,
        senderPublicKey: rfc.publicKey,
        nonce: U64_MAX,
        gasLimit: 0x0102030405060708n,
        gasPrice: 0n,
        expiry: 1n << 32n,
        module: 'demo_mod9',
        call: 'all_types',
        args: [
          v.bool(false),
          v.bool(true),
          v.u64(0n),
          v.u64(U64_MAX),
          v.u128(0n),
          v.u128(1n << 64n),
          v.u128(U128_MAX),
          v.address(dev0.address),
          v.bytes(new Uint8Array(0)),
          v.bytes(fromHex('0x00ff10')),
          v.string(''),
          v.string('pel ✓ ü'),
        ],
      },
    },
    {
      name: 'empty-args',
      description: 'A call without arguments (argCount 0). The module and call are encoding examples.',
      privateKey: ones.privateKey,
      tx: {
        chainId: 1337,
        senderPublicKey: ones.publicKey,
        nonce: 0n,
        gasLimit: 21_000n,
        gasPrice: 2n,
        expiry: 0n,
        module: 'example',
        call: 'no_args',
        args: [],
      },
    },
  ];
}

function buildTxs(): TxsFile {
  return {
    description:
      'Transactions: fields -> body -> signingBytes = signDomain || body -> Ed25519 signature over signingBytes -> raw = body || signature -> hash = SHA-256(raw). "json" is the JSON form returned by the node. See docs/PROTOCOL.md, "Transactions".',
    signDomainLabel: 'pel:tx:v1',
    signDomain: toHex(TX_SIGN_DOMAIN),
    txs: txInputs().map(({ name, description, privateKey, tx }) => {
      const body = encodeTxBody(tx);
      const signed = signTx(tx, privateKey);
      return {
        name,
        description,
        privateKey: toHex(privateKey),
        fields: txFieldsToJson(tx),
        sender: toHex(signed.sender),
        body: toHex(body),
        signingBytes: toHex(txSigningBytes(body)),
        signature: toHex(signed.signature),
        raw: toHex(signed.raw),
        hash: toHex(signed.hash),
        json: txToJson(signed),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------
// blocks.json

function labelHash(label: string): Uint8Array {
  return sha256(utf8(label));
}

function buildBlocks(): BlocksFile {
  const inputs = txInputs();
  const txs = inputs.map((t) => signTx(t.tx, t.privateKey));
  const dev0 = devKeyPair(0);
  const dev1 = devKeyPair(1);

  const merkleItems = Array.from({ length: 5 }, (_, i) => labelHash(`pel merkle item ${i}`));
  const merkle: MerkleVector[] = [0, 1, 2, 3, 5].map((n) => ({
    name: `${n} item${n === 1 ? '' : 's'}`,
    items: merkleItems.slice(0, n).map(toHex),
    root: toHex(merkleRoot(merkleItems.slice(0, n))),
  }));
  merkle.push({ name: 'txRoot of the transactions in txs.json', items: txs.map((t) => toHex(t.hash)), root: toHex(merkleRoot(txs.map((t) => t.hash))) });

  const transferEvent: Event = {
    module: 'coin',
    name: 'transfer',
    fields: [
      { name: 'from', value: v.address(dev0.address) },
      { name: 'to', value: v.address(dev1.address) },
      { name: 'amount', value: v.u128(1_000_000_000n) },
    ],
  };
  // Illustrative receipts: gas figures and the error code are examples of the encoding,
  // not the result of executing these transactions under the execution rules.
  const receipts: Receipt[] = [
    { status: 'success', errorCode: '', gasUsed: 30_000n, fee: 30_000n, events: [transferEvent] },
    { status: 'failed', errorCode: 'OUT_OF_GAS', gasUsed: 0x0102030405060708n, fee: 0n, events: [] },
    { status: 'success', errorCode: '', gasUsed: 21_000n, fee: 42_000n, events: [] },
  ];
  const receiptVectors: ReceiptVector[] = receipts.map((rc, i) => {
    const enc = encodeReceipt(rc);
    return { txHash: toHex(txs[i]!.hash), receipt: receiptToVectorJson(rc), encoding: toHex(enc), receiptHash: toHex(receiptHash(txs[i]!.hash, enc)) };
  });
  const receiptsRoot = merkleRoot(receipts.map((rc, i) => receiptHash(txs[i]!.hash, encodeReceipt(rc))));
  merkle.push({ name: 'receiptsRoot of the receipts above', items: receiptVectors.map((r) => r.receiptHash), root: toHex(receiptsRoot) });

  const header: BlockHeader = {
    chainId: 1337,
    height: 5n,
    parentHash: labelHash('pel vectors parent block'),
    timestamp: 1_700_000_000_000n,
    proposer: devValidatorKeyPair(0).address,
    txRoot: merkleRoot(txs.map((t) => t.hash)),
    receiptsRoot,
    stateRoot: labelHash('pel vectors state root'),
    txCount: txs.length,
    gasUsed: receipts.reduce((s, rc) => s + rc.gasUsed, 0n),
  };
  const block = makeBlock(header, txs);
  return {
    description:
      'Merkle roots, receipts and a block of the three transactions of txs.json. Receipts are illustrative encodings, not execution results. u64 values are decimal strings. See docs/PROTOCOL.md, "Blocks" and "Receipts and events".',
    merkle,
    receipts: receiptVectors,
    header: headerToVectorJson(header),
    headerEncoding: toHex(encodeHeader(header)),
    blockHash: toHex(blockHash(header)),
    txHashes: txs.map((t) => toHex(t.hash)),
    blockEncoding: toHex(encodeBlock(block)),
  };
}

// ---------------------------------------------------------------------------------------
// signatures.json: the strict rule set (protocol/verify.ts)

export interface SignatureCase {
  name: string;
  reason: string;
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  valid: boolean;
}

function flipBit(b: Uint8Array, byte: number, bit: number): Uint8Array {
  const out = b.slice();
  out[byte]! ^= 1 << bit;
  return out;
}

/** Fixed, deterministic cases pinning the verdict of the strict rule set. */
export function signatureCases(): SignatureCase[] {
  const cases: SignatureCase[] = [];
  const add = (name: string, reason: string, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, valid: boolean): void => {
    cases.push({ name, reason, publicKey, message, signature, valid });
  };

  // Valid signatures.
  const rfc = keyPairFromPrivateKey(fromHex(RFC8032_TEST1_SECRET));
  add('rfc8032-test1', 'RFC 8032 section 7.1 TEST 1 (empty message): valid', rfc.publicKey, new Uint8Array(0), sign(new Uint8Array(0), rfc.privateKey), true);
  const dev0 = devKeyPair(0);
  const msg = utf8('pel signature vector');
  const sig = sign(msg, dev0.privateKey);
  add('valid', 'dev account 0 signs "pel signature vector": valid', dev0.publicKey, msg, sig, true);

  // Tampering.
  add('tampered-message', 'one bit of the message flipped', dev0.publicKey, flipBit(msg, 0, 0), sig, false);
  add('tampered-r', 'one bit of R flipped', dev0.publicKey, msg, flipBit(sig, 0, 1), false);
  add('tampered-s', 'lowest bit of S flipped (S stays < L)', dev0.publicKey, msg, flipBit(sig, 32, 0), false);
  add('other-key', 'a valid signature checked against another valid public key', devKeyPair(1).publicKey, msg, sig, false);
  add('negated-key', 'sign bit of A flipped (the key -A)', flipBit(dev0.publicKey, 31, 7), msg, sig, false);

  // Non-canonical S.
  const S = bytesToBigintLE(sig.subarray(32));
  const withS = (s: bigint): Uint8Array => concatBytes(sig.subarray(0, 32), bigintToBytesLE(s, 32));
  add('s-plus-l', 'S replaced by S + L: (S+L)*B = S*B, so a verifier without the S < L check accepts; rule 2 rejects', dev0.publicKey, msg, withS(S + ORDER_L), false);
  add('s-equals-l', 'S = L (not < L)', dev0.publicKey, msg, withS(ORDER_L), false);
  add('s-all-ones', 'S = 2^256 - 1', dev0.publicKey, msg, withS((1n << 256n) - 1n), false);

  // Small-order public keys, with R = identity and S = 0: S*B - k*A = -k*A has order
  // dividing 8, so a cofactored verifier accepts every one of them.
  const identity = encodeY(1n, 0);
  const zeroSig = concatBytes(identity, new Uint8Array(32));
  const smallMsg = utf8('pel small-order key');
  smallOrderPoints().forEach(({ point, order }, i) => {
    const enc = point.toBytes();
    const extra = order === 1 ? '; plain cofactorless RFC 8032 also accepts (k*A = identity)' : '';
    add(`small-order-key-${i}`, `A = ${i}*T8, a point of order ${order}; signature R = identity, S = 0, which a cofactored verifier accepts${extra}`, enc, smallMsg, zeroSig, false);
  });
  add('small-order-key-neg-zero-x', 'A = identity encoded with the x sign bit set (x = 0, non-canonical "-0"); a verifier that ignores the sign bit of x = 0 accepts', encodeY(1n, 1), smallMsg, zeroSig, false);
  add('small-order-key-order2-neg-zero-x', 'A = (0, -1) encoded with the x sign bit set (x = 0, non-canonical "-0")', encodeY(FIELD_P - 1n, 1), smallMsg, zeroSig, false);

  // Small-order R with a valid key A = a*B and S = k*a: S*B - k*A = identity, so the
  // equation holds up to a small-order term and a cofactored verifier accepts.
  const a = scalarFromLabel('pel vectors scalar a');
  const A = ed25519.Point.BASE.multiply(a).toBytes();
  const rMsg = utf8('pel small-order R');
  smallOrderPoints().forEach(({ point, order }, i) => {
    const R = point.toBytes();
    const s = (challenge(R, A, rMsg) * a) % ORDER_L;
    const extra = order === 1 ? '; plain cofactorless RFC 8032 also accepts (S*B - k*A = identity = R)' : '';
    add(`small-order-r-${i}`, `R = ${i}*T8, a point of order ${order}, S = k*a; a cofactored verifier accepts${extra}`, A, rMsg, concatBytes(R, bigintToBytesLE(s, 32)), false);
  });

  // Non-canonical y >= p in A: every y in [p, 2^255 - 1], sign bit clear, plus a few with it set.
  const ncMsg = utf8('pel non-canonical key');
  for (let i = 0n; i <= 18n; i++) {
    const what =
      i === 0n
        ? ' (= 0 mod p, an order-4 point; a ZIP-215 verifier accepts)'
        : i === 1n
          ? ' (= 1 mod p, the identity; a ZIP-215 verifier, and a cofactorless one that reduces y mod p, accept)'
          : '';
    add(`noncanonical-key-p+${i}`, `A has y = p + ${i} >= p${what}; signature R = identity, S = 0`, encodeY(FIELD_P + i, 0), ncMsg, zeroSig, false);
  }
  for (const i of [0n, 1n, 18n]) {
    add(`noncanonical-key-p+${i}-signed`, `A has y = p + ${i} >= p with the x sign bit set`, encodeY(FIELD_P + i, 1), ncMsg, zeroSig, false);
  }
  // A y < p for which no x exists: the encoding is canonical but not a point.
  let notOnCurve = 2n;
  for (;; notOnCurve++) {
    try {
      ed25519.Point.fromBytes(encodeY(notOnCurve, 0));
    } catch {
      break;
    }
  }
  add('key-not-on-curve', `A has y = ${notOnCurve} < p, but no x satisfies the curve equation`, encodeY(notOnCurve, 0), msg, sig, false);

  // Non-canonical R. With R = identity encoded as y = p + 1 and S = k*a, S*B - k*A is the
  // identity, so a verifier that decodes R permissively (ZIP 215) accepts.
  const ncR = encodeY(FIELD_P + 1n, 0);
  const ncrMsg = utf8('pel non-canonical R');
  add('noncanonical-r-p+1', 'R = identity encoded with y = p + 1, S = k*a: a ZIP-215 verifier accepts', A, ncrMsg, concatBytes(ncR, bigintToBytesLE((challenge(ncR, A, ncrMsg) * a) % ORDER_L, 32)), false);
  const ncR0 = encodeY(FIELD_P, 0);
  add('noncanonical-r-p', 'R = order-4 point encoded with y = p, S = k*a: a cofactored ZIP-215 verifier accepts', A, ncrMsg, concatBytes(ncR0, bigintToBytesLE((challenge(ncR0, A, ncrMsg) * a) % ORDER_L, 32)), false);
  const ncRMax = encodeY(FIELD_P + 18n, 1);
  add('noncanonical-r-all-ones', 'R = 0xff..ff (y = 2^255 - 1 >= p)', A, ncrMsg, concatBytes(ncRMax, bigintToBytesLE(1n, 32)), false);

  // Wrong lengths.
  add('key-31-bytes', 'public key 31 bytes', dev0.publicKey.subarray(0, 31), msg, sig, false);
  add('key-33-bytes', 'public key 33 bytes (valid key + 0x00)', concatBytes(dev0.publicKey, new Uint8Array(1)), msg, sig, false);
  add('sig-63-bytes', 'signature 63 bytes', dev0.publicKey, msg, sig.subarray(0, 63), false);
  add('sig-65-bytes', 'signature 65 bytes (valid signature + 0x00)', dev0.publicKey, msg, concatBytes(sig, new Uint8Array(1)), false);
  add('sig-empty', 'signature 0 bytes', dev0.publicKey, msg, new Uint8Array(0), false);

  // Mixed-order public key A = a*B + T8: S*B - k*A = R - k*T8, so the cofactorless equation
  // holds exactly when k = 0 mod 8. Pin the first accepted and the first rejected message.
  const T8 = smallOrderPoints()[1]!.point;
  const mixedA = ed25519.Point.BASE.multiply(a).add(T8).toBytes();
  const r = scalarFromLabel('pel vectors scalar r');
  let haveAccept = false;
  let haveReject = false;
  for (let i = 0; !(haveAccept && haveReject); i++) {
    const m = utf8(`pel mixed-order ${i}`);
    const s = signWithScalar(a, r, mixedA, m);
    const k = challenge(s.subarray(0, 32), mixedA, m);
    const accepted = k % 8n === 0n;
    if (accepted && !haveAccept) {
      haveAccept = true;
      add('mixed-order-key-accepted', 'A = a*B + T8 (T8 of order 8); k = 0 mod 8 so k*T8 = identity and S*B - k*A = R: the cofactorless equation holds', mixedA, m, s, true);
    } else if (!accepted && !haveReject) {
      haveReject = true;
      add('mixed-order-key-rejected', `A = a*B + T8 (T8 of order 8); k = ${k % 8n} mod 8 so S*B - k*A = R - k*T8 != R (a cofactored verifier accepts)`, mixedA, m, s, false);
    }
  }
  // Mixed-order R with a clean key: S*B - k*A = r*B != R.
  const mixedR = ed25519.Point.BASE.multiply(r).add(T8).toBytes();
  const mrMsg = utf8('pel mixed-order R');
  add('mixed-order-r', 'R = r*B + T8, S = r + k*a: S*B - k*A = r*B != R (a cofactored verifier accepts)', A, mrMsg, concatBytes(mixedR, bigintToBytesLE((r + challenge(mixedR, A, mrMsg) * a) % ORDER_L, 32)), false);

  return cases;
}

function buildSignatures(): SignaturesFile {
  return {
    description:
      'Strict Ed25519 verification vectors. "valid" is the verdict every pel node must return; a verifier that disagrees on any case would split the network. See docs/PROTOCOL.md, "Signatures".',
    rules: [
      '1. The public key is 32 bytes and the signature 64 bytes, R (32) || S (32).',
      '2. S, read as a 256-bit little-endian integer, is < L = 2^252 + 27742317777372353535851937790883648493.',
      '3. A and R each encode y < p = 2^255 - 19 (bit 255 is the x sign bit), and y is not in {0, 1, p - 1, c, p - c} with c = 2707385501144840649318225287225658788936804267575313519463743609750303402022 (the eight points of order dividing 8).',
      '4. A decodes to a curve point (RFC 8032 section 5.1.3), and with k = SHA-512(R || A || M) mod L the 32-byte encoding of [S]B - [k]A equals the 32 bytes R (cofactorless).',
    ],
    cases: signatureCases().map((c) => ({
      name: c.name,
      reason: c.reason,
      publicKey: toHex(c.publicKey),
      message: toHex(c.message),
      signature: toHex(c.signature),
      valid: c.valid,
    })),
  };
}

// ---------------------------------------------------------------------------------------

export function buildVectors(): Vectors {
  return { keys: buildKeys(), txs: buildTxs(), blocks: buildBlocks(), signatures: buildSignatures() };
}

/** JSON text exactly as checked in: two-space indent and a final newline. */
export function vectorsFileText(data: unknown): string {
  return JSON.stringify(data, null, 2) + '\n';
}
