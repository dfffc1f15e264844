/**
 * SimHub / SimNetwork: p2p/memory.ts's in-memory network with every delivery scheduled on a
 * VirtualClock, so a test decides when messages arrive and can reach an idle point. Same
 * model as MemoryHub: gossip goes to every connected node, each node relays what its handler
 * accepts (so a message reaches nodes only reachable through others, as with gossipsub),
 * identical bytes are one message, and sync requests call the peer's handler directly.
 *
 * A delivery is a clock callback: by default due at once (ties in send order), or after the
 * delay `schedule` picks, or never. A link cut while a message is on it loses the message.
 */
import { sha256 } from '../../../../protocol/hash.js';
import { toHexRaw } from '../../../../protocol/hex.js';
import {
  NetworkError, type GossipHandler, type GossipTopic, type Network, type PeerInfo, type SyncHandler, type SyncRequest, type SyncResponse,
} from '../../../../p2p/types.js';
import type { VirtualClock } from '../../../../consensus/bft/clock.js';

export interface Delivery {
  readonly from: string;
  readonly to: string;
  readonly topic: GossipTopic;
  readonly data: Uint8Array;
}

/** Virtual ms until the delivery arrives, or 'drop'. */
export type DeliverySchedule = (d: Delivery) => number | 'drop';

export class SimHub {
  readonly nodes = new Map<string, SimNetwork>();
  /** Decides each delivery's fate; null delivers everything at once. */
  schedule: DeliverySchedule | null = null;
  private readonly cut = new Set<string>();
  private flying = 0;

  constructor(readonly clock: VirtualClock) {}

  /** Creates (or, after a restart, replaces) the node's network. */
  create(peerId: string): SimNetwork {
    const n = new SimNetwork(this, peerId);
    this.nodes.set(peerId, n);
    return n;
  }

  /** Messages sent and neither delivered nor lost yet. */
  get inFlight(): number {
    return this.flying;
  }

  /**
   * The idle point: every message due by now delivered (and what it set off), no clock callback
   * due at the current virtual time. With the default schedule that is also no message in flight.
   */
  idle(): Promise<void> {
    return this.clock.runUntilIdle();
  }

  disconnect(a: string, b: string): void {
    this.cut.add(link(a, b));
  }

  reconnect(a: string, b: string): void {
    this.cut.delete(link(a, b));
  }

  /** Cuts every link of `peer`; `heal` undoes it. */
  isolate(peer: string): void {
    for (const other of this.nodes.keys()) if (other !== peer) this.disconnect(peer, other);
  }

  heal(peer: string): void {
    for (const other of this.nodes.keys()) if (other !== peer) this.reconnect(peer, other);
  }

  connected(a: string, b: string): boolean {
    const na = this.nodes.get(a);
    const nb = this.nodes.get(b);
    return a !== b && !!na?.running && !!nb?.running && !this.cut.has(link(a, b));
  }

  /** @internal SimNetwork's relay. */
  send(from: string, topic: GossipTopic, data: Uint8Array): void {
    for (const to of this.nodes.keys()) {
      if (!this.connected(from, to)) continue;
      const d: Delivery = { from, to, topic, data: data.slice() };
      const fate = this.schedule ? this.schedule(d) : 0;
      if (fate === 'drop') continue;
      const peer = this.nodes.get(to)!;
      this.flying++;
      this.clock.setTimeout(() => void this.arrive(peer, d), fate);
    }
  }

  private async arrive(peer: SimNetwork, d: Delivery): Promise<void> {
    try {
      // Lost if the link was cut or either end stopped meanwhile (a restart closes its connections).
      if (this.nodes.get(d.to) === peer && this.connected(d.from, d.to)) await peer.deliver(d.topic, d.data, d.from);
    } finally {
      this.flying--;
    }
  }
}

export class SimNetwork implements Network {
  running = false;
  readonly penalties: { peerId: string; reason: string }[] = [];
  private readonly handlers = new Map<GossipTopic, GossipHandler>();
  private syncHandler: SyncHandler | null = null;
  private readonly seen = new Set<string>();

  constructor(private readonly hub: SimHub, readonly peerId: string) {}

  get listenAddresses(): readonly string[] {
    return [`/sim/${this.peerId}`];
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
    this.hub.send(this.peerId, topic, data);
  }

  /** @internal SimHub's delivery. */
  async deliver(topic: GossipTopic, data: Uint8Array, from: string): Promise<void> {
    if (!this.running) return;
    const id = messageId(topic, data);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    const h = this.handlers.get(topic);
    if (!h) return;
    const verdict = await h(data, from);
    if (verdict === 'accept') this.hub.send(this.peerId, topic, data);
    else if (verdict === 'reject') this.penalties.push({ peerId: from, reason: `rejected ${topic} message` });
  }

  async requestSync(peerId: string, req: SyncRequest): Promise<SyncResponse> {
    const peer = this.hub.nodes.get(peerId);
    if (!peer || !this.hub.connected(this.peerId, peerId) || !peer.syncHandler) throw new NetworkError('NETWORK_UNREACHABLE', `peer ${peerId} is not connected`);
    const res = await peer.syncHandler(req);
    return { head: res.head, blocks: res.blocks.map((b) => ({ block: b.block.slice(), certificate: b.certificate.slice() })) };
  }

  peers(): PeerInfo[] {
    return [...this.hub.nodes.keys()].filter((id) => this.hub.connected(this.peerId, id)).map((peerId) => ({ peerId, addresses: [`/sim/${peerId}`], score: 0 }));
  }

  penalize(peerId: string, reason: string): void {
    this.penalties.push({ peerId, reason });
  }
}

function link(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Content-addressed, as gossipsub's message ids: re-publishing identical bytes is a no-op. */
function messageId(topic: GossipTopic, data: Uint8Array): string {
  return topic + ':' + toHexRaw(sha256(data));
}
