/** Shared helpers for benchmarks: medians, argument parsing, JSON output. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function parseBenchArgs(args: string[], options: ParseArgsConfig['options']): Record<string, string | boolean | undefined> {
  return parseArgs({ args, options: { ...options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values as Record<string, string | boolean | undefined>;
}

export function num(v: string | boolean | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
}

export function positiveInt(v: string | boolean | undefined, dflt: number, name: string): number {
  const n = num(v, dflt, name);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/** The pre-signed stream both end-to-end benchmarks share: --txs transfers from --senders dev accounts, --batch per request. */
export function txStreamArgs(f: Record<string, string | boolean | undefined>): { total: number; senders: number; batch: number } {
  return { total: positiveInt(f.txs, 20_000, 'txs'), senders: positiveInt(f.senders, 200, 'senders'), batch: positiveInt(f.batch, 200, 'batch') };
}

/**
 * Progress and log lines: always on stderr, so stdout carries only the result (a table, or
 * JSON with --json) and `> file` saves just that. `_json` is kept for callers' symmetry.
 */
export function benchLog(_json?: boolean): (line: string) => void {
  return (s) => void process.stderr.write(s + '\n');
}

/**
 * A progress line on stderr, rewritten in place, for runs that take more than a moment;
 * only on a terminal (a log file gets no carriage-return noise). done() ends the line.
 */
export function progress(label: string): { update(text: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    update(text) {
      if (!tty) return;
      process.stderr.write(`\r  ${label}: ${text}   `);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write('\n');
      shown = false;
    },
  };
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A number for people: thousands separators, at most 3 significant decimals. */
export function human(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 2 : 3;
    return v.toLocaleString('en-US', { maximumFractionDigits: digits });
  }
  if (v === null || v === undefined) return '-';
  return String(v);
}

/**
 * The result as a short table: one row per scalar field, nested objects one level deep as
 * `parent.child`; arrays and deeper data are left to --json.
 */
export function resultTable(result: Record<string, unknown>): string {
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(result)) {
    if (v === undefined || Array.isArray(v)) continue;
    if (v !== null && typeof v === 'object') {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (v2 === undefined || Array.isArray(v2)) continue;
        rows.push([`${k}.${k2}`, v2 !== null && typeof v2 === 'object' ? JSON.stringify(v2) : human(v2)]);
      }
    } else rows.push([k, human(v)]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** The result on stdout: one line of JSON with --json, else a short table (see resultTable). */
export function output(result: Record<string, unknown>, json: boolean): void {
  process.stdout.write((json ? JSON.stringify(result) : resultTable(result)) + '\n');
}

/** xorshift32: deterministic pseudo-random numbers for workloads (never for consensus). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
