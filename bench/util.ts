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

/** Progress lines: on stderr when stdout carries the JSON result, else on stdout. */
export function benchLog(json: boolean): (line: string) => void {
  return (s) => void (json ? process.stderr.write(s + '\n') : console.log(s));
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function output(result: Record<string, unknown>, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
