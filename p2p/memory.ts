/**
 * MemoryNetwork: an in-process network for consensus unit tests. A `MemoryHub` connects any
 * number of nodes; gossip is delivered asynchronously to every other connected node (each
 * node relays what it accepts, so a message reaches nodes that are only reachable through
 * others, as with gossipsub), and sync requests call the peer's handler directly.
 * Tests can partition nodes (`disconnect`) and drop or corrupt traffic with `filter`.
 */
import { toHexRaw } from '../protocol/hex.js';
import { sha256 } from '../protocol/hash.js';
import {
  NetworkError, type GossipHandler, type GossipTopic, type Network, type PeerInfo, type SyncHandler, type SyncRequest, type SyncResponse,
} from './types.js';

export type MemoryFilter = (from: string, to: string, topic: GossipTopic, data: Uint8Array) => boolean;

export class MemoryHub {
  readonly nodes = new Map<string, MemoryNetwork>();
  private readonly cut = new Set<string>();
  /** Return false to drop a delivery. */
  filter: MemoryFilter | null = null;

  create(peerId: string): MemoryNetwork {
    const n = new MemoryNetwork(this, peerId);
    this.nodes.set(peerId, n);
    return n;
  }

  private link(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  disconnect(a: string, b: string): void {
    this.cut.add(this.link(a, b));
  }

  reconnect(a: string, b: string): void {
    this.cut.delete(this.link(a, b));
  }

  /** Cuts every link of `peer` (as if its process died); `heal` undoes it. */
  isolate(peer: string): void {
    for (const other of this.nodes.keys()) if (other !== peer) this.disconnect(peer, other);
  }

  heal(peer: string): void {
    for (const other of this.nodes.keys()) if (other !== peer) this.reconnect(peer, other);
  }

  connected(a: string, b: string): boolean {
    const na = this.nodes.get(a);
    const nb = this.nodes.get(b);
    return a !== b && !!na?.running && !!nb?.running && !this.cut.has(this.link(a, b));
  }
}

export class MemoryNetwork implements Network {
  running = false;
  private readonly handlers = new Map<GossipTopic, GossipHandler>();
  private syncHandler: SyncHandler | null = null;
  private readonly seen = new Set<string>();
  readonly penalties: { peerId: string; reason: string }[] = [];

  constructor(private readonly hub: MemoryHub, readonly peerId: string) {}

  get listenAddresses(): readonly string[] {
    return [`/memory/${this.peerId}`];
  }

  async start(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
  }

  onGossip(topic: GossipTopic, handler: GossipHandler): void {
    this.handlers.set(topic, handler);
  }

  onSyncRequest(handler: SyncHandler): void {
    this.syncHandler = handler;
  }

  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    if (!this.running) return;
    this.seen.add(messageId(topic, data));
    this.relay(topic, data);
  }

  private relay(topic: GossipTopic, data: Uint8Array): void {
    for (const [id, peer] of this.hub.nodes) {
      if (!this.hub.connected(this.peerId, id)) continue;
      if (this.hub.filter && !this.hub.filter(this.peerId, id, topic, data)) continue;
      const copy = data.slice();
      setImmediate(() => void peer.deliver(topic, copy, this.peerId));
    }
  }

  private async deliver(topic: GossipTopic, data: Uint8Array, from: string): Promise<void> {
    if (!this.running) return;
    const id = messageId(topic, data);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    if (this.seen.size > 100_000) this.seen.clear();
    const h = this.handlers.get(topic);
    if (!h) return;
    const verdict = await h(data, from);
    if (verdict === 'accept') this.relay(topic, data);
    else if (verdict === 'reject') this.penalties.push({ peerId: from, reason: `rejected ${topic} message` });
  }

  async requestSync(peerId: string, req: SyncRequest): Promise<SyncResponse> {
    const peer = this.hub.nodes.get(peerId);
    if (!peer || !this.hub.connected(this.peerId, peerId) || !peer.syncHandler) throw new NetworkError('NETWORK_UNREACHABLE', `peer ${peerId} is not connected`);
    const res = await peer.syncHandler(req);
    return { head: res.head, blocks: res.blocks.map((b) => ({ block: b.block.slice(), certificate: b.certificate.slice() })) };
  }

  peers(): PeerInfo[] {
    return [...this.hub.nodes.keys()].filter((id) => this.hub.connected(this.peerId, id)).map((peerId) => ({ peerId, addresses: [`/memory/${peerId}`], score: 0 }));
  }

  penalize(peerId: string, reason: string): void {
    this.penalties.push({ peerId, reason });
  }
}

/**
 * Content-addressed ids: re-publishing identical bytes is a no-op, as with gossipsub's
 * seen-cache; a sender that wants a re-broadcast to travel must change the bytes.
 */
function messageId(topic: GossipTopic, data: Uint8Array): string {
  return topic + ':' + toHexRaw(sha256(data));
}

