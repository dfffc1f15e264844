/** Shared helpers of the state store tests: temp dirs, deterministic state, reference roots. */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SparseMerkleTree } from '../../../state/smt.js';

/** A fresh temp directory; `cleanup` removes it (call in afterEach/finally). */
export function tempDir(prefix = 'pel-state-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * fast-check parameters: a fixed seed per property (runs are deterministic), overridden to
 * replay a failure with PEL_FC_SEED=<seed fast-check printed>; PEL_FC_RUNS=<n> to run more.
 */
export function fcRuns(numRuns: number, seed: number): { numRuns: number; seed: number } {
  return {
    numRuns: process.env.PEL_FC_RUNS ? Number(process.env.PEL_FC_RUNS) : numRuns,
    seed: process.env.PEL_FC_SEED ? Number(process.env.PEL_FC_SEED) : seed,
  };
}

export const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

/** The root the in-memory tree gives for a state. */
export function referenceRoot(state: ReadonlyMap<string, Uint8Array>): string {
  return hex(SparseMerkleTree.ofState(state).root)!;
}

/** Applies a write set to a model state. */
export function applyToModel(model: Map<string, Uint8Array>, ws: readonly (readonly [string, Uint8Array | null])[]): void {
  for (const [k, v] of ws) {
    if (v === null) model.delete(k);
    else model.set(k, v);
  }
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Worker threads and child processes in these tests load the compiled dist/ tree (a worker
 * cannot load TypeScript). Fails early, with the fix, when a source is newer than its twin.
 */
export function assertDistFresh(): void {
  const stale: string[] = [];
  for (const d of ['protocol', 'state']) {
    for (const e of readdirSync(join(ROOT, d))) {
      if (!e.endsWith('.ts')) continue;
      const src = join(ROOT, d, e);
      const out = join(ROOT, 'dist', d, e.replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) stale.push(relative(ROOT, src));
    }
  }
  if (stale.length > 0) throw new Error(`dist/ is older than ${stale.join(', ')}: run \`npm run build\` (workers and child processes load dist/)`);
}

export const DIST = (rel: string): string => join(ROOT, 'dist', rel);
