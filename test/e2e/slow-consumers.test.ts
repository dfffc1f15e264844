/**
 * WebSocket clients that subscribe and never read, against a real node with its default
 * limits (issue #14): 40 clients with 64 newBlocks subscriptions each (a block of N txs is a
 * ~70·N-byte notification, so each block asks the node for ~4,500·N bytes per client) while
 * the node commits blocks of thousands of txs.
 *
 * Memory is the node process's RssAnon (/proc/<pid>/status): its heap, worker heaps and
 * buffers, without mapped files. "Idle" is measured after the same load has run once without
 * slow clients: a fresh node's RSS grows by ~150 MB over its first blocks whatever the clients
 * do, and that is not what is under test. The node must then stay under
 *
 *   idle + --rpc-ws-buffer-total (64 MiB) + SLACK (160 MiB)        (at most 256 MB above idle)
 *
 * close every slow client with 4008 (its own buffer) or 4009 (the node's total), keep serving a
 * client that reads (a notification for every block) and the HTTP submissions, and come back
 * to within RETURN_SLACK of idle once the slow clients are gone.
 *
 * A never-reading client pauses its socket after its subscriptions are answered. It cannot see
 * its close frame until it reads, so the test waits for the node's warn line naming the
 * client's port, then resumes that client and reads through to the close frame.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { signTxFast } from '../../bench/sign.js';
import { devKeyPair } from '../../protocol/keys.js';
import { v } from '../../protocol/value.js';
import { formatAddress, generateKeyPair, PelClient } from '../../sdk/index.js';
import { startNode, useE2eCleanup, waitFor, WsClient } from './harness.js';

vi.setConfig({ testTimeout: 600_000, hookTimeout: 60_000 });
useE2eCleanup();

const SLOW_CLIENTS = 40;
const SUBS_EACH = 64;
const SENDERS = 200;
const TXS_PER_PHASE = 20_000;
const BATCH = 2_000;
/**
 * Blocks of up to 500 txs: a ~35 KB notification, ~2.2 MB per block for 64 subscriptions. Once
 * the kernel's socket buffers are full, each block adds that much to every slow client: 40 of
 * them pass the 64 MiB total before each passes its own 4 MiB, so both limits come into play.
 */
const BLOCK_TXS = 500;
const MiB = 1024 * 1024;
/** The node's default --rpc-ws-buffer-total. */
const BUFFER_TOTAL = 64 * MiB;
/**
 * What the node may hold beyond idle and the send buffers while it serves this: heap growth,
 * garbage such as the dropped output of the connections it closed (up to 4 MiB each).
 * Measured +128 to +141 MB in all; the bound, idle + 224 MiB, is within the "at most
 * 256 MB above idle". Documented in README.md ("Limits").
 */
const SLACK = 160 * MiB;
/** How close to idle RSS must come back once the slow clients are gone. */
const RETURN_SLACK = 64 * MiB;

