#!/usr/bin/env node
/** The `pel` command line. Each command's flags map one to one onto plain options. */
import './polyfills.js';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatAddress, parseAddress } from '../protocol/address.js';
import { fromHex } from '../protocol/hex.js';
import { describeKeyPair, devKeyPair, generateKeyPair, keyPairFromPrivateKey, type KeyPair } from '../protocol/keys.js';
import { createLogger } from '../protocol/logger.js';
import { parseAmount, parseU64 } from '../protocol/value.js';
import { DEVNET_ACCOUNT_BALANCE } from '../consensus/genesis.js';
import { PelClient, PelRpcError } from '../sdk/client.js';
import { buildTransfer, DEFAULT_EXPIRY_BLOCKS, DEFAULT_GAS_LIMIT, DEFAULT_GAS_PRICE } from '../sdk/tx.js';
import { applyFlags, ConfigError, DEFAULT_CONFIG, flagArgs, flagHelpLines, HOME_JSON_KEYS, nodeFlagOptions, validateConfig, type NodeConfig } from './config.js';
import { PelNode } from './node.js';
import { tuneNodeHeap } from './heap.js';
import { MODULE_COMMANDS, runModuleCommand } from './cli-modules.js';
import { ParallelExecutor } from '../execution/parallel/executor.js';
import { DEFAULT_TESTNET_BLOCK_TIME_MS, initTestnet, loadHomeConfig } from './home.js';
import { join } from 'node:path';

class UsageError extends Error {}

const DEFAULT_TESTNET_DIR = join(process.env.PEL_HOME ?? join(homedir(), '.pel'), 'testnet');
const DEFAULT_RPC = process.env.PEL_RPC ?? `http://${DEFAULT_CONFIG.host}:${DEFAULT_CONFIG.port}`;

