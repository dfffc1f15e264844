/**
 * BlockSync: gets a node that fell behind (or starts empty) to the network's head, and serves
 * committed blocks to peers that are behind.
 *
 * Serving: a sync request gets this node's head and up to min(max, MAX_SYNC_BLOCKS)
 * consecutive blocks from `from`, each with its commit certificate. Genesis (height 0) has no
 * certificate and is never served (every node derives it from the genesis document), and a
 * block committed without a certificate (single-validator producer) ends the run: a peer could
 * not verify it.
 *
 * Catching up: a pass asks every connected peer for its head (`max: 0`), then, while some peer
 * claims more than ours, fetches batches from the highest one. Each block must decode, be at
 * the height asked for, carry a certificate with a quorum of the genesis validators' precommit
 * signatures for its hash, and re-execute to its header (tx signatures, state root, ...) before
 * the app commits it. A peer whose answer fails any check is penalised, benched for a while and
 * the next peer is tried; a peer that errors or times out is skipped for the pass. Nothing that
 * failed a check is committed: the app executes and commits each block in one queue job.
 * Passes never overlap; a trigger during a pass runs one more pass after it.
 */
import { decodeBlock, type Block } from '../protocol/block.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Logger } from '../protocol/logger.js';
import type { SignatureVerifier } from '../protocol/verify.js';
import { MAX_SYNC_BLOCKS, MAX_SYNC_RESPONSE_BYTES, type Network, type SyncedBlock, type SyncRequest, type SyncResponse } from '../p2p/types.js';
import { ChainError } from './chain.js';
import { decodeCertificate, verifyCertificate, type CommitCertificate, type ValidatorSet } from './bft/messages.js';
import { BlockValidationError } from './bft/types.js';

export interface BlockSyncOptions {
  /** How often to ask peers for their head when nothing else triggers a pass (ms). */
  pollMs: number;
  /** Timeout of one sync request (ms). */
  requestTimeoutMs: number;
  /** Blocks asked for per request (at most MAX_SYNC_BLOCKS). */
  batchSize: number;
  /** How long a penalised peer is not asked again (ms). */
  penaltyBackoffMs: number;
}

export const DEFAULT_BLOCK_SYNC_OPTIONS: BlockSyncOptions = { pollMs: 2_000, requestTimeoutMs: 10_000, batchSize: MAX_SYNC_BLOCKS, penaltyBackoffMs: 60_000 };

/** What sync needs from the app to commit a block (ChainBftApp implements it). */
export interface BlockImporter {
  readonly chainId: number;
  readonly validators: ValidatorSet;
  head(): { height: bigint };
  /**
   * Verifies tx signatures, executes and commits `block` as head + 1 in one serialised job;
   * 'known' when the block is already committed. Throws BlockValidationError for an invalid
   * block, ChainError NOT_NEXT_BLOCK when the head moved past the point it fits.
   */
  importBlock(block: Block, certificate: CommitCertificate): Promise<'committed' | 'known'>;
}

/** Committed blocks and certificates by height (ChainStore implements it). */
export interface SyncBlockSource {
  getBlockBytes(height: bigint): Promise<Uint8Array | undefined>;
  getCertificate(height: bigint): Promise<Uint8Array | undefined>;
}

export interface BlockSyncDeps {
  network: Network;
  app: BlockImporter;
  store: SyncBlockSource;
  /** Checks certificate signatures (createVerifier()). */
  verifier: SignatureVerifier;
  logger: Logger;
  /** After a pass that committed blocks: the engine restarts at head + 1. */
  onSynced?: (head: bigint) => void;
  /** A failure that is not a peer's fault (the store write failed): the node must stop. */
  onFatal?: (e: unknown) => void;
  /** Wall clock for the penalty backoff only (never reaches state). */
  now?: () => number;
}

export interface SyncStatus {
  readonly syncing: boolean;
  /** The head being synced to, while syncing. */
  readonly target: bigint | null;
  /** Last head each peer reported. */
  readonly peerHeads: readonly { peerId: string; head: bigint }[];
}

export interface SyncResult {
  readonly head: bigint;
  readonly committed: number;
}

