/**
 * Node options, declared once.
 *
 * NODE_OPTIONS is the only list of them. Everything else is generated from it: the NodeConfig
 * type, DEFAULT_CONFIG, validation (each error names where the bad value came from: a flag
 * such as `--rpc-max-ws`, or `…/config.json: rpcMaxWsConnections`), the flag lists `parseArgs`
 * gets for `pel devnet` and `pel node`, the flag lines of their `--help`, which keys
 * config.json of `pel node --home` may set, and the flags `pel devnet --validators N` passes
 * on to the nodes it starts. To add an option, add one entry here and use it where the node
 * is wired (node/node.ts).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { LogLevel } from '../protocol/logger.js';
import type { RpcServerOptions } from './rpc/server.js';

/** The commands that run a node from options. */
export type NodeCommand = 'devnet' | 'node';

interface OptionBase<T> {
  readonly default: T;
  /** Flag name without the dashes; none: not settable from the command line. */
  readonly flag?: string;
  /** Commands that accept the flag. */
  readonly commands?: readonly NodeCommand[];
  /** Key in config.json of `pel node --home` ('rpc.port' = {"rpc": {"port": …}}); none: config.json cannot set it. */
  readonly json?: string;
  /** Value placeholder in the help ('N', 'MS'), and the help text; '\n' starts a continuation line. */
  readonly arg?: string;
  readonly help?: string;
  /** The default as the help shows it, when the value itself would mislead. */
  readonly shownDefault?: string;
  /** Default of `pel node` when config.json is silent, where it differs from `pel devnet`'s. */
  readonly nodeDefault?: T;
  /** Help of `pel node`'s flag, where it differs. */
  readonly nodeHelp?: string;
}
interface IntOption extends OptionBase<number> {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
}
interface StringOption extends OptionBase<string> {
  readonly kind: 'string';
}
interface OptionalPathOption extends OptionBase<string | null> {
  readonly kind: 'path';
}
interface BoolOption extends OptionBase<boolean> {
  readonly kind: 'bool';
}
interface EnumOption<T extends string> extends OptionBase<T> {
  readonly kind: 'enum';
  readonly values: readonly T[];
}
interface ListOption extends OptionBase<string[]> {
  readonly kind: 'list';
}
export type NodeOption = IntOption | StringOption | OptionalPathOption | BoolOption | EnumOption<string> | ListOption;

const int = (o: Omit<IntOption, 'kind'>): IntOption => ({ kind: 'int', ...o });
const str = (o: Omit<StringOption, 'kind'>): StringOption => ({ kind: 'string', ...o });
const path = (o: Omit<OptionalPathOption, 'kind'>): OptionalPathOption => ({ kind: 'path', ...o });
const bool = (o: Omit<BoolOption, 'kind'>): BoolOption => ({ kind: 'bool', ...o });
const oneOf = <T extends string>(values: readonly T[], o: Omit<EnumOption<T>, 'kind' | 'values'>): EnumOption<T> => ({ kind: 'enum', values, ...o });
const list = (o: Omit<ListOption, 'kind'>): ListOption => ({ kind: 'list', ...o });

const MAX = Number.MAX_SAFE_INTEGER;
const MiB = 1024 * 1024;
/** Longest timeout a timer can hold (2^31 - 1 ms), rounded down to a day. */
const MAX_TIMEOUT_MS = 86_400_000;
const BOTH: readonly NodeCommand[] = ['devnet', 'node'];
const DEVNET: readonly NodeCommand[] = ['devnet'];

/** `pel node` and `pel devnet --validators`: after each commit, wait this long before the next height. */
export const DEFAULT_TESTNET_BLOCK_TIME_MS = 1_000;

