/**
 * Bench output for people and for machines: a short table on stdout by default, one line of
 * JSON with --json, logs and progress only on stderr, so `> file` saves just the result;
 * `bench rpc --compare` explains a file that is not a JSON result.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { human, resultTable } from '../../../bench/util.js';
import { makeTempDir, runCli, useE2eCleanup } from '../../e2e/harness.js';

useE2eCleanup();

const small = ['bench', 'executor', '--workload', 'transfer', '--txs', '300', '--accounts', '300', '--workers', '2', '--runs', '1'];

describe('bench output', () => {
  it('formats numbers for people and flattens one level', () => {
    expect(human(12345.678)).toBe('12,346');
    expect(human(1.23456)).toBe('1.23');
    expect(human(0.123456)).toBe('0.123');
    expect(human(null)).toBe('-');
    const t = resultTable({ tps: 13058.4, ok: true, latencyMs: { p50: 12.345, p99: 40 }, series: [1, 2, 3] });
    expect(t.split('\n')).toEqual(['tps            13,058', 'ok             true', 'latencyMs.p50  12.35', 'latencyMs.p99  40']);
  });

  it('bench executor prints a table by default and one JSON line with --json, nothing else on stdout', async () => {
    const table = await runCli(small, { timeoutMs: 120_000 });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^speedup +[0-9.]+$/m);
    expect(table.stdout).toMatch(/^rootsMatch +true$/m);
    expect(table.stdout).not.toMatch(/[{}]/);
    const json = await runCli([...small, '--json'], { timeoutMs: 120_000 });
    expect(json.code).toBe(0);
    const lines = json.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ bench: 'executor', rootsMatch: true });
  });

  it('bench rpc --compare says how to save a run when a file is not JSON', async () => {
    const dir = await makeTempDir('bench-out');
    const a = join(dir, 'a.txt');
    writeFileSync(a, 'tps  13,058\n');
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ executor: 'parallel', tps: 1 }));
    const r = await runCli(['bench', 'rpc', '--compare', a, join(dir, 'b.json')], { timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('save runs with --json');
    const ok = await runCli(['bench', 'rpc', '--compare', join(dir, 'b.json'), join(dir, 'b.json')], { timeoutMs: 30_000 });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^tps +1 +1$/m);
  });
});
