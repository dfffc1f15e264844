/**
 * pel bench rpc: end-to-end throughput. Starts a fresh devnet (or uses --rpc URL),
 * pre-signs --txs transfers across --senders, submits them over several HTTP connections
 * in JSON-RPC batches (backing off on MEMPOOL_FULL / sender limits), tracks commits
 * through a WebSocket newBlocks subscription, and prints tx/s, submit rate, latency
 * (submit -> committed) percentiles, blocks, the node's per-stage times and peak RSS. When
 * it started the node itself, it stops it and replays the chain sequentially (rootsMatch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { toHex } from '../protocol/hex.js';
import { devKeyPair } from '../protocol/keys.js';
import { v } from '../protocol/value.js';
import type { SignedTx } from '../protocol/tx.js';
import { PelClient, type BlockJson } from '../sdk/client.js';
import { replayChain } from './replay.js';
import { signTxFast } from './sign.js';
import { median, num, output, parseBenchArgs, round } from './util.js';
import { rng } from './workload.js';

const HELP = `pel bench rpc [flags] — end-to-end throughput over JSON-RPC, JSON out
  --txs N            transactions to submit [20000]
  --senders S        distinct senders (dev accounts) [200]
  --batch B          tx_send calls per JSON-RPC batch [200]
  --connections C    concurrent HTTP connections [4]
  --hotspot P        percent of transfers sent to one account [0]
  --rpc URL          use a running node (its dev accounts must be funded and unused)
  --executor KIND    for the node it starts: parallel | sequential [parallel]
  --max-block-txs N  for the node it starts [10000]
  --json             one line of JSON
  --compare A.json B.json   print two results side by side`;

const CLI = fileURLToPath(new URL('../node/cli.js', import.meta.url));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function startDevnet(dataDir: string, args: string[]): Promise<{ proc: ChildProcess; url: string; wsUrl: string }> {
  const proc = spawn(process.execPath, [CLI, 'devnet', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devnet did not start within 30 s:\n${err}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const rpc = /RPC\s+(http:\/\/\S+)/.exec(out);
      const ws = /WebSocket\s+(ws:\/\/\S+)/.exec(out);
      if (rpc && ws) {
        clearTimeout(timer);
        resolve({ proc, url: rpc[1]!, wsUrl: ws[1]! });
      }
    });
    proc.once('exit', (code) => reject(new Error(`devnet exited with ${code}:\n${err}`)));
  });
}

async function peakRssMb(pid: number | undefined): Promise<number | null> {
  if (!pid) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

function stageTimes(metrics: string): Record<string, { blocks: number; meanMs: number }> {
  const out: Record<string, { blocks: number; meanMs: number }> = {};
  for (const m of metrics.matchAll(/pel_block_stage_seconds_sum\{stage="([a-z_]+)"\} ([0-9.e+-]+)/g)) {
    const count = Number(new RegExp(`pel_block_stage_seconds_count\\{stage="${m[1]}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    out[m[1]!] = { blocks: count, meanMs: count ? round((Number(m[2]) * 1000) / count, 2) : 0 };
  }
  return out;
}

async function compare(a: string, b: string): Promise<number> {
  const [x, y] = [JSON.parse(await readFile(a, 'utf8')), JSON.parse(await readFile(b, 'utf8'))] as Record<string, unknown>[];
  const keys = ['executor', 'txs', 'senders', 'tps', 'submitRate', 'latencyMs', 'blocks', 'txsPerBlock', 'peakRssMb', 'rootsMatch'];
  const fmt = (v: unknown): string => (typeof v === 'object' ? JSON.stringify(v) : String(v));
  console.log(`${'metric'.padEnd(14)} ${a.padEnd(40)} ${b}`);
  for (const k of keys) console.log(`${k.padEnd(14)} ${fmt(x![k]).padEnd(40)} ${fmt(y![k])}`);
  return 0;
}

export async function runRpcBench(args: string[]): Promise<number> {
  if (args[0] === '--compare') return compare(args[1]!, args[2]!);
  const f = parseBenchArgs(args, {
    txs: { type: 'string' }, senders: { type: 'string' }, batch: { type: 'string' }, connections: { type: 'string' }, hotspot: { type: 'string' },
    rpc: { type: 'string' }, executor: { type: 'string' }, 'max-block-txs': { type: 'string' },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const total = num(f.txs, 20_000, 'txs');
  const senders = num(f.senders, 200, 'senders');
  const batch = num(f.batch, 200, 'batch');
  const connections = num(f.connections, 4, 'connections');
  const hotspot = num(f.hotspot, 0, 'hotspot');
  const json = f.json === true;
  const log = (s: string): void => void (json ? process.stderr.write(s + '\n') : console.log(s));

  let dataDir: string | null = null;
  let node: { proc: ChildProcess; url: string; wsUrl: string } | null = null;
  try {
    if (typeof f.rpc === 'string') {
      const u = new URL(f.rpc);
      node = { proc: null as unknown as ChildProcess, url: f.rpc, wsUrl: `ws://${u.host}/` };
    } else {
      dataDir = await mkdtemp(join(tmpdir(), 'pel-bench-rpc-'));
      node = await startDevnet(dataDir, ['--accounts', String(senders + 1), '--executor', (f.executor as string | undefined) ?? 'parallel', '--max-block-txs', String(num(f['max-block-txs'], 10_000, 'max-block-txs'))]);
      log(`devnet started: ${node.url} (data ${dataDir})`);
    }
    const client = new PelClient(node.url);
    const info = await client.getInfo();
    const keys = Array.from({ length: senders }, (_, i) => devKeyPair(i));
    const nonces = await Promise.all(keys.map(async (k) => BigInt((await client.getAccount(k.address)).nonce)));
    const next = rng(7);
    const hot = devKeyPair(senders).address;
    const txs: SignedTx[] = [];
    const t0sign = performance.now();
    for (let i = 0; i < total; i++) {
      const s = i % senders;
      const to = hotspot > 0 && next() % 100 < hotspot ? hot : keys[next() % senders]!.address;
      txs.push(signTxFast({ chainId: info.chainId, senderPublicKey: keys[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 50_000n, gasPrice: 1n, expiry: BigInt(info.height) + 1_000_000n, module: 'coin', call: 'transfer', args: [v.address(to), v.u128(1n)] }, keys[s]!));
    }
    log(`pre-signed ${total} txs from ${senders} senders in ${round(performance.now() - t0sign, 0)} ms`);

    // Commit tracking.
    const submittedAt = new Map<string, number>();
    const committedAt = new Map<string, number>();
    const blockSizes: number[] = [];
    const ws = new WebSocket(node.wsUrl);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.on('message', (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString()) as { method?: string; params?: { result: BlockJson } };
      if (m.method !== 'chain_subscription') return;
      const now = performance.now();
      const hashes = m.params!.result.txs as string[];
      if (hashes.length) blockSizes.push(hashes.length);
      for (const h of hashes) if (!committedAt.has(h)) committedAt.set(h, now);
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_subscribe', params: ['newBlocks'] }));

    // Submission.
    const queue: SignedTx[][] = [];
    for (let i = 0; i < txs.length; i += batch) queue.push(txs.slice(i, i + batch));
    let rejected = 0;
    const rejectReasons: Record<string, number> = {};
    let retries = 0;
    const start = performance.now();
    let lastSubmit = start;
    const worker = async (): Promise<void> => {
      for (;;) {
        const b = queue.shift();
        if (!b) return;
        const sentAt = performance.now();
        const res = await client.batch(b.map((t) => ({ method: 'tx_send', params: [toHex(t.raw)] })));
        const retry: SignedTx[] = [];
        res.forEach((r, i) => {
          const h = toHex(b[i]!.hash);
          if (r.ok) {
            if (!submittedAt.has(h)) submittedAt.set(h, sentAt);
          } else if (['MEMPOOL_FULL', 'SENDER_LIMIT_REACHED', 'NONCE_TOO_HIGH'].includes(r.error.reason ?? '')) retry.push(b[i]!);
          else {
            rejected++;
            rejectReasons[r.error.reason ?? String(r.error.code)] = (rejectReasons[r.error.reason ?? String(r.error.code)] ?? 0) + 1;
          }
        });
        lastSubmit = performance.now();
        if (retry.length) {
          retries += retry.length;
          queue.unshift(retry);
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    };
    const progress = setInterval(() => {
      if (json || !process.stderr.isTTY) return;
      const secs = (performance.now() - start) / 1000;
      process.stderr.write(`\r  submitted ${submittedAt.size}/${total}  committed ${committedAt.size}  ${round(committedAt.size / secs, 0)} tx/s   `);
    }, 500);
    await Promise.all(Array.from({ length: connections }, worker));
    const submitEnd = lastSubmit;
    const deadline = performance.now() + 300_000;
    while ([...submittedAt.keys()].some((h) => !committedAt.has(h)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    clearInterval(progress);
    if (!json && process.stderr.isTTY) process.stderr.write('\n');
    const end = Math.max(...[...committedAt.values()], start);
    ws.close();

    const lat = [...submittedAt].filter(([h]) => committedAt.has(h)).map(([h, t]) => committedAt.get(h)! - t).sort((a, b) => a - b);
    const metrics = await (await fetch(new URL('/metrics', node.url))).text().catch(() => '');
    const rss = await peakRssMb(node.proc?.pid);
    let replay = null;
    if (dataDir && node.proc) {
      node.proc.kill('SIGINT');
      await new Promise((r) => node!.proc.once('exit', r));
      replay = await replayChain(dataDir);
    }
    const committed = lat.length;
    output(
      {
        bench: 'rpc', executor: info.executor, txs: total, senders, batch, connections, hotspot,
        accepted: submittedAt.size, rejected, rejectReasons, retries, committed,
        tps: round(committed / ((end - start) / 1000), 0),
        submitRate: round(submittedAt.size / ((submitEnd - start) / 1000), 0),
        durationMs: round(end - start, 0),
        latencyMs: { p50: round(percentile(lat, 50), 1), p90: round(percentile(lat, 90), 1), p99: round(percentile(lat, 99), 1), max: round(lat[lat.length - 1] ?? 0, 1) },
        blocks: blockSizes.length, txsPerBlock: { median: median(blockSizes.length ? blockSizes : [0]), max: Math.max(0, ...blockSizes) },
        stages: stageTimes(metrics), peakRssMb: rss,
        rootsMatch: replay ? replay.rootsMatch && replay.receiptsMatch : null,
        allCommitted: committed === submittedAt.size,
      },
      json,
    );
    return committed === submittedAt.size && (replay === null || (replay.rootsMatch && replay.receiptsMatch)) ? 0 : 1;
  } finally {
    if (node?.proc && node.proc.exitCode === null) node.proc.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