type BlockVerdict = 'committed' | 'known' | 'bad' | 'head-moved';

export class BlockSync {
  private readonly opts: BlockSyncOptions;
  private readonly peerHeads = new Map<string, bigint>();
  private readonly benchedUntil = new Map<string, number>();
  private running: Promise<SyncResult> | null = null;
  private rerun = false;
  private target: bigint | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** Registers the sync request handler: construct before `network.start()`. */
  constructor(opts: Partial<BlockSyncOptions>, private readonly deps: BlockSyncDeps) {
    this.opts = { ...DEFAULT_BLOCK_SYNC_OPTIONS, ...opts };
    this.opts.batchSize = Math.max(1, Math.min(MAX_SYNC_BLOCKS, Math.floor(this.opts.batchSize)));
    deps.network.onSyncRequest((req) => this.handleSyncRequest(req));
  }

  /** Starts the poll loop (and runs a first pass now). */
  start(): void {
    this.stopped = false;
    this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  status(): SyncStatus {
    return {
      syncing: this.running !== null && this.target !== null,
      target: this.running ? this.target : null,
      peerHeads: [...this.peerHeads].map(([peerId, head]) => ({ peerId, head })),
    };
  }

  /** The engine saw `peerId` at `height` (e.g. votes for a later height): catch up now rather than at the next poll. */
  notifyBehind(height: bigint, peerId: string): void {
    if (this.stopped) return;
    const known = this.peerHeads.get(peerId);
    if (known === undefined || height > known) this.peerHeads.set(peerId, height);
    if (height > this.deps.app.head().height) this.trigger();
  }

  /**
   * Runs a pass (asking `peers`, default every connected peer) and resolves with the head it
   * reached. If a pass is running, resolves when it and one more pass after it have finished.
   */
  syncFrom(peers?: readonly string[]): Promise<SyncResult> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    const run = (async (): Promise<SyncResult> => {
      let committed = 0;
      try {
        do {
          this.rerun = false;
          committed += await this.pass(peers ?? this.deps.network.peers().map((p) => p.peerId));
        } while (this.rerun && !this.stopped);
      } catch (e) {
        this.deps.logger.error('block sync stopped on an unexpected error', { error: String(e) });
        // After stop() the app may already be closed under the pass: that is shutdown, not a fault.
        if (!this.stopped) this.deps.onFatal?.(e);
      } finally {
        this.target = null;
        this.running = null;
      }
      const head = this.deps.app.head().height;
      if (committed > 0) {
        this.deps.logger.info('block sync done', { head: Number(head), committed });
        this.deps.onSynced?.(head);
      }
      return { head, committed };
    })();
    this.running = run;
    return run;
  }

  /** Serves a peer's request: our head and blocks `from`.. with their certificates. */
  async handleSyncRequest(req: SyncRequest): Promise<SyncResponse> {
    const head = this.deps.app.head().height;
    const max = Number.isSafeInteger(req.max) && req.max > 0 ? Math.min(req.max, MAX_SYNC_BLOCKS) : 0;
    const blocks: SyncedBlock[] = [];
    if (req.from < 1n) return { head, blocks };
    let bytes = 0;
    for (let h = req.from; h <= head && blocks.length < max; h++) {
      const [block, certificate] = await Promise.all([this.deps.store.getBlockBytes(h), this.deps.store.getCertificate(h)]);
      if (!block || !certificate) break;
      bytes += block.length + certificate.length;
      if (bytes > MAX_SYNC_RESPONSE_BYTES && blocks.length > 0) break;
      blocks.push({ block, certificate });
    }
    return { head, blocks };
  }

  private trigger(): void {
    this.syncFrom().catch((e: unknown) => this.deps.logger.error('block sync failed', { error: String(e) }));
  }

  private poll(): void {
    if (this.stopped) return;
    this.syncFrom().finally(() => {
      if (this.stopped) return;
      this.timer = setTimeout(() => this.poll(), this.opts.pollMs);
      this.timer.unref();
    }).catch(() => undefined);
  }

