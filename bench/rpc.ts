/**
 * pel bench rpc: end-to-end throughput. Starts a fresh devnet (or uses --rpc URL),
 * pre-signs --txs transfers across --senders, submits them over several HTTP connections
 * in JSON-RPC batches (backing off on MEMPOOL_FULL / sender limits), tracks commits
 * through a WebSocket newBlocks subscription, and prints tx/s, submit rate, latency
 * (submit -> committed) percentiles, blocks, the node's per-stage times, its worker pool's
 * utilisation and peak RSS. When it started the node itself, it stops it and replays the
 * chain sequentially (rootsMatch).
 *
 * Memory over a long run (rssMb): the node's RSS is sampled once a second (from /proc when
 * this bench started the node, else from the node's /metrics), once when our committed txs
 * first reach min(100000, txs/10) (the checkpoint) and once after the last commit; growthPct
 * compares the end with the checkpoint. The client keeps only raw bytes and flat per-tx
 * arrays, so a 1,000,000-tx run fits in a few hundred MB here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { devKeyPair } from '../protocol/keys.js';
import { v } from '../protocol/value.js';
import type { SignedTx } from '../protocol/tx.js';
import { PelClient, type BlockJson } from '../sdk/client.js';
import { indexAccountAddress } from '../consensus/genesis.js';
import { replayChain } from './replay.js';
import { signTxFast } from './sign.js';
import { benchLog, median, num, output, parseBenchArgs, positiveInt, round, txStreamArgs } from './util.js';
import { AMM_BENCH_LIQUIDITY, rng, SWAP_MODES, type SwapMode } from './workload.js';
import { deriveId } from '../contracts/ids.js';
import { compareAssets, NATIVE, poolId } from '../contracts/amm/state.js';
import { toHex } from '../protocol/hex.js';
import type { KeyPair } from '../protocol/keys.js';

const HELP = `pel bench rpc [flags] — end-to-end throughput over JSON-RPC, JSON out
  --txs N            transactions to submit [20000]
  --senders S        distinct senders (dev accounts) [200]
  --batch B          tx_send calls per JSON-RPC batch [200]
  --connections C    concurrent HTTP connections [4]
  --hotspot P        percent of transfers sent to one account [0]
  --workload KIND    transfer | amm [transfer]
  --pools P          amm: pools (native / token j, 30 bps), set up over RPC first; sender s trades on pool s mod P [1]
  --swap-mode MODE   amm: instant (amm.swap) | batch (amm.swap_batch, settled at the block's end) [instant]
  --recipients R     hot (the senders themselves) | uniform (random among the --state-accounts
                     index accounts) | fresh (a new account per transfer: state grows by --txs) [hot]
  --state-accounts N for the node it starts: N funded keyless accounts in genesis (bulk-loaded);
                     with --rpc: how many the running node has [0]
  --data-dir DIR     for the node it starts: this data dir, kept afterwards (a second run on it
                     restarts the node on the existing chain: startupMs is the restart) [a temp dir]
  --no-replay        skip the sequential replay behind rootsMatch (null then)
  --rpc URL          use a running node (its dev accounts must be funded and unused)
  --executor KIND    for the node it starts: parallel | sequential [parallel]
  --max-block-txs N  for the node it starts [10000]
  --workers N        for the node it starts: executor worker threads, 0 = one per core [0]
  --warmup N         for the node it starts: start-up warm-up txs, 0 = none [the node's default]
  --json             one line of JSON
  --compare A.json B.json   print two results side by side
Output includes startupMs (node process start to RPC served), rssAnonMb {start, atCheckpoint,
end, peak, growthPct from the checkpoint to the end} (RssAnon: heap and other anonymous memory, not the page cache of the state
store's file), windowTps {size, first, last, ratio} (tx/s of the first and of the last
min(100000, txs/10) committed txs), rssMb {start, checkpointTxs, checkpointCommitted, atCheckpoint, end, peak,
growthPct, series [[secs, committed, MB]]}: the node's RSS once a second, at the checkpoint (the
first block after which our committed txs reach min(100000, txs/10)) and after the last commit;
receipts {checked, missing}: tx_getReceipt for up to 200 committed txs, spread over the run;
and workerUtilisation {workers, total, byWork}: the share of the node's worker-pool time spent
working during the run, from its /metrics (null without a pool).`;

const CLI = fileURLToPath(new URL('../node/cli.js', import.meta.url));

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function startDevnet(dataDir: string, args: string[], startTimeoutMs = 30_000): Promise<{ proc: ChildProcess; url: string; wsUrl: string; startupMs: number }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [CLI, 'devnet', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devnet did not start within ${round(startTimeoutMs / 1000, 0)} s:\n${err}`)), startTimeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const rpc = /RPC\s+(http:\/\/\S+)/.exec(out);
      const ws = /WebSocket\s+(ws:\/\/\S+)/.exec(out);
      if (rpc && ws) {
        clearTimeout(timer);
        resolve({ proc, url: rpc[1]!, wsUrl: ws[1]!, startupMs: performance.now() - t0 });
      }
    });
    proc.once('exit', (code) => reject(new Error(`devnet exited with ${code}:\n${err}`)));
  });
}

async function peakRssMb(pid: number | undefined): Promise<number | null> {
  if (!pid) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

function stageTimes(metrics: string): Record<string, { blocks: number; meanMs: number }> {
  const out: Record<string, { blocks: number; meanMs: number }> = {};
  for (const m of metrics.matchAll(/pel_block_stage_seconds_sum\{stage="([a-z_]+)"\} ([0-9.e+-]+)/g)) {
    const count = Number(new RegExp(`pel_block_stage_seconds_count\\{stage="${m[1]}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    out[m[1]!] = { blocks: count, meanMs: count ? round((Number(m[2]) * 1000) / count, 2) : 0 };
  }
  return out;
}

function workerBusy(metrics: string): { workers: number; busy: Map<string, number> } | null {
  const workers = /^pel_workers (\d+)$/m.exec(metrics);
  if (!workers) return null;
  const busy = new Map<string, number>();
  for (const m of metrics.matchAll(/^pel_worker_busy_seconds_total\{work="([a-z]+)"\} ([0-9.e+-]+)$/gm)) busy.set(m[1]!, Number(m[2]));
  return { workers: Number(workers[1]), busy };
}

/**
 * The node's worker pool over the run, from its /metrics before and after: the share of
 * the workers' wall time spent working, in all and by work (ingest, execute, ...). null for
 * a node without a pool (--executor sequential).
 */
