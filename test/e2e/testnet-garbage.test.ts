/**
 * Garbage from a hostile peer against a 4-validator testnet of real processes: undecodable
 * and oversized messages, forged signatures, votes from non-validators and for wrong
 * heights, on every gossip topic, plus junk and absurd requests on the sync protocol. Every
 * node keeps committing the same chain, none crashes, and the sender's score drops.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair as generateLibp2pKey } from '@libp2p/crypto/keys';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { describe, expect, it, vi } from 'vitest';
import { Writer, encodeBytesList } from '../../protocol/codec.js';
import { fromHex } from '../../protocol/hex.js';
import { generateKeyPair, keyPairFromPrivateKey } from '../../protocol/keys.js';
import { buildTransfer, devKeyPair } from '../../sdk/index.js';
import { encodeProposal, encodeVote, signProposal, signVote } from '../../consensus/bft/messages.js';
import { Libp2pNetwork, syncProtocol } from '../../p2p/libp2p.js';
import { silentLogger } from '../../protocol/logger.js';
import { makeBlock } from '../../protocol/block.js';
import { useE2eCleanup, waitFor } from './harness.js';
import { heightOf, startTestnet, waitHeights } from './testnet-harness.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });
useE2eCleanup();

const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 256));

describe('4-validator testnet under garbage', () => {
  it('rejects garbage on every gossip topic and the sync protocol; nobody crashes or stalls', async () => {
    const net = await startTestnet(4, 400);
    await waitHeights(net, [0, 1, 2, 3], 2);
    const info = await net.clients[0]!.getInfo();
    const chainId = info.chainId;

    const attacker = await Libp2pNetwork.create({
      chainId, privateKey: await generateLibp2pKey('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [0, 1, 2, 3].map((i) => net.peerAddr(i)), logger: silentLogger,
    });
    for (const t of ['tx', 'proposal', 'vote'] as const) attacker.onGossip(t, () => 'ignore');
    await attacker.start();
    try {
      await waitFor(() => ['tx', 'proposal', 'vote'].every((t) => attacker.gossipPeers(t as 'vote').length === 4), { timeoutMs: 30_000, what: 'attacker in every mesh' });

      const h = BigInt(await heightOf(net.clients[0]!)) + 1n;
      const v0 = keyPairFromPrivateKey(fromHex((JSON.parse(await readFile(join(net.dir, 'node0', 'validator_key.json'), 'utf8')) as { privateKey: string }).privateKey, 32));
      const outsider = generateKeyPair();
      const nil = new Uint8Array(32);
      const vote = (o: { height?: bigint; index?: number; key?: Uint8Array; type?: 'prevote' | 'precommit'; chain?: number }): Uint8Array =>
        encodeVote(signVote({ type: o.type ?? 'prevote', chainId: o.chain ?? chainId, height: o.height ?? h, round: 0, blockHash: random(32), validatorIndex: o.index ?? 0 }, o.key ?? v0.privateKey));
      const badSig = encodeVote({ type: 'precommit', chainId, height: h, round: 0, blockHash: nil, validatorIndex: 1, signature: random(64) });
      const garbage: [('tx' | 'proposal' | 'vote'), Uint8Array][] = [
        ['vote', random(40)],
        ['vote', new Uint8Array(0).fill(0)],
        ['vote', badSig],
        ['vote', vote({ index: 9, key: outsider.privateKey })], // not a validator index
        ['vote', vote({ index: 2, key: outsider.privateKey })], // a validator's index, someone else's key
        ['vote', vote({ height: h + 1_000_000n })], // validly signed, absurd height
        ['vote', vote({ height: 1n })], // validly signed, old height
        ['vote', vote({ chain: chainId + 1 })], // another chain
        ['proposal', random(1000)],
        ['proposal', random(3 * 1024 * 1024)], // large and undecodable
        ['tx', random(500)],
        ['tx', encodeBytesList([random(200), random(10)])],
      ];
      // A well-formed proposal signed by someone who is not the round's proposer, and one whose block is garbage under a valid-looking header.
      const parent = (await net.clients[0]!.request('block_get', [Number(h - 1n), { txs: 'none' }])) as { hash: string; header: { timestamp: number } };
      const header = {
        chainId, height: h, parentHash: fromHex(parent.hash, 32), timestamp: BigInt(parent.header.timestamp) + 1n, proposer: outsider.address,
        txRoot: random(32), receiptsRoot: random(32), stateRoot: random(32), txCount: 0, gasUsed: 0n,
      };
      garbage.push(['proposal', encodeProposal(signProposal({ chainId, height: h, round: 0, polRound: -1, proposerIndex: 0, block: makeBlock(header, []) }, outsider.privateKey))]);
      // A tx batch with one forged signature among valid txs.
      const good = buildTransfer({ chainId, key: devKeyPair(5), nonce: 0n, to: outsider.address, amount: 1n, expiry: h + 1000n, gasLimit: 100_000n, gasPrice: 1n });
      const forged = good.raw.slice();
      forged[forged.length - 1]! ^= 1;
      garbage.push(['tx', encodeBytesList([forged])]);
      for (const [topic, data] of garbage) await attacker.publish(topic, data);

      // Sync protocol: absurd ranges through the real client, junk on raw streams.
      const target = net.infos[1]!.peerId;
      await waitFor(() => attacker.peers().some((p) => p.peerId === target), { what: 'attacker connected to node1' });
      const far = await attacker.requestSync(target, { from: (1n << 64n) - 1n, max: 64 });
      expect(far.blocks).toHaveLength(0);
      const zero = await attacker.requestSync(target, { from: 0n, max: 64 }).catch((e: unknown) => e);
      expect(zero).toBeDefined();
      const raw = await createLibp2p({ privateKey: await generateLibp2pKey('Ed25519'), addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
      try {
        for (const junk of [random(3), random(64), new Writer(16).u8(9).u64(1n).u16(65535).finish(), random(100_000)]) {
          const stream = await raw.dialProtocol(multiaddr(net.peerAddr(1)), syncProtocol(chainId));
          try {
            stream.send(junk);
            await stream.close();
          } catch {
            // the server may reset first: that is an acceptable answer to junk
          }
        }
      } finally {
        await raw.stop();
      }

      // Every node keeps committing the same chain, and still answers sync requests.
      const before = Math.max(...(await Promise.all(net.clients.map(heightOf))));
      await waitHeights(net, [0, 1, 2, 3], before + 3);
      for (const n of net.nodes) expect(n.proc.exitCode, 'node process alive').toBeNull();
      const upTo = Math.min(...(await Promise.all(net.clients.map(heightOf))));
      for (let k = 1; k <= upTo; k++) {
        const hashes = await Promise.all(net.clients.map(async (c) => ((await c.request('block_get', [k, { txs: 'none' }])) as { hash: string }).hash));
        expect(new Set(hashes).size, `one block at height ${k}`).toBe(1);
      }
      const ok = await attacker.requestSync(target, { from: 1n, max: 2 });
      expect(ok.blocks).toHaveLength(2);
      // The forged tx was not admitted anywhere, and the valid tx in the same stream of garbage was not harmed.
      expect(await net.clients[3]!.getReceipt('0x' + Buffer.from(good.hash).toString('hex'))).toBeNull();
      // The nodes scored the attacker down.
      const scores = await Promise.all(net.clients.map(async (c) => ((await c.request('net_peers', [])) as { peerId: string; score: number }[]).find((p) => p.peerId === attacker.peerId)?.score));
      expect(scores.some((s) => s !== undefined && s < 0), `attacker scores ${JSON.stringify(scores)}`).toBe(true);
    } finally {
      await attacker.stop();
    }
  });
});
