import { generateKeyPair } from '@libp2p/crypto/keys';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface';
import { createLibp2p } from 'libp2p';
import { expect } from 'vitest';
import { Libp2pNetwork, type Libp2pNetworkOptions } from '../../../p2p/libp2p.js';
import { NetworkError } from '../../../p2p/types.js';
import { createLogger, silentLogger, type Logger } from '../../../protocol/logger.js';

export const CHAIN_ID = 7;
export const LOCAL = '/ip4/127.0.0.1/tcp/0';

/** Polls `cond` every 20 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A logger that keeps every line (for asserting that something was logged). */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', 'test', (l) => lines.push(l)), lines };
}

export interface NodeOptions extends Partial<Omit<Libp2pNetworkOptions, 'chainId'>> {
  /** Called for each registered topic before start(). */
  setup?: (net: Libp2pNetwork) => void;
}

/** Creates, sets up and starts a network on 127.0.0.1; `stopAll` stops everything started. */
export class Nodes {
  private readonly started: Libp2pNetwork[] = [];
  private readonly raws: Libp2p[] = [];

  async start(o: NodeOptions = {}): Promise<Libp2pNetwork> {
    const net = await Libp2pNetwork.create({
      chainId: CHAIN_ID,
      privateKey: o.privateKey ?? (await generateKeyPair('Ed25519')),
      listen: o.listen ?? [LOCAL],
      bootstrap: o.bootstrap ?? [],
      logger: o.logger ?? silentLogger,
      ...(o.gossipHeartbeatMs !== undefined ? { gossipHeartbeatMs: o.gossipHeartbeatMs } : {}),
      ...(o.syncServeTimeoutMs !== undefined ? { syncServeTimeoutMs: o.syncServeTimeoutMs } : {}),
      ...(o.maxSyncResponseBytes !== undefined ? { maxSyncResponseBytes: o.maxSyncResponseBytes } : {}),
      ...(o.peerBanMs !== undefined ? { peerBanMs: o.peerBanMs } : {}),
    });
    o.setup?.(net);
    this.started.push(net);
    await net.start();
    return net;
  }

  /** A bare libp2p node (TCP + noise + yamux, no identify, no gossipsub) for hand-made traffic. */
  async raw(key?: PrivateKey): Promise<Libp2p> {
    const node = await createLibp2p({
      ...(key ? { privateKey: key } : {}),
      addresses: { listen: [LOCAL] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    this.raws.push(node);
    return node;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.started.splice(0).map((n) => n.stop()), ...this.raws.splice(0).map((n) => n.stop())]);
  }
}

/** Both networks see each other subscribed to `topic` (so each has a gossip stream to the other). */
export async function waitGossipLink(a: Libp2pNetwork, b: Libp2pNetwork, topic: 'tx' | 'proposal' | 'vote'): Promise<void> {
  await waitFor(() => a.gossipPeers(topic).includes(b.peerId) && b.gossipPeers(topic).includes(a.peerId), `gossip link ${topic} ${a.peerId.slice(-6)} <-> ${b.peerId.slice(-6)}`);
}

/**
 * Both networks have each other in their `topic` mesh, so each relays that topic's messages to
 * the other as they arrive, in order (tests that show "not relayed" with a marker need this).
 */
export async function waitMeshLink(a: Libp2pNetwork, b: Libp2pNetwork, topic: 'tx' | 'proposal' | 'vote'): Promise<void> {
  await waitFor(() => a.meshPeers(topic).includes(b.peerId) && b.meshPeers(topic).includes(a.peerId), `mesh link ${topic} ${a.peerId.slice(-6)} <-> ${b.peerId.slice(-6)}`);
}

export function scoreOf(net: Libp2pNetwork, peerId: string): number | undefined {
  return net.peers().find((p) => p.peerId === peerId)?.score;
}

/** Reads a whole stream the simple way (client side: the answer only comes after our request). */
export async function readAll(stream: Stream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk.subarray());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export async function expectNetworkError(p: Promise<unknown>, code: NetworkError['code']): Promise<NetworkError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected NetworkError ${code}`).toBeInstanceOf(NetworkError);
  expect((caught as NetworkError).code, (caught as Error).message).toBe(code);
  return caught as NetworkError;
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
