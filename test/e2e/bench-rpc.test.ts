import { describe, expect, it } from 'vitest';
import { parseJsonOutput, runCli } from './harness.js';

describe('pel bench rpc', () => {
  it('starts a devnet, commits every accepted tx, and the sequential replay matches', async () => {
    const r = await runCli(['bench', 'rpc', '--txs', '600', '--senders', '12', '--batch', '50', '--json'], { timeoutMs: 120_000 });
    if (r.code !== 0) console.error(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    const out = parseJsonOutput(r) as Record<string, unknown>;
    expect(out).toMatchObject({ bench: 'rpc', accepted: 600, committed: 600, rejected: 0, allCommitted: true, rootsMatch: true });
    expect(out.tps as number).toBeGreaterThan(0);
    expect((out.latencyMs as { p50: number }).p50).toBeGreaterThan(0);
    // Node RSS over the run: a checkpoint at 10% of the txs (under 1,000,000), the end, the peak.
    const rss = out.rssMb as { source: string; checkpointTxs: number; atCheckpoint: number; end: number; peak: number; growthPct: number; series: unknown[] };
    expect(['proc', 'metrics']).toContain(rss.source);
    expect(rss.checkpointTxs).toBe(60);
    expect(rss.atCheckpoint).toBeGreaterThan(0);
    expect(rss.end).toBeGreaterThan(0);
    expect(rss.peak).toBeGreaterThanOrEqual(rss.end);
    expect(rss.growthPct).toEqual(expect.any(Number));
    expect(rss.series.length).toBeGreaterThan(0);
    expect(out.peakRssMb).toBe(rss.peak);
    expect(out.receipts).toEqual({ checked: 200, missing: 0 });
    // The node's worker pool decoded and verified the 600 txs: ingestion shows in its utilisation.
    const util = out.workerUtilisation as { workers: number; total: number; byWork: Record<string, number> };
    expect(util.workers).toBeGreaterThanOrEqual(1);
    expect(util.byWork.ingest).toBeGreaterThan(0);
    expect(util.total).toBeGreaterThanOrEqual(util.byWork.ingest!);
    expect(util.total).toBeLessThanOrEqual(1.05); // a share of the pool's wall time (rounding aside)
  }, 180_000);

  it('on a bulk-loaded state (--state-accounts): uniform and fresh recipients commit, the replay bulk-loads the same genesis and matches; startupMs, rssAnonMb, windowTps; a second run on the same --data-dir restarts the node', async () => {
    const { makeTempDir } = await import('./harness.js');
    const dir = await makeTempDir('bench-big');
    const run = async (recipients: string): Promise<Record<string, unknown>> => {
      const r = await runCli(['bench', 'rpc', '--txs', '400', '--senders', '8', '--batch', '50', '--state-accounts', '60000', '--recipients', recipients, '--data-dir', dir, '--json'], { timeoutMs: 240_000 });
      if (r.code !== 0) console.error(r.stdout, r.stderr);
      expect(r.code).toBe(0);
      return parseJsonOutput(r) as Record<string, unknown>;
    };
    const a = await run('uniform');
    expect(a).toMatchObject({ bench: 'rpc', stateAccounts: 60000, recipients: 'uniform', committed: 400, allCommitted: true, rootsMatch: true });
    expect(a.startupMs as number).toBeGreaterThan(0);
    const anon = a.rssAnonMb as { start: number; end: number; peak: number };
    expect(anon.end).toBeGreaterThan(0);
    expect(anon.peak).toBeGreaterThanOrEqual(anon.end);
    expect(a.windowTps).toMatchObject({ size: 40 });
    // Same dir: the node restarts on the existing chain (no bulk load), fresh recipients create accounts.
    const b = await run('fresh');
    expect(b).toMatchObject({ recipients: 'fresh', committed: 400, allCommitted: true, rootsMatch: true });
    expect(b.startupMs as number).toBeLessThan(a.startupMs as number);
  }, 600_000);
});