export const NODE_OPTIONS = {
  host: str({ default: '127.0.0.1', flag: 'host', commands: BOTH, json: 'rpc.host', arg: 'HOST', help: 'JSON-RPC bind address' }),
  port: int({ default: 8545, min: 0, max: 65535, flag: 'port', commands: BOTH, json: 'rpc.port', arg: 'PORT', help: 'JSON-RPC port, HTTP and WebSocket; 0 = any free port' }),
  noExplorer: bool({ default: false, flag: 'no-explorer', commands: BOTH, help: 'do not serve the block explorer on GET / of the RPC port' }),
  dataDir: str({ default: join(process.env.PEL_HOME ?? join(homedir(), '.pel'), 'devnet'), flag: 'data-dir', commands: DEVNET, arg: 'DIR', help: 'LevelDB data directory' }),
  inMemory: bool({ default: false, flag: 'in-memory', commands: DEVNET, help: 'keep everything in memory (nothing survives a restart)' }),
  reset: bool({
    default: false, flag: 'reset', commands: BOTH, help: 'wipe the data directory first',
    nodeHelp: 'wipe data/ first (the node then syncs from its peers; the\nvalidator\'s sign state is kept, so it cannot double-sign)',
  }),
  genesisPath: path({ default: null, flag: 'genesis', commands: DEVNET, arg: 'FILE', help: 'genesis JSON (default: a devnet genesis with --accounts dev accounts)' }),
  chainId: int({ default: 1337, min: 0, max: 0xffffffff, flag: 'chain-id', commands: DEVNET, arg: 'N', help: 'chain id of the generated devnet genesis' }),
  accounts: int({ default: 10, min: 0, max: 100_000, flag: 'accounts', commands: DEVNET, arg: 'N', help: 'number of funded dev accounts' }),
  stateAccounts: int({
    default: 0, min: 0, max: 100_000_000, flag: 'state-accounts', commands: DEVNET, arg: 'N',
    help: 'also fund N keyless accounts in the genesis state, bulk-loaded (big-state devnets and benchmarks; genesis indexAccounts)',
  }),
  blockTimeMs: int({
    default: 0, nodeDefault: DEFAULT_TESTNET_BLOCK_TIME_MS, min: 0, max: 3_600_000, flag: 'block-time', commands: BOTH, json: 'blockTimeMs', arg: 'MS',
    help: 'minimum time between blocks; 0 = as fast as possible',
    nodeHelp: 'wait MS after each commit before the next height (empty blocks too)',
  }),
  maxBlockTxs: int({ default: 10_000, min: 1, max: 1_000_000, flag: 'max-block-txs', commands: BOTH, json: 'maxBlockTxs', arg: 'N', help: 'maximum transactions per block', nodeHelp: 'most txs in a block this node proposes' }),
  mining: oneOf(['auto', 'manual'] as const, { default: 'auto', flag: 'mining', commands: DEVNET, arg: 'auto|manual', help: 'auto: build blocks when txs are pending; manual: only on dev_mine' }),
  executor: oneOf(['sequential', 'parallel'] as const, {
    default: 'parallel', flag: 'executor', commands: BOTH, json: 'executor', arg: 'KIND',
    help: 'parallel (Block-STM on worker threads, falls back to sequential\nper block where parallel cannot win) | sequential',
  }),
  workers: int({ default: 0, min: 0, max: 256, flag: 'workers', commands: BOTH, json: 'workers', arg: 'N', help: 'worker threads for the parallel executor; 0 = one per core' }),
  mempoolMaxTotal: int({ default: 100_000, min: 1, max: MAX, flag: 'mempool-max', commands: BOTH, json: 'mempoolMaxTotal', arg: 'N', help: 'mempool capacity' }),
  mempoolMaxPerSender: int({ default: 2_048, min: 1, max: MAX, flag: 'mempool-max-per-sender', commands: BOTH, json: 'mempoolMaxPerSender', arg: 'N', help: 'pending txs per sender' }),
  rpcMaxBodyBytes: int({ default: 8 * MiB, min: 1024, max: MAX, flag: 'rpc-max-body', commands: BOTH, json: 'rpcMaxBodyBytes', arg: 'BYTES', help: 'HTTP body / WebSocket message limit' }),
  rpcMaxBatchSize: int({ default: 2_000, min: 1, max: MAX, flag: 'rpc-max-batch', commands: BOTH, json: 'rpcMaxBatchSize', arg: 'N', help: 'JSON-RPC batch limit' }),
  rpcMaxConnections: int({
    default: 1_024, min: 1, max: 1_000_000, flag: 'rpc-max-connections', commands: BOTH, json: 'rpcMaxConnections', arg: 'N',
    help: 'open HTTP connections (WebSockets apart); then 503 CONNECTION_LIMIT',
  }),
  rpcMaxConnectionsPerIp: int({
    default: 256, min: 1, max: 1_000_000, flag: 'rpc-max-connections-per-ip', commands: BOTH, json: 'rpcMaxConnectionsPerIp', arg: 'N',
    help: 'open HTTP connections from one IP address; then 503 CONNECTION_LIMIT',
  }),
  rpcMaxWsConnections: int({
    default: 256, min: 1, max: 1_000_000, flag: 'rpc-max-ws', commands: BOTH, json: 'rpcMaxWsConnections', arg: 'N',
    help: 'open WebSocket connections; then 503 CONNECTION_LIMIT',
  }),
  rpcMaxWsConnectionsPerIp: int({
    default: 64, min: 1, max: 1_000_000, flag: 'rpc-max-ws-per-ip', commands: BOTH, json: 'rpcMaxWsConnectionsPerIp', arg: 'N',
    help: 'open WebSocket connections from one IP address; then 503 CONNECTION_LIMIT',
  }),
  rpcMaxSubscriptions: int({
    default: 64, min: 1, max: 1_000_000, flag: 'rpc-max-subscriptions', commands: BOTH, json: 'rpcMaxSubscriptions', arg: 'N',
    help: 'subscriptions per WebSocket connection; then SUBSCRIPTION_LIMIT',
  }),
  rpcMaxSubscriptionsTotal: int({
    default: 4_096, min: 1, max: 10_000_000, flag: 'rpc-max-subscriptions-total', commands: BOTH, json: 'rpcMaxSubscriptionsTotal', arg: 'N',
    help: 'subscriptions across all connections; then SUBSCRIPTION_LIMIT',
  }),
  rpcWsBufferBytes: int({
    default: 4 * MiB, min: 64 * 1024, max: MAX, flag: 'rpc-ws-buffer', commands: BOTH, json: 'rpcWsBufferBytes', arg: 'BYTES',
    help: 'unsent output one WebSocket may hold; then it is closed, code 4008',
  }),
  rpcWsBufferTotalBytes: int({
    default: 64 * MiB, min: 64 * 1024, max: MAX, flag: 'rpc-ws-buffer-total', commands: BOTH, json: 'rpcWsBufferTotalBytes', arg: 'BYTES',
    help: 'unsent WebSocket output in all; then the connections holding\nthe most are closed, code 4009',
  }),
  rpcHeaderTimeoutMs: int({
    default: 10_000, min: 1, max: MAX_TIMEOUT_MS, flag: 'rpc-header-timeout', commands: BOTH, json: 'rpcHeaderTimeoutMs', arg: 'MS',
    help: 'time to send a request\'s headers; then 408 REQUEST_TIMEOUT',
  }),
  rpcRequestTimeoutMs: int({
    default: 30_000, min: 1, max: MAX_TIMEOUT_MS, flag: 'rpc-request-timeout', commands: BOTH, json: 'rpcRequestTimeoutMs', arg: 'MS',
    help: 'time to send a whole request; then 408 REQUEST_TIMEOUT',
  }),
  rpcKeepAliveTimeoutMs: int({
    default: 5_000, min: 1, max: MAX_TIMEOUT_MS, flag: 'rpc-keepalive-timeout', commands: BOTH, json: 'rpcKeepAliveTimeoutMs', arg: 'MS',
    help: 'an idle keep-alive HTTP connection is closed after MS',
  }),
  rpcIdleTimeoutMs: int({
    default: 60_000, min: 1, max: MAX_TIMEOUT_MS, flag: 'rpc-idle-timeout', commands: BOTH, json: 'rpcIdleTimeoutMs', arg: 'MS',
    help: 'an HTTP connection whose response is not read for MS is closed\n(a request the node still works on, e.g. tx_send wait, is not cut)',
  }),
  txWaitTimeoutMs: int({ default: 30_000, min: 1, max: 600_000 }),
  warmupTxs: int({
    default: 8_000, min: 0, max: 1_000_000, flag: 'warmup', commands: BOTH, json: 'warmupTxs', arg: 'N',
    help: 'before serving, run N transfers through a scratch chain of its own\nto compile the hot paths (nothing reaches this chain); 0 = off',
  }),
  logLevel: oneOf<LogLevel>(['error', 'warn', 'info', 'debug'], { default: 'info', flag: 'log-level', commands: BOTH, json: 'logLevel', arg: 'LEVEL', help: 'error|warn|info|debug' }),
  /** solo: the single-validator devnet producer (instant blocks); bft: Tendermint over libp2p. */
  consensus: oneOf(['solo', 'bft'] as const, { default: 'solo' }),
  /** Node folder (pel node --home), or null for `pel devnet`. */
  home: path({ default: null }),
  moniker: str({ default: 'devnet', nodeDefault: 'node', json: 'moniker' }),
  /** bft only: this validator's consensus key file; null runs a follower that does not vote. */
  validatorKeyPath: path({ default: null }),
  /** bft only: libp2p identity file (created on first start). */
  nodeKeyPath: path({ default: null }),
  /** bft only: libp2p listen multiaddrs. */
  p2pListen: list({ default: [], json: 'p2p.listen' }),
  /** bft only: peers to dial and keep connected (multiaddrs with /p2p/<peer id>). */
  peers: list({ default: [], json: 'p2p.peers' }),
} as const;

