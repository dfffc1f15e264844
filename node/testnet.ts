/**
 * `pel devnet --validators N`: a local BFT testnet in one command. Writes the node folders
 * (as `pel testnet init`) unless they exist already, starts one `pel node --home` process
 * per validator on 127.0.0.1 with its log in DIR/nodeI/node.log, waits until each serves
 * JSON-RPC, prints RPC URL, peer id and log file of each, and stops them all on Ctrl-C
 * (SIGTERM to each, SIGKILL after a deadline).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadOrCreateNodeKey } from '../p2p/keys.js';
import { ConfigError } from './config.js';
import { HOME_FILES, initTestnet, loadHomeConfig, type TestnetInitOptions } from './home.js';

const CLI = fileURLToPath(new URL('./cli.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface TestnetNodeProcess {
  readonly index: number;
  readonly home: string;
  readonly rpcUrl: string;
  readonly peerId: string;
  readonly logFile: string;
  readonly proc: ChildProcess;
}

async function existingNodeCount(out: string): Promise<number> {
  const names = await readdir(out).catch(() => [] as string[]);
  let n = 0;
  while (names.includes(`node${n}`)) n++;
  return n;
}

async function rpcReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getInfo', params: [] }) });
    return r.ok;
  } catch {
    return false;
  }
}

export async function runLocalTestnet(
  o: TestnetInitOptions & { reset: boolean; extraArgs: string[]; /** flags that only shape a new testnet */ initOnly: string[] },
  log: (line: string) => void,
): Promise<number> {
  const out = resolve(o.out);
  const have = await existingNodeCount(out);
  if (have === 0 || o.reset) {
    await initTestnet({ ...o, force: o.reset });
    log(`wrote a ${o.validators}-validator testnet to ${out}`);
  } else if (have !== o.validators) {
    throw new ConfigError(`${out} holds a ${have}-validator testnet; use --validators ${have}, another --out, or --reset to replace it`);
  } else if (o.initOnly.length > 0) {
    throw new ConfigError(`${out} already holds a testnet; ${o.initOnly.join(', ')} only apply to a new one: add --reset (new keys, new chain) or use another --out`);
  } else {
    log(`reusing the testnet in ${out} (--reset starts a new chain)`);
  }
  const nodes: TestnetNodeProcess[] = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(nodes.map(async (n) => {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => n.proc.once('exit', () => r()));
      n.proc.kill('SIGTERM');
      const timer = setTimeout(() => n.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }));
  };
  try {
    for (let i = 0; i < o.validators; i++) {
      const home = join(out, `node${i}`);
      const { config: cfg } = await loadHomeConfig(home);
      const peerId = peerIdFromPrivateKey(await loadOrCreateNodeKey(join(home, HOME_FILES.nodeKey))).toString();
      const logFile = join(home, 'node.log');
      const fd = openSync(logFile, 'a');
      const proc = spawn(process.execPath, [CLI, 'node', '--home', home, ...o.extraArgs], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      const rpcUrl = `http://${cfg.host}:${cfg.port}`;
      nodes.push({ index: i, home, rpcUrl, peerId, logFile, proc });
      proc.once('exit', (code, signal) => {
        if (!stopping) log(`node${i} exited (${signal ?? `code ${code}`}); see ${logFile}`);
      });
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const n of nodes) {
      while (!(await rpcReady(n.rpcUrl))) {
        if (n.proc.exitCode !== null) throw new ConfigError(`node${n.index} exited with code ${n.proc.exitCode} before serving RPC; see ${n.logFile}`);
        if (Date.now() > deadline) throw new ConfigError(`node${n.index} did not serve RPC at ${n.rpcUrl} within ${READY_TIMEOUT_MS / 1000} s; see ${n.logFile}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const genesis = JSON.parse(await readFile(join(out, HOME_FILES.genesis), 'utf8')) as { chainId: number };
    log('');
    log(`pel local testnet: ${o.validators} validators, chain id ${genesis.chainId}, folders in ${out}`);
    for (const n of nodes) log(`  node${n.index}  RPC ${n.rpcUrl}  peer ${n.peerId}\n         log ${n.logFile}`);
    log('');
    log(`Try: pel transfer --rpc ${nodes[0]!.rpcUrl} --from 0 --to <address> --amount 1000 --wait`);
    log('     pel block latest --rpc ' + (nodes[nodes.length - 1]!.rpcUrl));
    log('Ctrl-C stops every node.');
  } catch (e) {
    await stopAll();
    throw e;
  }
  return new Promise<number>((resolveExit) => {
    const onSignal = (sig: string): void => {
      if (stopping) return;
      log(`${sig}: stopping ${nodes.length} nodes`);
      stopAll().then(() => resolveExit(0), () => resolveExit(1));
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
}