async function rssAnon(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /RssAnon:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no RssAnon in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * POST on a connection of its own: a batch is not idempotent once partly committed, and a
 * reused keep-alive connection can be closed by the node just as the batch is sent when this
 * machine is loaded (the keep-alive race every HTTP/1.1 client has).
 */
function postOnce(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'content-type': 'application/json' }, timeout: 60_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer to a tx_send batch within 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const mb = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MB`;

interface SlowClient {
  ws: WebSocket;
  port: number;
  close: Promise<{ code: number; reason: string }>;
  resumed: boolean;
}

/** Connects, subscribes SUBS_EACH times in one batch, and stops reading once answered. */
async function slowClient(url: string): Promise<SlowClient> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  let port = 0;
  ws.once('upgrade', (res) => (port = res.socket.localPort!));
  const close = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const answered = new Promise<unknown[]>((r) => ws.once('message', (d) => r(JSON.parse(String(d)) as unknown[])));
  ws.send(JSON.stringify(Array.from({ length: SUBS_EACH }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'chain_subscribe', params: ['newBlocks'] }))));
  const replies = (await answered) as { result?: string; error?: unknown }[];
  const failed = replies.filter((r) => typeof r.result !== 'string');
  if (failed.length > 0) throw new Error(`subscriptions refused: ${JSON.stringify(failed[0])}`);
  ws.pause();
  return { ws, port, close, resumed: false };
}

describe('WebSocket clients that never read', () => {
  it('are closed with 4008/4009 while the node stays within idle + buffer total + slack, serves a reading client, and gives the memory back', async () => {
    const node = await startNode({ args: ['--accounts', String(SENDERS + 1), '--max-block-txs', String(BLOCK_TXS)] });
    const pid = node.proc.pid!;
    const client = new PelClient(node.url);
    const info = await client.getInfo();

    // Two phases of transfers, signed up front.
    const keys = Array.from({ length: SENDERS }, (_, i) => devKeyPair(i));
    const to = generateKeyPair().address;
    const phase = (p: number): string[] => Array.from({ length: TXS_PER_PHASE }, (_, i) => {
      const s = i % SENDERS;
      const nonce = BigInt(p * (TXS_PER_PHASE / SENDERS) + Math.floor(i / SENDERS));
      const tx = signTxFast({ chainId: info.chainId, senderPublicKey: keys[s]!.publicKey, nonce, gasLimit: 50_000n, gasPrice: 1n, expiry: 1_000_000n, module: 'coin', call: 'transfer', args: [v.address(to), v.u128(1n)] }, keys[s]!);
      return '0x' + Buffer.from(tx.raw).toString('hex');
    });
    const committedAll = async (n: number): Promise<void> => {
      await waitFor(async () => BigInt((await client.getAccount(formatAddress(to))).balance) === BigInt(n), { timeoutMs: 240_000, intervalMs: 250, what: `${n} transfers committed` });
    };
    const submit = async (raws: string[]): Promise<void> => {
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < raws.length) {
          const chunk = raws.slice(next, (next += BATCH));
          const res = await postOnce(node.port, JSON.stringify(chunk.map((r, i) => ({ jsonrpc: '2.0', id: i, method: 'tx_send', params: [r] }))));
          expect(res.status).toBe(200);
          const bad = (JSON.parse(res.text) as { error?: unknown }[]).filter((r) => r.error !== undefined);
          expect(bad, JSON.stringify(bad[0])).toEqual([]);
        }
      };
      await Promise.all([lane(), lane()]);
    };

    const [load1, load2] = [phase(0), phase(1)];

    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssAnon(pid).catch(() => 0));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Phase 1, no slow clients: brings the node to the size this load gives it.
    await submit(load1);
    await committedAll(TXS_PER_PHASE);
    const loadPeak = peak;
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(await rssAnon(pid));
      await new Promise((r) => setTimeout(r, 200)); // spacing between samples, not synchronisation
    }
    const idle = samples.sort((a, b) => a - b)[2]!;

    // A client that reads, and the slow ones.
    const good = await WsClient.connect(node.wsUrl);
    const goodSub = (await good.call('chain_subscribe', ['newBlocks'])).result as string;
    const fromHeight = (await client.getInfo()).height + 1;
    const slow: SlowClient[] = [];
    for (let i = 0; i < SLOW_CLIENTS; i++) slow.push(await slowClient(node.wsUrl));

    peak = 0;
    // Resume each slow client once the node has said it closed it, so it reads its close frame.
    const byPort = new Map(slow.map((c) => [c.port, c]));
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const m of node.stderr().matchAll(/ws slow consumer closed \{"code":\d+,"remote":"[^"]*","remotePort":(\d+)/g)) {
          const c = byPort.get(Number(m[1]));
          if (c && !c.resumed) {
            c.resumed = true;
            c.ws.resume();
          }
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    try {
      // Phase 2: the same load with 40 x 64 subscriptions that never read.
      await submit(load2);
      await committedAll(2 * TXS_PER_PHASE);
      sampling = false;
      await sampler;
      console.log(`RssAnon: idle ${mb(idle)}, peak of the same load without slow clients ${mb(loadPeak)} (+${mb(loadPeak - idle)}), with ${SLOW_CLIENTS} slow clients ${mb(peak)} (+${mb(peak - idle)})`);
      expect(peak, `peak ${mb(peak)} against idle ${mb(idle)} + buffer total + slack`).toBeLessThanOrEqual(idle + BUFFER_TOTAL + SLACK);

      await waitFor(() => slow.every((c) => c.resumed), { timeoutMs: 60_000, what: () => `the node's close of every slow client (${slow.filter((c) => c.resumed).length}/${SLOW_CLIENTS})` });
      const closes: { code: number; reason: string }[] = [];
      for (const c of slow) void c.close.then((x) => closes.push(x));
      await waitFor(() => closes.length === SLOW_CLIENTS, { timeoutMs: 60_000, what: () => `close frames read by the resumed clients (${closes.length}/${SLOW_CLIENTS})` });
      watching = false;
      await watcher;
      console.log(`close codes ${JSON.stringify(Object.fromEntries(closes.reduce((m, c) => m.set(c.code, (m.get(c.code) ?? 0) + 1), new Map<number, number>())))}`);
      for (const c of closes) {
        expect([4008, 4009]).toContain(c.code);
        expect(c.reason).toMatch(c.code === 4008 ? /^SLOW_CONSUMER: / : /^SEND_BUFFERS_FULL: /);
      }

      // The reading client was served all along: open, and a notification for every block.
      const head = (await client.getInfo()).height;
      await waitFor(() => good.notifications(goodSub).some((b) => (b as { header: { height: number } }).header.height === head), { what: `the reading client's notification of block ${head}` });
      const heights = good.notifications(goodSub).map((b) => (b as { header: { height: number } }).header.height);
      expect(heights).toEqual(Array.from({ length: head - fromHeight + 1 }, (_, i) => fromHeight + i));
      expect(good.ws.readyState).toBe(WebSocket.OPEN);

      // Gone: the memory comes back.
      for (const c of slow) c.ws.terminate();
      let now = 0;
      await waitFor(async () => (now = await rssAnon(pid)) <= idle + RETURN_SLACK, { timeoutMs: 60_000, intervalMs: 500, what: () => `RssAnon back to idle ${mb(idle)} + ${mb(RETURN_SLACK)} (now ${mb(now)})` });
      console.log(`RssAnon after the slow clients are gone: ${mb(now)}`);
    } finally {
      if (sampling) console.log(`RssAnon: idle ${mb(idle)}, peak so far with ${SLOW_CLIENTS} slow clients ${mb(peak)} (+${mb(peak - idle)})`);
      sampling = false;
      watching = false;
    }
    await good.close();
    expect(await node.stop('SIGINT')).toBe(0);
  });
});
