/**
 * The worker pool under failure (execution/parallel/pool.ts): a worker never dies on a job's
 * input, a worker that dies anyway is replaced while blocks and jobs are in flight (only what
 * was on it falls back, and the results stay exactly the sequential ones), and a crash loop
 * puts the pool out of service instead of restarting forever.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as ExecutorModule from '../../../../execution/parallel/executor.js';
import type * as PoolModule from '../../../../execution/parallel/pool.js';
import type * as LayoutModule from '../../../../execution/parallel/layout.js';
import { executeBlockSequential } from '../../../../execution/sequential.js';
import type { BlockExecution } from '../../../../execution/types.js';
import { ingestRaws, type Ingested } from '../../../../node/ingest.js';
import type { Logger } from '../../../../protocol/logger.js';
import type { SignedTx } from '../../../../protocol/tx.js';
import { createVerifier } from '../../../../protocol/verify.js';
import { scratchState, type ScratchState } from '../../../../bench/scratch-state.js';
import { buildTransfer } from '../../../../sdk/tx.js';
import { benchAccounts, benchContext, benchGenesisState } from '../../../../bench/workload.js';
import { waitFor } from '../../../e2e/harness.js';
import { assertDistFresh } from './dist.js';
import { diffExecutions } from './gen.js';

type Executor = ExecutorModule.ParallelExecutor;

const ACCOUNTS = benchAccounts(100);
const GROUP = 50;
const PER_SENDER = 8;
const verifier = createVerifier();

/**
 * Block b: 400 transfers among one half of the accounts (even blocks the first half, odd ones
 * the second), 8 from each sender, nonces continuing from that half's previous block. So a
 * block reads keys the block before it did not write: a worker that saw only the latest
 * write set (the overlay) and not the store would read them wrongly.
 */
function block(b: number): SignedTx[] {
  const base = (b % 2) * GROUP;
  const txs: SignedTx[] = [];
  for (let i = 0; i < GROUP * PER_SENDER; i++) {
    const s = base + (i % GROUP);
    const nonce = BigInt(Math.floor(b / 2) * PER_SENDER + Math.floor(i / GROUP));
    txs.push(buildTransfer({ chainId: 1337, key: ACCOUNTS[s]!, nonce, to: ACCOUNTS[base + ((s * 7 + b + i) % GROUP)]!.address, amount: 1n + BigInt(i % 97), expiry: 1_000_000n }));
  }
  return txs;
}

/**
 * A chain of blocks on one executor, each checked against the sequential reference and
 * committed to a real LMDB state store (a temp dir) the workers read from.
 */
class Chain {
  private state: ScratchState | null = null;
  private height = 0;
  constructor(private readonly ex: Executor, private readonly track: (x: { close(): Promise<void> }) => unknown) {}

  /** The next block; `during` runs once the block is on its way to the workers. */
  async next(during?: () => Promise<void>): Promise<BlockExecution> {
    if (this.state === null) {
      this.state = await scratchState(benchGenesisState(ACCOUNTS));
      this.track(this.state);
    }
    const world = this.state.world;
    const b = this.height++;
    const ctx = benchContext(BigInt(b + 1));
    const txs = block(b);
    const seq = executeBlockSequential(ctx, txs, world);
    const pending = this.ex.execute(ctx, txs, world);
    await during?.();
    const par = await pending;
    expect(diffExecutions(seq, par, world)).toBeNull();
    expect(par.outcomes.filter((o) => o.kind === 'included')).toHaveLength(txs.length);
    await this.state.commit(par.writeSet);
    return par;
  }
}

const view = (o: Ingested): unknown => (o.ok ? { hash: o.tx.hash, raw: o.tx.raw } : o);
/** Big enough to be split over both workers. */
const submissions = (): Uint8Array[] => block(50).slice(0, 400).map((t) => t.raw);
const ranInParallel = (r: BlockExecution): boolean => r.stats.fallback === null || r.stats.fallback.startsWith('suffix-from-');

