/**
 * GC tuning for a process that runs a node (`pel devnet`, `pel node`).
 *
 * A node's live JavaScript set is small and steady (~60 MB on the main thread with a 200-account
 * devnet) but it allocates fast: every transaction is parsed, decoded, held in the mempool for a
 * block or two and dropped. V8 lets the old generation grow to up to 4x its live size before the
 * next full collection when the machine has memory to spare, so a node's RSS swung by ~150 MB
 * between collections and where a sample fell decided what a memory figure said. With
 * `--heap-growing-percent=50` the old generation grows by at most half its live size between full
 * collections (~85 MB here instead of 90-200 MB), at the price of more frequent, mostly
 * concurrent, marking. Measured in `bench rpc --txs 1000000 --senders 200` (README, "Memory
 * over a long run").
 *
 * V8 reads this flag whenever it sizes the heap after a collection, so setting it at run time
 * works for the main isolate and every worker (checked by test/unit/node/heap.test.ts); no
 * launcher flag is needed, and `node dist/node/cli.js devnet` gets it as well as the `pel` bin.
 * A value the operator set (command line or NODE_OPTIONS) wins.
 *
 * Deliberately not set: `--max-semi-space-size`. It is process-wide and overrides the young
 * generation cap the executor gives its workers (`resourceLimits`), whose young generations then
 * grow slowly for as long as the node runs.
 */
import { setFlagsFromString } from 'node:v8';

/** Old-generation growth between full collections, in percent of the live size. */
export const HEAP_GROWING_PERCENT = 50;

/** True if `--heap-growing-percent` (or its underscore spelling) appears in these options. */
export function operatorSetHeapGrowing(execArgv: readonly string[], nodeOptions: string): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
}

/**
 * Applies HEAP_GROWING_PERCENT to this process unless the operator chose a value. Call it once,
 * before the node starts its workers. Returns the percent in force, or null when the operator's
 * own value applies.
 */
export function tuneNodeHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | null {
  if (operatorSetHeapGrowing(execArgv, nodeOptions)) return null;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return HEAP_GROWING_PERCENT;
}
