/**
 * Blocks.
 * header = u8 version(=1) | u32 chainId | u64 height | [32] parentHash | u64 timestamp (ms)
 *          | [20] proposer | [32] txRoot | [32] receiptsRoot | [32] stateRoot | u32 txCount
 *          | u64 gasUsed
 * block  = header | (u32 length | signed tx) * txCount
 * blockHash = SHA-256(header)
 */
import { Reader, Writer } from './codec.js';
import { ProtocolError } from './errors.js';
import { merkleRoot, sha256 } from './hash.js';
import { toHex } from './hex.js';
import { decodeTx, MAX_TX_BYTES, type SignedTx } from './tx.js';

export const BLOCK_VERSION = 1;

export interface BlockHeader {
  readonly chainId: number;
  readonly height: bigint;
  readonly parentHash: Uint8Array;
  readonly timestamp: bigint;
  readonly proposer: Uint8Array;
  readonly txRoot: Uint8Array;
  readonly receiptsRoot: Uint8Array;
  readonly stateRoot: Uint8Array;
  readonly txCount: number;
  readonly gasUsed: bigint;
}

export interface Block {
  readonly header: BlockHeader;
  readonly hash: Uint8Array;
  readonly txs: readonly SignedTx[];
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  return new Writer(240)
    .u8(BLOCK_VERSION).u32(h.chainId).u64(h.height).raw(h.parentHash, 32).u64(h.timestamp).raw(h.proposer, 20)
    .raw(h.txRoot, 32).raw(h.receiptsRoot, 32).raw(h.stateRoot, 32).u32(h.txCount).u64(h.gasUsed)
    .finish();
}

function readHeader(r: Reader): BlockHeader {
  const version = r.u8('version');
  if (version !== BLOCK_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `block version ${version} is not supported`);
  return {
    chainId: r.u32('chainId'),
    height: r.u64('height'),
    parentHash: r.raw(32, 'parentHash'),
    timestamp: r.u64('timestamp'),
    proposer: r.raw(20, 'proposer'),
    txRoot: r.raw(32, 'txRoot'),
    receiptsRoot: r.raw(32, 'receiptsRoot'),
    stateRoot: r.raw(32, 'stateRoot'),
    txCount: r.u32('txCount'),
    gasUsed: r.u64('gasUsed'),
  };
}

export function blockHash(h: BlockHeader): Uint8Array {
  return sha256(encodeHeader(h));
}

export function txRootOf(txs: readonly SignedTx[]): Uint8Array {
  return merkleRoot(txs.map((t) => t.hash));
}

export function makeBlock(header: BlockHeader, txs: readonly SignedTx[]): Block {
  if (header.txCount !== txs.length) throw new ProtocolError('INVALID_VALUE', `header.txCount ${header.txCount} != ${txs.length} txs`);
  return { header, hash: blockHash(header), txs };
}

export function encodeBlock(b: Block): Uint8Array {
  let size = 240;
  for (const t of b.txs) size += 4 + t.raw.length;
  const w = new Writer(size);
  w.raw(encodeHeader(b.header));
  for (const t of b.txs) w.bytes(t.raw);
  return w.finish();
}

export function decodeBlock(bytes: Uint8Array): Block {
  const r = new Reader(bytes, 'block');
  const header = readHeader(r);
  const txs: SignedTx[] = [];
  for (let i = 0; i < header.txCount; i++) txs.push(decodeTx(r.bytes('transaction', MAX_TX_BYTES)));
  r.end();
  return { header, hash: blockHash(header), txs };
}

/**
 * One transaction of an encoded block, with the block's hash: the header and the length
 * prefixes of the txs before it are read, only the wanted tx is decoded. Undefined when the
 * block has no tx at `index`. (A receipt lookup on a block out of the cache decoded every tx
 * of the block before.)
 */
export function decodeBlockTxAt(bytes: Uint8Array, index: number): { hash: Uint8Array; tx: SignedTx } | undefined {
  const r = new Reader(bytes, 'block', true);
  const header = readHeader(r);
  if (!Number.isInteger(index) || index < 0 || index >= header.txCount) return undefined;
  for (let i = 0; i < index; i++) r.bytes('transaction', MAX_TX_BYTES);
  return { hash: blockHash(header), tx: decodeTx(r.bytes('transaction', MAX_TX_BYTES)) };
}

export function headerToJson(h: BlockHeader): Record<string, string | number> {
  return {
    chainId: h.chainId,
    height: Number(h.height),
    parentHash: toHex(h.parentHash),
    timestamp: Number(h.timestamp),
    proposer: toHex(h.proposer),
    txRoot: toHex(h.txRoot),
    receiptsRoot: toHex(h.receiptsRoot),
    stateRoot: toHex(h.stateRoot),
    txCount: h.txCount,
    gasUsed: h.gasUsed.toString(),
  };
}
