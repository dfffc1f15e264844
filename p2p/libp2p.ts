/**
 * Libp2pNetwork: the `Network` a node runs. TCP + noise + yamux + identify + gossipsub, and
 * one request/response protocol for block sync. Nothing else: no mDNS, DHT, relay, UPnP or
 * peer exchange, so the node only ever talks to the addresses in its config and to peers
 * that dial it.
 *
 * libp2p v3 calls `Promise.withResolvers`, which Node 20 lacks. p2p/ must not import node/,
 * so this file relies on every entry point (the CLI, test/setup.ts) having imported
 * node/polyfills.js first.
 *
 * Gossip. Topic `/pel/<chainId>/<topic>/1`. Messages are unsigned (StrictNoSign) and their id
 * is SHA-256(topic | 0x00 | data), so identical bytes are one message, as in MemoryNetwork:
 * re-publishing them within gossipsub's seen window (2 min) is a silent no-op, even when the
 * first publish reached nobody (though a peer that joins our mesh within 3 heartbeats still
 * gets it, below). The registered handler is the gossipsub topic validator, so a
 * message is relayed only after the handler said 'accept'. We use topicValidators rather than
 * asyncValidation + reportMessageValidationResult: with asyncValidation a message waits in the
 * message cache, which only lives mcacheLength heartbeats (about 3.5 s here), so a handler
 * slower than that (a proposal that executes a block) would silently never be relayed.
 * Size: gossipsub's sender length-prefixes every RPC with a fixed 4 MiB cap, hence
 * MAX_GOSSIP_MESSAGE_BYTES is 4 MiB less 64 KiB of room for the envelope and piggybacked
 * control messages. An IWANT answer batches every requested message into one RPC, so two
 * near-limit messages asked for at once are not delivered that way; mesh catch-up splits its
 * announcements so that each answer fits, and heartbeat gossip is rare on a network where
 * every peer is in every mesh (below).
 *
 * Mesh catch-up (mesh-catch-up.ts). gossipsub relays a message only to the mesh peers of the
 * moment and gossips IHAVE only to peers outside the mesh, so a peer that is grafted just
 * after a message passed (on every new connection the dialled side grafts the dialer only
 * when the dialer's GRAFT arrives) would never get it. Each peer that joins one of our meshes
 * is therefore sent an IHAVE for that topic's messages of the last 3 heartbeats.
 *
 * Scoring. Only two score terms are on: P4 (invalid messages: each 'reject' counts, the
 * counter is squared and decays by 5 % a second) and P5 (application score: our own penalty
 * points from penalize()). Time-in-mesh and delivery-rate terms are off: on a small validator
 * network that is quiet between blocks they would reward or punish nothing but idleness, and
 * the IP-colocation term is off because local testnets put every node on 127.0.0.1. A peer
 * below 0 is not grafted into meshes, below -10 gets no IHAVE gossip, below -50 gets none of
 * our publishes, below -80 is ignored entirely (graylisted) until its score decays back.
 *
 * Penalties. penalize() adds 10 points that halve every minute and enter the score as P5
 * (weight -1). At 35 points (four penalties within about 20 s) the peer is disconnected
 * and banned for `peerBanMs`: inbound connections from it are refused and it is not redialled.
 * When the ban ends it is redialled like any other configured peer.
 *
 * Reconnecting. libp2p's own KEEP_ALIVE reconnect gives up after five attempts and never
 * retries a peer whose first dial failed, so configured (bootstrap) peers have an own loop:
 * every peer that is not connected is dialled, first immediately, then with backoff from
 * 0.5 s doubling to 2 s, for as long as the network runs. A restarted peer is back within
 * about 2 s.
 *
 * Sync wire format (`/pel/<chainId>/sync/1`), little-endian, with protocol/codec.ts:
 *   request  = u8 version(1) | u64 from | u16 max                      (max <= MAX_SYNC_BLOCKS)
 *   response = u8 version(1) | u8 status (0 ok, 1 bad request) | u64 head | u16 count
 *              | (u32 len | block | u32 len | certificate) * count
 * Framing: one request and one response per stream, each ended by its sender closing its
 * writable end (a yamux FIN), so the reader reads to end-of-stream. No length prefix is
 * needed; the reader caps what it buffers (64 bytes for a request, maxSyncResponseBytes for a
 * response) and resets the stream past the cap. A server replies with status 1 to a request
 * it cannot decode, and resets the stream if the handler fails or the request is oversized.
 */
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { gossipsub, TopicValidatorResult, type GossipSub, type GossipsubOpts, type Message, type TopicValidatorFn } from '@libp2p/gossipsub';
import { createPeerScoreParams, createTopicScoreParams, validatePeerScoreParams, type PeerScoreThresholds } from '@libp2p/gossipsub/score';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { Reader, U64_MAX, utf8, Writer } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import { sha256Concat } from '../protocol/hash.js';
import type { Logger } from '../protocol/logger.js';
import { meshCatchUpInternals, startMeshCatchUp, type MeshCatchUpInternals } from './mesh-catch-up.js';
import {
  GOSSIP_TOPICS, MAX_GOSSIP_MESSAGE_BYTES, MAX_SYNC_BLOCKS, MAX_SYNC_RESPONSE_BYTES, NetworkError,
  type GossipHandler, type GossipTopic, type Network, type PeerInfo, type SyncHandler, type SyncRequest, type SyncResponse, type SyncedBlock,
} from './types.js';

