import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { expectCode } from './expect.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockHash, BLOCK_VERSION, decodeBlock, decodeBlockTxAt, encodeBlock, encodeHeader, headerToJson, makeBlock, txRootOf, type BlockHeader } from '../../../protocol/block.js';
import { U128_MAX, U64_MAX, Writer } from '../../../protocol/codec.js';
import { merkleRoot } from '../../../protocol/hash.js';
import { concatBytes, toHex } from '../../../protocol/hex.js';
import { keyPairFromPrivateKey } from '../../../protocol/keys.js';
import { decodeReceipt, encodeReceipt, eventToJson, receiptHash, type Receipt } from '../../../protocol/receipt.js';
import { MAX_TX_BYTES, signTx, type SignedTx } from '../../../protocol/tx.js';
import { v, type Value } from '../../../protocol/value.js';


const key = keyPairFromPrivateKey(new Uint8Array(32).fill(5));
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.boolean().map(v.bool),
  fc.bigInt({ min: 0n, max: U64_MAX }).map(v.u64),
  fc.bigInt({ min: 0n, max: U128_MAX }).map(v.u128),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map(v.address),
  fc.uint8Array({ maxLength: 40 }).map(v.bytes),
  fc.string({ unit: 'binary', maxLength: 20 }).map(v.string),
);
const u64Arb = fc.bigInt({ min: 0n, max: U64_MAX });
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

const txArb: fc.Arbitrary<SignedTx> = fc
  .record({ nonce: u64Arb, expiry: u64Arb, call: fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/), args: fc.array(valueArb, { maxLength: 6 }) })
  .map(({ nonce, expiry, call, args }) =>
    signTx({ chainId: 7, senderPublicKey: key.publicKey, nonce, gasLimit: 50_000n, gasPrice: 1n, expiry, module: 'coin', call, args }, key.privateKey),
  );

const headerFields = {
  chainId: fc.integer({ min: 0, max: 0xffffffff }),
  height: u64Arb,
  parentHash: hash32,
  timestamp: u64Arb,
  proposer: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  receiptsRoot: hash32,
  stateRoot: hash32,
  gasUsed: u64Arb,
};

function header(over: Partial<BlockHeader> = {}): BlockHeader {
  return {
    chainId: 1,
    height: 10n,
    parentHash: new Uint8Array(32).fill(1),
    timestamp: 1_700_000_000_000n,
    proposer: new Uint8Array(20).fill(2),
    txRoot: new Uint8Array(32).fill(3),
    receiptsRoot: new Uint8Array(32).fill(4),
    stateRoot: new Uint8Array(32).fill(5),
    txCount: 0,
    gasUsed: 0n,
    ...over,
  };
}

const sampleTxs = [0n, 1n, 2n].map((nonce) =>
  signTx({ chainId: 1, senderPublicKey: key.publicKey, nonce, gasLimit: 1n, gasPrice: 1n, expiry: 9n, module: 'coin', call: 'transfer', args: [v.u128(nonce)] }, key.privateKey),
);