  /** One pass; returns the number of blocks committed. */
  private async pass(peers: readonly string[]): Promise<number> {
    const now = (this.deps.now ?? Date.now)();
    for (const id of this.peerHeads.keys()) if (!peers.includes(id)) this.peerHeads.delete(id);
    for (const [id, until] of this.benchedUntil) if (until <= now) this.benchedUntil.delete(id);
    const usable = peers.filter((id) => !this.benchedUntil.has(id));
    const ours = this.deps.app.head().height;
    await Promise.all(
      usable.map(async (id) => {
        try {
          const res = await this.deps.network.requestSync(id, { from: ours + 1n, max: 0 }, this.opts.requestTimeoutMs);
          this.peerHeads.set(id, res.head);
        } catch (e) {
          this.peerHeads.delete(id);
          this.deps.logger.debug('peer did not report its head', { peer: id, error: String(e) });
        }
      }),
    );
    const skipped = new Set<string>();
    let committed = 0;
    while (!this.stopped) {
      const head = this.deps.app.head().height;
      let best: string | null = null;
      let bestHead = head;
      for (const id of usable) {
        const h = this.peerHeads.get(id);
        if (h !== undefined && h > bestHead && !skipped.has(id)) {
          best = id;
          bestHead = h;
        }
      }
      if (best === null) break;
      this.target = bestHead;
      const r = await this.fetchBatch(best, head + 1n);
      committed += r.committed;
      if (!r.ok) skipped.add(best);
    }
    return committed;
  }

  /** Asks `peer` for blocks from `from` and imports them; ok = false to try another peer. */
  private async fetchBatch(peer: string, from: bigint): Promise<{ ok: boolean; committed: number }> {
    let res: SyncResponse;
    try {
      res = await this.deps.network.requestSync(peer, { from, max: this.opts.batchSize }, this.opts.requestTimeoutMs);
    } catch (e) {
      this.deps.logger.debug('sync request failed', { peer, from: Number(from), error: String(e) });
      return { ok: false, committed: 0 };
    }
    this.peerHeads.set(peer, res.head);
    if (res.blocks.length > this.opts.batchSize) {
      this.penalize(peer, `sent ${res.blocks.length} blocks, ${this.opts.batchSize} were asked for`);
      return { ok: false, committed: 0 };
    }
    // Claimed a higher head but served nothing from it: not provably lying (it may have pruned), so only skipped.
    if (res.blocks.length === 0) return { ok: false, committed: 0 };
    let committed = 0;
    for (let i = 0; i < res.blocks.length; i++) {
      const verdict = await this.importOne(peer, from + BigInt(i), res.blocks[i]!);
      if (verdict === 'bad') return { ok: false, committed };
      if (verdict === 'head-moved') break;
      if (verdict === 'committed') committed++;
    }
    return { ok: true, committed };
  }

  private async importOne(peer: string, height: bigint, sb: SyncedBlock): Promise<BlockVerdict> {
    const { app } = this.deps;
    let block: Block;
    let certificate: CommitCertificate;
    try {
      block = decodeBlock(sb.block);
      certificate = decodeCertificate(sb.certificate);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.penalize(peer, `undecodable block or certificate at height ${height}: ${e.message}`);
      return 'bad';
    }
    if (block.header.height !== height) {
      this.penalize(peer, `sent block ${block.header.height} where block ${height} was asked for`);
      return 'bad';
    }
    const check = verifyCertificate(certificate, app.validators, this.deps.verifier, app.chainId, height, block.hash);
    if (!check.ok) {
      this.penalize(peer, `block ${height}: invalid commit certificate: ${check.reason}`);
      return 'bad';
    }
    try {
      return await app.importBlock(block, certificate);
    } catch (e) {
      if (e instanceof BlockValidationError) {
        this.penalize(peer, `block ${height} does not validate: ${e.message}`);
        return 'bad';
      }
      if (e instanceof ChainError && e.code === 'NOT_NEXT_BLOCK') return 'head-moved';
      throw e;
    }
  }

  private penalize(peer: string, reason: string): void {
    this.deps.logger.warn('penalising sync peer', { peer, reason });
    this.deps.network.penalize(peer, reason);
    this.benchedUntil.set(peer, (this.deps.now ?? Date.now)() + this.opts.penaltyBackoffMs);
  }
}
