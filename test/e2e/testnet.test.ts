/**
 * A 4-validator BFT testnet of real `pel node --home` processes on 127.0.0.1 (libp2p over
 * TCP with noise, gossipsub, Tendermint rounds, parallel executor), made by
 * `pel testnet init`. Checks agreement at every height, a tx sent to node 0 seen through
 * node 3, liveness with one validator killed (-9), a halt without conflicting blocks with two
 * killed, catch-up through sync after restarting them, and a node that syncs from an
 * empty data dir.
 */
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { buildTransfer, devKeyPair, generateKeyPair, PelClient, type ReceiptJson } from '../../sdk/index.js';
import { CLI, makeTempDir, REPO_ROOT, runCli, startNode, useE2eCleanup, waitFor, type RunningNode } from './harness.js';
import { pickBasePort } from './testnet-harness.js';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 60_000 });
useE2eCleanup();

const VALIDATORS = 4;
const BLOCK_TIME_MS = 400;

interface BlockJson {
  hash: string;
  header: { height: number; stateRoot: string; parentHash: string };
}

const clients: PelClient[] = [];
const height = async (c: PelClient): Promise<number> => (await c.getInfo()).height;
const blockAt = (c: PelClient, h: number): Promise<BlockJson | null> => c.request('block_get', [h, { txs: 'none' }]) as Promise<BlockJson | null>;

/** Every node in `idx` reports the same hash and state root at every height 1..upTo. */
async function expectAgreement(idx: number[], upTo: number): Promise<void> {
  for (let h = 1; h <= upTo; h++) {
    const blocks = await Promise.all(idx.map((i) => blockAt(clients[i]!, h)));
    const first = blocks[0];
    expect(first, `block ${h} on node${idx[0]}`).not.toBeNull();
    for (const [k, b] of blocks.entries()) {
      expect(b?.hash, `hash at height ${h}, node${idx[k]} vs node${idx[0]}`).toBe(first!.hash);
      expect(b?.header.stateRoot, `state root at height ${h}, node${idx[k]}`).toBe(first!.header.stateRoot);
    }
  }
}

describe('4-validator BFT testnet', () => {
  it('agrees, carries txs across nodes, survives one failure, halts safely at two, recovers by sync', async () => {
    const out = await makeTempDir('testnet');
    const base = await pickBasePort(VALIDATORS);
    const init = await runCli(['testnet', 'init', '--validators', String(VALIDATORS), '--out', out, '--base-port', String(base), '--block-time', String(BLOCK_TIME_MS), '--json']);
    expect(init.code, init.stderr).toBe(0);
    const infos = JSON.parse(init.stdout) as { index: number; home: string; rpcPort: number; peerId: string }[];
    expect(infos.map((n) => n.rpcPort)).toEqual([0, 1, 2, 3].map((i) => base + i));
    expect(new Set(infos.map((n) => n.peerId)).size).toBe(VALIDATORS);

    const start = (i: number, extra: string[] = []): Promise<RunningNode> =>
      startNode({ command: ['node', '--home', join(out, `node${i}`), '--workers', '1', ...extra], timeoutMs: 30_000 });
    const nodes: RunningNode[] = await Promise.all([0, 1, 2, 3].map((i) => start(i)));
    for (const n of nodes) clients.push(new PelClient(n.url));

    // 1. blocks are committed and every node agrees at every height.
    await waitFor(async () => (await Promise.all(clients.map(height))).every((h) => h >= 5), { timeoutMs: 60_000, what: 'all 4 nodes at height 5' });
    const st = (await clients[0]!.request('consensus_status', [])) as { height: number; validators: unknown[]; lastCommit: { signers: number } | null };
    expect(st.validators).toHaveLength(VALIDATORS);
    expect(st.lastCommit?.signers).toBeGreaterThanOrEqual(3);
    const peers = (await clients[0]!.request('net_peers', [])) as { peerId: string }[];
    expect(peers.map((p) => p.peerId).sort()).toEqual(infos.slice(1).map((n) => n.peerId).sort());
    await expectAgreement([0, 1, 2, 3], 5);

    // 2. a tx sent to node 0 is committed and visible through node 3.
    const info = await clients[0]!.getInfo();
    const to = generateKeyPair().address;
    const tx = buildTransfer({ chainId: info.chainId, key: devKeyPair(0), nonce: 0n, to, amount: 12_345n, expiry: BigInt(info.height) + 100n, gasLimit: 100_000n, gasPrice: 1n });
    await clients[0]!.sendRawTx(tx.raw);
    const hashHex = '0x' + Buffer.from(tx.hash).toString('hex');
    const receipt = await waitFor(() => clients[3]!.getReceipt(hashHex) as Promise<ReceiptJson | null>, { timeoutMs: 30_000, what: 'receipt on node3' });
    expect(receipt.status).toBe('success');
    const acct = await clients[3]!.getAccount('0x' + Buffer.from(to).toString('hex'));
    expect(acct.balance).toBe('12345');

    // 3. kill -9 one validator: the other three keep committing.
    await nodes[3]!.kill9();
    const h1 = Math.max(...(await Promise.all([0, 1, 2].map((i) => height(clients[i]!)))));
    await waitFor(async () => (await Promise.all([0, 1, 2].map((i) => height(clients[i]!)))).every((h) => h >= h1 + 3), { timeoutMs: 60_000, what: '3 nodes commit 3 more blocks' });

    // 4. kill a second: the chain halts (no quorum); the survivors never disagree.
    await nodes[2]!.kill9();
    // Let anything in flight land, then watch for a window of several block times.
    await waitFor(async () => {
      const a = await Promise.all([0, 1].map((i) => height(clients[i]!)));
      return a[0] === a[1] ? a[0] : false;
    }, { timeoutMs: 30_000, what: 'the two survivors at one height' });
    const halted = Math.max(...(await Promise.all([0, 1].map((i) => height(clients[i]!)))));
    await new Promise((r) => setTimeout(r, BLOCK_TIME_MS * 10)); // an observation window, not synchronisation
    const after = await Promise.all([0, 1].map((i) => height(clients[i]!)));
    expect(Math.max(...after), 'no block without a quorum').toBe(halted);
    await expectAgreement([0, 1], halted);

    // 5. restart both: they catch up by sync and the chain moves again.
    nodes[2] = await start(2);
    nodes[3] = await start(3);
    clients[2] = new PelClient(nodes[2].url);
    clients[3] = new PelClient(nodes[3].url);
    await waitFor(async () => (await Promise.all(clients.map(height))).every((h) => h >= halted + 3), { timeoutMs: 90_000, what: `all 4 nodes past height ${halted + 3}` });
    const common = Math.min(...(await Promise.all(clients.map(height))));
    await expectAgreement([0, 1, 2, 3], common);

    // 6. a node started on an empty data dir syncs from genesis to the head.
    await nodes[3]!.kill9();
    nodes[3] = await start(3, ['--reset']);
    clients[3] = new PelClient(nodes[3].url);
    const target = await height(clients[0]!);
    await waitFor(async () => (await height(clients[3]!)) >= target, { timeoutMs: 60_000, what: `wiped node3 synced to ${target}` });
    await expectAgreement([0, 3], target);
    const r3 = (await clients[3]!.getReceipt(hashHex)) as ReceiptJson | null;
    expect(r3?.status).toBe('success');
  });
});

