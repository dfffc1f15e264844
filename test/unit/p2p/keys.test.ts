import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairFromSeed, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateNodeKey, peerIdFromNodeKeyFile, readNodeKey } from '../../../p2p/keys.js';
import { toHex } from '../../../protocol/hex.js';
import { expectNetworkError } from './helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pel-p2p-keys-'));
  dirs.push(d);
  return d;
}

describe('node key file', () => {
  it('is created once with mode 0600 and reloads to the same peer id', async () => {
    const file = join(await tempDir(), 'sub', 'node_key.json');
    const key = await loadOrCreateNodeKey(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const json = JSON.parse(await readFile(file, 'utf8')) as { type: string; privateKey: string };
    expect(json.type).toBe('Ed25519');
    expect(json.privateKey).toBe(toHex(privateKeyToProtobuf(key)));
    const again = await loadOrCreateNodeKey(file);
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(key).toString());
    expect(await peerIdFromNodeKeyFile(file)).toBe(peerIdFromPrivateKey(key).toString());
  });

  it('concurrent first starts agree on one key', async () => {
    const file = join(await tempDir(), 'node_key.json');
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateNodeKey(file)));
    const ids = new Set(keys.map((k) => peerIdFromPrivateKey(k).toString()));
    expect(ids.size).toBe(1);
    expect(await peerIdFromNodeKeyFile(file)).toBe([...ids][0]);
  });

  it('accepts a raw 32-byte seed', async () => {
    const file = join(await tempDir(), 'node_key.json');
    const seed = new Uint8Array(32).fill(9);
    await writeFile(file, JSON.stringify({ type: 'Ed25519', privateKey: toHex(seed) }), { mode: 0o600 });
    const expected = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seed)).toString();
    expect(peerIdFromPrivateKey(await loadOrCreateNodeKey(file)).toString()).toBe(expected);
  });

  it('a corrupt file is a NETWORK_CONFIG error naming the file, and is left alone', async () => {
    const dir = await tempDir();
    const cases: Record<string, string> = {
      'not-json': '{ nope',
      array: '[]',
      'wrong-type': JSON.stringify({ type: 'secp256k1', privateKey: '0x00' }),
      'no-key': JSON.stringify({ type: 'Ed25519' }),
      'not-hex': JSON.stringify({ type: 'Ed25519', privateKey: '0xzz' }),
      'bad-length': JSON.stringify({ type: 'Ed25519', privateKey: '0x' + '11'.repeat(17) }),
    };
    for (const [name, body] of Object.entries(cases)) {
      const file = join(dir, `${name}.json`);
      await writeFile(file, body);
      const err = await expectNetworkError(loadOrCreateNodeKey(file), 'NETWORK_CONFIG');
      expect(err.message).toContain(file);
      expect(await readFile(file, 'utf8')).toBe(body);
    }
  });

  it('reading a missing file is an error (only loadOrCreate creates)', async () => {
    const file = join(await tempDir(), 'missing.json');
    await expectNetworkError(readNodeKey(file), 'NETWORK_CONFIG');
    await expectNetworkError(peerIdFromNodeKeyFile(file), 'NETWORK_CONFIG');
  });
});
