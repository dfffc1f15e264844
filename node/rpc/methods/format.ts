/** JSON shapes returned by the API (docs/PROTOCOL.md, "JSON-RPC API"). */
import { headerToJson, type Block } from '../../../protocol/block.js';
import { toHex } from '../../../protocol/hex.js';
import { eventToJson, type Receipt } from '../../../protocol/receipt.js';
import { txToJson } from '../../../protocol/tx.js';

export function receiptToJson(txHash: Uint8Array, height: bigint, blockHash: Uint8Array, index: number, r: Receipt): Record<string, unknown> {
  return {
    txHash: toHex(txHash),
    blockHeight: Number(height),
    blockHash: toHex(blockHash),
    index,
    status: r.status,
    errorCode: r.errorCode,
    gasUsed: r.gasUsed.toString(),
    fee: r.fee.toString(),
    events: r.events.map(eventToJson),
  };
}

export function blockToJson(b: Block, txs: 'hashes' | 'full' | 'none'): Record<string, unknown> {
  return {
    hash: toHex(b.hash),
    header: headerToJson(b.header),
    txs: txs === 'none' ? undefined : b.txs.map((t) => (txs === 'full' ? txToJson(t) : toHex(t.hash))),
  };
}
