/**
 * node/heap.ts: the node's old-generation growth limit. The effect is checked in child
 * processes (a V8 flag is process-wide), on the main thread and in a worker started after the
 * tuning, against an explicit --heap-growing-percent=300 (V8's own ceiling, a growth factor of
 * 4, which it picks on this kind of machine). Both sides run a fixed amount of allocation, so
 * the comparison does not depend on timing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, operatorSetHeapGrowing, tuneNodeHeap } from '../../../node/heap.js';

const HEAP_JS = fileURLToPath(new URL('../../../dist/node/heap.js', import.meta.url));

/**
 * A ~55 MB live set, then 3,000,000 short-lived objects through a ring of 300,000 (so most are
 * promoted and die old). Prints the largest old-space size seen, in MB, on the main thread and
 * in a worker running the same loop.
 */
const CHURN = `
import v8 from 'node:v8';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
const churn = () => {
  const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size;
  const live = Array.from({ length: 400000 }, (_, i) => ({ i, s: 'x' + i, a: [i, i + 1] }));
  const ring = new Array(300000);
  let max = 0;
  for (let k = 0; k < 3000000; k++) {
    ring[k % ring.length] = { k, s: 'y' + k, b: [k, k, k, k] };
    if (k % 10000 === 0) max = Math.max(max, old());
  }
  return Math.round(max / 1048576) + live.length * 0;
};
if (isMainThread) {
  if (process.argv[2] === 'tune') {
    const { tuneNodeHeap } = await import(process.argv[3]);
    tuneNodeHeap();
  }
  const main = churn();
  const worker = await new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url));
    w.once('message', resolve);
    w.once('error', reject);
  });
  console.log(JSON.stringify({ main, worker }));
} else parentPort.postMessage(churn());
`;

function runChurn(nodeArgs: string[], mode: 'tune' | 'plain'): { main: number; worker: number } {
  // The script starts itself as a worker, so it needs a file (not -e or a data: URL).
  const dir = mkdtempSync(join(tmpdir(), 'pel-heap-'));
  const script = join(dir, 'churn.mjs');
  writeFileSync(script, CHURN);
  try {
    const r = spawnSync(process.execPath, [...nodeArgs, script, mode, pathToFileURL(HEAP_JS).href], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    if (r.status !== 0) throw new Error(`churn child failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim()) as { main: number; worker: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('node heap tuning', () => {
  it('recognises an operator-set growth percent in either spelling, on the command line or in NODE_OPTIONS', () => {
    expect(operatorSetHeapGrowing([], '')).toBe(false);
    expect(operatorSetHeapGrowing(['--max-old-space-size=4096'], '--trace-gc')).toBe(false);
    expect(operatorSetHeapGrowing(['--heap-growing-percent=20'], '')).toBe(true);
    expect(operatorSetHeapGrowing([], '--max-old-space-size=1024  --heap_growing_percent=30')).toBe(true);
    expect(operatorSetHeapGrowing(['--heap-growing-percentage=5'], '')).toBe(false);
  });

  it('leaves an operator-set value alone', () => {
    expect(tuneNodeHeap(['--heap-growing-percent=20'], '')).toBeNull();
    expect(tuneNodeHeap([], '--heap-growing-percent=20')).toBeNull();
  });

  it('set at run time, it bounds old-space growth on the main thread and in workers started afterwards', () => {
    const tuned = runChurn([], 'tune');
    const loose = runChurn(['--heap-growing-percent=300'], 'plain');
    expect(HEAP_GROWING_PERCENT).toBe(50);
    // Measured: ~170 MB tuned against ~430 MB at factor 4 (main thread).
    expect(tuned.main).toBeLessThan(loose.main * 0.6);
    expect(tuned.worker).toBeLessThan(loose.worker * 0.6);
  });
});
