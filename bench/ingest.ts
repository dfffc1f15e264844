/**
 * pel bench ingest: the node's ingestion path alone (decode + signature check), no RPC, no
 * mempool, no disk. Pre-signs --txs transfers over --senders, then feeds them in JSON-RPC
 * sized batches with several batches in flight (like concurrent HTTP connections) through
 * exactly what `PelNode.submit` does before the mempool: `ingestRaws` (node/ingest.ts),
 * which decodes, hashes and verifies on the worker pool and builds the txs here. One pool per
 * --workers count, plus a same-thread baseline (the node without a pool: decode and verify
 * here).
 *
 * Timing is wall-clock from the first batch taken to the last tx built, so this thread's
 * packing, message passing and tx building are all inside it. Every verdict must be
 * OK; otherwise the bench exits 1. Runs of the configurations are interleaved so that noise
 * on a shared machine hits all of them alike.
 */
import { availableParallelism } from 'node:os';
import { ParallelExecutor } from '../execution/parallel/executor.js';
import { ingestRaws } from '../node/ingest.js';
import { devKeyPair } from '../protocol/keys.js';
import { v } from '../protocol/value.js';
import { createVerifier, type SignatureVerifier } from '../protocol/verify.js';
import { signTxFast } from './sign.js';
import { benchLog, median, output, parseBenchArgs, positiveInt, round, txStreamArgs } from './util.js';

const HELP = `pel bench ingest [flags] — ingestion alone (decode + verify), worker pool vs same thread
  --txs N            transactions per run [20000]
  --senders S        distinct senders (dev accounts) [200]
  --batch B          txs per batch (one JSON-RPC batch of tx_send) [200]
  --inflight K       batches in flight at once (like concurrent HTTP connections) [4]
  --workers LIST     worker counts to measure, comma-separated [1,2]
  --runs R           timed runs per configuration, after one untimed pass each; medians reported [5]
  --json             one line of JSON`;

const CHAIN_ID = 1337;
/** Idle time before each timed run. */
const SETTLE_MS = 250;

/** The worker pool, or null for the same-thread baseline. */
type Pool = ParallelExecutor | null;

interface RunResult {
  readonly ms: number;
  readonly checked: number;
  readonly notOk: number;
}

interface ConfigResult {
  readonly workers: number;
  readonly txPerSec: number;
  readonly usPerTx: number;
  readonly runs: number[];
}