function workerUtilisation(before: string, after: string, seconds: number): { workers: number; total: number; byWork: Record<string, number> } | null {
  const a = workerBusy(before);
  const b = workerBusy(after);
  if (!a || !b || b.workers === 0 || seconds <= 0) return null;
  const byWork: Record<string, number> = {};
  let total = 0;
  for (const [work, s] of b.busy) {
    const share = (s - (a.busy.get(work) ?? 0)) / (seconds * b.workers);
    byWork[work] = round(share, 3);
    total += share;
  }
  return { workers: b.workers, total: round(total, 3), byWork };
}

async function readResult(path: string): Promise<Record<string, unknown>> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${path} is not a bench rpc JSON result: save runs with --json (pel bench rpc ... --json > ${path})`);
  }
}

async function compare(a: string, b: string): Promise<number> {
  const [x, y] = [await readResult(a), await readResult(b)];
  const keys = ['executor', 'txs', 'senders', 'tps', 'submitRate', 'latencyMs', 'blocks', 'txsPerBlock', 'workerUtilisation', 'peakRssMb', 'rootsMatch'];
  const fmt = (v: unknown): string => (typeof v === 'object' ? JSON.stringify(v) : String(v));
  console.log(`${'metric'.padEnd(14)} ${a.padEnd(40)} ${b}`);
  for (const k of keys) console.log(`${k.padEnd(14)} ${fmt(x![k]).padEnd(40)} ${fmt(y![k])}`);
  return 0;
}

/**
 * Pre-signed txs kept as bytes only, so a 1,000,000-tx run stays small in the client: one
 * arena of raw encodings (~190 B each) and a map from hash hex to tx index (~110 B an entry).
 */
class PresignedTxs {
  private arena: Uint8Array;
  private readonly offsets: Uint32Array;
  private n = 0;
  /** Hash hex (no 0x, as a flat string) -> tx index. */
  readonly index = new Map<string, number>();

  constructor(readonly total: number) {
    this.arena = new Uint8Array(Math.max(1 << 16, total * 192));
    this.offsets = new Uint32Array(total + 1);
  }

  push(tx: SignedTx): void {
    const at = this.offsets[this.n]!;
    if (at + tx.raw.length > this.arena.length) {
      const grown = new Uint8Array(Math.max(this.arena.length * 2, at + tx.raw.length));
      grown.set(this.arena.subarray(0, at));
      this.arena = grown;
    }
    this.arena.set(tx.raw, at);
    this.offsets[this.n + 1] = at + tx.raw.length;
    this.index.set(Buffer.from(tx.hash.buffer, tx.hash.byteOffset, tx.hash.length).toString('hex'), this.n);
    this.n++;
  }

  /** The raw tx as the 0x-hex tx_send takes. */
  rawHex(i: number): string {
    const from = this.offsets[i]!;
    return '0x' + Buffer.from(this.arena.buffer, this.arena.byteOffset + from, this.offsets[i + 1]! - from).toString('hex');
  }

  indexOfHash(hex0x: string): number | undefined {
    return this.index.get(hex0x.startsWith('0x') ? hex0x.slice(2) : hex0x);
  }
}

/**
 * The node's resident set size, sampled cheaply: /proc/PID/status when this bench started
 * the node (Linux), else the node's own /metrics (on the RPC port), so it works with --rpc.
 */
class RssSampler {
  readonly source: 'proc' | 'metrics';
  /** [seconds since the first submit, our txs committed, MB]. */
  readonly samples: [number, number, number][] = [];
  failed = 0;
  last: number | null = null;
  private busy = false;

  constructor(private readonly pid: number | undefined, private readonly metricsUrl: URL) {
    this.source = pid !== undefined && process.platform === 'linux' ? 'proc' : 'metrics';
  }

  /** RssAnon of the last /proc read (MB), and its samples: anonymous memory, not file pages. */
  anon: number | null = null;
  readonly anonSamples: number[] = [];

  async read(): Promise<number | null> {
    try {
      if (this.source === 'proc') {
        const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+) kB/.exec(status);
        const a = /RssAnon:\s+(\d+) kB/.exec(status);
        this.anon = a ? Number(a[1]) / 1024 : null;
        return m ? Number(m[1]) / 1024 : null;
      }
      const res = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5_000) });
      // prom-client's process_resident_memory_bytes under the node's prefix (pel_process_).
      const m = /^\w*process_resident_memory_bytes ([0-9.e+]+)$/m.exec(await res.text());
      return m ? Number(m[1]) / 2 ** 20 : null;
    } catch {
      return null;
    }
  }

  /** One sample, recorded; null (and counted as failed) when the node could not be read. */
  async sample(secs: number, committed: number): Promise<number | null> {
    const mb = await this.read();
    if (mb === null) this.failed++;
    else {
      this.samples.push([round(secs, 1), committed, round(mb, 1)]);
      this.last = mb;
      if (this.anon !== null) this.anonSamples.push(this.anon);
    }
    return mb;
  }

  /** For the periodic timer: skips a tick while the previous sample is still being read. */
  tick(secs: number, committed: number): void {
    if (this.busy) return;
    this.busy = true;
    void this.sample(secs, committed).finally(() => (this.busy = false));
  }

  peak(): number | null {
    let p: number | null = null;
    for (const s of this.samples) if (p === null || s[2] > p) p = s[2];
    return p;
  }

  /** At most `n` samples, evenly spaced, first and last kept. */
  series(n: number): [number, number, number][] {
    const s = this.samples;
    if (s.length <= n) return s;
    return Array.from({ length: n }, (_, k) => s[Math.round((k * (s.length - 1)) / (n - 1))]!);
  }
}

const RSS_INTERVAL_MS = 1_000;
/** Give up waiting for commits after this long without a new one. */
const COMMIT_STALL_MS = 120_000;

/** Tx state bits. */
/**
 * The amm workload's setup over RPC, by `maker` (the account after the senders): P tokens
 * (token.create, ids derived from the tx hashes), AMM_BENCH_LIQUIDITY of each to the maker
 * and 10^12 of token s mod P to each sender, then P native/token pools (30 bps) with
 * AMM_BENCH_LIQUIDITY of each side. All pre-signed in nonce order, sent in batches; waits for
 * the last receipt and checks every setup tx succeeded.
 */
async function setUpAmm(client: PelClient, maker: KeyPair, senders: readonly KeyPair[], pools: number, log: (s: string) => void): Promise<{ tokens: Uint8Array[]; pools: Uint8Array[] }> {
  const t0 = performance.now();
  const info = await client.getInfo();
  let nonce = BigInt((await client.getAccount(maker.address)).nonce);
  const setup: SignedTx[] = [];
  const sign = (module: string, call: string, args: ReturnType<typeof v.u128>[]): SignedTx => {
    const t = signTxFast({ chainId: info.chainId, senderPublicKey: maker.publicKey, nonce: nonce++, gasLimit: 1_000_000n, gasPrice: 1n, expiry: BigInt(info.height) + 1_000_000n, module, call, args }, maker);
    setup.push(t);
    return t;
  };
  const tokens = Array.from({ length: pools }, (_, j) => deriveId('token', sign('token', 'create', [v.string(`Pool token ${j}`), v.string(`P${j}`), v.u64(0n), v.u128(0n)]).hash));
  for (const t of tokens) sign('token', 'mint', [v.address(t), v.address(maker.address), v.u128(AMM_BENCH_LIQUIDITY)]);
  senders.forEach((k, s) => sign('token', 'mint', [v.address(tokens[s % pools]!), v.address(k.address), v.u128(10n ** 12n)]));
  const ids = tokens.map((t) => {
    sign('amm', 'create_pool', [v.address(NATIVE), v.address(t), v.u64(30n)]);
    const id = compareAssets(NATIVE, t) < 0 ? poolId(NATIVE, t, 30n) : poolId(t, NATIVE, 30n);
    sign('amm', 'add_liquidity', [v.address(id), v.u128(AMM_BENCH_LIQUIDITY), v.u128(AMM_BENCH_LIQUIDITY), v.u128(0n), v.u128(0n), v.u64(BigInt(info.height) + 1_000_000n)]);
    return id;
  });
  for (let i = 0; i < setup.length; i += 200) {
    for (const r of await client.batch(setup.slice(i, i + 200).map((t) => ({ method: 'tx_send', params: [toHex(t.raw)] })))) if (!r.ok) throw new Error(`amm setup: tx_send: ${r.error.message}`);
  }
  await client.waitForReceipt(toHex(setup[setup.length - 1]!.hash), { timeoutMs: 120_000 });
  for (const t of setup) {
    const r = await client.waitForReceipt(toHex(t.hash), { timeoutMs: 30_000 });
    if (r.status !== 'success') throw new Error(`amm setup: ${t.module}.${t.call} failed with ${r.errorCode}`);
  }
  log(`amm setup: ${pools} tokens and pools, ${senders.length} senders funded, ${setup.length} txs in ${round(performance.now() - t0, 0)} ms`);
  return { tokens, pools: ids };
}

const ACCEPTED = 1;
const COMMITTED = 2;

export async function runRpcBench(args: string[]): Promise<number> {
  if (args[0] === '--compare') return compare(args[1]!, args[2]!);
  const f = parseBenchArgs(args, {
    txs: { type: 'string' }, senders: { type: 'string' }, batch: { type: 'string' }, connections: { type: 'string' }, hotspot: { type: 'string' },
    rpc: { type: 'string' }, executor: { type: 'string' }, 'max-block-txs': { type: 'string' }, warmup: { type: 'string' }, workers: { type: 'string' },
    workload: { type: 'string' }, pools: { type: 'string' }, 'swap-mode': { type: 'string' },
    recipients: { type: 'string' }, 'state-accounts': { type: 'string' }, 'data-dir': { type: 'string' }, 'no-replay': { type: 'boolean' },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const { total, senders, batch } = txStreamArgs(f);
  const connections = positiveInt(f.connections, 4, 'connections');
  const hotspot = num(f.hotspot, 0, 'hotspot');
  const workload = (f.workload as string | undefined) ?? 'transfer';
  if (workload !== 'transfer' && workload !== 'amm') throw new Error('--workload must be transfer or amm');
  const pools = positiveInt(f.pools, 1, 'pools');
  const swapMode = ((f['swap-mode'] as string | undefined) ?? 'instant') as SwapMode;
  if (!SWAP_MODES.includes(swapMode)) throw new Error(`--swap-mode must be one of ${SWAP_MODES.join(', ')}`);
  const stateAccounts = num(f['state-accounts'], 0, 'state-accounts');
  const recipients = (f.recipients as string | undefined) ?? 'hot';
  if (recipients !== 'hot' && recipients !== 'uniform' && recipients !== 'fresh') throw new Error('--recipients must be hot, uniform or fresh');
  if (recipients === 'uniform' && stateAccounts === 0) throw new Error('--recipients uniform draws from the index accounts: give --state-accounts N (N > 0)');
  const keepDir = typeof f['data-dir'] === 'string' ? (f['data-dir'] as string) : null;
  const json = f.json === true;
  const log = benchLog(json);

  let dataDir: string | null = null;
  let node: { proc: ChildProcess; url: string; wsUrl: string; startupMs?: number } | null = null;
  try {
    if (typeof f.rpc === 'string') {
      const u = new URL(f.rpc);
      node = { proc: null as unknown as ChildProcess, url: f.rpc, wsUrl: `ws://${u.host}/` };
    } else {
      dataDir = keepDir ?? (await mkdtemp(join(tmpdir(), 'pel-bench-rpc-')));
      if (stateAccounts > 0) log(`starting a devnet with ${stateAccounts} state accounts (bulk-loaded at the first start) ...`);
      // A bulk load takes ~10-30 us an account on the dev box: allow for it.
      node = await startDevnet(dataDir, ['--accounts', String(senders + 1), ...(stateAccounts > 0 ? ['--state-accounts', String(stateAccounts)] : []), '--executor', (f.executor as string | undefined) ?? 'parallel', '--max-block-txs', String(num(f['max-block-txs'], 10_000, 'max-block-txs')),
        ...(typeof f.warmup === 'string' ? ['--warmup', String(num(f.warmup, 0, 'warmup'))] : []),
        ...(typeof f.workers === 'string' ? ['--workers', String(num(f.workers, 0, 'workers'))] : [])], 30_000 + stateAccounts / 5);
      log(`devnet started: ${node.url} (data ${dataDir})`);
    }
    const client = new PelClient(node.url);
    const info = await client.getInfo();
    const keys = Array.from({ length: senders }, (_, i) => devKeyPair(i));
    const nonces = await Promise.all(keys.map(async (k) => BigInt((await client.getAccount(k.address)).nonce)));
    const next = rng(7);
    const hot = devKeyPair(senders).address;
    const amm = workload === 'amm' ? await setUpAmm(client, devKeyPair(senders), keys, pools, log) : null;
    // Fresh recipients start past every index earlier runs on the same data dir may have used:
    // the senders' nonces count every transfer they ever sent.
    const freshBase = Number(nonces.reduce((a, b) => a + b, 0n));
    const txs = new PresignedTxs(total);
    const t0sign = performance.now();
    for (let i = 0; i < total; i++) {
      const s = i % senders;
      if (amm) {
        // Sender s trades on pool s mod P; half the senders sell the native coin, half the pool's token.
        const j = s % pools;
        const assetIn = Math.floor(s / pools) % 2 === 0 ? NATIVE : amm.tokens[j]!;
        txs.push(signTxFast({ chainId: info.chainId, senderPublicKey: keys[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 100_000n, gasPrice: 1n, expiry: BigInt(info.height) + 1_000_000n, module: 'amm', call: swapMode === 'batch' ? 'swap_batch' : 'swap', args: [v.address(amm.pools[j]!), v.address(assetIn), v.u128(1_000n + BigInt(next() % 1000)), v.u128(0n), v.u64(BigInt(info.height) + 1_000_000n)] }, keys[s]!));
        continue;
      }
      const to = hotspot > 0 && next() % 100 < hotspot ? hot
        : recipients === 'uniform' ? indexAccountAddress(next() % stateAccounts)
        : recipients === 'fresh' ? indexAccountAddress(stateAccounts + freshBase + i)
        : keys[next() % senders]!.address;
      txs.push(signTxFast({ chainId: info.chainId, senderPublicKey: keys[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 50_000n, gasPrice: 1n, expiry: BigInt(info.height) + 1_000_000n, module: 'coin', call: 'transfer', args: [v.address(to), v.u128(1n)] }, keys[s]!));
      if (!json && process.stderr.isTTY && i % 10_000 === 9_999) process.stderr.write(`\r  signed ${i + 1}/${total}   `);
    }
    if (!json && process.stderr.isTTY && total >= 10_000) process.stderr.write('\n');
    log(`pre-signed ${total} txs from ${senders} senders in ${round(performance.now() - t0sign, 0)} ms`);

    // Per-tx state in flat arrays: bits (ACCEPTED | COMMITTED), send and commit times.
    const state = new Uint8Array(total);
    const sentAt = new Float64Array(total);
    const committedAt = new Float64Array(total);
    let accepted = 0;
    /** Our txs seen in a block (accepted or not). */
    let committedOurs = 0;
    /** Accepted and seen in a block. */
    let done = 0;
    let lastCommitAt = performance.now();

    const sampler = new RssSampler(node.proc?.pid, new URL('/metrics', node.url));
    const checkpointTxs = Math.max(1, Math.min(100_000, Math.floor(total / 10)));
    /** Set once, when our committed txs first reach checkpointTxs. */
    const checkpoint: { secs: number | null; committed: number | null; mb: Promise<number | null> | null; anon: number | null } = { secs: null, committed: null, mb: null, anon: null };
    let start = performance.now();

    // Commit tracking.
    const blockSizes: number[] = [];
    const ws = new WebSocket(node.wsUrl);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.on('message', (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString()) as { method?: string; params?: { result: BlockJson } };
      if (m.method !== 'chain_subscription') return;
      const now = performance.now();
      const hashes = m.params!.result.txs as string[];
      if (hashes.length) blockSizes.push(hashes.length);
      for (const h of hashes) {
        const i = txs.indexOfHash(h);
        if (i === undefined || state[i]! & COMMITTED) continue;
        state[i]! |= COMMITTED;
        committedAt[i] = now;
        committedOurs++;
        if (state[i]! & ACCEPTED) done++;
        lastCommitAt = now;
      }
      if (checkpoint.mb === null && committedOurs >= checkpointTxs) {
        checkpoint.secs = (now - start) / 1000;
        checkpoint.committed = committedOurs;
        checkpoint.mb = sampler.sample(checkpoint.secs, committedOurs).then((mb) => {
          checkpoint.anon = sampler.anon;
          return mb;
        });
      }
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_subscribe', params: ['newBlocks'] }));

    // Submission: batches of consecutive tx indices; retried txs go to the front.
    const retryQueue: number[][] = [];
    let cursor = 0;
    const take = (): number[] | undefined => {
      const r = retryQueue.shift();
      if (r || cursor >= total) return r;
      const b = Array.from({ length: Math.min(batch, total - cursor) }, (_, k) => cursor + k);
      cursor += b.length;
      return b;
    };
    let rejected = 0;
    const rejectReasons: Record<string, number> = {};
    let retries = 0;
    const rssStart = await sampler.sample(0, 0);
    const metricsUrl = new URL('/metrics', node.url);
    const metricsBefore = await (await fetch(metricsUrl)).text().catch(() => '');
    start = performance.now();
    let lastSubmit = start;
    const worker = async (): Promise<void> => {
      for (;;) {
        const b = take();
        if (!b) return;
        const sentTime = performance.now();
        const res = await client.batch(b.map((i) => ({ method: 'tx_send', params: [txs.rawHex(i)] })));
        const retry: number[] = [];
        res.forEach((r, k) => {
          const i = b[k]!;
          if (r.ok) {
            if (!(state[i]! & ACCEPTED)) {
              state[i]! |= ACCEPTED;
              sentAt[i] = sentTime;
              accepted++;
              if (state[i]! & COMMITTED) done++;
            }
          } else if (['MEMPOOL_FULL', 'SENDER_LIMIT_REACHED', 'NONCE_TOO_HIGH'].includes(r.error.reason ?? '')) retry.push(i);
          else {
            rejected++;
            rejectReasons[r.error.reason ?? String(r.error.code)] = (rejectReasons[r.error.reason ?? String(r.error.code)] ?? 0) + 1;
          }
        });
        lastSubmit = performance.now();
        if (retry.length) {
          retries += retry.length;
          retryQueue.unshift(retry);
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    };
    const rssTimer = setInterval(() => sampler.tick((performance.now() - start) / 1000, committedOurs), RSS_INTERVAL_MS);
    const progress = setInterval(() => {
      if (json || !process.stderr.isTTY) return;
      const secs = (performance.now() - start) / 1000;
      const rss = sampler.last === null ? '?' : round(sampler.last, 0);
      process.stderr.write(`\r  submitted ${accepted}/${total}  committed ${committedOurs}  ${round(committedOurs / secs, 0)} tx/s  node RSS ${rss} MB   `);
    }, 500);
    let rssEnd: number | null = null;
    let submitEnd = start;
    try {
      await Promise.all(Array.from({ length: connections }, worker));
      submitEnd = lastSubmit;
      lastCommitAt = Math.max(lastCommitAt, submitEnd);
      while (done < accepted && performance.now() - lastCommitAt < COMMIT_STALL_MS) await new Promise((r) => setTimeout(r, 20));
      rssEnd = await sampler.sample((performance.now() - start) / 1000, committedOurs);
    } finally {
      clearInterval(rssTimer);
      clearInterval(progress);
    }
    if (!json && process.stderr.isTTY) process.stderr.write('\n');
    ws.close();
    if (sampler.failed > 0) process.stderr.write(`warning: ${sampler.failed} of ${sampler.failed + sampler.samples.length} node RSS samples failed (${sampler.source === 'proc' ? `/proc/${node.proc.pid}/status` : `${node.url} /metrics`})\n`);

    // Latency of each accepted and committed tx; the run ends at the last commit.
    const lat = new Float64Array(done);
    let end = start;
    for (let i = 0, k = 0; i < total; i++) {
      if (state[i] !== (ACCEPTED | COMMITTED)) continue;
      lat[k++] = committedAt[i]! - sentAt[i]!;
      if (committedAt[i]! > end) end = committedAt[i]!;
    }
    lat.sort();
    const latency = lat;
    const receipts = await checkReceipts(client, txs, state, 200);
    const metrics = await (await fetch(metricsUrl)).text().catch(() => '');
    const hwm = await peakRssMb(node.proc?.pid);
    const atCheckpoint = await checkpoint.mb;
    const sampledPeak = sampler.peak();
    const rssPeak = hwm ?? sampledPeak;
    let replay = null;
    if (dataDir && node.proc) {
      node.proc.kill('SIGINT');
      await new Promise((r) => node!.proc.once('exit', r));
      if (f['no-replay'] !== true) {
        log('replaying the chain sequentially (rootsMatch) ...');
        replay = await replayChain(dataDir);
      }
    }
    // The first and the last `size` committed txs, by commit time.
    const commitTimes = Float64Array.from(committedAt.filter((t, i) => state[i] === (ACCEPTED | COMMITTED))).sort();
    const size = Math.max(1, Math.min(100_000, Math.floor(commitTimes.length / 10)));
    const windowTps = commitTimes.length < 2 * size ? null : (() => {
      const first = size / ((commitTimes[size - 1]! - start) / 1000);
      const last = size / ((commitTimes[commitTimes.length - 1]! - commitTimes[commitTimes.length - 1 - size]!) / 1000);
      return { size, first: round(first, 0), last: round(last, 0), ratio: round(last / first, 2) };
    })();
    const anon = sampler.anonSamples;
    const anonAt = (i: number): number | null => (anon[i] === undefined ? null : round(anon[i]!, 1));
    const committed = done;
    output(
      {
        bench: 'rpc', executor: info.executor, workload, pools: workload === 'amm' ? pools : undefined, swapMode: workload === 'amm' ? swapMode : undefined, txs: total, senders, batch, connections, hotspot,
        recipients, stateAccounts,
        startupMs: node.startupMs === undefined ? null : round(node.startupMs, 0),
        accepted, rejected, rejectReasons, retries, committed,
        tps: round(committed / ((end - start) / 1000), 0),
        submitRate: round(accepted / ((submitEnd - start) / 1000), 0),
        durationMs: round(end - start, 0),
        latencyMs: { p50: round(percentile(latency, 50), 1), p90: round(percentile(latency, 90), 1), p99: round(percentile(latency, 99), 1), max: round(latency[latency.length - 1] ?? 0, 1) },
        blocks: blockSizes.length, txsPerBlock: { median: median(blockSizes.length ? blockSizes : [0]), max: blockSizes.reduce((a, b) => Math.max(a, b), 0) },
        stages: stageTimes(metrics), workerUtilisation: workerUtilisation(metricsBefore, metrics, (end - start) / 1000), peakRssMb: rssPeak,
        rssMb: {
          source: sampler.source, intervalMs: RSS_INTERVAL_MS, samples: sampler.samples.length, failedSamples: sampler.failed,
          start: rssStart === null ? null : round(rssStart, 1),
          checkpointTxs, checkpointCommitted: checkpoint.committed, checkpointSecs: checkpoint.secs === null ? null : round(checkpoint.secs, 1),
          atCheckpoint: atCheckpoint === null ? null : round(atCheckpoint, 1),
          end: rssEnd === null ? null : round(rssEnd, 1),
          peak: rssPeak, peakSource: hwm !== null ? 'VmHWM' : 'samples',
          growthPct: atCheckpoint !== null && rssEnd !== null ? round(((rssEnd - atCheckpoint) / atCheckpoint) * 100, 1) : null,
          series: sampler.series(60),
        },
        rssAnonMb: anon.length === 0 ? null : {
          start: anonAt(0), atCheckpoint: checkpoint.anon === null ? null : round(checkpoint.anon, 1), end: anonAt(anon.length - 1), peak: round(anon.reduce((a, b) => Math.max(a, b), 0), 1),
          growthPct: checkpoint.anon !== null && anon.length > 0 ? round(((anon[anon.length - 1]! - checkpoint.anon) / checkpoint.anon) * 100, 1) : null,
        },
        windowTps,
        receipts,
        rootsMatch: replay ? replay.rootsMatch && replay.receiptsMatch : null,
        allCommitted: committed === accepted,
      },
      json,
    );
    return committed === accepted && receipts.missing === 0 && (replay === null || (replay.rootsMatch && replay.receiptsMatch)) ? 0 : 1;
  } finally {
    if (node?.proc && node.proc.exitCode === null) node.proc.kill('SIGKILL');
    if (dataDir && dataDir !== keepDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Spot check behind "every accepted tx has a receipt": up to `n` committed txs, evenly
 * spread over the run, must each have a receipt from tx_getReceipt (one JSON-RPC batch).
 */
async function checkReceipts(client: PelClient, txs: PresignedTxs, state: Uint8Array, n: number): Promise<{ checked: number; missing: number }> {
  let count = 0;
  for (let i = 0; i < state.length; i++) if (state[i] === (ACCEPTED | COMMITTED)) count++;
  const want = Math.min(n, count);
  if (want === 0) return { checked: 0, missing: 0 };
  // The k-th pick is the committed tx of rank floor(k * count / want); ranks are increasing.
  const hashes: string[] = [];
  let rank = 0;
  for (const [h, i] of txs.index) {
    if (hashes.length === want) break;
    if (state[i] !== (ACCEPTED | COMMITTED)) continue;
    if (rank === Math.floor((hashes.length * count) / want)) hashes.push('0x' + h);
    rank++;
  }
  const res = await client.batch(hashes.map((h) => ({ method: 'tx_getReceipt', params: [h] })));
  return { checked: hashes.length, missing: res.filter((r) => !r.ok || r.result === null).length };
}