export interface Libp2pNetworkOptions {
  readonly chainId: number;
  /** The node key (p2p/keys.ts); the peer id derives from it. */
  readonly privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/26656` (port 0 picks a free port). */
  readonly listen: readonly string[];
  /** Peers to dial and keep connected, each with `/p2p/<peer id>`. */
  readonly bootstrap: readonly string[];
  readonly logger: Logger;
  /** Tuning knobs; defaults in LIBP2P_NETWORK_DEFAULTS. */
  readonly gossipHeartbeatMs?: number;
  readonly syncRequestTimeoutMs?: number;
  readonly syncServeTimeoutMs?: number;
  readonly maxSyncResponseBytes?: number;
  readonly peerBanMs?: number;
}

export const LIBP2P_NETWORK_DEFAULTS = {
  /** Short heartbeats so meshes form within a second of a (re)connect. */
  gossipHeartbeatMs: 700,
  /** requestSync's timeout when the caller gives none. */
  syncRequestTimeoutMs: 10_000,
  /** How long a server spends on one sync stream (reading, the handler, writing). */
  syncServeTimeoutMs: 10_000,
  maxSyncResponseBytes: MAX_SYNC_RESPONSE_BYTES,
  /** How long a peer stays disconnected after repeated penalties. */
  peerBanMs: 30_000,
  redialMinMs: 500,
  redialMaxMs: 2_000,
  dialTimeoutMs: 5_000,
} as const;

export const SYNC_PROTOCOL_VERSION = 1;
export const SYNC_STATUS_OK = 0;
export const SYNC_STATUS_BAD_REQUEST = 1;
const SYNC_REQUEST_BYTES = 1 + 8 + 2;
/** Anything longer is not a request; the cap keeps a junk sender from filling our memory. */
const MAX_SYNC_REQUEST_BYTES = 64;
const SYNC_RESPONSE_HEADER_BYTES = 1 + 1 + 8 + 2;

/** it-length-prefixed's fixed limit, which gossipsub's sender applies to every RPC frame. */
const GOSSIP_FRAME_LIMIT_BYTES = 4 * 1024 * 1024;
const RECONNECT_TICK_MS = 250;
const PENALTY_POINTS = 10;
const PENALTY_HALF_LIFE_MS = 60_000;
const DISCONNECT_PENALTY_POINTS = 35;
const BOOTSTRAP_TAG = 'pel-bootstrap';

export function topicName(chainId: number, topic: GossipTopic): string {
  return `/pel/${chainId}/${topic}/1`;
}

export function syncProtocol(chainId: number): string {
  return `/pel/${chainId}/sync/1`;
}

// ---------------------------------------------------------------------------------------------
// Sync codec

export function encodeSyncRequest(req: SyncRequest): Uint8Array {
  checkSyncRequest(req);
  return new Writer(SYNC_REQUEST_BYTES).u8(SYNC_PROTOCOL_VERSION).u64(req.from).u16(req.max).finish();
}

/** Throws ProtocolError on anything but a canonical version-1 request with max <= MAX_SYNC_BLOCKS. */
export function decodeSyncRequest(b: Uint8Array): SyncRequest {
  const r = new Reader(b, 'sync request');
  const version = r.u8('version');
  if (version !== SYNC_PROTOCOL_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `sync request: version ${version}, expected ${SYNC_PROTOCOL_VERSION}`);
  const from = r.u64('from');
  const max = r.u16('max');
  r.end();
  if (max > MAX_SYNC_BLOCKS) throw new ProtocolError('INVALID_VALUE', `sync request: max ${max} exceeds ${MAX_SYNC_BLOCKS}`);
  return { from, max };
}

/**
 * Encodes an ok response with as many of `res.blocks` as fit in `maxBlocks` and `maxBytes`
 * (a peer may always answer with fewer blocks than asked). `sent` says how many went in.
 */
export function encodeSyncResponse(res: SyncResponse, maxBlocks: number, maxBytes: number): { bytes: Uint8Array; sent: number } {
  let size = SYNC_RESPONSE_HEADER_BYTES;
  let sent = 0;
  for (const b of res.blocks.slice(0, Math.min(maxBlocks, MAX_SYNC_BLOCKS))) {
    if (!(b.block instanceof Uint8Array) || !(b.certificate instanceof Uint8Array)) throw new ProtocolError('INVALID_VALUE', 'sync response: blocks and certificates must be Uint8Arrays');
    const next = size + 8 + b.block.length + b.certificate.length;
    if (next > maxBytes) break;
    size = next;
    sent++;
  }
  const w = new Writer(size).u8(SYNC_PROTOCOL_VERSION).u8(SYNC_STATUS_OK).u64(res.head).u16(sent);
  for (let i = 0; i < sent; i++) w.bytes(res.blocks[i]!.block).bytes(res.blocks[i]!.certificate);
  return { bytes: w.finish(), sent };
}

export function encodeSyncBadRequest(): Uint8Array {
  return new Writer(SYNC_RESPONSE_HEADER_BYTES).u8(SYNC_PROTOCOL_VERSION).u8(SYNC_STATUS_BAD_REQUEST).u64(0n).u16(0).finish();
}

export interface DecodedSyncResponse {
  readonly status: number;
  readonly response: SyncResponse;
}

/** Throws ProtocolError unless `b` is one canonical response carrying at most `maxBlocks` blocks. */
export function decodeSyncResponse(b: Uint8Array, maxBlocks: number): DecodedSyncResponse {
  const r = new Reader(b, 'sync response');
  const version = r.u8('version');
  if (version !== SYNC_PROTOCOL_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `sync response: version ${version}, expected ${SYNC_PROTOCOL_VERSION}`);
  const status = r.u8('status');
  if (status !== SYNC_STATUS_OK && status !== SYNC_STATUS_BAD_REQUEST) throw new ProtocolError('INVALID_VALUE', `sync response: unknown status ${status}`);
  const head = r.u64('head');
  const count = r.u16('count');
  if (count > maxBlocks) throw new ProtocolError('INVALID_VALUE', `sync response: ${count} blocks, at most ${maxBlocks} were asked for`);
  const blocks: SyncedBlock[] = [];
  for (let i = 0; i < count; i++) {
    const block = r.bytes('block', b.length);
    const certificate = r.bytes('certificate', b.length);
    blocks.push({ block, certificate });
  }
  r.end();
  return { status, response: { head, blocks } };
}

function checkSyncRequest(req: SyncRequest): void {
  if (typeof req.from !== 'bigint' || req.from < 0n || req.from > U64_MAX) {
    throw new NetworkError('NETWORK_INVALID_ARGUMENT', `sync request: from must be a u64 bigint, got ${String(req.from)}`);
  }
  if (!Number.isInteger(req.max) || req.max < 0 || req.max > MAX_SYNC_BLOCKS) {
    throw new NetworkError('NETWORK_INVALID_ARGUMENT', `sync request: max must be an integer in 0..${MAX_SYNC_BLOCKS}, got ${req.max}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Stream helpers

class FrameTooLargeError extends Error {
  constructor(limit: number) {
    super(`frame exceeds ${limit} bytes`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * Reads until the remote closes its writable end. Not `for await (const chunk of stream)`:
 * v3's iterator ends on the 'remoteCloseWrite' event, which has already fired when the
 * remote sent its bytes and FIN before we started reading (likely for a server, since
 * libp2p runs protocol negotiation and a peer-store write before calling the handler), and
 * the iterator then waits for a 'close' that only comes after we close our own end. The
 * 'end' event plus `readableEnded` cover both orders.
 */
export function readStreamToEnd(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('end', onEnd);
      stream.removeEventListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        reject(err);
        return;
      }
      const out = new Uint8Array(size);
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      resolve(out);
    };
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }): void => {
      const bytes = evt.data.subarray();
      size += bytes.length;
      if (size > maxBytes) {
        const err = new FrameTooLargeError(maxBytes);
        finish(err);
        stream.abort(err);
        return;
      }
      chunks.push(bytes);
    };
    const onEnd = (): void => finish();
    const onClose = (evt: { error?: Error }): void => finish(evt.error);
    const onAbort = (): void => finish(signal.reason);
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    stream.addEventListener('message', onMessage);
    stream.addEventListener('end', onEnd);
    stream.addEventListener('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (stream.readableEnded) finish();
    else if (stream.status !== 'open' && stream.status !== 'closing') finish(new Error(`stream is ${stream.status}`));
  });
}