describe('pel devnet --validators 4', () => {
  it('starts 4 validator processes, prints their RPC URL, peer id and log file, and stops them all on SIGINT', async () => {
    // The base port is free when picked, but other tests bind ports meanwhile: a node that
    // lost its port (EADDRINUSE in its log) is a start on another base, up to 3 times.
    let out = '';
    let base = 0;
    let proc!: ReturnType<typeof spawn>;
    let text = '';
    let exited!: Promise<number | null>;
    for (let attempt = 1; ; attempt++) {
      out = await makeTempDir('devnet4');
      base = await pickBasePort(VALIDATORS);
      proc = spawn(process.execPath, [CLI, 'devnet', '--validators', '4', '--out', out, '--base-port', String(base), '--block-time', '300', '--workers', '1'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      text = '';
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => (text += d));
      const p = proc;
      exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      await waitFor(() => text.includes('Ctrl-C stops every node.') || p.exitCode !== null, { timeoutMs: 90_000, what: () => `testnet banner; got:\n${text}` });
      if (p.exitCode === null) break;
      const logs = (await Promise.all([0, 1, 2, 3].map((i) => readFile(join(out, `node${i}`, 'node.log'), 'utf8').catch(() => '')))).join('\n');
      if (attempt >= 3 || !logs.includes('EADDRINUSE')) throw new Error(`the testnet exited before its banner:\n${text}\nnode logs:\n${logs.slice(-4000)}`);
    }
    try {
      const lines = [...text.matchAll(/node(\d)\s+RPC (http:\/\/127\.0\.0\.1:(\d+))\s+peer (\S+)\s+log (\S+)/g)];
      expect(lines.map((m) => Number(m[3]))).toEqual([0, 1, 2, 3].map((i) => base + i));
      for (const m of lines) expect(m[5]).toBe(join(out, `node${m[1]}`, 'node.log'));
      const cs = lines.map((m) => new PelClient(m[2]!));
      await waitFor(async () => (await Promise.all(cs.map(height))).every((h) => h >= 2), { timeoutMs: 60_000, what: 'all 4 at height 2' });
      const infos = await Promise.all(cs.map((c) => c.getInfo() as Promise<{ consensus: string; validators: number; peerId: string }>));
      expect(infos.map((i) => [i.consensus, i.validators])).toEqual(Array(4).fill(['bft', 4]));
      expect(infos.map((i) => i.peerId)).toEqual(lines.map((m) => m[4]));
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
      for (const c of cs) await expect(c.getInfo()).rejects.toThrow();
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});