/** `items` joined with ', ', wrapped at `width` columns, each line indented. */
function wrapList(items: readonly string[], width: number, indent: string): string {
  const lines: string[] = [];
  let line = indent;
  for (const [i, item] of items.entries()) {
    const piece = item + (i < items.length - 1 ? ',' : '');
    if (line.length + piece.length + 1 > width && line.trim() !== '') {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += piece + ' ';
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

const HELP = `pel — a blockchain node with a Block-STM parallel execution layer

Usage: pel <command> [flags]

Commands:
  devnet                 run a local single-validator devnet node (npm start);
                         --validators N runs an N-validator BFT testnet instead
  testnet init           write node folders for an N-validator BFT network
  node --home DIR        run one node of a BFT network from its folder
  keys new [--json]      create a new Ed25519 key pair
  transfer               sign and submit a native coin transfer
  account ADDRESS        show an account's balance and nonce
  block [ID]             show a block (height, "latest" or hash)
  tx HASH                show a transaction and its receipt
  token | nft | dao | stake | fee <call|view>
                         module calls (signed txs) and views; 'pel token --help' lists them
  demo                   run the end-to-end module scenario against a running devnet
  bench rpc              end-to-end throughput over JSON-RPC against a fresh devnet
  bench ingest           measure ingestion alone (decode + verify), worker pool vs same thread
  bench verify           measure Ed25519 verification (built-in vs pure JS)
  bench executor         measure the executor on one block
  help [command]         show help

Run 'pel <command> --help' for the flags of a command.`;

const DEVNET_HELP = `pel devnet — run a local devnet node (single validator, funded dev accounts)

Flags (defaults in brackets):
${flagHelpLines('devnet').join('\n')}

Local BFT testnet (several validator processes; --host, --port, --data-dir, --in-memory,
--genesis and --mining do not apply, the other flags above are passed to every node):
  --validators N            run N validators (N >= 2), one process each [1 = the single-node devnet]
  --out DIR                 node folders [${DEFAULT_TESTNET_DIR}]
  --base-port P             node i: JSON-RPC on P + i, peers on P + 100 + i [${DEFAULT_CONFIG.port}]
  --block-time MS           wait MS after each commit before the next height (empty blocks too) [${DEFAULT_TESTNET_BLOCK_TIME_MS}]
  --reset                   write a new testnet (new keys, new chain) over the old one`;

const TESTNET_HELP = `pel testnet init — write the folders of an N-validator BFT network

Writes DIR/genesis.json (fresh random validator keys, funded dev accounts) and one folder
per node, DIR/node0 ... DIR/node<N-1>, each with config.json, genesis.json,
validator_key.json, node_key.json and data/. Node i serves JSON-RPC on P + i and listens
for peers on P + 100 + i; its config lists every other node as a peer. Run each node with
'pel node --home DIR/nodeI', or all of them with 'pel devnet --validators N --out DIR'.

Flags:
  --validators N      number of validators, 1..64 [4]
  --out DIR           output folder [${DEFAULT_TESTNET_DIR}]
  --base-port P       [${DEFAULT_CONFIG.port}]
  --accounts N        funded dev accounts [${DEFAULT_CONFIG.accounts}]
  --chain-id N        [${DEFAULT_CONFIG.chainId}]
  --block-time MS     after each commit, wait MS before the next height's first round
                      (CometBFT timeout_commit; empty blocks too) [${DEFAULT_TESTNET_BLOCK_TIME_MS}]
  --force             overwrite an existing testnet in DIR
  --json              print the nodes as JSON`;

const NODE_HELP = `pel node --home DIR — run one node of a BFT network from its folder

The folder (from 'pel testnet init') holds config.json, genesis.json, validator_key.json,
node_key.json and data/. Without validator_key.json the node follows the chain without voting.
config.json may hold (dotted = nested, "rpc": {"port": 8545}):
${wrapList(HOME_JSON_KEYS, 90, '  ')}

Flags (override config.json; defaults where config.json is silent in brackets):
  --home DIR                the node folder (required)
${flagHelpLines('node').join('\n')}`;

const TRANSFER_HELP = `pel transfer — sign and submit a native coin transfer

Flags:
  --rpc URL          node JSON-RPC URL [${DEFAULT_RPC}] (env PEL_RPC)
  --from SOURCE      dev account index (0, 1, ...) or a key file from 'pel keys new --json'
  --to ADDRESS       recipient, 0x + 40 hex digits
  --amount N         amount in base units (decimal)
  --gas-limit N      [${DEFAULT_GAS_LIMIT}]
  --gas-price N      [${DEFAULT_GAS_PRICE}]
  --nonce N          default: the account's nonce from the node
  --wait             wait until committed and print the receipt as JSON; exit 1 if the tx failed`;

function parse(args: string[], options: ParseArgsConfig['options'], allowPositionals = 0): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let r;
  try {
    r = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: allowPositionals > 0, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (r.positionals.length > allowPositionals) throw new UsageError(`unexpected argument ${r.positionals[allowPositionals]}`);
  return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
}

function intFlag(v: string | boolean | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(v);
}

function print(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
}

function loadKey(from: string): KeyPair {
  if (/^[0-9]+$/.test(from)) return devKeyPair(Number(from));
  let text: string;
  try {
    text = readFileSync(from, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`--from ${from}: not a dev account index and not a readable key file (${(e as Error).message})`);
  }
  const hex = text.startsWith('{') ? (JSON.parse(text) as { privateKey?: string }).privateKey : text;
  if (typeof hex !== 'string') throw new UsageError(`--from ${from}: key file has no privateKey`);
  return keyPairFromPrivateKey(fromHex(hex, 32, 'private key'));
}

async function cmdDevnet(args: string[]): Promise<number> {
  const { values: f } = parse(args, { ...nodeFlagOptions('devnet'), validators: { type: 'string' }, out: { type: 'string' }, 'base-port': { type: 'string' } });
  if (f.help) {
    console.log(DEVNET_HELP);
    return 0;
  }
  const d = DEFAULT_CONFIG;
  const validators = intFlag(f.validators, 'validators', 1);
  if (validators > 1) {
    for (const k of ['host', 'port', 'data-dir', 'in-memory', 'genesis', 'mining']) if (f[k] !== undefined) throw new UsageError(`--${k} does not apply with --validators (see pel devnet --help)`);
    // Every other flag pel node takes goes to each node; --reset here means a new testnet, not a node's reset.
    const extra = flagArgs(f, 'node', ['host', 'port', 'reset']);
    // Checked here, so a bad value fails now and names its flag, not in every node's log.
    const { config: forNodes, sources } = applyFlags(DEFAULT_CONFIG, f, 'node');
    validateConfig(forNodes, sources);
    const initOnly = ['accounts', 'chain-id', 'base-port'].filter((k) => f[k] !== undefined).map((k) => `--${k}`);
    const { runLocalTestnet } = await import('./testnet.js');
    return runLocalTestnet({
      validators, out: (f.out as string | undefined) ?? DEFAULT_TESTNET_DIR, basePort: intFlag(f['base-port'], 'base-port', d.port),
      accounts: intFlag(f.accounts, 'accounts', d.accounts), chainId: intFlag(f['chain-id'], 'chain-id', d.chainId),
      blockTimeMs: intFlag(f['block-time'], 'block-time', DEFAULT_TESTNET_BLOCK_TIME_MS), force: false, reset: f.reset === true, extraArgs: extra, initOnly,
    }, (line) => console.log(line));
  }
  for (const k of ['out', 'base-port']) if (f[k] !== undefined) throw new UsageError(`--${k} needs --validators N (N >= 2)`);
  const { config, sources } = applyFlags(DEFAULT_CONFIG, f, 'devnet');
  return serveNode(validateConfig(config, sources));
}

async function cmdTestnet(args: string[]): Promise<number> {
  const { values: f, positionals } = parse(args, {
    validators: { type: 'string' }, out: { type: 'string' }, 'base-port': { type: 'string' }, accounts: { type: 'string' },
    'chain-id': { type: 'string' }, 'block-time': { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
  }, 1);
  if (f.help || positionals[0] !== 'init') {
    console.log(TESTNET_HELP);
    return f.help ? 0 : 2;
  }
  const d = DEFAULT_CONFIG;
  const nodes = await initTestnet({
    validators: intFlag(f.validators, 'validators', 4), out: (f.out as string | undefined) ?? DEFAULT_TESTNET_DIR, basePort: intFlag(f['base-port'], 'base-port', d.port),
    accounts: intFlag(f.accounts, 'accounts', d.accounts), chainId: intFlag(f['chain-id'], 'chain-id', d.chainId),
    blockTimeMs: intFlag(f['block-time'], 'block-time', DEFAULT_TESTNET_BLOCK_TIME_MS), force: f.force === true,
  });
  if (f.json) print(nodes);
  else {
    for (const n of nodes) console.log(`node${n.index}  ${n.home}\n  RPC  http://127.0.0.1:${n.rpcPort}  peers /ip4/127.0.0.1/tcp/${n.p2pPort}/p2p/${n.peerId}\n  validator ${n.validatorAddress}`);
    console.log(`\nStart each with: pel node --home ${nodes[0]!.home.replace(/node0$/, 'nodeI')}`);
  }
  return 0;
}

async function cmdNode(args: string[]): Promise<number> {
  const { values: f } = parse(args, { home: { type: 'string' }, ...nodeFlagOptions('node') });
  if (f.help) {
    console.log(NODE_HELP);
    return 0;
  }
  if (typeof f.home !== 'string') throw new UsageError('--home DIR is required (make node folders with pel testnet init)');
  const home = await loadHomeConfig(f.home);
  const { config, sources } = applyFlags(home.config, f, 'node', home.sources);
  return serveNode(validateConfig(config, sources));
}

/** Starts a node, prints its banner, and stops it cleanly on SIGINT / SIGTERM. */
async function serveNode(config: NodeConfig): Promise<number> {
  const logger = createLogger(config.logLevel);
  logger.info('effective config', { ...config });
  const heapGrowingPercent = tuneNodeHeap();
  logger.info('heap tuning', heapGrowingPercent === null ? { heapGrowingPercent: 'set by the operator' } : { heapGrowingPercent });
  let exiting = false;
  const node = await PelNode.start(config, logger, {
    onFatal: (e) => {
      logger.error('fatal error, stopping: restart the node to recover from the last committed block', { error: String(e) });
      process.exit(1);
    },
  });
  const accounts = Array.from({ length: Math.min(config.accounts, 10) }, (_, i) => describeKeyPair(devKeyPair(i)));
  const executor = `${node.executor.name}${node.executor instanceof ParallelExecutor ? ` (${node.executor.workerCount} workers)` : ''}`;
  const lines = config.consensus === 'bft'
    ? [
      '',
      `pel node ${config.moniker}`,
      `  chain id      ${node.chain.genesis.chainId}`,
      `  RPC           ${node.rpcUrl}`,
      `  WebSocket     ${node.wsUrl}`,
      `  peer id       ${node.network?.peerId ?? ''}`,
      `  listening     ${(node.network?.listenAddresses ?? []).join(' ')}`,
      `  validator     ${node.validatorAddress ?? '(none: follower)'} of ${node.chain.genesis.validators.length}`,
      `  home          ${config.home}`,
      `  height        ${node.chain.height}`,
      `  executor      ${executor}`,
      `  blocks        BFT; next height ${config.blockTimeMs} ms after each commit (empty blocks allowed)`,
      '',
    ]
    : [
      '',
      'pel devnet',
      `  chain id      ${node.chain.genesis.chainId}`,
      `  RPC           ${node.rpcUrl}`,
      `  WebSocket     ${node.wsUrl}`,
      `  data dir      ${config.inMemory ? '(in memory)' : config.dataDir}`,
      `  height        ${node.chain.height}`,
      `  executor      ${executor}`,
      `  blocks        ${config.mining === 'manual' ? 'manual (dev_mine)' : `auto, at least ${config.blockTimeMs} ms apart`}, at most ${config.maxBlockTxs} txs`,
      '',
      'Dev accounts — PUBLIC test keys derived from the well-known seed "pel devnet account <i>".',
      'Anyone can sign with them: never send them anything of value outside a local devnet.',
      ...accounts.map((a, i) => `  (${i}) ${a.address}  balance ${DEVNET_ACCOUNT_BALANCE}\n      private key ${a.privateKey}`),
      config.accounts > 10 ? `  ... and ${config.accounts - 10} more (pel keys: index i = SHA-256("pel devnet account i"))` : '',
      ...(node.chain.genesis.indexAccounts ? [
        '',
        `State accounts — ${node.chain.genesis.indexAccounts.count} keyless accounts of ${node.chain.genesis.indexAccounts.balance} each (genesis indexAccounts):`,
        '  address of i = SHA-256("pel index account" || u64 LE i)[0..20]; nobody can sign for them, send to them freely.',
      ] : []),
      '',
      `Try: pel transfer --rpc ${node.rpcUrl} --from 0 --to ${accounts[1]?.address ?? '0x…'} --amount 1000 --wait`,
      '',
    ];
  process.stdout.write(lines.join('\n') + '\n');
  const shutdown = (signal: string): void => {
    if (exiting) return;
    exiting = true;
    logger.info(`${signal}: stopping`);
    node.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error('error while stopping', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  return new Promise<number>(() => undefined);
}

async function cmdKeys(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } }, 1);
  if (values.help || positionals[0] !== 'new') {
    console.log('pel keys new [--json] — create a new Ed25519 key pair (prints the private key: keep it secret)');
    return values.help ? 0 : 2;
  }
  const kp = describeKeyPair(generateKeyPair());
  if (values.json) print(kp);
  else console.log(`address     ${kp.address}\npublic key  ${kp.publicKey}\nprivate key ${kp.privateKey}`);
  return 0;
}

async function cmdTransfer(args: string[]): Promise<number> {
  const { values: f } = parse(args, {
    rpc: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, amount: { type: 'string' },
    'gas-limit': { type: 'string' }, 'gas-price': { type: 'string' }, nonce: { type: 'string' }, wait: { type: 'boolean' },
  });
  if (f.help) {
    console.log(TRANSFER_HELP);
    return 0;
  }
  if (typeof f.from !== 'string' || typeof f.to !== 'string' || typeof f.amount !== 'string') throw new UsageError('--from, --to and --amount are required (see pel transfer --help)');
  const key = loadKey(f.from);
  const to = parseAddress(f.to, '--to');
  const amount = parseAmount(f.amount, '--amount');
  const client = new PelClient((f.rpc as string | undefined) ?? DEFAULT_RPC);
  const info = await client.getInfo();
  const nonce = typeof f.nonce === 'string' ? parseU64(f.nonce, '--nonce') : BigInt((await client.getAccount(key.address)).nonce);
  const tx = buildTransfer({
    chainId: info.chainId, key, nonce, to, amount, expiry: BigInt(info.height) + DEFAULT_EXPIRY_BLOCKS,
    gasLimit: typeof f['gas-limit'] === 'string' ? parseU64(f['gas-limit'], '--gas-limit') : DEFAULT_GAS_LIMIT,
    gasPrice: typeof f['gas-price'] === 'string' ? parseU64(f['gas-price'], '--gas-price') : DEFAULT_GAS_PRICE,
  });
  if (!f.wait) {
    print(await client.sendRawTx(tx.raw));
    return 0;
  }
  const receipt = await client.sendRawTxAndWait(tx.raw);
  print(receipt);
  return receipt.status === 'success' ? 0 : 1;
}

async function cmdAccount(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { rpc: { type: 'string' } }, 1);
  if (values.help || positionals.length !== 1) {
    console.log('pel account ADDRESS [--rpc URL] — balance and nonce of an account');
    return values.help ? 0 : 2;
  }
  const address = formatAddress(parseAddress(positionals[0], 'ADDRESS'));
  print(await new PelClient((values.rpc as string | undefined) ?? DEFAULT_RPC).getAccount(address));
  return 0;
}

async function cmdBlock(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { rpc: { type: 'string' }, full: { type: 'boolean' }, receipts: { type: 'boolean' } }, 1);
  if (values.help) {
    console.log('pel block [HEIGHT | latest | HASH] [--full] [--receipts] [--rpc URL] — show a block');
    return 0;
  }
  const id = positionals[0] ?? 'latest';
  const client = new PelClient((values.rpc as string | undefined) ?? DEFAULT_RPC);
  const b = await client.request('block_get', [/^[0-9]+$/.test(id) ? Number(id) : id, { txs: values.full ? 'full' : 'hashes', receipts: values.receipts === true }]);
  if (b === null) {
    console.error(`no block ${id}`);
    return 1;
  }
  print(b);
  return 0;
}

async function cmdTx(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { rpc: { type: 'string' } }, 1);
  if (values.help || positionals.length !== 1) {
    console.log('pel tx HASH [--rpc URL] — a transaction, its status and its receipt');
    return values.help ? 0 : 2;
  }
  const client = new PelClient((values.rpc as string | undefined) ?? DEFAULT_RPC);
  const [tx, receipt] = await Promise.all([client.getTx(positionals[0]!), client.getReceipt(positionals[0]!)]);
  if (!tx) {
    console.error(`unknown transaction ${positionals[0]}`);
    return 1;
  }
  print({ tx, receipt });
  return 0;
}

