/**
 * State-root benchmark: bulk build of N keys and persistent batch updates of C changes.
 * Run: `npx tsc -p . && node dist/bench/smt.js [keys] [changes] [rounds]`; prints JSON.
 *
 * Keys and values come from a fixed counter, not Math.random, so runs are comparable.
 * The baseline measured in the same run is the cost of the update's SHA-256 calls alone,
 * so the update figure can be read as a multiple of the hashing floor.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { SparseMerkleTree, smtHashCount, stateKeyHash, stateValueHash, type SmtChange } from '../state/smt.js';
import { hash } from 'node:crypto';
import { rng } from './util.js';

const sha256Latin1 = (data: Uint8Array): string => hash('sha256', data, 'binary');

export interface SmtBenchOptions {
  keys: number;
  changes: number;
  rounds: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function u32(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function runSmtBench(opts: SmtBenchOptions): Promise<Record<string, number>> {
  const { keys, changes, rounds } = opts;
  const entries: (readonly [Uint8Array, Uint8Array])[] = [];
  for (let i = 0; i < keys; i++) entries.push([stateKeyHash(`acct/${i}`), stateValueHash(u32(i))]);

  // Build: warm once at a smaller size so the JIT has seen the code, then time the real one.
  SparseMerkleTree.build(entries.slice(0, Math.min(keys, 5000)));
  const h0 = smtHashCount();
  const t0 = performance.now();
  const base = SparseMerkleTree.build(entries);
  const buildMs = performance.now() - t0;
  const buildHashes = smtHashCount() - h0;

  // Updates: half rewrite existing keys, half insert new ones; each round starts from the
  // same base tree (persistence makes that free) so rounds are independent. A batch is
  // made just before it is applied, as a block's write set would be.
  const next = rng(0x5eed);
  const makeBatch = (r: number): SmtChange[] => {
    const batch: SmtChange[] = [];
    for (let j = 0; j < changes; j++) {
      const key = j % 2 === 0 ? `acct/${next() % keys}` : `new/${r}/${j}`;
      batch.push([stateKeyHash(key), stateValueHash(u32(next()))]);
    }
    return batch;
  };
  const times: number[] = [];
  const hashesPerKey: number[] = [];
  const warmup = 2;
  for (let r = 0; r < rounds + warmup; r++) {
    const batch = makeBatch(r);
    const h = smtHashCount();
    const t = performance.now();
    const tree = base.withChanges(batch);
    const ms = performance.now() - t;
    if (tree.size <= base.size) throw new Error('bench: update did not insert new keys');
    if (r < warmup) continue;
    times.push(ms);
    hashesPerKey.push((smtHashCount() - h) / changes);
    await new Promise<void>((resolve) => setImmediate(resolve)); // let idle-time GC run between rounds
  }

  // Baseline: the SHA-256 calls alone that the median update made (65-byte preimages,
  // same one-shot call as the tree), so `updateOverBaseline` is the tree's overhead.
  const hashesPerUpdate = Math.round(median(hashesPerKey) * changes);
  const pre = new Uint8Array(65);
  const floor: number[] = [];
  for (let r = 0; r < 3; r++) {
    const tb = performance.now();
    for (let j = 0; j < hashesPerUpdate; j++) {
      pre[1] = j & 0xff;
      sha256Latin1(pre);
    }
    floor.push(performance.now() - tb);
  }
  const floorMs = Math.min(...floor);

  const updateMs = median(times);
  return {
    keys,
    changes,
    rounds,
    buildMs: round3(buildMs),
    buildHashes,
    buildUsPerKey: round3((buildMs * 1000) / Math.max(1, keys)),
    updateMedianMs: round3(updateMs),
    updateMinMs: round3(Math.min(...times)),
    updateMaxMs: round3(Math.max(...times)),
    hashesPerChangedKey: round3(median(hashesPerKey)),
    log2Keys: round3(Math.log2(Math.max(1, keys))),
    baselineHashOnlyMs: round3(floorMs),
    updateOverBaseline: round3(updateMs / Math.max(floorMs, 1e-6)),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const num = (i: number, d: number): number => {
    const v = Number(process.argv[i]);
    return Number.isInteger(v) && v > 0 ? v : d;
  };
  const result = await runSmtBench({ keys: num(2, 100_000), changes: num(3, 20_000), rounds: num(4, 9) });
  console.log(JSON.stringify(result, null, 2));
}