describe('worker pool failures', () => {
  let Executor: typeof ExecutorModule.ParallelExecutor;
  let Pool: typeof PoolModule;
  let Layout: typeof LayoutModule;
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T): T => (open.push(x), x);

  beforeAll(async () => {
    assertDistFresh();
    // The workers load dist/: the executor and pool under test are the compiled ones too.
    Executor = ((await import('../../../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule).ParallelExecutor;
    Pool = (await import('../../../../dist/execution/parallel/pool.js' as string)) as typeof PoolModule;
    Layout = (await import('../../../../dist/execution/parallel/layout.js' as string)) as typeof LayoutModule;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((x) => x.close()));
  });

  const create = (opts: Partial<ExecutorModule.ParallelOptions> = {}, deps: ExecutorModule.ParallelExecutorDeps = {}): Promise<Executor> =>
    Executor.create({ workers: 2, minParallelTxs: 1, adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000, ...opts }, deps).then(track);

  /** Resolves with the reason when the pool goes out of service (an event, not a timer). */
  const whenLost = (ex: Executor): Promise<string> => new Promise((resolve) => (ex.onPoolLost = resolve));

  it('a job the worker cannot take fails that job only: no worker exits', async () => {
    const ex = await create();
    // The fuzzer's find: an item over unpackRawTxs' 1 MiB limit used to throw outside any try.
    const huge = new Uint8Array(2 ** 20 + 1);
    await expect(ex.ingestBatch([huge])).rejects.toMatchObject({ name: 'WorkerPoolError', code: 'JOB_FAILED' });
    await expect(ex.verifyBatch([huge])).rejects.toMatchObject({ name: 'WorkerPoolError', code: 'JOB_FAILED' });
    expect(ex.poolStats()).toMatchObject({ configured: 2, workers: 2, restarts: 0, lost: null });
    // The same workers go on serving jobs and blocks.
    const raws = submissions();
    expect((await ingestRaws(raws, ex, verifier)).map(view)).toEqual((await ingestRaws(raws, null, verifier)).map(view));
    expect(ranInParallel(await new Chain(ex, track).next())).toBe(true);
    expect(ex.poolStats()).toMatchObject({ workers: 2, restarts: 0 });
  });

  it('a worker killed while a block and a job are in flight is replaced; both get the reference result and later blocks run in parallel (the replacement just opens the store)', async () => {
    const ex = await create();
    const chain = new Chain(ex, track);
    expect(ranInParallel(await chain.next())).toBe(true);
    const raws = submissions();
    const expected = (await ingestRaws(raws, null, verifier)).map(view);
    let ingested: Promise<Ingested[]> | null = null;
    const hit = await chain.next(async () => {
      ingested = ingestRaws(raws, ex, verifier); // a chunk on each worker, queued behind the block
      await ex.killWorkerForTest(1);
    });
    // The block the dead worker was in: the survivor was stopped and waited for, then the reference result.
    expect(hit.stats.fallback).toBe('worker-exited');
    // The job it held moved to this thread; the pool stayed in service.
    expect((await ingested!).map(view)).toEqual(expected);
    expect(ex.poolAvailable).toBe(true);
    await waitFor(() => ex.poolStats().workers === 2, { what: 'the replacement worker in service', timeoutMs: 30_000 });
    expect(ex.poolStats()).toMatchObject({ configured: 2, workers: 2, restarts: 1, lost: null });
    // The replacement opened the state store at init (no state to copy): the next blocks run
    // in parallel again, still exactly the sequential result (checked in next()).
    for (let i = 0; i < 3; i++) expect(ranInParallel(await chain.next())).toBe(true);
    expect((await ingestRaws(raws, ex, verifier)).map(view)).toEqual(expected);
    expect(ex.poolStats().restarts).toBe(1);
  });

  it('a worker that throws is replaced, and the log says why with the error\'s stack', async () => {
    const lines: { level: string; msg: string; ctx?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      error: (msg, ctx) => void lines.push({ level: 'error', msg, ctx }),
      warn: (msg, ctx) => void lines.push({ level: 'warn', msg, ctx }),
      info: () => undefined,
      debug: () => undefined,
      child: () => logger,
    };
    // Worker 1 at first is a thread that reports ready, then throws on its first real message.
    const throwing = `const { parentPort } = require('node:worker_threads');
      parentPort.on('message', (m) => {
        if (m.type === 'init') parentPort.postMessage({ type: 'ready' });
        else throw new Error('boom in worker 1');
      });`;
    const ex = await create({}, { logger, spawnWorker: (i, restart) => (i === 1 && !restart ? new Worker(throwing, { eval: true }) : Pool.spawnPoolWorker()) });
    const chain = new Chain(ex, track);
    expect((await chain.next()).stats.fallback).toBe('worker-exited');
    await waitFor(() => ex.poolStats().workers === 2, { what: 'worker 1 replaced', timeoutMs: 30_000 });
    const restart = lines.find((l) => l.msg.startsWith('worker exited; starting a replacement'));
    expect(restart?.level).toBe('error');
    expect(restart?.ctx).toMatchObject({ worker: 1, restarts: 1, reason: 'worker 1 exited (code 1): boom in worker 1' });
    expect(String(restart?.ctx?.stack)).toMatch(/^Error: boom in worker 1\n\s+at /);
    expect(lines).toContainEqual({ level: 'warn', msg: 'replacement worker in service', ctx: { worker: 1, restarts: 1 } });
    expect(ranInParallel(await chain.next())).toBe(true);
  });

  it('a replacement that cannot start puts the pool out of service instead of restarting forever', async () => {
    const ex = await create({}, {
      // Replacements exit before they report ready; the first workers are the real ones.
      spawnWorker: (_i, restart) => (restart ? new Worker('process.exit(3)', { eval: true }) : Pool.spawnPoolWorker()),
    });
    const lost = whenLost(ex);
    const chain = new Chain(ex, track);
    expect(ranInParallel(await chain.next())).toBe(true);
    await ex.killWorkerForTest(0);
    const reason = await lost;
    expect(reason).toMatch(/^the replacement for worker 0 failed to start: worker 0 exited \(code 3\) before it was ready/);
    expect(ex.poolAvailable).toBe(false);
    expect(ex.poolStats()).toMatchObject({ configured: 2, workers: 0, restarts: 1, lost: reason });
    // Lost mode: blocks run sequentially (still the reference result), jobs run on the caller's thread.
    expect((await chain.next()).stats.fallback).toBe('pool-lost');
    const raws = submissions();
    expect((await ingestRaws(raws, ex, verifier)).map(view)).toEqual((await ingestRaws(raws, null, verifier)).map(view));
    await expect(ex.ingestBatch(raws)).rejects.toMatchObject({ code: 'POOL_LOST' });
    expect(ex.poolStats().restarts).toBe(1);
  });

  it('more restarts than the budget within its window is a crash loop: the pool goes out of service', async () => {
    let clock = 0;
    const ex = await create({ maxWorkerRestarts: 2, workerRestartWindowMs: 60_000 }, { now: () => clock });
    const lost = whenLost(ex);
    const killAndHeal = async (w: number, restarts: number): Promise<void> => {
      await ex.killWorkerForTest(w);
      await waitFor(() => ex.poolStats().workers === 2, { what: `worker ${w} replaced`, timeoutMs: 30_000 });
      expect(ex.poolStats().restarts).toBe(restarts);
    };
    await killAndHeal(0, 1);
    await killAndHeal(1, 2);
    // The window has passed: those two no longer count.
    clock = 60_000;
    await killAndHeal(0, 3);
    await killAndHeal(0, 4);
    // A third death within one window.
    await ex.killWorkerForTest(1);
    expect(await lost).toMatch(/^worker 1 exited \(code 1\), after 2 restarts within 60 s \(crash loop\)$/);
    expect(ex.poolStats()).toMatchObject({ workers: 0, restarts: 4 });
    expect((await new Chain(ex, track).next()).stats.fallback).toBe('pool-lost');
  });

  it('workers whose buffers update fails report themselves broken: a block sent right after falls back, and they are replaced', async () => {
    const pool = track(await Pool.WorkerPool.start({ workers: 2, modules: 'builtin' }, {}, Layout.allocateBuffers(Layout.capacityFor(64))));
    const state = track(await scratchState(benchGenesisState(ACCOUNTS)));
    const blockMsg = { ctx: benchContext(), n: 0, contentionPct: 35, contentionMinSample: 128, statePath: state.path, overlay: null, overlayBase: 0n };
    let stops = 0;
    pool.broadcast({ type: 'buffers', buffers: { capacity: null } as never });
    // Posted behind the bad update, before the pool has heard of it: neither worker may run it on its wrong buffers.
    const run = await pool.runBlock(blockMsg, () => void stops++);
    expect(run.exited).toBe(2);
    expect(run.errors).toEqual([expect.stringMatching(/^worker \d is broken: buffers: /), expect.stringMatching(/^worker \d is broken: buffers: /)]);
    expect(stops).toBe(2);
    await waitFor(() => pool.stats().restarts === 2 && pool.stats().workers === 2, { what: 'the broken workers replaced', timeoutMs: 30_000 });
    expect(pool.available).toBe(true);
    expect(await pool.job('verify', [new Uint8Array(200)], 1)).toHaveLength(1);
    expect((await pool.runBlock(blockMsg, () => void stops++)).errors).toEqual([]);
  });

  it('a block whose state store cannot be opened falls back to the sequential result; the workers stay in service', async () => {
    const ex = await create();
    const chain = new Chain(ex, track);
    expect(ranInParallel(await chain.next())).toBe(true);
    // A state that names a store that is not there (its directory removed).
    const gone = await scratchState(benchGenesisState(ACCOUNTS));
    const world = gone.world;
    const path = gone.path;
    const fake = { get: (k: string) => world.get(k), db: { path: path + '-missing' }, overlay: () => world.overlay() };
    const ctx = benchContext(1n);
    const txs = block(0);
    const seq = executeBlockSequential(ctx, txs, world);
    const par = await ex.execute(ctx, txs, fake);
    expect(par.stats.fallback).toMatch(/^worker-error: /);
    expect(diffExecutions(seq, par, world)).toBeNull();
    await gone.close();
    expect(ex.poolStats()).toMatchObject({ workers: 2, restarts: 0, lost: null });
    expect(ranInParallel(await chain.next())).toBe(true);
  });
});
