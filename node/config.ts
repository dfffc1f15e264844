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
  if (c.mining !== 'auto' && c.mining !== 'manual') throw new ConfigError(`--mining must be auto or manual, got ${String(c.mining)}`);
  if (c.executor !== 'sequential' && c.executor !== 'parallel') throw new ConfigError(`--executor must be sequential or parallel, got ${String(c.executor)}`);
  if (!['error', 'warn', 'info', 'debug'].includes(c.logLevel)) throw new ConfigError(`--log-level must be error, warn, info or debug`);
  return c;
}
