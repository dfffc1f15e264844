import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSyncRequest, decodeSyncResponse, encodeSyncBadRequest, encodeSyncRequest, encodeSyncResponse, SYNC_STATUS_BAD_REQUEST,
} from '../../../p2p/libp2p.js';
import { MAX_SYNC_BLOCKS, NetworkError } from '../../../p2p/types.js';
import { U64_MAX, Writer } from '../../../protocol/codec.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { toHex } from '../../../protocol/hex.js';

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const blockArb = fc.record({ block: fc.uint8Array({ maxLength: 40 }), certificate: fc.uint8Array({ maxLength: 40 }) });

describe('sync request encoding', () => {
  it('is u8 version | u64 from | u16 max, little-endian', () => {
    expect(toHex(encodeSyncRequest({ from: 0x0102n, max: 3 }))).toBe('0x' + '01' + '0201000000000000' + '0300');
  });

  it('round-trips', () => {
    fc.assert(fc.property(u64, fc.integer({ min: 0, max: MAX_SYNC_BLOCKS }), (from, max) => {
      expect(decodeSyncRequest(encodeSyncRequest({ from, max }))).toEqual({ from, max });
    }));
  });

  it('rejects other versions, truncation, trailing bytes and max > MAX_SYNC_BLOCKS', () => {
    const good = encodeSyncRequest({ from: 1n, max: 1 });
    const bad = [
      Uint8Array.of(2, ...good.subarray(1)),
      good.subarray(0, 10),
      Uint8Array.of(...good, 0),
      new Writer().u8(1).u64(1n).u16(MAX_SYNC_BLOCKS + 1).finish(),
      new Uint8Array(0),
    ];
    for (const b of bad) expect(() => decodeSyncRequest(b)).toThrow(ProtocolError);
  });

  it('the encoder refuses requests a server would refuse', () => {
    expect(() => encodeSyncRequest({ from: -1n, max: 1 })).toThrow(NetworkError);
    expect(() => encodeSyncRequest({ from: 1n, max: MAX_SYNC_BLOCKS + 1 })).toThrow(NetworkError);
    expect(() => encodeSyncRequest({ from: 1n, max: 1.5 })).toThrow(NetworkError);
  });
});

describe('sync response encoding', () => {
  it('round-trips', () => {
    fc.assert(fc.property(u64, fc.array(blockArb, { maxLength: 8 }), (head, blocks) => {
      const { bytes, sent } = encodeSyncResponse({ head, blocks }, MAX_SYNC_BLOCKS, 1 << 20);
      expect(sent).toBe(blocks.length);
      const d = decodeSyncResponse(bytes, MAX_SYNC_BLOCKS);
      expect(d.status).toBe(0);
      expect(d.response.head).toBe(head);
      expect(d.response.blocks.map((b) => [toHex(b.block), toHex(b.certificate)])).toEqual(blocks.map((b) => [toHex(b.block), toHex(b.certificate)]));
    }));
  });

  it('sends at most max blocks and only whole blocks that fit the byte limit', () => {
    const blocks = Array.from({ length: 5 }, () => ({ block: new Uint8Array(100), certificate: new Uint8Array(20) }));
    expect(encodeSyncResponse({ head: 9n, blocks }, 2, 1 << 20).sent).toBe(2);
    // header 12 + 2 * (8 + 120) = 268
    const r = encodeSyncResponse({ head: 9n, blocks }, 5, 268);
    expect(r.sent).toBe(2);
    expect(r.bytes.length).toBe(268);
    expect(encodeSyncResponse({ head: 9n, blocks }, 5, 100).sent).toBe(0);
  });

  it('rejects truncation, trailing bytes, unknown status and more blocks than asked', () => {
    const { bytes } = encodeSyncResponse({ head: 1n, blocks: [{ block: Uint8Array.of(1), certificate: Uint8Array.of(2) }] }, 1, 1000);
    expect(() => decodeSyncResponse(bytes.subarray(0, bytes.length - 1), 1)).toThrow(ProtocolError);
    expect(() => decodeSyncResponse(Uint8Array.of(...bytes, 0), 1)).toThrow(ProtocolError);
    expect(() => decodeSyncResponse(bytes, 0)).toThrow(ProtocolError);
    const badStatus = bytes.slice();
    badStatus[1] = 7;
    expect(() => decodeSyncResponse(badStatus, 1)).toThrow(ProtocolError);
    const badVersion = bytes.slice();
    badVersion[0] = 2;
    expect(() => decodeSyncResponse(badVersion, 1)).toThrow(ProtocolError);
    // A length prefix pointing past the end.
    const lying = new Writer().u8(1).u8(0).u64(1n).u16(1).u32(0xffffffff).finish();
    expect(() => decodeSyncResponse(lying, 1)).toThrow(ProtocolError);
  });

  it('a bad-request answer decodes with status 1 and no blocks', () => {
    const d = decodeSyncResponse(encodeSyncBadRequest(), 0);
    expect(d.status).toBe(SYNC_STATUS_BAD_REQUEST);
    expect(d.response.blocks).toEqual([]);
  });
});