describe('header', () => {
  it('is 181 bytes in the documented order, little-endian', () => {
    const h = header({ chainId: 0x01020304, height: 0x0102n, timestamp: 0x0a0bn, txCount: 0x05060708, gasUsed: 0x0cn });
    const enc = encodeHeader(h);
    expect(enc.length).toBe(181);
    expect(toHex(enc)).toBe(
      '0x' +
        '01' +
        '04030201' +
        '0201000000000000' +
        '01'.repeat(32) +
        '0b0a000000000000' +
        '02'.repeat(20) +
        '03'.repeat(32) +
        '04'.repeat(32) +
        '05'.repeat(32) +
        '08070605' +
        '0c00000000000000',
    );
    expect(BLOCK_VERSION).toBe(1);
  });

  it('block hash = SHA-256(header encoding)', () => {
    const h = header();
    expect(blockHash(h)).toEqual(nobleSha256(encodeHeader(h)));
  });

  it('the hash changes when any field changes', () => {
    const base = header({ txCount: 1, gasUsed: 5n });
    const h0 = toHex(blockHash(base));
    const flip = (b: Uint8Array): Uint8Array => {
      const c = b.slice();
      c[c.length - 1]! ^= 1;
      return c;
    };
    const variants: Array<[string, Partial<BlockHeader>]> = [
      ['chainId', { chainId: 2 }],
      ['height', { height: 11n }],
      ['parentHash', { parentHash: flip(base.parentHash) }],
      ['timestamp', { timestamp: base.timestamp + 1n }],
      ['proposer', { proposer: flip(base.proposer) }],
      ['txRoot', { txRoot: flip(base.txRoot) }],
      ['receiptsRoot', { receiptsRoot: flip(base.receiptsRoot) }],
      ['stateRoot', { stateRoot: flip(base.stateRoot) }],
      ['txCount', { txCount: 2 }],
      ['gasUsed', { gasUsed: 6n }],
    ];
    const seen = new Set([h0]);
    for (const [name, over] of variants) {
      const h = toHex(blockHash({ ...base, ...over }));
      expect(seen.has(h), name).toBe(false);
      seen.add(h);
    }
  });

  it('rejects out-of-range fields and wrong lengths when encoding', () => {
    expectCode(() => encodeHeader(header({ height: U64_MAX + 1n })), 'INVALID_VALUE');
    expectCode(() => encodeHeader(header({ chainId: -1 })), 'INVALID_VALUE');
    expectCode(() => encodeHeader(header({ parentHash: new Uint8Array(31) })), 'INVALID_VALUE');
    expectCode(() => encodeHeader(header({ proposer: new Uint8Array(32) })), 'INVALID_VALUE');
  });

  it('headerToJson', () => {
    const j = headerToJson(header({ gasUsed: 123n }));
    expect(j.parentHash).toBe('0x' + '01'.repeat(32));
    expect(j.height).toBe(10);
    expect(j.gasUsed).toBe('123');
  });
});

describe('block encode / decode', () => {
  it('round trips with random headers and transactions (fast-check)', () => {
    fc.assert(
      fc.property(fc.record(headerFields), fc.array(txArb, { maxLength: 5 }), (fields, txs) => {
        const h: BlockHeader = { ...fields, txRoot: txRootOf(txs), txCount: txs.length };
        const block = makeBlock(h, txs);
        expect(block.hash).toEqual(nobleSha256(encodeHeader(h)));
        const bytes = encodeBlock(block);
        let expected = encodeHeader(h);
        for (const t of txs) expected = concatBytes(expected, new Writer().u32(t.raw.length).finish(), t.raw);
        expect(bytes).toEqual(expected);
        const d = decodeBlock(bytes);
        expect(d.header).toEqual(h);
        expect(d.hash).toEqual(block.hash);
        expect(d.txs.map((t) => t.raw)).toEqual(txs.map((t) => t.raw));
        expect(d.txs.map((t) => t.hash)).toEqual(txs.map((t) => t.hash));
        expect(encodeBlock(d)).toEqual(bytes);
        // One tx out of the encoding: the same tx and block hash, nothing past the ends.
        txs.forEach((t, i) => {
          const one = decodeBlockTxAt(bytes, i)!;
          expect(one.hash).toEqual(block.hash);
          expect(one.tx).toEqual(d.txs[i]);
        });
        for (const bad of [-1, txs.length, 0.5]) expect(decodeBlockTxAt(bytes, bad)).toBeUndefined();
      }),
      { numRuns: 50 },
    );
  });

  it('txRoot is the Merkle root of the tx hashes in block order', () => {
    expect(txRootOf(sampleTxs)).toEqual(merkleRoot(sampleTxs.map((t) => t.hash)));
    expect(txRootOf([])).toEqual(new Uint8Array(32));
    expect(txRootOf([...sampleTxs].reverse())).not.toEqual(txRootOf(sampleTxs));
  });

  it('rejects a txCount that does not match the transactions', () => {
    expectCode(() => makeBlock(header({ txCount: 2 }), sampleTxs), 'INVALID_VALUE');
    expectCode(() => makeBlock(header({ txCount: 4 }), sampleTxs), 'INVALID_VALUE');
    const bytes = encodeBlock(makeBlock(header({ txCount: 3 }), sampleTxs));
    // Claiming more transactions than encoded: truncated.
    const more = bytes.slice();
    more.set(new Writer().u32(4).finish(), 181 - 12);
    expectCode(() => decodeBlock(more), 'DECODE_ERROR');
    // Claiming fewer: the rest is trailing.
    const fewer = bytes.slice();
    fewer.set(new Writer().u32(2).finish(), 181 - 12);
    expectCode(() => decodeBlock(fewer), 'TRAILING_BYTES');
    const huge = bytes.slice();
    huge.set(new Writer().u32(0xffffffff).finish(), 181 - 12);
    expectCode(() => decodeBlock(huge), 'DECODE_ERROR');
  });

  it('rejects a wrong version, truncation, trailing bytes, oversized and malformed transactions', () => {
    const bytes = encodeBlock(makeBlock(header({ txCount: 3 }), sampleTxs));
    const badVersion = bytes.slice();
    badVersion[0] = 2;
    expectCode(() => decodeBlock(badVersion), 'UNSUPPORTED_VERSION');
    for (let n = 0; n < bytes.length; n += 7) expectCode(() => decodeBlock(bytes.subarray(0, n)), 'DECODE_ERROR');
    expectCode(() => decodeBlock(concatBytes(bytes, new Uint8Array(1))), 'TRAILING_BYTES');
    // A transaction length prefix above MAX_TX_BYTES.
    const big = concatBytes(encodeHeader(header({ txCount: 1 })), new Writer().u32(MAX_TX_BYTES + 1).finish(), new Uint8Array(MAX_TX_BYTES + 1));
    expectCode(() => decodeBlock(big), 'DECODE_ERROR');
    // A transaction with trailing bytes inside its length prefix.
    const t = concatBytes(sampleTxs[0]!.raw, new Uint8Array(1));
    const inner = concatBytes(encodeHeader(header({ txCount: 1 })), new Writer().u32(t.length).finish(), t);
    expectCode(() => decodeBlock(inner), 'TRAILING_BYTES');
  });

  it('decoding does not check the roots (that is block validation, not encoding)', () => {
    const d = decodeBlock(encodeBlock(makeBlock(header({ txCount: 3 }), sampleTxs)));
    expect(d.header.txRoot).not.toEqual(txRootOf(d.txs));
  });
});

