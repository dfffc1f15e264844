import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type * as ExecutorModule from '../../../execution/parallel/executor.js';
import { ingestRaws, verifyRaws, type Ingested } from '../../../node/ingest.js';
import { sameThreadVerifyTxs } from '../../../consensus/bft/app.js';
import { VERIFY } from '../../../execution/parallel/outputs.js';
import { concatBytes } from '../../../protocol/hex.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { decodeTx, MAX_TX_BYTES, MIN_TX_BYTES, type SignedTx } from '../../../protocol/tx.js';
import { v } from '../../../protocol/value.js';
import { createVerifier } from '../../../protocol/verify.js';
import { buildCall, buildTransfer } from '../../../sdk/tx.js';
import { benchAccounts, benchContext, benchGenesisState, transferBlock } from '../../../bench/workload.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import { scratchState } from '../../../bench/scratch-state.js';
import { assertDistFresh } from '../execution/parallel/dist.js';
import { waitFor } from '../../e2e/harness.js';

/** Everything a caller can observe of an outcome, with the tx read field by field. */
function view(o: Ingested): unknown {
  if (!o.ok) return o;
  const t: SignedTx = o.tx;
  return { chainId: t.chainId, pk: t.senderPublicKey, nonce: t.nonce, gas: [t.gasLimit, t.gasPrice, t.expiry], module: t.module, call: t.call, args: t.args, sig: t.signature, sender: t.sender, hash: t.hash, raw: t.raw, bodyLength: t.bodyLength };
}

/** Valid txs, and each way a raw tx can be wrong: forged, tampered, truncated, trailing bytes, bad names. */
function mixedRaws(): Uint8Array[] {
  const raws: Uint8Array[] = [];
  for (let i = 0; i < 120; i++) {
    const key = devKeyPair(i % 9);
    const tx =
      i % 4 === 0
        ? buildCall({ chainId: 1337, key, nonce: BigInt(i), expiry: 50n, module: 'token', call: 'create', args: [v.string(`t${i}`), v.u128(BigInt(i) * 1000n), v.bytes(new Uint8Array(i))] })
        : buildTransfer({ chainId: 1337, key, nonce: BigInt(i), to: devKeyPair(20).address, amount: BigInt(i), expiry: 10n });
    const raw = tx.raw.slice();
    switch (i % 8) {
      case 1:
        raw[raw.length - 1] ^= 1; // forged signature
        break;
      case 2:
        raw[40] ^= 0x80; // nonce changed after signing
        break;
      case 3:
        raws.push(raw.subarray(0, 30 + (i % 50))); // truncated
        continue;
      case 5:
        raws.push(concatBytes(raw, new Uint8Array([0]))); // trailing byte
        continue;
      case 6:
        raw[70] = 0x41; // module name no longer matches [a-z][a-z0-9_]*
        break;
      case 7:
        raw[0] = 2; // unsupported version
        break;
    }
    raws.push(raw);
  }
  return raws;
}

