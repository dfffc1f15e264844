/** Helpers for e2e tests of multi-validator testnets (real `pel node --home` processes). */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
import { PelClient } from '../../sdk/index.js';
import { makeTempDir, runCli, startNode, waitFor, type RunningNode } from './harness.js';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A base port P with P..P+n-1 (RPC) and P+100..P+100+n-1 (peers) free right now. */
export async function pickBasePort(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = (await portFree(base + i)) && (await portFree(base + 100 + i));
    if (ok) return base;
  }
  throw new Error('no free port range found');
}

export interface TestnetNode {
  readonly index: number;
  readonly home: string;
  readonly rpcPort: number;
  readonly p2pPort: number;
  readonly peerId: string;
}

export interface Testnet {
  readonly dir: string;
  readonly infos: TestnetNode[];
  readonly nodes: RunningNode[];
  readonly clients: PelClient[];
  /** /ip4/127.0.0.1/tcp/<p2p port>/p2p/<peer id> of node i. */
  peerAddr(i: number): string;
  start(i: number, extra?: string[]): Promise<RunningNode>;
}

/** `pel testnet init` + one `pel node --home` per validator, all serving RPC. */
export async function startTestnet(n: number, blockTimeMs: number, extra: string[] = ['--workers', '1']): Promise<Testnet> {
  const dir = await makeTempDir('testnet');
  const base = await pickBasePort(n);
  const init = await runCli(['testnet', 'init', '--validators', String(n), '--out', dir, '--base-port', String(base), '--block-time', String(blockTimeMs), '--json']);
  expect(init.code, init.stderr).toBe(0);
  const infos = JSON.parse(init.stdout) as TestnetNode[];
  const net: Testnet = {
    dir,
    infos,
    nodes: [],
    clients: [],
    peerAddr: (i) => `/ip4/127.0.0.1/tcp/${infos[i]!.p2pPort}/p2p/${infos[i]!.peerId}`,
    start: async (i, more = []) => {
      const node = await startNode({ command: ['node', '--home', join(dir, `node${i}`), ...extra, ...more], timeoutMs: 30_000 });
      net.nodes[i] = node;
      net.clients[i] = new PelClient(node.url);
      return node;
    },
  };
  await Promise.all(infos.map((_, i) => net.start(i)));
  return net;
}

export const heightOf = async (c: PelClient): Promise<number> => (await c.getInfo()).height;

/** Waits until every client in `idx` is at `height` or above. */
export function waitHeights(net: Testnet, idx: number[], height: number, timeoutMs = 60_000): Promise<true> {
  return waitFor(async () => (await Promise.all(idx.map((i) => heightOf(net.clients[i]!)))).every((h) => h >= height), { timeoutMs, what: `nodes ${idx.join(',')} at height ${height}` });
}
