/**
 * Block-STM statistics of one parallel run, for debug_blockExecution and the explorer's
 * Block-STM panel. Read by the main thread from shared memory after every worker has left the
 * run and before the next block resets it; nothing here runs on a worker or changes a run.
 *
 * Per tx: incarnations (the status word's incarnation + 1) and dependency waits (TX.DEP_WAITS,
 * counted by Scheduler.addDependency). Conflict keys are attributed from the final read sets:
 * a tx executed more than once read some key an earlier tx of the block wrote, and that read is
 * what validation caught (or the ESTIMATE it waited on). Each such VERSION read of a re-executed
 * tx counts its re-executions for its key. This names the contended keys; it does not replay
 * which exact read failed which validation (the workers do not record that).
 */
import type { BlockStmStats } from '../types.js';
import { READ, READ_STRIDE, TX, type SharedViews } from './layout.js';

/** Conflict keys kept per block. */
export const STM_TOP_KEYS = 10;
/** Read records looked at per block at most (a guard for huge contended blocks). */
const MAX_READS_SCANNED = 1_000_000;

export function collectBlockStm(v: SharedViews, keyString: (keyId: number) => string, n: number, complete: boolean): BlockStmStats {
  const incarnations = new Int32Array(n);
  const dependencyWaits = new Int32Array(n);
  const counts = new Map<number, number>();
  let scanned = 0;
  for (let i = 0; i < n; i++) {
    const t = i * TX.STRIDE;
    const status = Atomics.load(v.tx, t + TX.STATUS);
    const inc = status >>> 2;
    incarnations[i] = inc + 1;
    dependencyWaits[i] = v.tx[t + TX.DEP_WAITS]!;
    if (inc === 0 || scanned >= MAX_READS_SCANNED) continue;
    const start = v.tx[t + TX.READ_START]!;
    const count = Math.min(v.tx[t + TX.READ_COUNT]!, MAX_READS_SCANNED - scanned);
    scanned += count;
    for (let k = 0; k < count; k++) {
      const b = (start + k) * READ_STRIDE;
      if (b + READ_STRIDE > v.reads.length) break;
      if (v.reads[b + 1] !== READ.VERSION) continue;
      const keyId = v.reads[b]!;
      if (keyId < 0 || keyId >= v.capacity.keys) continue;
      counts.set(keyId, (counts.get(keyId) ?? 0) + inc);
    }
  }
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, STM_TOP_KEYS);
  const conflictKeys: { key: string; count: number }[] = [];
  for (const [keyId, count] of top) {
    let key: string;
    try {
      key = keyString(keyId);
    } catch {
      // A stopped run may leave a half-written record: name what can be named.
      continue;
    }
    conflictKeys.push({ key, count });
  }
  return { incarnations, dependencyWaits, conflictKeys, complete };
}