/** Sends one frame and closes our writable end (the frame's terminator). */
async function writeFrame(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain({ signal });
  await stream.close({ signal });
}

function abortStream(stream: Stream | undefined, err: Error): void {
  if (stream && stream.status !== 'closed' && stream.status !== 'aborted' && stream.status !== 'reset') stream.abort(err);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An AbortController that fires after `ms` (with `reason`) or when stop() aborts everything. */
interface Deadline {
  readonly signal: AbortSignal;
  readonly timedOut: () => boolean;
  readonly dispose: () => void;
}

// ---------------------------------------------------------------------------------------------
// The network

type Services = { identify: Identify; pubsub: GossipSub };

/** The parts of the gossipsub class its public `GossipSub` interface does not declare. */
interface GossipScoreApi {
  getScore(peerId: string): number;
}

interface BootstrapPeer {
  readonly id: string;
  readonly peerId: PeerId;
  /** Full addresses, with /p2p/<id>; a peer may be listed with several. */
  readonly addrs: Multiaddr[];
  dialing: boolean;
  nextDialAt: number;
  backoffMs: number;
}

interface Penalty {
  points: number;
  at: number;
}

export class Libp2pNetwork implements Network {
  readonly peerId: string;
  private state: 'created' | 'running' | 'stopped' = 'created';
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly handlers = new Map<GossipTopic, GossipHandler>();
  private syncHandler: SyncHandler | null = null;
  private readonly bootstrapPeers = new Map<string, BootstrapPeer>();
  private readonly penalties = new Map<string, Penalty>();
  private readonly bannedUntil = new Map<string, number>();
  private readonly deadlines = new Set<AbortController>();
  private redialTimer: NodeJS.Timeout | null = null;
  private node!: Libp2p<Services>;
  private meshInternals!: MeshCatchUpInternals;
  private stopMeshCatchUp: (() => void) | null = null;
  private readonly opts: Required<Omit<Libp2pNetworkOptions, 'privateKey' | 'logger'>>;

  private constructor(opts: Libp2pNetworkOptions) {
    this.peerId = peerIdFromPrivateKey(opts.privateKey).toString();
    this.log = opts.logger.child('p2p');
    this.opts = {
      chainId: opts.chainId,
      listen: [...opts.listen],
      bootstrap: [...opts.bootstrap],
      gossipHeartbeatMs: opts.gossipHeartbeatMs ?? LIBP2P_NETWORK_DEFAULTS.gossipHeartbeatMs,
      syncRequestTimeoutMs: opts.syncRequestTimeoutMs ?? LIBP2P_NETWORK_DEFAULTS.syncRequestTimeoutMs,
      syncServeTimeoutMs: opts.syncServeTimeoutMs ?? LIBP2P_NETWORK_DEFAULTS.syncServeTimeoutMs,
      maxSyncResponseBytes: opts.maxSyncResponseBytes ?? LIBP2P_NETWORK_DEFAULTS.maxSyncResponseBytes,
      peerBanMs: opts.peerBanMs ?? LIBP2P_NETWORK_DEFAULTS.peerBanMs,
    };
  }

  /** Builds the libp2p node (not started: register handlers, then call start()). */
  static async create(opts: Libp2pNetworkOptions): Promise<Libp2pNetwork> {
    if (!Number.isInteger(opts.chainId) || opts.chainId < 0 || opts.chainId > 0xffffffff) {
      throw new NetworkError('NETWORK_CONFIG', `chainId must be a u32, got ${opts.chainId}`);
    }
    if (opts.listen.length === 0) throw new NetworkError('NETWORK_CONFIG', 'no p2p listen address; give one such as /ip4/127.0.0.1/tcp/26656');
    const net = new Libp2pNetwork(opts);
    const listen = opts.listen.map((a) => parseMultiaddr(a, 'listen address'));
    for (const a of opts.bootstrap) net.addBootstrapPeer(a);
    net.node = await createLibp2p<Services>({
      start: false,
      privateKey: opts.privateKey,
      addresses: { listen: listen.map(String) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: (peer) => net.isBanned(peer.toString()),
        denyInboundEncryptedConnection: (peer) => net.isBanned(peer.toString()),
      },
      connectionManager: {
        dialTimeout: LIBP2P_NETWORK_DEFAULTS.dialTimeoutMs,
        // The default (5 inbound connections per second per IP) is hit by a local testnet, where
        // every peer is 127.0.0.1 and restarted peers are redialled by all others at once.
        // Configured peers' hosts are exempt from rate limits and connection pruning.
        inboundConnectionThreshold: 20,
        allow: allowListOf([...net.bootstrapPeers.values()].flatMap((p) => p.addrs)),
      },
      services: {
        identify: identify(),
        pubsub: gossipsub(net.gossipOptions()),
      },
    });
    try {
      net.meshInternals = meshCatchUpInternals(net.node.services.pubsub);
    } catch (cause) {
      throw new NetworkError('NETWORK_CONFIG', `cannot build the gossip layer: ${errorMessage(cause)}; install the @libp2p/gossipsub version in package-lock.json`, { cause });
    }
    return net;
  }

  get listenAddresses(): readonly string[] {
    if (this.state !== 'running') return [];
    const suffix = `/p2p/${this.peerId}`;
    return this.node.getMultiaddrs().map((a) => {
      const s = a.toString();
      return s.endsWith(suffix) ? s : s + suffix;
    });
  }

  start(): Promise<void> {
    if (this.state === 'stopped') return Promise.reject(new NetworkError('NETWORK_CONFIG', 'a stopped Libp2pNetwork cannot be restarted; create a new one'));
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    try {
      // Protocol handler, validators and peer addresses go in before the node listens, so
      // the first peer to connect finds everything in place.
      if (this.syncHandler) await this.handleSyncProtocol();
      for (const [topic, handler] of this.handlers) this.node.services.pubsub.topicValidators.set(topicName(this.opts.chainId, topic), this.validator(topic, handler));
      for (const p of this.bootstrapPeers.values()) {
        // So dialProtocol(peerId) (requestSync) knows where the peer is, and the connection
        // pruner keeps it.
        await this.node.peerStore.merge(p.peerId, { multiaddrs: p.addrs.map((a) => a.decapsulateCode(PROTOCOL_CODE_P2P)), tags: { [BOOTSTRAP_TAG]: { value: 100 } } });
      }
      await this.node.start();
    } catch (cause) {
      throw new NetworkError('NETWORK_CONFIG', `cannot start libp2p (listen ${this.opts.listen.join(', ')}): ${errorMessage(cause)}`, { cause });
    }
    if (this.state === 'stopped') return;
    this.state = 'running';
    this.node.addEventListener('peer:connect', this.onPeerConnect);
    this.node.addEventListener('peer:disconnect', this.onPeerDisconnect);
    this.stopMeshCatchUp = startMeshCatchUp(this.node.services.pubsub, this.meshInternals, this.log);
    // gossipsub refuses subscriptions before it has started.
    for (const [topic, handler] of this.handlers) this.installTopic(topic, handler);
    this.log.info('p2p started', { peerId: this.peerId, listen: this.listenAddresses, peers: [...this.bootstrapPeers.values()].flatMap((p) => p.addrs.map(String)) });
    this.redialTick();
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const wasRunning = this.state === 'running';
      this.state = 'stopped';
      // A start still under way finishes first (and sees the state), so stop() stops it all.
      await this.starting?.catch(() => undefined);
      if (this.redialTimer) clearTimeout(this.redialTimer);
      this.redialTimer = null;
      for (const d of this.deadlines) d.abort(new NetworkError('NETWORK_UNREACHABLE', 'the network was stopped'));
      this.deadlines.clear();
      this.node.removeEventListener('peer:connect', this.onPeerConnect);
      this.node.removeEventListener('peer:disconnect', this.onPeerDisconnect);
      this.stopMeshCatchUp?.();
      this.stopMeshCatchUp = null;
      await this.node.stop();
      if (wasRunning) this.log.info('p2p stopped');
    })();
    return this.stopping;
  }

  onGossip(topic: GossipTopic, handler: GossipHandler): void {
    checkTopic(topic);
    this.handlers.set(topic, handler);
    if (this.state === 'running') this.installTopic(topic, handler);
  }

  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    checkTopic(topic);
    if (!(data instanceof Uint8Array)) throw new NetworkError('NETWORK_INVALID_ARGUMENT', 'gossip data must be a Uint8Array');
    if (data.length > MAX_GOSSIP_MESSAGE_BYTES) {
      throw new NetworkError('NETWORK_INVALID_ARGUMENT', `${topic} message of ${data.length} bytes exceeds the gossip limit of ${MAX_GOSSIP_MESSAGE_BYTES} bytes`);
    }
    if (this.state !== 'running') return;
    try {
      await this.node.services.pubsub.publish(topicName(this.opts.chainId, topic), data);
    } catch (cause) {
      throw new NetworkError('NETWORK_UNREACHABLE', `cannot publish ${topic} message: ${errorMessage(cause)}`, { cause });
    }
  }

  onSyncRequest(handler: SyncHandler): void {
    const first = this.syncHandler === null;
    this.syncHandler = handler;
    if (first && this.state === 'running') {
      this.handleSyncProtocol().catch((err: unknown) => this.log.error('cannot register the sync protocol', { error: errorMessage(err) }));
    }
  }

  async requestSync(peerId: string, req: SyncRequest, timeoutMs: number = this.opts.syncRequestTimeoutMs): Promise<SyncResponse> {
    checkSyncRequest(req);
    if (this.state !== 'running') throw new NetworkError('NETWORK_UNREACHABLE', 'the network is not running');
    const peer = parsePeerId(peerId);
    const request = encodeSyncRequest(req);
    const deadline = this.deadline(timeoutMs);
    let stream: Stream | undefined;
    try {
      try {
        stream = await this.node.dialProtocol(peer, syncProtocol(this.opts.chainId), { signal: deadline.signal });
      } catch (cause) {
        if (deadline.timedOut()) throw timeoutError(peerId, timeoutMs, cause);
        if (cause instanceof NetworkError) throw cause;
        throw new NetworkError('NETWORK_UNREACHABLE', `cannot open a sync stream to ${peerId}: ${errorMessage(cause)}`, { cause });
      }
      let bytes: Uint8Array;
      try {
        await writeFrame(stream, request, deadline.signal);
        bytes = await readStreamToEnd(stream, this.opts.maxSyncResponseBytes, deadline.signal);
      } catch (cause) {
        if (deadline.timedOut()) throw timeoutError(peerId, timeoutMs, cause);
        if (cause instanceof NetworkError) throw cause;
        const why = cause instanceof FrameTooLargeError ? `the response exceeds ${this.opts.maxSyncResponseBytes} bytes` : `the stream failed (${errorMessage(cause)})`;
        throw new NetworkError('NETWORK_BAD_RESPONSE', `sync request to ${peerId}: ${why}`, { cause });
      }
      let decoded: DecodedSyncResponse;
      try {
        decoded = decodeSyncResponse(bytes, req.max);
      } catch (cause) {
        throw new NetworkError('NETWORK_BAD_RESPONSE', `sync request to ${peerId}: malformed response: ${errorMessage(cause)}`, { cause });
      }
      if (decoded.status !== SYNC_STATUS_OK) throw new NetworkError('NETWORK_BAD_RESPONSE', `sync request to ${peerId}: the peer answered "bad request" (status ${decoded.status})`);
      return decoded.response;
    } catch (err) {
      abortStream(stream, err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      deadline.dispose();
    }
  }

  peers(): PeerInfo[] {
    if (this.state !== 'running') return [];
    const byPeer = new Map<string, string[]>();
    for (const c of this.node.getConnections()) {
      if (c.status !== 'open') continue;
      const id = c.remotePeer.toString();
      const list = byPeer.get(id) ?? [];
      list.push(c.remoteAddr.toString());
      byPeer.set(id, list);
    }
    return [...byPeer.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([peerId, addresses]) => ({ peerId, addresses, score: this.scoreOf(peerId) }));
  }

  penalize(peerId: string, reason: string): void {
    const now = Date.now();
    const points = this.penaltyPoints(peerId, now) + PENALTY_POINTS;
    this.penalties.set(peerId, { points, at: now });
    this.log.warn('peer penalized', { peer: peerId, reason, penaltyPoints: Math.round(points) });
    if (points < DISCONNECT_PENALTY_POINTS || this.state !== 'running' || this.isBanned(peerId)) return;
    let peer: PeerId;
    try {
      peer = peerIdFromString(peerId);
    } catch {
      return;
    }
    this.bannedUntil.set(peerId, now + this.opts.peerBanMs);
    this.log.warn('disconnecting peer after repeated penalties', { peer: peerId, banMs: this.opts.peerBanMs });
    this.node.hangUp(peer).catch((err: unknown) => this.log.debug('hang up failed', { peer: peerId, error: errorMessage(err) }));
  }

  /**
   * Peers we know to subscribe to `topic` (their subscription reached us over their gossip
   * stream). Not part of `Network`: a readiness probe for tests and status output.
   */
  gossipPeers(topic: GossipTopic): string[] {
    if (this.state !== 'running') return [];
    return this.node.services.pubsub.getSubscribers(topicName(this.opts.chainId, topic)).map(String).sort();
  }

  /**
   * Peers in our gossipsub mesh for `topic`: those we relay its messages to as they arrive.
   * Not part of `Network`: a readiness probe for tests that rely on relay order.
   */
  meshPeers(topic: GossipTopic): string[] {
    if (this.state !== 'running') return [];
    return this.meshInternals.getMeshPeers(topicName(this.opts.chainId, topic)).slice().sort();
  }

  // -------------------------------------------------------------------------------------------
  // Gossip

  private gossipOptions(): Partial<GossipsubOpts> {
    const topicScore = createTopicScoreParams({
      topicWeight: 1,
      timeInMeshWeight: 0,
      firstMessageDeliveriesWeight: 0,
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: -10,
      invalidMessageDeliveriesDecay: 0.95,
    });
    const topics: Record<string, typeof topicScore> = {};
    for (const t of GOSSIP_TOPICS) topics[topicName(this.opts.chainId, t)] = topicScore;
    const scoreParams = createPeerScoreParams({
      topics,
      appSpecificScore: (peer: string) => -this.penaltyPoints(peer, Date.now()),
      appSpecificWeight: 1,
      IPColocationFactorWeight: 0,
      decayInterval: 1_000,
      decayToZero: 0.01,
    });
    validatePeerScoreParams(scoreParams);
    const scoreThresholds: PeerScoreThresholds = {
      gossipThreshold: -10,
      publishThreshold: -50,
      graylistThreshold: -80,
      acceptPXThreshold: 100,
      opportunisticGraftThreshold: 5,
    };
    return {
      globalSignaturePolicy: 'StrictNoSign',
      msgIdFn: (msg: Message) => sha256Concat(utf8(msg.topic), ZERO_BYTE, msg.data),
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      emitSelf: false,
      // Only meshsub: floodsub has no scoring and no validation hooks worth the name.
      fallbackToFloodsub: false,
      // Our own messages go to every subscribed peer, not only to the mesh.
      floodPublish: true,
      doPX: false,
      heartbeatInterval: this.opts.gossipHeartbeatMs,
      // Dlo 6: a node keeps every subscribed peer in its mesh while it has at most 6 peers,
      // so on a small validator network every relay reaches everyone.
      D: 8,
      Dlo: 6,
      Dhi: 12,
      Dout: 2,
      Dscore: 4,
      // A pruned peer may re-graft after 10 s, not the default minute: a restarted validator
      // should be back in the mesh quickly.
      pruneBackoff: 10_000,
      maxInboundDataLength: GOSSIP_FRAME_LIMIT_BYTES,
      allowedTopics: GOSSIP_TOPICS.map((t) => topicName(this.opts.chainId, t)),
      scoreParams,
      scoreThresholds,
    };
  }

  private installTopic(topic: GossipTopic, handler: GossipHandler): void {
    const pubsub = this.node.services.pubsub;
    const name = topicName(this.opts.chainId, topic);
    pubsub.topicValidators.set(name, this.validator(topic, handler));
    if (!pubsub.getTopics().includes(name)) pubsub.subscribe(name);
  }

  private validator(topic: GossipTopic, handler: GossipHandler): TopicValidatorFn {
    return async (from, msg) => {
      const peer = from.toString();
      if (msg.data.length > MAX_GOSSIP_MESSAGE_BYTES) {
        this.log.debug('oversized gossip message rejected', { topic, peer, bytes: msg.data.length });
        return TopicValidatorResult.Reject;
      }
      let verdict: unknown;
      try {
        // A copy: handlers may keep the bytes, and msg.data is a view into the whole RPC frame.
        verdict = await handler(msg.data.slice(), peer);
      } catch (err) {
        this.log.error('gossip handler threw; the message counts as rejected', { topic, peer, error: errorMessage(err) });
        return TopicValidatorResult.Reject;
      }
      switch (verdict) {
        case 'accept':
          return TopicValidatorResult.Accept;
        case 'ignore':
          return TopicValidatorResult.Ignore;
        case 'reject':
          this.log.debug('gossip message rejected', { topic, peer });
          return TopicValidatorResult.Reject;
        default:
          this.log.error('gossip handler returned no verdict; the message counts as rejected', { topic, peer, verdict: String(verdict) });
          return TopicValidatorResult.Reject;
      }
    };
  }

  private scoreOf(peerId: string): number {
    const pubsub = this.node.services.pubsub as unknown as Partial<GossipScoreApi>;
    if (typeof pubsub.getScore === 'function') return pubsub.getScore(peerId);
    return -this.penaltyPoints(peerId, Date.now());
  }

  private penaltyPoints(peerId: string, now: number): number {
    const p = this.penalties.get(peerId);
    if (!p) return 0;
    const points = p.points * Math.pow(0.5, (now - p.at) / PENALTY_HALF_LIFE_MS);
    if (points < 0.5) {
      this.penalties.delete(peerId);
      return 0;
    }
    return points;
  }

  private isBanned(peerId: string): boolean {
    const until = this.bannedUntil.get(peerId);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.bannedUntil.delete(peerId);
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Sync

  private async handleSyncProtocol(): Promise<void> {
    await this.node.handle(syncProtocol(this.opts.chainId), (stream, connection) => this.serveSync(stream, connection), {
      maxInboundStreams: 8,
      maxOutboundStreams: 8,
    });
  }

  /** Never throws: every failure ends in a reset stream and a log line. */
  private async serveSync(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    const deadline = this.deadline(this.opts.syncServeTimeoutMs);
    try {
      const bytes = await readStreamToEnd(stream, MAX_SYNC_REQUEST_BYTES, deadline.signal);
      let req: SyncRequest;
      try {
        req = decodeSyncRequest(bytes);
      } catch (err) {
        this.log.debug('malformed sync request', { peer, error: errorMessage(err) });
        await writeFrame(stream, encodeSyncBadRequest(), deadline.signal);
        return;
      }
      const handler = this.syncHandler;
      if (!handler) throw new Error('no sync handler');
      // Promise.resolve().then: a handler that throws synchronously is a rejection like any other.
      const res = await raceAbort(Promise.resolve().then(() => handler(req)), deadline.signal);
      const { bytes: out, sent } = encodeSyncResponse(res, req.max, this.opts.maxSyncResponseBytes);
      if (sent < Math.min(res.blocks.length, req.max)) {
        this.log.debug('sync response truncated to fit the size limit', { peer, asked: req.max, had: res.blocks.length, sent });
      }
      await writeFrame(stream, out, deadline.signal);
    } catch (err) {
      const why = deadline.timedOut() ? `timed out after ${this.opts.syncServeTimeoutMs} ms` : errorMessage(err);
      if (err instanceof FrameTooLargeError) this.log.debug('oversized sync request', { peer });
      else this.log.warn('sync request failed; stream reset', { peer, error: why });
      abortStream(stream, err instanceof Error ? err : new Error(why));
    } finally {
      deadline.dispose();
    }
  }

  /** A per-operation abort signal that fires after `ms`, or when the network stops. */
  private deadline(ms: number): Deadline {
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new NetworkError('NETWORK_TIMEOUT', `timed out after ${ms} ms`));
    }, ms);
    timer.unref();
    this.deadlines.add(ac);
    return {
      signal: ac.signal,
      timedOut: () => timedOut,
      dispose: () => {
        clearTimeout(timer);
        this.deadlines.delete(ac);
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Configured peers

  private addBootstrapPeer(address: string): void {
    const addr = parseMultiaddr(address, 'peer address');
    const idText = addr.getComponents().find((c) => c.name === 'p2p')?.value;
    if (!idText) throw new NetworkError('NETWORK_CONFIG', `peer address ${address} has no /p2p/<peer id>; the peer id is needed to authenticate the peer`);
    const peerId = parsePeerId(idText, 'NETWORK_CONFIG');
    const id = peerId.toString();
    // A shared peer list may include this node itself.
    if (id === this.peerId) return;
    const known = this.bootstrapPeers.get(id);
    if (known) {
      if (!known.addrs.some((a) => a.equals(addr))) known.addrs.push(addr);
      return;
    }
    this.bootstrapPeers.set(id, { id, peerId, addrs: [addr], dialing: false, nextDialAt: 0, backoffMs: LIBP2P_NETWORK_DEFAULTS.redialMinMs });
  }

  private redialTick(): void {
    if (this.state !== 'running') return;
    const now = Date.now();
    for (const p of this.bootstrapPeers.values()) {
      if (p.dialing || now < p.nextDialAt || this.isBanned(p.id)) continue;
      if (this.node.getConnections(p.peerId).some((c) => c.status === 'open')) continue;
      p.dialing = true;
      const deadline = this.deadline(LIBP2P_NETWORK_DEFAULTS.dialTimeoutMs);
      this.node
        .dial(p.addrs.length === 1 ? p.addrs[0]! : p.addrs, { signal: deadline.signal })
        .then(() => {
          p.backoffMs = LIBP2P_NETWORK_DEFAULTS.redialMinMs;
        })
        .catch((err: unknown) => {
          p.nextDialAt = Date.now() + p.backoffMs;
          p.backoffMs = Math.min(p.backoffMs * 2, LIBP2P_NETWORK_DEFAULTS.redialMaxMs);
          if (this.state === 'running') this.log.debug('dial failed', { peer: p.id, retryInMs: p.nextDialAt - Date.now(), error: errorMessage(err) });
        })
        .finally(() => {
          p.dialing = false;
          deadline.dispose();
        });
    }
    this.redialTimer = setTimeout(() => this.redialTick(), RECONNECT_TICK_MS);
    this.redialTimer.unref();
  }

  private readonly onPeerConnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    const p = this.bootstrapPeers.get(id);
    if (p) p.backoffMs = LIBP2P_NETWORK_DEFAULTS.redialMinMs;
    this.log.info('peer connected', { peer: id, configured: !!p });
  };

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    const p = this.bootstrapPeers.get(id);
    // Redial at the next tick: a peer that restarts is usually back within a second or two.
    if (p) p.nextDialAt = 0;
    this.log.info('peer disconnected', { peer: id, configured: !!p });
  };
}