type ValueOf<O> = O extends OptionBase<infer T> ? T : never;
export type NodeConfig = { -readonly [K in keyof typeof NODE_OPTIONS]: ValueOf<(typeof NODE_OPTIONS)[K]> };
export type NodeOptionKey = keyof NodeConfig;
/** Where each value that did not come from the defaults came from: '--rpc-max-ws', '/x/config.json: rpcMaxWsConnections'. */
export type ConfigSources = Partial<Record<NodeOptionKey, string>>;

const KEYS = Object.keys(NODE_OPTIONS) as NodeOptionKey[];
const spec = (k: NodeOptionKey): NodeOption => NODE_OPTIONS[k] as NodeOption;

function defaultsFor(command: NodeCommand): NodeConfig {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) {
    const o = spec(k);
    const v = command === 'node' && o.nodeDefault !== undefined ? o.nodeDefault : o.default;
    out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out as NodeConfig;
}

export const DEFAULT_CONFIG: NodeConfig = defaultsFor('devnet');
/** `pel node --home`'s defaults where config.json is silent (the paths come from the folder). */
export const NODE_HOME_DEFAULTS: NodeConfig = { ...defaultsFor('node'), consensus: 'bft' };

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// validation
// ---------------------------------------------------------------------------------------------

function labelOf(k: NodeOptionKey, sources: ConfigSources): string {
  const o = spec(k);
  return sources[k] ?? (o.flag !== undefined ? `--${o.flag}` : k);
}

