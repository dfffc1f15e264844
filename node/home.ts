/**
 * Node folders (`pel testnet init`, `pel node --home DIR`). A folder holds everything one
 * node needs, so it can be copied to another machine:
 *
 *   DIR/config.json          node options (below); flags given to `pel node` override them
 *   DIR/genesis.json         the network's genesis (identical in every node folder)
 *   DIR/validator_key.json   this validator's Ed25519 consensus key (mode 0600)
 *   DIR/node_key.json        this node's libp2p identity (mode 0600; the peer id derives from it)
 *   DIR/data/                LevelDB
 *
 * Node i of a testnet made with --base-port P serves JSON-RPC on P + i and listens for peers
 * on P + 100 + i; its config lists every other node as a peer.
 */
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { fromHex } from '../protocol/hex.js';
import { describeKeyPair, generateKeyPair, keyPairFromPrivateKey, type KeyPair } from '../protocol/keys.js';
import { devnetGenesis, genesisToJson, type Genesis } from '../consensus/genesis.js';
import { loadOrCreateNodeKey } from '../p2p/keys.js';
import { applyHomeJson, ConfigError, DEFAULT_TESTNET_BLOCK_TIME_MS, homeJsonOf, NODE_HOME_DEFAULTS, type ConfigSources, type NodeConfig } from './config.js';

export { DEFAULT_TESTNET_BLOCK_TIME_MS };

export const HOME_FILES = {
  config: 'config.json',
  genesis: 'genesis.json',
  validatorKey: 'validator_key.json',
  nodeKey: 'node_key.json',
  data: 'data',
} as const;

export interface TestnetInitOptions {
  validators: number;
  out: string;
  basePort: number;
  accounts: number;
  chainId: number;
  blockTimeMs: number;
  /** Wipe an existing testnet in `out` first. */
  force: boolean;
}

export interface TestnetNodeInfo {
  readonly index: number;
  readonly home: string;
  readonly rpcPort: number;
  readonly p2pPort: number;
  readonly peerId: string;
  readonly validatorAddress: string;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

async function writeSecret(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
}

export async function loadValidatorKey(file: string): Promise<KeyPair> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read validator key ${file}: ${(e as Error).message}`);
  }
  try {
    const j = JSON.parse(text) as { privateKey?: unknown };
    if (typeof j.privateKey !== 'string') throw new Error('no "privateKey" string');
    return keyPairFromPrivateKey(fromHex(j.privateKey, 32, 'privateKey'));
  } catch (e) {
    throw new ConfigError(`validator key ${file} is not valid: ${(e as Error).message}`);
  }
}

/**
 * Writes a genesis shared by N validators (fresh random consensus keys, the usual funded dev
 * accounts) and one folder per node. Refuses to overwrite an existing testnet unless `force`.
 */
export async function initTestnet(o: TestnetInitOptions): Promise<TestnetNodeInfo[]> {
  if (!Number.isInteger(o.validators) || o.validators < 1 || o.validators > 64) throw new ConfigError('--validators must be an integer 1..64');
  if (!Number.isInteger(o.basePort) || o.basePort < 1 || o.basePort + 100 + o.validators > 65535) throw new ConfigError('--base-port leaves no room for RPC ports P+i and peer ports P+100+i below 65536');
  const out = resolve(o.out);
  if (await exists(join(out, 'node0'))) {
    if (!o.force) throw new ConfigError(`${out} already holds a testnet (node0 exists); use --force to wipe it`);
    for (let i = 0; ; i++) {
      const d = join(out, `node${i}`);
      if (!(await exists(d))) break;
      await rm(d, { recursive: true, force: true });
    }
  }
  await mkdir(out, { recursive: true });
  const keys = Array.from({ length: o.validators }, () => generateKeyPair());
  const base = devnetGenesis(o.accounts, o.chainId);
  const genesis: Genesis = { ...base, validators: keys.map((k) => ({ publicKey: k.publicKey, address: k.address })) };
  const genesisText = JSON.stringify(genesisToJson(genesis), null, 2) + '\n';
  await writeFile(join(out, HOME_FILES.genesis), genesisText);
  const nodes: TestnetNodeInfo[] = [];
  for (let i = 0; i < o.validators; i++) {
    const home = join(out, `node${i}`);
    await mkdir(join(home, HOME_FILES.data), { recursive: true });
    const nodeKey = await loadOrCreateNodeKey(join(home, HOME_FILES.nodeKey));
    const d = describeKeyPair(keys[i]!);
    await writeSecret(join(home, HOME_FILES.validatorKey), JSON.stringify({ address: d.address, publicKey: d.publicKey, privateKey: d.privateKey }, null, 2) + '\n');
    await writeFile(join(home, HOME_FILES.genesis), genesisText);
    nodes.push({ index: i, home, rpcPort: o.basePort + i, p2pPort: o.basePort + 100 + i, peerId: peerIdFromPrivateKey(nodeKey).toString(), validatorAddress: d.address });
  }
  for (const n of nodes) {
    // config.json: every key is optional (NODE_OPTIONS says which exist); missing ones take the node defaults.
    const cfg = homeJsonOf({
      moniker: `node${n.index}`,
      host: '127.0.0.1',
      port: n.rpcPort,
      p2pListen: [`/ip4/127.0.0.1/tcp/${n.p2pPort}`],
      peers: nodes.filter((p) => p.index !== n.index).map((p) => `/ip4/127.0.0.1/tcp/${p.p2pPort}/p2p/${p.peerId}`),
      blockTimeMs: o.blockTimeMs,
      executor: 'parallel',
      workers: 0,
    });
    await writeFile(join(n.home, HOME_FILES.config), JSON.stringify(cfg, null, 2) + '\n');
  }
  return nodes;
}

/**
 * Reads a node folder into a NodeConfig (the node defaults where config.json is silent) and
 * where each value came from, for validateConfig's messages.
 */
export async function loadHomeConfig(homeDir: string): Promise<{ config: NodeConfig; sources: ConfigSources }> {
  const home = resolve(homeDir);
  const file = join(home, HOME_FILES.config);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message} (make node folders with 'pel testnet init')`);
  }
  return applyHomeJson({
    ...NODE_HOME_DEFAULTS,
    home,
    dataDir: join(home, HOME_FILES.data),
    genesisPath: join(home, HOME_FILES.genesis),
    validatorKeyPath: join(home, HOME_FILES.validatorKey),
    nodeKeyPath: join(home, HOME_FILES.nodeKey),
  }, json, file);
}
