/**
 * `pel bench ingest` with tiny numbers: the JSON shape and that every verdict was OK. The
 * worker pool loads dist/, so this runs the built CLI (`npm run build` first). Timing is
 * never asserted on.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertDistFresh } from '../execution/parallel/dist.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'node', 'cli.js');

function assertBenchBuilt(): void {
  assertDistFresh();
  for (const rel of ['bench/ingest.ts', 'bench/sign.ts', 'bench/util.ts', 'node/cli.ts']) {
    const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, rel)).mtimeMs) throw new Error(`dist/ is older than ${rel}: run \`npm run build\``);
  }
}

function runCli(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`pel ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface ConfigResult {
  workers: number;
  txPerSec: number;
  usPerTx: number;
  runs: number[];
}

describe('pel bench ingest', () => {
  it('measures the same thread and each worker count, and every verdict is OK', async () => {
    assertBenchBuilt();
    const r = await runCli(['bench', 'ingest', '--txs', '200', '--senders', '10', '--batch', '50', '--inflight', '2', '--runs', '2', '--workers', '1,2', '--json'], 60_000);
    if (r.code !== 0) console.error(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(out).toMatchObject({ bench: 'ingest', txs: 200, senders: 10, batch: 50, inflight: 2, runs: 2, allOk: true });
    expect(out.cores).toEqual(expect.any(Number));
    expect(out.speedup2v1).toEqual(expect.any(Number));

    const results = out.results as ConfigResult[];
    expect(results.map((c) => c.workers)).toEqual([1, 2]);
    for (const c of [...results, out.sameThread as ConfigResult]) {
      expect(c.txPerSec).toBeGreaterThan(0);
      expect(c.usPerTx).toBeGreaterThan(0);
      expect(c.runs).toHaveLength(2);
    }
    // Warm-up (200 txs, all of them) and 2 timed runs, for each of the 3 configurations.
    expect(out.verdicts).toEqual({ checked: 3 * (200 + 2 * 200), notOk: 0 });
  }, 90_000);

  it('rejects a bad --workers list with a message', async () => {
    const r = await runCli(['bench', 'ingest', '--workers', '1,x', '--json'], 30_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--workers must be/);
  });
});