function workerCounts(v: string | boolean | undefined): number[] {
  const list = typeof v === 'string' ? v : '1,2';
  const counts = list.split(',').map((s) => Number(s.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must be a comma-separated list of positive integers, got ${JSON.stringify(list)}`);
  return [...new Set(counts)];
}

/** Transfers from `senders` dev accounts, nonces from 0; only the raw encodings are kept. */
function presign(total: number, senders: number): Uint8Array[] {
  const keys = Array.from({ length: senders }, (_, i) => devKeyPair(i));
  const nonces = new Array<bigint>(senders).fill(0n);
  const raws: Uint8Array[] = new Array(total);
  for (let i = 0; i < total; i++) {
    const s = i % senders;
    const to = keys[(s + 1 + (i % 7)) % senders]!.address;
    raws[i] = signTxFast({ chainId: CHAIN_ID, senderPublicKey: keys[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 50_000n, gasPrice: 1n, expiry: 1_000_000n, module: 'coin', call: 'transfer', args: [v.address(to), v.u128(1n)] }, keys[s]!).raw;
  }
  return raws;
}

/**
 * `inflight` loops, each taking the next `batch` raws and awaiting their ingestion (as the
 * node's submit does). Wall-clock from the first take to the last outcome.
 */
async function ingest(raws: readonly Uint8Array[], batch: number, inflight: number, pool: Pool, verifier: SignatureVerifier): Promise<RunResult> {
  let next = 0;
  let checked = 0;
  let notOk = 0;
  const connection = async (): Promise<void> => {
    while (next < raws.length) {
      const from = next;
      const to = Math.min(raws.length, from + batch);
      next = to;
      const outcomes = await ingestRaws(raws.slice(from, to), pool, verifier);
      checked += outcomes.length;
      for (const o of outcomes) if (!o.ok) notOk++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, connection));
  return { ms: performance.now() - t0, checked, notOk };
}

function summarise(workers: number, total: number, ms: number[]): ConfigResult {
  const rates = ms.map((m) => total / (m / 1000));
  const rate = median(rates);
  return { workers, txPerSec: round(rate, 0), usPerTx: round(1e6 / rate, 2), runs: rates.map((r) => round(r, 0)) };
}

function table(r: { txs: number; senders: number; batch: number; inflight: number; runs: number; cores: number; sameThread: ConfigResult; results: ConfigResult[]; speedup2v1: number | null; verdicts: { checked: number; notOk: number } }): string {
  const row = (name: string, c: ConfigResult): string => `  ${name.padEnd(14)} ${String(c.txPerSec).padStart(9)} ${String(c.usPerTx).padStart(9)}   ${c.runs.join(', ')}`;
  return [
    `pel bench ingest: ${r.txs} txs from ${r.senders} senders, batch ${r.batch}, ${r.inflight} in flight, ${r.runs} runs (medians), ${r.cores} cores`,
    `  ${'config'.padEnd(14)} ${'tx/s'.padStart(9)} ${'us/tx'.padStart(9)}   runs (tx/s)`,
    row('same thread', r.sameThread),
    ...r.results.map((c) => row(`${c.workers} worker${c.workers === 1 ? '' : 's'}`, c)),
    `  speedup 2 vs 1 workers: ${r.speedup2v1 === null ? 'n/a (measure --workers 1,2)' : `${r.speedup2v1}x`}`,
    `  verdicts: ${r.verdicts.checked} checked, ${r.verdicts.notOk} not OK`,
  ].join('\n');
}

export async function runIngestBench(args: string[]): Promise<number> {
  const f = parseBenchArgs(args, { txs: { type: 'string' }, senders: { type: 'string' }, batch: { type: 'string' }, inflight: { type: 'string' }, workers: { type: 'string' }, runs: { type: 'string' } });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const { total, senders, batch } = txStreamArgs(f);
  const inflight = positiveInt(f.inflight, 4, 'inflight');
  const runs = positiveInt(f.runs, 5, 'runs');
  const counts = workerCounts(f.workers);
  const json = f.json === true;
  const log = benchLog(json);

  const t0 = performance.now();
  const raws = presign(total, senders);
  log(`pre-signed ${total} txs from ${senders} senders in ${round(performance.now() - t0, 0)} ms`);

  const verifier = createVerifier();
  const pools: ParallelExecutor[] = [];
  const verdicts = { checked: 0, notOk: 0 };
  const tally = (r: RunResult): RunResult => {
    verdicts.checked += r.checked;
    verdicts.notOk += r.notOk;
    return r;
  };
  try {
    for (const w of counts) pools.push(await ParallelExecutor.create({ workers: w }));
    const configs: { workers: number; pool: Pool }[] = [{ workers: 0, pool: null }, ...pools.map((p) => ({ workers: p.workerCount, pool: p }))];
    // Warm-up: one untimed pass of every configuration, so JIT on both sides of the message
    // channel and every worker's key cache are warm before the timed runs. (A 2,000-tx warm-up
    // left the 2-worker pool's first timed runs ~10% slower than its later ones: run series
    // like 25,229 / 26,040 / 28,777 tx/s.)
    for (const c of configs) tally(await ingest(raws, batch, inflight, c.pool, verifier));
    const ms = configs.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      for (let c = 0; c < configs.length; c++) {
        // Let the previous run's background work (concurrent GC of this thread's heap) finish
        // before the clock starts, so one configuration's garbage is not timed in the next.
        await new Promise((res) => setTimeout(res, SETTLE_MS));
        ms[c]!.push(tally(await ingest(raws, batch, inflight, configs[c]!.pool, verifier)).ms);
      }
    }
    const [same, ...pooled] = configs.map((c, i) => summarise(c.workers, total, ms[i]!));
    const one = pooled.find((c) => c.workers === 1);
    const two = pooled.find((c) => c.workers === 2);
    const result = {
      bench: 'ingest', txs: total, senders, batch, inflight, runs,
      sameThread: { txPerSec: same!.txPerSec, usPerTx: same!.usPerTx, runs: same!.runs },
      results: pooled,
      speedup2v1: one && two ? round(two.txPerSec / one.txPerSec, 2) : null,
      verdicts, allOk: verdicts.notOk === 0,
      cores: availableParallelism(),
    };
    if (json) output(result, true);
    else console.log(table({ ...result, sameThread: same! }));
    if (verdicts.notOk > 0) {
      console.error(`pel bench ingest: ${verdicts.notOk} of ${verdicts.checked} verdicts were not OK: the pre-signed transfers must all verify`);
      return 1;
    }
    return 0;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}