function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
}

function orList(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

/** Type and range of one value; throws a ConfigError naming `label`. */
function checkValue(o: NodeOption, v: unknown, label: string): void {
  switch (o.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < o.min || v > o.max) throw new ConfigError(`${label} must be an integer between ${o.min} and ${o.max}, got ${JSON.stringify(v) ?? String(v)}`);
      return;
    case 'string':
      if (typeof v !== 'string' || v === '') throw new ConfigError(`${label} must be a non-empty string, got ${shown(v)}`);
      return;
    case 'path':
      if (v !== null && (typeof v !== 'string' || v === '')) throw new ConfigError(`${label} must be a file path, got ${shown(v)}`);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new ConfigError(`${label} must be true or false, got ${shown(v)}`);
      return;
    case 'enum':
      if (typeof v !== 'string' || !o.values.includes(v)) throw new ConfigError(`${label} must be ${orList(o.values)}, got ${shown(v)}`);
      return;
    case 'list':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(`${label} must be an array of strings, got ${shown(v)}`);
      return;
  }
}

/**
 * Checks every option's type and range, then the rules between options. Errors name the
 * source of the value (`sources`), else its flag, else its key.
 */
export function validateConfig(c: NodeConfig, sources: ConfigSources = {}): NodeConfig {
  for (const k of KEYS) checkValue(spec(k), c[k], labelOf(k, sources));
  const label = (k: NodeOptionKey): string => labelOf(k, sources);
  if (c.consensus === 'bft') {
    if (c.inMemory) throw new ConfigError('a BFT validator keeps its votes on disk: --in-memory is only for the solo devnet');
    if (c.mining !== 'auto') throw new ConfigError('--mining manual is only for the solo devnet (BFT validators commit a block every --block-time)');
    if (!c.nodeKeyPath) throw new ConfigError('a BFT node needs a node key file (pel testnet init writes one)');
    if (c.blockTimeMs < 1) throw new ConfigError(`a BFT network needs ${label('blockTimeMs')} >= 1 ms`);
  }
  // node:http refuses a header timeout longer than the request timeout.
  if (c.rpcHeaderTimeoutMs > c.rpcRequestTimeoutMs) {
    throw new ConfigError(`${label('rpcHeaderTimeoutMs')} (${c.rpcHeaderTimeoutMs}) must not exceed ${label('rpcRequestTimeoutMs')} (${c.rpcRequestTimeoutMs}): the headers are part of the request`);
  }
  return c;
}

