import { toHex } from '../../../protocol/hex.js';
import type { PelNode } from '../../node.js';
import { RpcError } from '../errors.js';
import { heightType, methodsOf, optional, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

/** Per-tx rows answered at most; past it only the txs that re-executed or waited are listed. */
export const DEBUG_MAX_TX_ROWS = 1000;

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export const debugMethods: Record<string, RpcMethod<PelNode>> = {
  /**
   * [height?] -> how the block was executed (docs/EXECUTION.md, "Per-block statistics"); null
   * above the head; STATS_NOT_RETAINED for a block the node no longer (or never) recorded.
   */
  debug_blockExecution: method([optional('height', heightType)], async ([heightArg], node) => {
    const height = heightArg === undefined ? node.chain.height : BigInt(heightArg);
    if (height > node.chain.height) return null;
    const rec = node.executionLog.get(height);
    if (!rec) {
      const range = node.executionLog.range();
      const held = range ? `blocks ${range.oldest} to ${range.newest}` : 'no blocks yet';
      throw RpcError.of('STATS_NOT_RETAINED', `no execution stats for block ${height}: this node keeps them in memory for the blocks it executed since it started, at most its last 256 (it holds ${held})`, {
        height: Number(height),
        oldest: range ? Number(range.oldest) : null,
        newest: range ? Number(range.newest) : null,
      });
    }
    const s = rec.stats;
    const found = await node.chain.getBlock(height);
    const n = s.txs;
    const stm = s.blockStm;
    // 'suffix-from-K': the parallel run's txs K.. were re-executed sequentially on top of it.
    const suffix = s.fallback?.startsWith('suffix-from-') ? Number(s.fallback.slice('suffix-from-'.length)) : null;
    const path = s.executor === 'sequential' ? 'sequential' : stm === undefined || !stm.complete ? 'sequential' : suffix !== null ? 'parallel+sequential-suffix' : 'parallel';
    const row = (i: number): Record<string, unknown> => {
      const inc = stm ? stm.incarnations[i]! : 1;
      return {
        index: i,
        hash: found?.block.txs[i] ? toHex(found.block.txs[i]!.hash) : null,
        incarnations: inc,
        reexecutions: inc - 1,
        dependencyWaits: stm ? stm.dependencyWaits[i]! : 0,
        sequential: path === 'sequential' || (suffix !== null && i >= suffix),
      };
    };
    let rows: Record<string, unknown>[] = [];
    let txRows: 'all' | 'contended' = 'all';
    if (n <= DEBUG_MAX_TX_ROWS) rows = Array.from({ length: n }, (_, i) => row(i));
    else {
      txRows = 'contended';
      for (let i = 0; i < n && rows.length < DEBUG_MAX_TX_ROWS; i++) if (stm && (stm.incarnations[i]! > 1 || stm.dependencyWaits[i]! > 0)) rows.push(row(i));
    }
    let reexecutions = 0;
    if (stm) for (let i = 0; i < n; i++) reexecutions += stm.incarnations[i]! - 1;
    return {
      height: Number(height),
      hash: toHex(rec.hash),
      txs: n,
      discarded: rec.discarded,
      executor: s.executor,
      path,
      fallback: s.fallback,
      sequentialFrom: suffix,
      durationMs: round(s.durationMs),
      executeMs: round(rec.executeMs),
      stateRootMs: round(rec.rootMs),
      incarnations: s.incarnations,
      reexecutions,
      validations: s.validations,
      dependencyWaits: s.dependencyWaits,
      conflictKeys: stm ? stm.conflictKeys : [],
      timings: s.timings ? Object.fromEntries(Object.entries(s.timings).map(([k, v]) => [k, round(v)])) : {},
      txRows,
      perTx: rows,
    };
  }),
};