async function cmdBench(args: string[]): Promise<number> {
  const sub = args[0];
  if (sub === 'verify') {
    const { runVerifyBench } = await import('../bench/verify.js');
    return runVerifyBench(args.slice(1));
  }
  if (sub === 'rpc') {
    const { runRpcBench } = await import('../bench/rpc.js');
    return runRpcBench(args.slice(1));
  }
  if (sub === 'executor') {
    const { runExecutorBenchCli } = await import('../bench/executor.js');
    return runExecutorBenchCli(args.slice(1));
  }
  if (sub === 'ingest') {
    const { runIngestBench } = await import('../bench/ingest.js');
    return runIngestBench(args.slice(1));
  }
  console.log('pel bench verify|executor|rpc|ingest [flags] — run with --help for the flags');
  return sub === undefined || sub === '--help' || sub === '-h' ? 0 : 2;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  devnet: cmdDevnet, testnet: cmdTestnet, node: cmdNode, keys: cmdKeys, transfer: cmdTransfer, account: cmdAccount, block: cmdBlock, tx: cmdTx, bench: cmdBench,
  demo: async (args) => (await import('./demo.js')).runDemo(args, DEFAULT_RPC),
  ...Object.fromEntries(Object.keys(MODULE_COMMANDS).map((c) => [c, (args: string[]) => runModuleCommand(c, args, { defaultRpc: DEFAULT_RPC, loadKey, print })])),
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    if (rest[0] && COMMANDS[rest[0]]) return COMMANDS[rest[0]]!(['--help']);
    console.log(HELP);
    return 0;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    console.error(`pel: unknown command '${cmd}'\n\n${HELP}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof ConfigError) {
      console.error(`pel: ${e.message}`);
      process.exitCode = 2;
    } else if (e instanceof PelRpcError) {
      console.error(`pel: RPC error ${e.code}${e.reason ? ` ${e.reason}` : ''}: ${e.message}`);
      process.exitCode = 1;
    } else if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
      console.error(`pel: ${(e as { code: string }).code}: ${e.message}`);
      process.exitCode = 1;
    } else {
      console.error(`pel: ${e instanceof Error ? (e.cause instanceof Error ? `${e.message} (${e.cause.message})` : e.message) : String(e)}`);
      process.exitCode = 1;
    }
  },
);