/** The JSON-RPC server's options from the node's. */
export function rpcServerOptionsOf(c: NodeConfig): RpcServerOptions {
  return {
    host: c.host,
    port: c.port,
    maxBodyBytes: c.rpcMaxBodyBytes,
    maxBatchSize: c.rpcMaxBatchSize,
    maxConnections: c.rpcMaxConnections,
    maxConnectionsPerIp: c.rpcMaxConnectionsPerIp,
    maxWsConnections: c.rpcMaxWsConnections,
    maxWsConnectionsPerIp: c.rpcMaxWsConnectionsPerIp,
    maxSubscriptionsPerConnection: c.rpcMaxSubscriptions,
    maxSubscriptionsTotal: c.rpcMaxSubscriptionsTotal,
    maxWsBufferedBytes: c.rpcWsBufferBytes,
    maxWsBufferedBytesTotal: c.rpcWsBufferTotalBytes,
    headersTimeoutMs: c.rpcHeaderTimeoutMs,
    requestTimeoutMs: c.rpcRequestTimeoutMs,
    keepAliveTimeoutMs: c.rpcKeepAliveTimeoutMs,
    idleTimeoutMs: c.rpcIdleTimeoutMs,
  };
}

// ---------------------------------------------------------------------------------------------
// command line
// ---------------------------------------------------------------------------------------------

function takesFlag(o: NodeOption, command: NodeCommand): boolean {
  return o.flag !== undefined && (o.commands ?? []).includes(command);
}

/** The `parseArgs` options of `command`'s node flags. */
export function nodeFlagOptions(command: NodeCommand): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const k of KEYS) {
    const o = spec(k);
    if (takesFlag(o, command)) out[o.flag!] = { type: o.kind === 'bool' ? 'boolean' : 'string' };
  }
  return out;
}

/** Flag values from `parseArgs` laid over `base`; types are checked here, ranges by validateConfig. */
export function applyFlags(base: NodeConfig, values: Readonly<Record<string, string | boolean | undefined>>, command: NodeCommand, sources: ConfigSources = {}): { config: NodeConfig; sources: ConfigSources } {
  const config: Record<string, unknown> = { ...base };
  const src: ConfigSources = { ...sources };
  for (const k of KEYS) {
    const o = spec(k);
    if (!takesFlag(o, command)) continue;
    const v = values[o.flag!];
    if (v === undefined) continue;
    const label = `--${o.flag}`;
    if (o.kind === 'bool') config[k] = v === true;
    else if (typeof v !== 'string') throw new ConfigError(`${label} needs a value`);
    else if (o.kind === 'int') {
      if (!/^[0-9]+$/.test(v)) throw new ConfigError(`${label} must be a non-negative integer`);
      config[k] = Number(v);
    } else config[k] = v;
    src[k] = label;
  }
  return { config: config as NodeConfig, sources: src };
}

