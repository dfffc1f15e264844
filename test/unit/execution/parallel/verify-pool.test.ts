import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeyPair } from '../../../../protocol/keys.js';
import { NativeVerifier } from '../../../../protocol/verify.js';
import { txSigningBytesOf } from '../../../../protocol/tx.js';
import type * as ExecutorModule from '../../../../execution/parallel/executor.js';
import { VERIFY } from '../../../../execution/parallel/outputs.js';
import { buildTransfer } from '../../../../sdk/tx.js';
import { assertDistFresh } from './dist.js';

describe('signature verification on the worker pool', () => {
  let ex: ExecutorModule.ParallelExecutor;
  let WORKER_YOUNG_GENERATION_MB = 0;
  beforeAll(async () => {
    assertDistFresh();
    const mod = (await import('../../../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule;
    const { ParallelExecutor } = mod;
    WORKER_YOUNG_GENERATION_MB = mod.WORKER_YOUNG_GENERATION_MB;
    ex = await ParallelExecutor.create({ workers: 2 });
  });
  afterAll(async () => ex?.close());

  it('gives the same verdict as the strict verifier for every tx, in order, across chunks', async () => {
    const raws: Uint8Array[] = [];
    const expected: number[] = [];
    const native = new NativeVerifier();
    for (let i = 0; i < 100; i++) {
      const tx = buildTransfer({ chainId: 1337, key: devKeyPair(i % 7), nonce: BigInt(i), to: devKeyPair(9).address, amount: 1n, expiry: 10n });
      const raw = tx.raw.slice();
      if (i % 5 === 1) raw[raw.length - 1] ^= 1; // tampered signature
      if (i % 5 === 2) raw[10] ^= 0x80; // tampered body
      if (i % 11 === 3) {
        raws.push(raw.subarray(0, 20)); // truncated: does not decode
        expected.push(VERIFY.UNDECODABLE);
        continue;
      }
      raws.push(raw);
      const ok = i % 5 !== 1 && i % 5 !== 2 && native.verify(tx.senderPublicKey, txSigningBytesOf(tx), tx.signature);
      expected.push(ok ? VERIFY.OK : VERIFY.BAD_SIGNATURE);
    }
    expect([...(await ex.verifyBatch(raws))]).toEqual(expected);
    expect([...(await ex.verifyBatch(raws.slice(0, 3)))]).toEqual(expected.slice(0, 3));
    expect(await ex.verifyBatch([])).toHaveLength(0);
  });

  it('counts the workers\' busy time by work and reports each worker\'s heap', async () => {
    const before = ex.poolStats();
    const raws = Array.from({ length: 64 }, (_, i) => buildTransfer({ chainId: 1337, key: devKeyPair(i % 5), nonce: BigInt(i), to: devKeyPair(9).address, amount: 1n, expiry: 10n }).raw);
    await ex.ingestBatch(raws);
    const after = ex.poolStats();
    expect(after.workers).toBe(2);
    // 64 signature checks (~50 us each) went to the pool as ingestion, nothing else did.
    expect(after.busyMs.ingest).toBeGreaterThan(before.busyMs.ingest);
    for (const w of ['execute', 'validate', 'finalise', 'verify'] as const) expect(after.busyMs[w]).toBe(before.busyMs[w]);
    // Both workers got a chunk, and their young generations are at most the pool's cap.
    expect(after.heaps).toHaveLength(2);
    for (const h of after.heaps) {
      expect(h).not.toBeNull();
      expect(h!.newSpace).toBeGreaterThan(0);
      expect(h!.newSpace).toBeLessThanOrEqual(WORKER_YOUNG_GENERATION_MB * 2 ** 20);
      expect(h!.used).toBeGreaterThan(0);
    }
  });
});
