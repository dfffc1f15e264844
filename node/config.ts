/** Node options: plain data, defaults in one place; CLI flags map onto them one to one. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { LogLevel } from '../protocol/logger.js';

export interface NodeConfig {
  host: string;
  port: number;
  dataDir: string;
  inMemory: boolean;
  reset: boolean;
  genesisPath: string | null;
  chainId: number;
  accounts: number;
  blockTimeMs: number;
  maxBlockTxs: number;
  mining: 'auto' | 'manual';
  executor: 'sequential' | 'parallel';
  workers: number;
  mempoolMaxTotal: number;
  mempoolMaxPerSender: number;
  rpcMaxBodyBytes: number;
  rpcMaxBatchSize: number;
  rpcMaxWsConnections: number;
  rpcMaxSubscriptions: number;
  txWaitTimeoutMs: number;
  logLevel: LogLevel;
  /** Transfers run through a scratch chain (own temp store) at start-up to warm the JIT (node/warmup.ts); 0 = none. */
  warmupTxs: number;
  /** solo: the single-validator devnet producer (instant blocks); bft: Tendermint over libp2p. */
  consensus: 'solo' | 'bft';
  /** Node folder (pel node --home), or null for `pel devnet`. */
  home: string | null;
  moniker: string;
  /** bft only: this validator's consensus key file; null runs a follower that does not vote. */
  validatorKeyPath: string | null;
  /** bft only: libp2p identity file (created on first start). */
  nodeKeyPath: string | null;
  /** bft only: libp2p listen multiaddrs. */
  p2pListen: string[];
  /** bft only: peers to dial and keep connected (multiaddrs with /p2p/<peer id>). */
  peers: string[];
}

export const DEFAULT_CONFIG: NodeConfig = {
  host: '127.0.0.1',
  port: 8545,
  dataDir: join(process.env.PEL_HOME ?? join(homedir(), '.pel'), 'devnet'),
  inMemory: false,
  reset: false,
  genesisPath: null,
  chainId: 1337,
  accounts: 10,
  blockTimeMs: 0,
  maxBlockTxs: 10_000,
  mining: 'auto',
  executor: 'parallel',
  workers: 0,
  mempoolMaxTotal: 100_000,
  mempoolMaxPerSender: 2_048,
  rpcMaxBodyBytes: 8 * 1024 * 1024,
  rpcMaxBatchSize: 2_000,
  rpcMaxWsConnections: 256,
  rpcMaxSubscriptions: 64,
  txWaitTimeoutMs: 30_000,
  logLevel: 'info',
  warmupTxs: 8_000,
  consensus: 'solo',
  home: null,
  moniker: 'devnet',
  validatorKeyPath: null,
  nodeKeyPath: null,
  p2pListen: [],
  peers: [],
};

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function validateConfig(c: NodeConfig): NodeConfig {
  const int = (v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${v}`);
  };
  int(c.port, '--port', 0, 65535);
  int(c.accounts, '--accounts', 0, 100_000);
  int(c.chainId, '--chain-id', 0, 0xffffffff);
  int(c.blockTimeMs, '--block-time', 0, 3_600_000);
  int(c.maxBlockTxs, '--max-block-txs', 1, 1_000_000);
  int(c.workers, '--workers', 0, 256);
  int(c.mempoolMaxTotal, '--mempool-max', 1);
  int(c.mempoolMaxPerSender, '--mempool-max-per-sender', 1);
  int(c.rpcMaxBodyBytes, '--rpc-max-body', 1024);
  int(c.rpcMaxBatchSize, '--rpc-max-batch', 1);
  int(c.warmupTxs, '--warmup', 0, 1_000_000);
  if (c.mining !== 'auto' && c.mining !== 'manual') throw new ConfigError(`--mining must be auto or manual, got ${String(c.mining)}`);
  if (c.executor !== 'sequential' && c.executor !== 'parallel') throw new ConfigError(`--executor must be sequential or parallel, got ${String(c.executor)}`);
  if (c.consensus !== 'solo' && c.consensus !== 'bft') throw new ConfigError(`consensus must be solo or bft, got ${String(c.consensus)}`);
  if (c.consensus === 'bft') {
    if (c.inMemory) throw new ConfigError('a BFT validator keeps its votes on disk: --in-memory is only for the solo devnet');
    if (c.mining !== 'auto') throw new ConfigError('--mining manual is only for the solo devnet (BFT validators commit a block every --block-time)');
    if (!c.nodeKeyPath) throw new ConfigError('a BFT node needs a node key file (pel testnet init writes one)');
    if (c.blockTimeMs < 1) throw new ConfigError('a BFT network needs --block-time >= 1 ms');
  }
  if (!['error', 'warn', 'info', 'debug'].includes(c.logLevel)) throw new ConfigError(`--log-level must be error, warn, info or debug`);
  return c;
}