/** The `--flag value` arguments of the node flags in `values` that `command` accepts, minus `except` (flag names). */
export function flagArgs(values: Readonly<Record<string, string | boolean | undefined>>, command: NodeCommand, except: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const k of KEYS) {
    const o = spec(k);
    if (!takesFlag(o, command) || except.includes(o.flag!)) continue;
    const v = values[o.flag!];
    if (v === true) out.push(`--${o.flag}`);
    else if (typeof v === 'string') out.push(`--${o.flag}`, v);
  }
  return out;
}

function defaultText(o: NodeOption, command: NodeCommand): string {
  if (o.shownDefault !== undefined) return o.shownDefault;
  const v = command === 'node' && o.nodeDefault !== undefined ? o.nodeDefault : o.default;
  if (o.kind === 'bool' || v === null) return '';
  if (o.kind === 'int' && v !== 0 && (v as number) % MiB === 0) return `${v} = ${(v as number) / MiB} MiB`;
  return String(v);
}

/** The help lines of `command`'s node flags: `  --flag ARG   help [default]`, continuation lines indented. */
export function flagHelpLines(command: NodeCommand, width = 28): string[] {
  const lines: string[] = [];
  for (const k of KEYS) {
    const o = spec(k);
    if (!takesFlag(o, command)) continue;
    const head = `  --${o.flag}${o.arg ? ` ${o.arg}` : ''}`;
    const text = ((command === 'node' ? o.nodeHelp : undefined) ?? o.help ?? '').split('\n');
    const d = defaultText(o, command);
    if (d !== '') text[text.length - 1] += ` [${d}]`;
    const pad = head.length > width ? '\n' + ' '.repeat(width) : ' '.repeat(Math.max(2, width - head.length));
    lines.push(head + pad + text[0]);
    for (const more of text.slice(1)) lines.push(' '.repeat(width) + more);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// config.json (pel node --home)
// ---------------------------------------------------------------------------------------------

function jsonGet(obj: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Keys config.json may hold, dotted ('rpc.port'). */
export const HOME_JSON_KEYS: readonly string[] = KEYS.map((k) => spec(k).json).filter((j): j is string => j !== undefined);

/**
 * config.json laid over `base`. Unknown keys are refused (a misspelt limit would otherwise be
 * ignored without a word); values are checked by validateConfig with `file: key` as their source.
 */
export function applyHomeJson(base: NodeConfig, json: unknown, file: string): { config: NodeConfig; sources: ConfigSources } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${file} must hold a JSON object`);
  const obj = json as Record<string, unknown>;
  const groups = new Set(HOME_JSON_KEYS.filter((j) => j.includes('.')).map((j) => j.split('.')[0]!));
  for (const [key, value] of Object.entries(obj)) {
    if (groups.has(key)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${file}: ${key} must be an object`);
      for (const sub of Object.keys(value)) {
        if (!HOME_JSON_KEYS.includes(`${key}.${sub}`)) throw new ConfigError(`${file}: unknown key ${key}.${sub}; known keys: ${HOME_JSON_KEYS.join(', ')}`);
      }
    } else if (!HOME_JSON_KEYS.includes(key)) {
      throw new ConfigError(`${file}: unknown key ${key}; known keys: ${HOME_JSON_KEYS.join(', ')}`);
    }
  }
  const config: Record<string, unknown> = { ...base };
  const sources: ConfigSources = {};
  for (const k of KEYS) {
    const j = spec(k).json;
    if (j === undefined) continue;
    const v = jsonGet(obj, j);
    if (v === undefined) continue;
    config[k] = v;
    sources[k] = `${file}: ${j}`;
  }
  return { config: config as NodeConfig, sources };
}

/** The config.json object that sets `values` (only keys config.json may hold). */
export function homeJsonOf(values: Partial<NodeConfig>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(values) as NodeOptionKey[]) {
    const j = spec(k).json;
    if (j === undefined) throw new ConfigError(`${k} cannot be set in config.json`);
    const parts = j.split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]!] = values[k];
  }
  return out;
}