const ZERO_BYTE = new Uint8Array([0]);
/** The multicodec of the /p2p/ component. */
const PROTOCOL_CODE_P2P = 421;

function checkTopic(topic: GossipTopic): void {
  if (!GOSSIP_TOPICS.includes(topic)) throw new NetworkError('NETWORK_INVALID_ARGUMENT', `unknown gossip topic ${JSON.stringify(topic)}; expected one of ${GOSSIP_TOPICS.join(', ')}`);
}

function parseMultiaddr(address: string, what: string): Multiaddr {
  try {
    return multiaddr(address);
  } catch (cause) {
    throw new NetworkError('NETWORK_CONFIG', `${what} ${JSON.stringify(address)} is not a valid multiaddr (e.g. /ip4/127.0.0.1/tcp/26656): ${errorMessage(cause)}`, { cause });
  }
}

function parsePeerId(text: string, code: NetworkError['code'] = 'NETWORK_INVALID_ARGUMENT'): PeerId {
  try {
    return peerIdFromString(text);
  } catch (cause) {
    throw new NetworkError(code, `${JSON.stringify(text)} is not a valid peer id: ${errorMessage(cause)}`, { cause });
  }
}

/** `/ip4/<host>` for each configured IP peer: exempt from the inbound rate limit and pruning. */
function allowListOf(addrs: readonly Multiaddr[]): string[] {
  const out = new Set<string>();
  for (const a of addrs) {
    const c = a.getComponents()[0];
    if (c && (c.name === 'ip4' || c.name === 'ip6') && c.value) out.add(`/${c.name}/${c.value}`);
  }
  return [...out];
}

function timeoutError(peerId: string, ms: number, cause: unknown): NetworkError {
  return new NetworkError('NETWORK_TIMEOUT', `sync request to ${peerId} timed out after ${ms} ms`, { cause });
}

/** Resolves or rejects with `p`, or rejects with the signal's reason first. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
