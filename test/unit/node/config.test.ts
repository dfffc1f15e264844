/**
 * node/config.ts: the one table of node options. Defaults, the parseArgs option lists, the
 * help lines, flag parsing, config.json handling and validation are all read off NODE_OPTIONS;
 * these tests walk the table and check each generated piece against it, pin the flags that
 * existed before the table (spelling, default, commands), and check that an error names
 * where the bad value came from.
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  applyFlags,
  applyHomeJson,
  ConfigError,
  DEFAULT_CONFIG,
  flagArgs,
  flagHelpLines,
  HOME_JSON_KEYS,
  homeJsonOf,
  NODE_HOME_DEFAULTS,
  NODE_OPTIONS,
  nodeFlagOptions,
  rpcServerOptionsOf,
  validateConfig,
  type NodeOption,
  type NodeOptionKey,
} from '../../../node/config.js';
import { defaultRpcServerOptions } from '../../../node/rpc/server.js';

const entries = Object.entries(NODE_OPTIONS) as [NodeOptionKey, NodeOption][];
const FILE = '/x/node0/config.json';

function parse(args: string[], command: 'devnet' | 'node') {
  const { values } = parseArgs({ args, options: nodeFlagOptions(command), strict: true });
  return applyFlags(command === 'node' ? NODE_HOME_DEFAULTS : DEFAULT_CONFIG, values, command);
}

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('NODE_OPTIONS generates', () => {
  it('the defaults: one value per entry, pel node taking nodeDefault where there is one', () => {
    expect(Object.keys(DEFAULT_CONFIG).sort()).toEqual(entries.map(([k]) => k).sort());
    for (const [k, o] of entries) {
      expect(DEFAULT_CONFIG[k], k).toEqual(o.default);
      expect(NODE_HOME_DEFAULTS[k], k).toEqual(k === 'consensus' ? 'bft' : o.nodeDefault ?? o.default);
    }
    expect(validateConfig({ ...DEFAULT_CONFIG })).toEqual(DEFAULT_CONFIG);
  });

  it('the parseArgs options of each command: exactly the entries with a flag for it', () => {
    for (const command of ['devnet', 'node'] as const) {
      const expected = Object.fromEntries(
        entries.filter(([, o]) => o.flag !== undefined && o.commands?.includes(command)).map(([, o]) => [o.flag!, { type: o.kind === 'bool' ? 'boolean' : 'string' }]),
      );
      expect(nodeFlagOptions(command)).toEqual(expected);
    }
  });

  it('one help line per flag, with its default in brackets', () => {
    for (const command of ['devnet', 'node'] as const) {
      const text = flagHelpLines(command).join('\n');
      for (const [, o] of entries) {
        const has = o.flag !== undefined && o.commands?.includes(command);
        const at = text.indexOf(`  --${o.flag}${o.arg ? ` ${o.arg}` : ''}`);
        if (!has) {
          if (o.flag !== undefined) expect(text, `--${o.flag} is not a ${command} flag`).not.toMatch(new RegExp(`--${o.flag}\\b`));
          continue;
        }
        expect(at, `--${o.flag} in ${command} --help`).toBeGreaterThanOrEqual(0);
        const d = command === 'node' && o.nodeDefault !== undefined ? o.nodeDefault : o.default;
        if (o.kind !== 'bool' && d !== null) expect(text.slice(at).split('\n  --')[0]).toContain(`[${String(d)}`);
      }
    }
  });

  it('config.json keys: the entries with a json key, nested where dotted, and nothing else', () => {
    expect(HOME_JSON_KEYS).toEqual(entries.filter(([, o]) => o.json !== undefined).map(([, o]) => o.json));
    const all = Object.fromEntries(entries.filter(([, o]) => o.json !== undefined).map(([k]) => [k, NODE_HOME_DEFAULTS[k]]));
    const json = homeJsonOf(all);
    expect(json).toMatchObject({ rpc: { host: '127.0.0.1', port: 8545 }, p2p: { listen: [], peers: [] }, workers: 0 });
    const { config, sources } = applyHomeJson(NODE_HOME_DEFAULTS, json, FILE);
    expect(config).toEqual(NODE_HOME_DEFAULTS);
    expect(sources.port).toBe(`${FILE}: rpc.port`);
    expect(() => homeJsonOf({ dataDir: '/x' })).toThrow(/dataDir cannot be set in config.json/);
  });
});

describe('the JSON-RPC server options', () => {
  it('come from the node options, and the node defaults are the server defaults', () => {
    expect(rpcServerOptionsOf(DEFAULT_CONFIG)).toEqual(defaultRpcServerOptions);
    const { config } = parse(['--rpc-max-connections', '7', '--rpc-max-connections-per-ip', '6', '--rpc-max-ws', '5', '--rpc-max-ws-per-ip', '4', '--rpc-max-subscriptions', '3', '--rpc-max-subscriptions-total', '9',
      '--rpc-ws-buffer', '65536', '--rpc-ws-buffer-total', '131072', '--rpc-header-timeout', '100', '--rpc-request-timeout', '200', '--rpc-keepalive-timeout', '300', '--rpc-idle-timeout', '400'], 'devnet');
    expect(rpcServerOptionsOf(config)).toMatchObject({
      maxConnections: 7, maxConnectionsPerIp: 6, maxWsConnections: 5, maxWsConnectionsPerIp: 4, maxSubscriptionsPerConnection: 3, maxSubscriptionsTotal: 9,
      maxWsBufferedBytes: 65_536, maxWsBufferedBytesTotal: 131_072, headersTimeoutMs: 100, requestTimeoutMs: 200, keepAliveTimeoutMs: 300, idleTimeoutMs: 400,
    });
  });
});

describe('flags that existed before the table keep their spelling, default and commands', () => {
  const before: [string, NodeOptionKey, unknown, ('devnet' | 'node')[]][] = [
    ['host', 'host', '127.0.0.1', ['devnet', 'node']],
    ['port', 'port', 8545, ['devnet', 'node']],
    ['data-dir', 'dataDir', DEFAULT_CONFIG.dataDir, ['devnet']],
    ['in-memory', 'inMemory', false, ['devnet']],
    ['reset', 'reset', false, ['devnet', 'node']],
    ['genesis', 'genesisPath', null, ['devnet']],
    ['chain-id', 'chainId', 1337, ['devnet']],
    ['accounts', 'accounts', 10, ['devnet']],
    ['block-time', 'blockTimeMs', 0, ['devnet', 'node']],
    ['max-block-txs', 'maxBlockTxs', 10_000, ['devnet', 'node']],
    ['mining', 'mining', 'auto', ['devnet']],
    ['executor', 'executor', 'parallel', ['devnet', 'node']],
    ['workers', 'workers', 0, ['devnet', 'node']],
    ['mempool-max', 'mempoolMaxTotal', 100_000, ['devnet']],
    ['mempool-max-per-sender', 'mempoolMaxPerSender', 2_048, ['devnet']],
    ['rpc-max-body', 'rpcMaxBodyBytes', 8 * 1024 * 1024, ['devnet']],
    ['rpc-max-batch', 'rpcMaxBatchSize', 2_000, ['devnet']],
    ['warmup', 'warmupTxs', 8_000, ['devnet', 'node']],
    ['log-level', 'logLevel', 'info', ['devnet', 'node']],
  ];
  it.each(before)('--%s', (flag, key, dflt, commands) => {
    const o = NODE_OPTIONS[key] as NodeOption;
    expect(o.flag).toBe(flag);
    expect(o.default).toEqual(dflt);
    for (const c of commands) expect(o.commands).toContain(c);
  });

  it('pel node keeps its config.json keys and defaults (block time 1000 ms, moniker "node")', () => {
    for (const k of ['moniker', 'rpc.host', 'rpc.port', 'p2p.listen', 'p2p.peers', 'blockTimeMs', 'maxBlockTxs', 'executor', 'workers', 'logLevel']) expect(HOME_JSON_KEYS).toContain(k);
    expect(NODE_HOME_DEFAULTS).toMatchObject({ blockTimeMs: 1_000, moniker: 'node', consensus: 'bft' });
  });
});

describe('parsing and validation name the source of a bad value', () => {
  it('parses every kind of flag', () => {
    const { config, sources } = parse(['--port', '0', '--in-memory', '--mining', 'manual', '--rpc-max-batch', '3', '--genesis', '/g.json'], 'devnet');
    expect(config).toMatchObject({ port: 0, inMemory: true, mining: 'manual', rpcMaxBatchSize: 3, genesisPath: '/g.json' });
    expect(sources).toEqual({ port: '--port', inMemory: '--in-memory', mining: '--mining', rpcMaxBatchSize: '--rpc-max-batch', genesisPath: '--genesis' });
    expect(validateConfig(config, sources)).toBe(config);
  });

  it('a bad limit names its flag, or config.json and its key', () => {
    const flag = parse(['--rpc-max-ws', '0'], 'node');
    expect(errorOf(() => validateConfig(flag.config, flag.sources)).message).toBe('--rpc-max-ws must be an integer between 1 and 1000000, got 0');
    const json = applyHomeJson(NODE_HOME_DEFAULTS, { rpcMaxWsConnections: 'lots' }, FILE);
    expect(errorOf(() => validateConfig(json.config, json.sources)).message).toBe(`${FILE}: rpcMaxWsConnections must be an integer between 1 and 1000000, got "lots"`);
    const t = parse(['--rpc-header-timeout', '20000', '--rpc-request-timeout', '10000'], 'devnet');
    expect(errorOf(() => validateConfig(t.config, t.sources)).message).toBe('--rpc-header-timeout (20000) must not exceed --rpc-request-timeout (10000): the headers are part of the request');
    const home = applyHomeJson(NODE_HOME_DEFAULTS, { rpcHeaderTimeoutMs: 40_000 }, FILE);
    expect(errorOf(() => validateConfig({ ...home.config, nodeKeyPath: '/k' }, home.sources)).message).toMatch(new RegExp(`^${FILE}: rpcHeaderTimeoutMs \\(40000\\) must not exceed --rpc-request-timeout`));
  });

  it('a bad flag names the flag', () => {
    expect(errorOf(() => parse(['--rpc-max-batch', 'many'], 'devnet')).message).toBe('--rpc-max-batch must be a non-negative integer');
    const { config, sources } = parse(['--rpc-max-batch', '0'], 'devnet');
    expect(errorOf(() => validateConfig(config, sources)).message).toBe('--rpc-max-batch must be an integer between 1 and 9007199254740991, got 0');
    const m = parse(['--mining', 'sometimes'], 'devnet');
    expect(errorOf(() => validateConfig(m.config, m.sources)).message).toBe('--mining must be auto or manual, got sometimes');
    expect(errorOf(() => validateConfig({ ...DEFAULT_CONFIG, port: 70_000 })).message).toBe('--port must be an integer between 0 and 65535, got 70000');
  });

  it('a flag of the other command is refused by parseArgs', () => {
    expect(() => parse(['--mining', 'manual'], 'node')).toThrow(/Unknown option '--mining'/);
    expect(() => parse(['--home', 'x'], 'devnet')).toThrow(/Unknown option '--home'/);
  });

  it('a bad config.json value names the file and the key', () => {
    const bad = applyHomeJson(NODE_HOME_DEFAULTS, { rpcMaxBatchSize: 'lots' }, FILE);
    expect(errorOf(() => validateConfig(bad.config, bad.sources)).message).toBe(`${FILE}: rpcMaxBatchSize must be an integer between 1 and 9007199254740991, got "lots"`);
    const nested = applyHomeJson(NODE_HOME_DEFAULTS, { rpc: { port: 99_999 } }, FILE);
    expect(errorOf(() => validateConfig(nested.config, nested.sources)).message).toBe(`${FILE}: rpc.port must be an integer between 0 and 65535, got 99999`);
    const list = applyHomeJson(NODE_HOME_DEFAULTS, { p2p: { peers: [1] } }, FILE);
    expect(errorOf(() => validateConfig(list.config, list.sources)).message).toBe(`${FILE}: p2p.peers must be an array of strings, got [1]`);
  });

  it('config.json: unknown keys are refused, not ignored', () => {
    expect(errorOf(() => applyHomeJson(NODE_HOME_DEFAULTS, { rpcMaxBatch: 3 }, FILE)).message).toMatch(new RegExp(`^${FILE}: unknown key rpcMaxBatch; known keys: rpc.host, `));
    expect(errorOf(() => applyHomeJson(NODE_HOME_DEFAULTS, { rpc: { prot: 1 } }, FILE)).message).toMatch(/unknown key rpc\.prot/);
    expect(errorOf(() => applyHomeJson(NODE_HOME_DEFAULTS, { rpc: 8545 }, FILE)).message).toBe(`${FILE}: rpc must be an object`);
    expect(errorOf(() => applyHomeJson(NODE_HOME_DEFAULTS, [], FILE)).message).toBe(`${FILE} must hold a JSON object`);
  });

  it('a flag overrides config.json and becomes the source', () => {
    const home = applyHomeJson(NODE_HOME_DEFAULTS, { rpcMaxBatchSize: 5, workers: 1 }, FILE);
    const { values } = parseArgs({ args: ['--rpc-max-batch', '0'], options: nodeFlagOptions('node'), strict: true });
    const { config, sources } = applyFlags(home.config, values, 'node', home.sources);
    expect(config).toMatchObject({ rpcMaxBatchSize: 0, workers: 1 });
    expect(sources).toMatchObject({ rpcMaxBatchSize: '--rpc-max-batch', workers: `${FILE}: workers` });
    expect(errorOf(() => validateConfig(config, sources)).message).toMatch(/^--rpc-max-batch must be/);
  });

  it('checks the rules between options', () => {
    const { config, sources } = parse(['--in-memory'], 'devnet');
    expect(errorOf(() => validateConfig({ ...config, consensus: 'bft', nodeKeyPath: '/k' }, sources)).message).toMatch(/--in-memory is only for the solo devnet/);
    const home = applyHomeJson(NODE_HOME_DEFAULTS, { blockTimeMs: 0 }, FILE);
    expect(errorOf(() => validateConfig({ ...home.config, nodeKeyPath: '/k' }, home.sources)).message).toBe(`a BFT network needs ${FILE}: blockTimeMs >= 1 ms`);
  });
});

describe('pel devnet --validators N', () => {
  it('passes on every node flag given that pel node takes, except --host, --port and --reset', () => {
    const { values } = parseArgs({
      args: ['--reset', '--workers', '1', '--rpc-max-batch', '9', '--accounts', '3', '--mempool-max', '10', '--block-time', '50', '--in-memory', '--rpc-max-ws', '9', '--rpc-ws-buffer', '65536'],
      options: nodeFlagOptions('devnet'),
      strict: true,
    });
    expect(flagArgs(values, 'node', ['host', 'port', 'reset'])).toEqual(['--block-time', '50', '--workers', '1', '--mempool-max', '10', '--rpc-max-batch', '9', '--rpc-max-ws', '9', '--rpc-ws-buffer', '65536']);
  });
});
