/**
 * Start-up warm-up: before the node serves anything, a throwaway devnet sharing the real
 * node's executor (and so its worker pool) takes a few thousand signed transfers through
 * the same code a client's transactions take: JSON-RPC batches of tx_send (JSON parse, hex
 * decode, decoding and signature checks on the workers, mempool, journal), blocks built by
 * the producer (Block-STM on the workers, state root, receipts, the LevelDB-style batch) and
 * a newBlocks subscription's block JSON.
 *
 * Why: V8 compiles a function to optimised code only after it has run hot, on background
 * threads that share the cores with the node. A fresh node spent its first second or so
 * running cold code while compiling it; on the 2-core dev VM, 20,000 transfers over JSON-RPC
 * ran at ~4-6k tx/s for the first half second and ~12k after (docs/EXECUTION.md, "Start-up
 * warm-up"). The warm-up moves that cost to start-up, before the RPC port opens.
 *
 * Nothing of it reaches the real chain: the scratch chain has its own store (a LevelDB in a
 * temp dir, or memory when the node runs in memory), its own chain id (WARMUP_CHAIN_ID) and
 * genesis, and is closed and dropped before the real RPC server starts. What it leaves
 * behind is only compiled code and warmed caches (address memo, the executor's key table,
 * its adaptive policy's first samples), none of which changes a result: every executor
 * path produces the sequential result.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devKeyPair } from '../protocol/keys.js';
import { silentLogger, type Logger } from '../protocol/logger.js';
import { v } from '../protocol/value.js';
import type { BlockExecutor } from '../execution/types.js';
import { signTxFast } from '../bench/sign.js';
import { DEFAULT_CONFIG, type NodeConfig } from './config.js';
import { PelNode } from './node.js';
import { buildMethods } from './rpc/methods/index.js';
import { handleRpcText, type RpcContext } from './rpc/server.js';

/** Chain id of the scratch chain; its txs never leave the process. */
export const WARMUP_CHAIN_ID = 0x7761726d; // "warm"
const SENDERS = 64;
/** tx_send calls per JSON-RPC batch (what `pel bench rpc` sends by default). */
const BATCH = 200;
/** Txs per scratch block (bench rpc blocks are ~400-800 txs). */
const BLOCK_TXS = 500;

export interface WarmupReport {
  txs: number;
  blocks: number;
  ms: number;
}

/** Runs `txs` transfers (rounded up to whole blocks) through a scratch devnet on `executor`. */
export async function warmUp(executor: BlockExecutor, txs: number, opts: { inMemory: boolean; logger?: Logger; tmpRoot?: string }): Promise<WarmupReport> {
  const { inMemory, logger = silentLogger } = opts;
  const t0 = performance.now();
  // A real LevelDB (in a temp dir) unless the node itself runs in memory: the two stores take
  // different code paths below the shared batch-building code, and it is the real one to warm.
  const dir = inMemory ? null : await mkdtemp(join(opts.tmpRoot ?? tmpdir(), 'pel-warmup-'));
  const config: NodeConfig = {
    ...DEFAULT_CONFIG,
    inMemory: dir === null,
    dataDir: dir ?? '',
    chainId: WARMUP_CHAIN_ID,
    accounts: SENDERS,
    mining: 'manual',
    maxBlockTxs: BLOCK_TXS,
    executor: executor.name === 'sequential' ? 'sequential' : 'parallel',
    warmupTxs: 0,
    logLevel: 'error',
  };
  let scratch: PelNode | null = null;
  let sent = 0;
  let blocks = 0;
  try {
    const node = await PelNode.start(config, silentLogger, { executor, serveRpc: false });
    scratch = node;
    const methods = buildMethods(node);
    const keys = Array.from({ length: SENDERS }, (_, i) => devKeyPair(i));
    const nonces = new Array<bigint>(SENDERS).fill(0n);
    // The newBlocks subscription of a WebSocket client, minus the socket: each block's JSON
    // is serialised as the connection would.
    let pushed = 0;
    const ws: RpcContext = {
      transport: 'ws',
      subscribe: (start) => {
        start((result) => {
          JSON.stringify(result);
          pushed++;
        });
        return '0x1';
      },
    };
    await handleRpcText('{"jsonrpc":"2.0","id":1,"method":"chain_subscribe","params":["newBlocks"]}', methods, ws, { maxBatchSize: 1 });
    const limits = { maxBatchSize: BATCH };
    /** The next block's txs as JSON-RPC batch bodies of tx_send calls. */
    const signBlock = (): string[] => {
      const bodies: string[] = [];
      for (let first = 0; first < BLOCK_TXS; first += BATCH) {
        const calls: string[] = [];
        for (let k = 0; k < Math.min(BATCH, BLOCK_TXS - first); k++, sent++) {
          const s = sent % SENDERS;
          const tx = signTxFast({
            chainId: WARMUP_CHAIN_ID, senderPublicKey: keys[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 50_000n, gasPrice: 1n, expiry: 1_000_000n,
            module: 'coin', call: 'transfer', args: [v.address(keys[(s + 1 + (sent % 7)) % SENDERS]!.address), v.u128(1n)],
          }, keys[s]!);
          calls.push(`{"jsonrpc":"2.0","id":${k},"method":"tx_send","params":["0x${Buffer.from(tx.raw).toString('hex')}"]}`);
        }
        bodies.push(`[${calls.join(',')}]`);
      }
      return bodies;
    };
    const submitAndMine = async (bodies: string[]): Promise<number> => {
      const outs = await Promise.all(bodies.map((b) => handleRpcText(b, methods, { transport: 'http' }, limits)));
      for (const out of outs) if (out === null || out.includes('"error"')) throw new Error(`warm-up tx_send failed: ${(out ?? '').slice(0, 300)}`);
      return (await node.producer!.mine(1)).length;
    };
    const rounds = Math.ceil(txs / BLOCK_TXS);
    let next = signBlock();
    for (let r = 0; r < rounds; r++) {
      const work = submitAndMine(next);
      // Sign the following block while this one is verified and executed on the workers (the
      // submissions reach the pool on the next turn of the event loop).
      await new Promise((res) => setImmediate(res));
      next = r + 1 < rounds ? signBlock() : [];
      blocks += await work;
    }
    if (pushed !== blocks) throw new Error(`warm-up saw ${pushed} block notifications for ${blocks} blocks`);
  } finally {
    // The subscription goes with the scratch chain; the executor stays open (the node owns it).
    await scratch?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
  const report = { txs: sent, blocks, ms: Math.round(performance.now() - t0) };
  logger.info('warm-up done', report);
  return report;
}
