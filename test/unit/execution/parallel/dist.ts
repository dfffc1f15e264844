/**
 * The parallel executor's workers run the compiled dist/ tree while the reference executor in
 * these tests runs the TypeScript sources: a stale dist/ would compare two different versions
 * of the code. Fail early, with the fix, when a source file is newer than its compiled twin.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** Everything a worker thread loads. */
const DIRS = ['protocol', 'state', 'contracts', 'execution'];

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** `dirs`: what the test loads from dist/ (a test that runs a whole node from dist/ adds 'consensus', 'node', ...). */
export function assertDistFresh(dirs: readonly string[] = DIRS): void {
  const stale: string[] = [];
  for (const d of dirs) {
    for (const src of tsFiles(join(ROOT, d))) {
      const rel = relative(ROOT, src);
      const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) stale.push(rel);
    }
  }
  if (stale.length > 0) throw new Error(`dist/ is older than ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ` and ${stale.length - 5} more` : ''}: run \`npx tsc -p .\` (the parallel executor's workers load dist/)`);
}
