/**
 * The node key: the libp2p identity of a node folder (`node_key.json`), distinct from the
 * validator's consensus key. The peer id derives from it, so peers' configs name this node
 * by it; losing or regenerating the file changes the peer id and breaks their configs.
 *
 * File format: `{ "type": "Ed25519", "privateKey": "0x<hex>" }` where the hex is either the
 * libp2p protobuf-marshalled private key (what this module writes) or a raw 32-byte Ed25519
 * seed (accepted so an operator can derive a key from their own entropy). Mode 0600.
 */
import { link, mkdir, readFile, stat, unlink, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { fromHex, toHex } from '../protocol/hex.js';
import { NetworkError } from './types.js';

export interface NodeKeyFile {
  readonly type: 'Ed25519';
  /** 0x-hex of the protobuf-marshalled libp2p private key, or of a raw 32-byte seed. */
  readonly privateKey: string;
}

const ED25519_SEED_BYTES = 32;

/** Encodes a key as the JSON text of a node key file. */
export function encodeNodeKeyFile(key: PrivateKey): string {
  if (key.type !== 'Ed25519') throw new NetworkError('NETWORK_CONFIG', `node keys are Ed25519, got ${key.type}`);
  const file: NodeKeyFile = { type: 'Ed25519', privateKey: toHex(privateKeyToProtobuf(key)) };
  return JSON.stringify(file, null, 2) + '\n';
}

/** Parses the JSON text of a node key file; `file` only names it in error messages. */
export async function decodeNodeKeyFile(text: string, file = 'node key file'): Promise<PrivateKey> {
  const bad = (why: string, cause?: unknown): NetworkError =>
    new NetworkError('NETWORK_CONFIG', `${file}: ${why}; expected {"type":"Ed25519","privateKey":"0x..."} (delete the file to generate a new key, which changes the peer id)`, { cause });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw bad('not valid JSON', cause);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const { type, privateKey } = json as Record<string, unknown>;
  if (type !== 'Ed25519') throw bad(`unsupported key type ${JSON.stringify(type)}`);
  if (typeof privateKey !== 'string') throw bad('"privateKey" is missing or not a string');
  let bytes: Uint8Array;
  try {
    bytes = fromHex(privateKey, undefined, 'privateKey');
  } catch (cause) {
    throw bad('"privateKey" is not hex', cause);
  }
  try {
    if (bytes.length === ED25519_SEED_BYTES) return await generateKeyPairFromSeed('Ed25519', bytes);
    const key = privateKeyFromProtobuf(bytes);
    if (key.type !== 'Ed25519') throw bad(`the protobuf key is ${key.type}, not Ed25519`);
    return key;
  } catch (cause) {
    if (cause instanceof NetworkError) throw cause;
    throw bad(`"privateKey" is neither a 32-byte seed nor a libp2p protobuf private key (${bytes.length} bytes)`, cause);
  }
}

/** Reads an existing node key file; NETWORK_CONFIG if it is missing or corrupt. */
export async function readNodeKey(file: string): Promise<PrivateKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new NetworkError('NETWORK_CONFIG', `cannot read node key file ${file}: ${(cause as Error).message}`, { cause });
  }
  return decodeNodeKeyFile(text, file);
}

/**
 * Returns the key stored in `file`, creating the file (mode 0600, parent folders as needed)
 * with a fresh Ed25519 key when it does not exist. A corrupt file is an error, never silently
 * replaced: a new key would give the node a new peer id.
 */
export async function loadOrCreateNodeKey(file: string): Promise<PrivateKey> {
  if (await exists(file)) return readNodeKey(file);
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(file), { recursive: true });
  // Write a temporary file and hard-link it into place: the link fails if another process
  // created the key meanwhile, and a reader never sees a half-written file.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, encodeNodeKeyFile(key), { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600);
    await link(tmp, file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return readNodeKey(file);
    throw new NetworkError('NETWORK_CONFIG', `cannot write node key file ${file}: ${(cause as Error).message}`, { cause });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return key;
}

/** The peer id (base58btc string) of a key, as peers write it in `/p2p/<id>`. */
export function peerIdOfKey(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}

/** The peer id of a node folder's key file without starting libp2p (for CLIs). */
export async function peerIdFromNodeKeyFile(file: string): Promise<string> {
  return peerIdOfKey(await readNodeKey(file));
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new NetworkError('NETWORK_CONFIG', `cannot access node key file ${file}: ${(cause as Error).message}`, { cause });
  }
}