describe('receipts', () => {
  const receiptArb: fc.Arbitrary<Receipt> = fc.record({
    status: fc.constantFrom('success' as const, 'failed' as const),
    errorCode: fc.constantFrom('', 'OUT_OF_GAS', 'INSUFFICIENT_BALANCE'),
    gasUsed: u64Arb,
    fee: fc.bigInt({ min: 0n, max: U128_MAX }),
    events: fc.array(
      fc.record({
        module: fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/),
        name: fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/),
        fields: fc.array(fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/), value: valueArb }), { maxLength: 4 }),
      }),
      { maxLength: 4 },
    ),
  });

  it('encode / decode round trip and receiptHash = SHA-256(0x02 || txHash || receipt)', () => {
    fc.assert(
      fc.property(receiptArb, hash32, (rc, txHash) => {
        const enc = encodeReceipt(rc);
        expect(decodeReceipt(enc)).toEqual(rc);
        expect(receiptHash(txHash, enc)).toEqual(nobleSha256(concatBytes(new Uint8Array([2]), txHash, enc)));
      }),
    );
  });

  it('layout: status, errorCode, gasUsed, fee, events', () => {
    const rc: Receipt = {
      status: 'failed',
      errorCode: 'OUT_OF_GAS',
      gasUsed: 1n,
      fee: 2n,
      events: [{ module: 'coin', name: 'burn', fields: [{ name: 'amount', value: v.u64(3n) }] }],
    };
    const hexOf = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
    expect(toHex(encodeReceipt(rc))).toBe(
      '0x00' + '0a' + hexOf('OUT_OF_GAS') + '0100000000000000' + '02' + '00'.repeat(15) + '0100' +
        '04' + hexOf('coin') + '04' + hexOf('burn') + '0100' + '06' + hexOf('amount') + '02' + '0300000000000000',
    );
    expect(eventToJson(rc.events[0]!)).toEqual({ module: 'coin', name: 'burn', fields: { amount: { type: 'u64', value: '3' } } });
  });

  it('rejects a status byte other than 0 or 1, truncation and trailing bytes', () => {
    const enc = encodeReceipt({ status: 'success', errorCode: '', gasUsed: 0n, fee: 0n, events: [] });
    const bad = enc.slice();
    bad[0] = 2;
    expectCode(() => decodeReceipt(bad), 'DECODE_ERROR');
    for (let n = 0; n < enc.length; n++) expectCode(() => decodeReceipt(enc.subarray(0, n)), 'DECODE_ERROR');
    expectCode(() => decodeReceipt(concatBytes(enc, new Uint8Array(1))), 'TRAILING_BYTES');
  });
});