describe('ingestion (decode + verify) on the worker pool', () => {
  let pool: ExecutorModule.ParallelExecutor;
  let Executor: typeof ExecutorModule.ParallelExecutor;
  const verifier = createVerifier();
  beforeAll(async () => {
    assertDistFresh();
    Executor = ((await import('../../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule).ParallelExecutor;
    pool = await Executor.create({ workers: 2 });
  });
  afterAll(async () => pool?.close());

  it('gives exactly the outcomes of decoding and verifying on this thread, in order, across chunks', async () => {
    const raws = mixedRaws();
    const here = await ingestRaws(raws, null, verifier);
    const pooled = await ingestRaws(raws, pool, verifier);
    expect(pooled.map(view)).toEqual(here.map(view));
    // The mix exercises every outcome.
    const kinds = new Set(here.map((o) => (o.ok ? 'ok' : o.code)));
    expect([...kinds].sort()).toEqual(['BAD_SIGNATURE', 'INVALID_TX_ENCODING', 'ok']);
    expect(here.filter((o) => o.ok)).toHaveLength(raws.length / 4);
    // A pooled tx is its own copy: clobbering the submitted bytes changes nothing.
    const before = pooled.map(view);
    for (const r of raws) r.fill(0xaa);
    expect(pooled.map(view)).toEqual(before);
    expect(await ingestRaws([], pool, verifier)).toEqual([]);
  });

  it('agrees with this thread on arbitrary corruptions of valid txs (fast-check)', async () => {
    const base = Array.from({ length: 6 }, (_, i) => buildTransfer({ chainId: 1337, key: devKeyPair(i), nonce: BigInt(i), to: devKeyPair(30).address, amount: 7n, expiry: 10n }).raw);
    const edit = fc.record({ tx: fc.nat(base.length - 1), at: fc.nat(400), xor: fc.integer({ min: 1, max: 255 }), cut: fc.option(fc.nat(400)) });
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 40 }), async (edits) => {
        const raws = edits.map((e) => {
          const raw = base[e.tx]!.slice();
          raw[e.at % raw.length] ^= e.xor;
          return e.cut === null ? raw : raw.subarray(0, e.cut % raw.length);
        });
        expect((await ingestRaws(raws, pool, verifier)).map(view)).toEqual((await ingestRaws(raws, null, verifier)).map(view));
      }),
      { numRuns: 60 },
    );
  });

  it('a pool that loses a worker mid-batch: that batch moves to this thread, the worker is replaced, blocks keep the reference result', async () => {
    const ex = await Executor.create({ workers: 2, minParallelTxs: 1, adaptive: false });
    try {
      const raws = mixedRaws();
      const expected = (await ingestRaws(raws, null, verifier)).map(view);
      // A batch big enough to be on both workers (~1,000 signature checks each) when worker 1 dies.
      const big = Array.from({ length: 2000 }, (_, i) => raws[i % raws.length]!);
      const lost: string[] = [];
      ex.onPoolLost = (reason) => lost.push(reason);
      const inFlight = ingestRaws(big, ex, verifier);
      await ex.killWorkerForTest(1);
      expect((await inFlight).map(view)).toEqual((await ingestRaws(big, null, verifier)).map(view));
      // The pool stays in service and gets its worker back.
      expect(ex.poolAvailable).toBe(true);
      await waitFor(() => ex.poolStats().workers === 2, { what: 'worker 1 replaced', timeoutMs: 30_000 });
      expect(ex.poolStats()).toMatchObject({ configured: 2, workers: 2, restarts: 1, lost: null });
      expect(lost).toEqual([]);
      const busy = ex.poolStats().busyMs.ingest;
      expect((await ingestRaws(raws, ex, verifier)).map(view)).toEqual(expected);
      expect(ex.poolStats().busyMs.ingest).toBeGreaterThan(busy);
      // Blocks execute to the reference result.
      const accounts = benchAccounts(50);
      const state = await scratchState(benchGenesisState(accounts));
      const world = state.world;
      const txs = transferBlock(accounts, 200);
      const seq = executeBlockSequential(benchContext(), txs, world);
      const par = await ex.execute(benchContext(), txs, world).finally(() => state.close());
      expect(par.stats.fallback).toBeNull();
      expect([...par.writeSet]).toEqual([...seq.writeSet]);
      const encoded = (e: typeof seq): unknown[] => e.outcomes.map((o) => (o.kind === 'included' ? o.encoded : o.code));
      expect(encoded(par)).toEqual(encoded(seq));
      expect(par.outcomes.filter((o) => o.kind === 'included')).toHaveLength(200);
    } finally {
      await ex.close();
    }
  });

  it('bytes no tx can be (too short, over MAX_TX_BYTES) are rejected on this thread and never reach the pool', async () => {
    const valid = mixedRaws().filter((r) => r.length >= MIN_TX_BYTES).slice(0, 8); // txs or not, of a length a tx can have
    const misfits = [new Uint8Array(2 ** 20 + 1), new Uint8Array(MAX_TX_BYTES + 1), new Uint8Array(0), new Uint8Array(MIN_TX_BYTES - 1), valid[0]!.subarray(0, MIN_TX_BYTES - 1)];
    const raws = [valid[0]!, misfits[0]!, valid[1]!, misfits[1]!, misfits[2]!, ...valid.slice(2), misfits[3]!, misfits[4]!];
    // A pool that records what it is sent.
    const sent: number[] = [];
    const spy = {
      get poolAvailable() {
        return pool.poolAvailable;
      },
      ingestBatch: (batch: readonly Uint8Array[]) => (sent.push(...batch.map((r) => r.length)), pool.ingestBatch(batch)),
      verifyBatch: (batch: readonly Uint8Array[]) => (sent.push(...batch.map((r) => r.length)), pool.verifyBatch(batch)),
    } as unknown as ExecutorModule.ParallelExecutor;
    const out = await ingestRaws(raws, spy, verifier);
    expect(out.map(view)).toEqual((await ingestRaws(raws, null, verifier)).map(view));
    expect(sent).toEqual(valid.map((r) => r.length));
    const rejected = out.filter((o) => !o.ok && o.code === 'INVALID_TX_ENCODING');
    expect(rejected.map((o) => (o.ok ? null : o.code === 'INVALID_TX_ENCODING' ? o.reason : null))).toEqual(expect.arrayContaining(['TX_TOO_LARGE', 'DECODE_ERROR']));
    expect(out[1]).toMatchObject({ ok: false, code: 'INVALID_TX_ENCODING', reason: 'TX_TOO_LARGE', message: `transaction is ${2 ** 20 + 1} bytes, limit ${MAX_TX_BYTES}` });
    expect(out[4]).toMatchObject({ ok: false, code: 'INVALID_TX_ENCODING', reason: 'DECODE_ERROR' });
    // Block signature checks: the same rule, UNDECODABLE for the misfits.
    sent.length = 0;
    const codes = await verifyRaws(raws, spy, sameThreadVerifyTxs(verifier));
    expect(sent).toEqual(valid.map((r) => r.length));
    const pooled = [...(await pool.verifyBatch(raws.filter((r) => !misfits.includes(r))))];
    expect([...codes]).toEqual(raws.map((r) => (misfits.includes(r) ? VERIFY.UNDECODABLE : pooled.shift())));
    // Every length check is on this thread: the pool lost no worker on the way.
    expect(pool.poolStats()).toMatchObject({ workers: 2, restarts: 0 });
  });

  it('builds txs that decode to the same fields as the submitted bytes', async () => {
    const raws = Array.from({ length: 40 }, (_, i) => buildCall({ chainId: 1337, key: devKeyPair(i % 3), nonce: BigInt(i), expiry: 9n, module: 'nft', call: 'mint', args: [v.string(`n${i}`), v.bytes(new Uint8Array([i]))] }).raw);
    const out = await ingestRaws(raws, pool, verifier);
    out.forEach((o, i) => {
      expect(o.ok).toBe(true);
      if (o.ok) expect(view(o)).toEqual(view({ ok: true, tx: decodeTx(raws[i]!) }));
    });
  });
});
