/**
 * The layering of README.md's "Layout", checked over the import graph: every relative
 * import (static, `export … from`, type-only and dynamic) of every source file is resolved
 * and held against the rules below. A forbidden import fails `npm test` with the file, the
 * import and the rule it breaks.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAYERS = ['protocol', 'state', 'contracts', 'execution', 'consensus', 'p2p', 'sdk', 'bench', 'node'] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import besides itself; a pattern is a path prefix or a RegExp over the target path. */
const ALLOWED: Record<Layer, readonly (string | RegExp)[]> = {
  protocol: [],
  state: ['protocol/'],
  // Module code sees state only through contracts/types.ts's StateView.
  contracts: ['protocol/'],
  execution: ['protocol/', 'state/', 'contracts/'],
  // Consensus writes genesis and checks mempool txs against the state layout (contracts/*/state.ts,
  // params.ts), never module implementations; it talks to the network through p2p/types.ts only.
  consensus: ['protocol/', 'state/', 'execution/', /^contracts\/[a-z]+\/(state|params)\.ts$/, 'p2p/types.ts'],
  p2p: ['protocol/'],
  // The SDK builds calls from the modules' specs as plain data, not their implementations.
  sdk: ['protocol/', 'contracts/specs.ts', /^contracts\/[a-z]+\/spec\.ts$/, 'contracts/types.ts'],
  bench: ['protocol/', 'state/', 'contracts/', 'execution/', 'consensus/', 'sdk/', 'p2p/'],
  // The composition root may import everything; nothing imports it.
  node: ['protocol/', 'state/', 'contracts/', 'execution/', 'consensus/', 'p2p/', 'sdk/', 'bench/'],
};

/** Imports that break a rule today, each with the reason it stands; the list only shrinks. */
const KNOWN: readonly string[] = [
  // pel bench ingest measures exactly the node's ingestion; node/ingest.ts leaves node/ when
  // ingestion becomes a part of its own (issue 18).
  'bench/ingest.ts -> node/ingest.ts',
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Every relative import of `file`, as a path from the repository root with a .ts suffix. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = (m[1] ?? m[2])!;
    const target = posix.normalize(posix.join(posix.dirname(relative(ROOT, file).split(sep).join('/')), spec));
    out.push(target.replace(/\.js$/, '.ts'));
  }
  return out;
}

function layerOf(path: string): Layer | null {
  const top = path.split('/')[0]!;
  return (LAYERS as readonly string[]).includes(top) ? (top as Layer) : null;
}

function allowed(from: Layer, target: string): boolean {
  if (layerOf(target) === from) return true;
  return ALLOWED[from].some((p) => (typeof p === 'string' ? target.startsWith(p) || target === p : p.test(target)));
}

function violations(): string[] {
  const out: string[] = [];
  for (const layer of LAYERS) {
    for (const file of sourceFiles(join(ROOT, layer))) {
      const from = relative(ROOT, file).split(sep).join('/');
      for (const target of importsOf(file, readFileSync(file, 'utf8'))) {
        if (layerOf(target) === null) continue;
        if (!allowed(layer, target)) out.push(`${from} -> ${target}`);
      }
    }
  }
  return out;
}

describe('layering (README.md "Layout")', () => {
  it('finds the imports it checks', () => {
    // Guards the checker itself: a regex that matched nothing would pass every rule.
    const file = join(ROOT, 'consensus', 'chain.ts');
    expect(importsOf(file, readFileSync(file, 'utf8'))).toContain('state/world.ts');
    expect(importsOf(join(ROOT, 'node', 'x.ts'), "const m = await import('../bench/rpc.js');")).toEqual(['bench/rpc.ts']);
    expect(importsOf(join(ROOT, 'sdk', 'x.ts'), "import type { A } from '../contracts/registry.js';")).toEqual(['contracts/registry.ts']);
  });

  it('flags a forbidden import', () => {
    expect(allowed('sdk', 'contracts/registry.ts')).toBe(false);
    expect(allowed('state', 'execution/types.ts')).toBe(false);
    expect(allowed('consensus', 'contracts/fee/module.ts')).toBe(false);
    expect(allowed('bench', 'node/ingest.ts')).toBe(false);
    expect(allowed('consensus', 'contracts/coin/state.ts')).toBe(true);
  });

  it('holds for every source file', () => {
    expect(violations().filter((v) => !KNOWN.includes(v))).toEqual([]);
  });
});
