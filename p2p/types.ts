/**
 * The network as consensus and the node see it: gossip topics whose messages are validated
 * before they are relayed, and one request/response protocol to fetch committed blocks.
 * p2p/ moves bytes; it does not decide what a block or a vote is. Two implementations:
 * `Libp2pNetwork` (TCP + noise + yamux + identify + gossipsub, what a node runs) and
 * `MemoryNetwork` (unit tests of consensus).
 */

/** Gossip topics. Each chain id gets its own topic names (`/pel/<chainId>/<topic>/1`). */
export type GossipTopic = 'tx' | 'proposal' | 'vote';
export const GOSSIP_TOPICS: readonly GossipTopic[] = ['tx', 'proposal', 'vote'];

/**
 * What a topic handler says of a message: `accept` (deliver done, relay it), `ignore` (not
 * relayed, no penalty: a duplicate or a message for an old height), `reject` (invalid: not
 * relayed and the sender is scored down).
 */
export type Verdict = 'accept' | 'ignore' | 'reject';

/** Handles one gossip message; `from` is the peer id (string) that relayed it. Must not throw. */
export type GossipHandler = (data: Uint8Array, from: string) => Verdict | Promise<Verdict>;

/** A committed block with its commit certificate, both in their canonical encodings. */
export interface SyncedBlock {
  readonly block: Uint8Array;
  readonly certificate: Uint8Array;
}

/** Sync request: blocks `from`.. (at most `max`, 0 = only report the head). */
export interface SyncRequest {
  readonly from: bigint;
  readonly max: number;
}

export interface SyncResponse {
  /** The responder's committed head height. */
  readonly head: bigint;
  /** Consecutive blocks starting at `from`, possibly fewer than asked (or none). */
  readonly blocks: readonly SyncedBlock[];
}

export type SyncHandler = (req: SyncRequest) => Promise<SyncResponse>;

export interface PeerInfo {
  readonly peerId: string;
  readonly addresses: readonly string[];
  /** Lower means misbehaving (gossipsub score where available). */
  readonly score: number;
}

/** Limits on what is accepted from the network. */
/**
 * 4 MiB less room for gossipsub's envelope: libp2p's length-prefixed encoder refuses frames
 * over 4 MiB when sending, so a message of a full 4 MiB would be dropped with only a log line.
 */
export const MAX_GOSSIP_MESSAGE_BYTES = 4 * 1024 * 1024 - 64 * 1024;
export const MAX_SYNC_BLOCKS = 64;
export const MAX_SYNC_RESPONSE_BYTES = 32 * 1024 * 1024;

export interface Network {
  /** This node's peer id as a string (base58btc, as libp2p prints it). */
  readonly peerId: string;
  /** Multiaddrs this node listens on (with /p2p/<peerId>). */
  readonly listenAddresses: readonly string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Registers the handler (validator and consumer in one) for a topic; call before start(). */
  onGossip(topic: GossipTopic, handler: GossipHandler): void;
  /** Publishes to a topic; never throws for lack of peers (the message is simply not delivered). */
  publish(topic: GossipTopic, data: Uint8Array): Promise<void>;
  /** Serves sync requests from peers; call before start(). */
  onSyncRequest(handler: SyncHandler): void;
  /** Asks one peer; rejects with a NetworkError on timeout, a reset stream or a malformed answer. */
  requestSync(peerId: string, req: SyncRequest, timeoutMs?: number): Promise<SyncResponse>;
  /** Connected peers. */
  peers(): PeerInfo[];
  /** Reports misbehaviour found after delivery (e.g. a sync response whose block fails to verify). */
  penalize(peerId: string, reason: string): void;
}

export class NetworkError extends Error {
  /** NETWORK_INVALID_ARGUMENT: the caller passed something unusable (an oversized message, max > MAX_SYNC_BLOCKS). */
  readonly code: 'NETWORK_TIMEOUT' | 'NETWORK_BAD_RESPONSE' | 'NETWORK_UNREACHABLE' | 'NETWORK_CONFIG' | 'NETWORK_INVALID_ARGUMENT';
  constructor(code: NetworkError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
    this.code = code;
  }
}
