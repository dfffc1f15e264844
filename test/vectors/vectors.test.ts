/**
 * Known-answer vectors. Each JSON file is checked two ways:
 *   - it equals what generate.ts builds now (so the files cannot drift from the code), and
 *   - every derived value is recomputed from the inputs written in the file, cross-checked
 *     where possible against @noble directly (so the files are right, not just stable).
 * Regenerate deliberately with PEL_UPDATE_VECTORS=1 (see generate.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { addressFromPublicKey } from '../../protocol/address.js';
import { blockHash, decodeBlock, encodeBlock, encodeHeader, makeBlock, type BlockHeader } from '../../protocol/block.js';
import { utf8 } from '../../protocol/codec.js';
import { merkleRoot } from '../../protocol/hash.js';
import { concatBytes, fromHex, toHex } from '../../protocol/hex.js';
import { devKeyPair, keyPairFromPrivateKey } from '../../protocol/keys.js';
import { decodeReceipt, encodeReceipt, receiptHash, type Receipt } from '../../protocol/receipt.js';
import { decodeTx, encodeTxBody, signTx, txSigningBytesOf, txToJson, type UnsignedTx } from '../../protocol/tx.js';
import { parseAmount, parseU64, valueFromJson } from '../../protocol/value.js';
import { NativeVerifier, NobleVerifier, SodiumVerifier } from '../../protocol/verify.js';
import {
  buildVectors,
  vectorsFileText,
  type BlocksFile,
  type HeaderJson,
  type KeysFile,
  type ReceiptJson,
  type SignaturesFile,
  type TxFieldsJson,
  type TxsFile,
  type Vectors,
} from './generate.js';

const FILES: Record<keyof Vectors, string> = {
  keys: 'keys.json',
  txs: 'txs.json',
  blocks: 'blocks.json',
  signatures: 'signatures.json',
};

const fileUrl = (name: string): URL => new URL(`./${name}`, import.meta.url);

const built = buildVectors();
if (process.env.PEL_UPDATE_VECTORS === '1') {
  for (const [k, name] of Object.entries(FILES)) writeFileSync(fileUrl(name), vectorsFileText(built[k as keyof Vectors]));
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(fileUrl(name), 'utf8')) as T;
}

const keys = load<KeysFile>(FILES.keys);
const txs = load<TxsFile>(FILES.txs);
const blocks = load<BlocksFile>(FILES.blocks);
const signatures = load<SignaturesFile>(FILES.signatures);

const hx = (s: string): Uint8Array => fromHex(s);

function txFromJson(f: TxFieldsJson): UnsignedTx {
  return {
    chainId: f.chainId,
    senderPublicKey: fromHex(f.senderPublicKey, 32),
    nonce: parseU64(f.nonce),
    gasLimit: parseU64(f.gasLimit),
    gasPrice: parseU64(f.gasPrice),
    expiry: parseU64(f.expiry),
    module: f.module,
    call: f.call,
    args: f.args.map((a) => valueFromJson(a)),
  };
}

function headerFromJson(h: HeaderJson): BlockHeader {
  return {
    chainId: h.chainId,
    height: parseU64(h.height),
    parentHash: fromHex(h.parentHash, 32),
    timestamp: parseU64(h.timestamp),
    proposer: fromHex(h.proposer, 20),
    txRoot: fromHex(h.txRoot, 32),
    receiptsRoot: fromHex(h.receiptsRoot, 32),
    stateRoot: fromHex(h.stateRoot, 32),
    txCount: h.txCount,
    gasUsed: parseU64(h.gasUsed),
  };
}

function receiptFromJson(r: ReceiptJson): Receipt {
  return {
    status: r.status,
    errorCode: r.errorCode,
    gasUsed: parseU64(r.gasUsed),
    fee: parseAmount(r.fee),
    events: r.events.map((e) => ({ module: e.module, name: e.name, fields: e.fields.map((f) => ({ name: f.name, value: valueFromJson(f.value) })) })),
  };
}

describe('checked-in vector files', () => {
  for (const [k, name] of Object.entries(FILES)) {
    it(`${name} is exactly what generate.ts builds`, () => {
      expect(readFileSync(fileUrl(name), 'utf8')).toBe(vectorsFileText(built[k as keyof Vectors]));
    });
  }
});

describe('keys.json', () => {
  it('derives every public key and address from the private key', () => {
    expect(keys.keys.length).toBeGreaterThanOrEqual(3);
    for (const k of keys.keys) {
      const kp = keyPairFromPrivateKey(fromHex(k.privateKey, 32));
      expect(toHex(kp.publicKey)).toBe(k.publicKey);
      expect(toHex(ed25519.getPublicKey(hx(k.privateKey)))).toBe(k.publicKey);
      expect(toHex(kp.address)).toBe(k.address);
      expect(toHex(nobleSha256(concatBytes(new Uint8Array([0]), hx(k.publicKey))).subarray(0, 20))).toBe(k.address);
    }
  });

  it('matches the RFC 8032 public key and the dev-account derivation', () => {
    const rfc = keys.keys.find((k) => k.name === 'rfc8032-test1')!;
    expect(rfc.publicKey).toBe('0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const dev0 = keys.keys.find((k) => k.name === 'dev-account-0')!;
    expect(dev0.privateKey).toBe(toHex(nobleSha256(utf8('pel devnet account 0'))));
    expect(dev0.privateKey).toBe(toHex(devKeyPair(0).privateKey));
  });
});

describe('txs.json', () => {
  const native = new NativeVerifier();
  const noble = new NobleVerifier();

  it('signing domain is SHA-256("pel:tx:v1")', () => {
    expect(txs.signDomain).toBe(toHex(nobleSha256(utf8(txs.signDomainLabel))));
    expect(txs.signDomainLabel).toBe('pel:tx:v1');
  });

  for (const t of txs.txs) {
    it(`${t.name}: body, signing bytes, signature, raw and hash recompute from the fields`, () => {
      const unsigned = txFromJson(t.fields);
      const body = encodeTxBody(unsigned);
      expect(toHex(body)).toBe(t.body);
      expect(t.signingBytes).toBe(toHex(concatBytes(hx(txs.signDomain), body)));

      const signed = signTx(unsigned, fromHex(t.privateKey, 32));
      expect(toHex(signed.signature)).toBe(t.signature);
      // Ed25519 is deterministic: any RFC 8032 signer gives the same bytes.
      expect(toHex(ed25519.sign(hx(t.signingBytes), hx(t.privateKey)))).toBe(t.signature);
      expect(toHex(signed.raw)).toBe(t.raw);
      expect(t.raw).toBe(toHex(concatBytes(body, hx(t.signature))));
      expect(toHex(signed.hash)).toBe(t.hash);
      expect(toHex(nobleSha256(hx(t.raw)))).toBe(t.hash);
      expect(toHex(addressFromPublicKey(unsigned.senderPublicKey))).toBe(t.sender);
      expect(toHex(keyPairFromPrivateKey(hx(t.privateKey)).publicKey)).toBe(t.fields.senderPublicKey);
    });

    it(`${t.name}: raw decodes to the same fields, JSON form and a valid signature`, () => {
      const decoded = decodeTx(hx(t.raw));
      expect(txToJson(decoded)).toEqual(t.json);
      expect(toHex(decoded.raw.subarray(0, decoded.bodyLength))).toBe(t.body);
      expect(toHex(txSigningBytesOf(decoded))).toBe(t.signingBytes);
      expect(t.json.args).toEqual(t.fields.args);
      expect(t.json.sender).toBe(t.sender);
      expect(t.json.hash).toBe(t.hash);
      expect(native.verify(decoded.senderPublicKey, txSigningBytesOf(decoded), decoded.signature)).toBe(true);
      expect(noble.verify(decoded.senderPublicKey, txSigningBytesOf(decoded), decoded.signature)).toBe(true);
    });
  }
});

describe('blocks.json', () => {
  it('merkle roots recompute from their items', () => {
    for (const m of blocks.merkle) expect(toHex(merkleRoot(m.items.map(hx))), m.name).toBe(m.root);
    expect(blocks.merkle.find((m) => m.items.length === 0)!.root).toBe(toHex(new Uint8Array(32)));
    const one = blocks.merkle.find((m) => m.items.length === 1)!;
    expect(one.root).toBe(toHex(nobleSha256(concatBytes(new Uint8Array([0]), hx(one.items[0]!)))));
  });

  it('receipts encode and hash as stated', () => {
    for (const r of blocks.receipts) {
      const rc = receiptFromJson(r.receipt);
      const enc = encodeReceipt(rc);
      expect(toHex(enc)).toBe(r.encoding);
      expect(decodeReceipt(enc)).toEqual(rc);
      expect(toHex(receiptHash(hx(r.txHash), enc))).toBe(r.receiptHash);
      expect(toHex(nobleSha256(concatBytes(new Uint8Array([2]), hx(r.txHash), enc)))).toBe(r.receiptHash);
    }
  });

  it('header encodes and hashes as stated, with roots over txs.json and the receipts', () => {
    const h = headerFromJson(blocks.header);
    expect(toHex(encodeHeader(h))).toBe(blocks.headerEncoding);
    expect(hx(blocks.headerEncoding).length).toBe(181);
    expect(toHex(blockHash(h))).toBe(blocks.blockHash);
    expect(toHex(nobleSha256(hx(blocks.headerEncoding)))).toBe(blocks.blockHash);
    expect(blocks.txHashes).toEqual(txs.txs.map((t) => t.hash));
    expect(blocks.header.txRoot).toBe(toHex(merkleRoot(blocks.txHashes.map(hx))));
    expect(blocks.receipts.map((r) => r.txHash)).toEqual(blocks.txHashes);
    expect(blocks.header.receiptsRoot).toBe(toHex(merkleRoot(blocks.receipts.map((r) => hx(r.receiptHash)))));
    expect(blocks.header.txCount).toBe(txs.txs.length);
  });

  it('block encoding = header || (u32 length || raw tx)* and decodes back', () => {
    const h = headerFromJson(blocks.header);
    const block = makeBlock(h, txs.txs.map((t) => decodeTx(hx(t.raw))));
    expect(toHex(encodeBlock(block))).toBe(blocks.blockEncoding);
    const decoded = decodeBlock(hx(blocks.blockEncoding));
    expect(toHex(decoded.hash)).toBe(blocks.blockHash);
    expect(decoded.txs.map((t) => toHex(t.raw))).toEqual(txs.txs.map((t) => t.raw));
  });
});

describe('signatures.json', () => {
  const native = new NativeVerifier();
  const noble = new NobleVerifier();
  const sodium = new SodiumVerifier();

  it('has accepted and rejected cases', () => {
    expect(signatures.cases.some((c) => c.valid)).toBe(true);
    expect(signatures.cases.some((c) => !c.valid)).toBe(true);
  });

  for (const c of signatures.cases) {
    it(`${c.name}: ${c.valid ? 'accepted' : 'rejected'} by all three verifiers`, () => {
      const pk = hx(c.publicKey);
      const msg = hx(c.message);
      const sig = hx(c.signature);
      expect(native.verify(pk, msg, sig)).toBe(c.valid);
      expect(noble.verify(pk, msg, sig)).toBe(c.valid);
      expect(sodium.verify(pk, msg, sig)).toBe(c.valid);
    });
  }
});
