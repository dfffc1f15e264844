/**
 * PelNode: the composition root. Builds every part from the config and closes them in
 * reverse order. The ingestion path (decode -> verify -> mempool -> journal) lives here.
 */
import { readFile, stat } from 'node:fs/promises';
import { decodeBytesList, encodeBytesList } from '../protocol/codec.js';
import { formatAddress } from '../protocol/address.js';
import type { KeyPair } from '../protocol/keys.js';
import { toHex, toHexRaw } from '../protocol/hex.js';
import { devValidatorKeyPair } from '../protocol/keys.js';
import type { Logger } from '../protocol/logger.js';
import { decodeTx, MAX_TX_BYTES, type SignedTx } from '../protocol/tx.js';
import { createVerifier, type SignatureVerifier } from '../protocol/verify.js';
import type { Receipt } from '../protocol/receipt.js';
import { getBalance, getNonce } from '../contracts/coin/state.js';
import { Chain, type CommittedBlock, type Proposal } from '../consensus/chain.js';
import { devnetGenesis, parseGenesis, type Genesis } from '../consensus/genesis.js';
import { Mempool, MempoolError, type DroppedTx } from '../consensus/mempool.js';
import { BlockProducer, type PipelineTimings } from '../consensus/producer.js';
import { ChainBftApp, sameThreadVerifyTxs } from '../consensus/bft/app.js';
import { BftEngine } from '../consensus/bft/engine.js';
import { DEFAULT_BFT_TIMEOUTS } from '../consensus/bft/types.js';
import { BlockSync } from '../consensus/sync.js';
import { Libp2pNetwork } from '../p2p/libp2p.js';
import { loadOrCreateNodeKey } from '../p2p/keys.js';
import type { Network, Verdict } from '../p2p/types.js';
import { ConfigError, rpcServerOptionsOf } from './config.js';
import { loadValidatorKey } from './home.js';
import { SequentialExecutor } from '../execution/sequential.js';
import { ParallelExecutor } from '../execution/parallel/executor.js';
import type { BlockExecutor } from '../execution/types.js';
import { ChainStore } from '../state/store.js';
import type { NodeConfig } from './config.js';
import { RpcError } from './rpc/errors.js';
import { RpcServer } from './rpc/server.js';
import { buildMethods } from './rpc/methods/index.js';
import { Metrics } from './metrics.js';
import { executorHealth, type ExecutorHealth, healthRoute } from './health.js';
import { ingestRaws, verifyRaws } from './ingest.js';
import { ExecutionLog } from './exec-log.js';
import { loadExplorer } from './explorer.js';

export type SubmitResult = { ok: true; hash: Uint8Array; duplicate: boolean } | { ok: false; error: RpcError };

export interface StartHooks {
  onFatal?: (e: unknown) => void;
  executor?: BlockExecutor;
  serveRpc?: boolean;
}

export interface TxStatusDropped {
  readonly code: string;
  readonly message: string;
}

export type TxWaitResult = { kind: 'committed'; height: bigint; index: number; receipt: Receipt; blockHash: Uint8Array } | { kind: 'dropped'; reason: TxStatusDropped };

const DROPPED_HISTORY = 10_000;
/** A tx gossip message carries at most this many txs and bytes (well under the gossip message limit). */
const MAX_GOSSIP_TXS = 2_000;
const MAX_GOSSIP_TX_BYTES = 1024 * 1024;

export class PelNode {
  readonly dropped = new Map<string, TxStatusDropped>();
  /** Executor stats of the last blocks (debug_blockExecution). */
  readonly executionLog = new ExecutionLog();
  private readonly waiters = new Map<string, Set<(r: TxWaitResult) => void>>();
  private rpcAddress: { url: string; wsUrl: string; host: string; port: number } | null = null;
  private readonly pendingSubmits: { raw: Uint8Array; resolve: (r: SubmitResult) => void; reject: (e: unknown) => void }[] = [];
  private stopping: Promise<void> | null = null;

  /** BFT mode: the libp2p network, the Tendermint engine and block sync; all null on the solo devnet. */
  network: Network | null = null;
  consensus: BftEngine<Proposal> | null = null;
  sync: BlockSync | null = null;
  private bftApp: ChainBftApp | null = null;
  private validatorKey: KeyPair | null = null;

  private constructor(
    readonly config: NodeConfig,
    readonly logger: Logger,
    readonly store: ChainStore,
    readonly chain: Chain,
    readonly mempool: Mempool,
    readonly producer: BlockProducer | null,
    readonly verifier: SignatureVerifier,
    readonly executor: BlockExecutor,
    private readonly ownsExecutor: boolean,
    readonly metrics: Metrics,
    private rpc: RpcServer | null,
  ) {}

  /**
   * `hooks.executor`: run on this executor instead of creating one (the start-up warm-up's
   * scratch node shares the real node's); the node then leaves it open on stop.
   * `hooks.serveRpc: false`: no RPC server (nothing listens; rpcUrl is empty).
   */
  static async start(config: NodeConfig, logger: Logger, hooks: StartHooks = {}): Promise<PelNode> {
    // Open first: the LevelDB lock makes --reset on a running node's data dir fail instead of wiping it.
    const store = await ChainStore.open({ path: config.dataDir, inMemory: config.inMemory });
    let executorRef: BlockExecutor | null = null;
    let nodeRef: PelNode | null = null;
    try {
      if (config.reset) {
        // A validator's sign state outlives --reset: it is what stops the node from signing a
        // second, conflicting vote at a height the network may still be deciding.
        const signState = await store.getSignState();
        await store.clear();
        if (signState) await store.putSignState(signState);
      }
      const stored = await store.getGenesisJson();
      let genesis: Genesis;
      if (config.genesisPath) genesis = parseGenesis(JSON.parse(await readFile(config.genesisPath, 'utf8')));
      else if (stored) genesis = parseGenesis(JSON.parse(stored));
      else genesis = devnetGenesis(config.accounts, config.chainId, config.stateAccounts);
      const executor: BlockExecutor = hooks.executor
        ?? (config.executor === 'parallel' ? await ParallelExecutor.create({ workers: config.workers }, { logger: logger.child('pool') }) : new SequentialExecutor());
      if (!hooks.executor) executorRef = executor;
      if (config.warmupTxs > 0) {
        const { warmUp } = await import('./warmup.js');
        await warmUp(executor, config.warmupTxs, { inMemory: config.inMemory, logger: logger.child('warmup') });
      }
      // A first start with many index accounts bulk-loads them: say how far it got, every 2 s.
      let lastProgress = performance.now();
      const total = genesis.indexAccounts?.count ?? 0;
      const chain = await Chain.open(store, genesis, executor, {
        onGenesisLoad: (phase, done) => {
          if (performance.now() - lastProgress < 2_000) return;
          lastProgress = performance.now();
          logger.info('loading the genesis state', { phase, done, of: phase === 'tree' ? 256 : total });
        },
      });
      if (chain.recovered) {
        // A crash came between a block's LevelDB batch and its state store write: re-applied from the kept write sets.
        logger.warn('state store was behind the chain: re-applied the kept write sets', { from: Number(chain.recovered.from), to: Number(chain.recovered.to), stateRoot: toHex(chain.head.header.stateRoot) });
      }
      const mempool = new Mempool(
        { maxTotal: config.mempoolMaxTotal, maxPerSender: config.mempoolMaxPerSender },
        {
          chainId: chain.genesis.chainId,
          // The applied head and state, not the durable ones RPC shows: with the pipelined producer
          // the next block builds on a block that may still be being written.
          nextHeight: () => chain.appliedHead.header.height + 1n,
          params: () => chain.params(),
          nonceOf: (a) => getNonce(chain.appliedState, a),
          balanceOf: (a) => getBalance(chain.appliedState, a),
        },
      );
      const metrics = new Metrics();
      metrics.height.set(Number(chain.height));
      // The pool logs its own restarts and its loss (see execution/parallel/pool.ts).
      if (executor instanceof ParallelExecutor) metrics.trackWorkers(() => executor.poolStats());
      const onFatal = (e: unknown): void => (hooks.onFatal ?? ((err: unknown) => logger.error('fatal', { error: String(err) })))(e);
      let node!: PelNode;
      // Called once the block's batch is on disk (producer and BFT app alike): metrics, journal
      // cleanup of `dropped` and tx waiters never see a block that a crash could still lose.
      const onCommitted = (p: Proposal, dropped: readonly DroppedTx[], commitMs: number, pipeline?: PipelineTimings): void => {
        metrics.onProposal(p, commitMs, pipeline?.parentWriteWaitMs);
        metrics.mempool.set(mempool.size);
        node.afterBlock(p, dropped);
      };
      const producer = config.consensus === 'solo'
        ? new BlockProducer(
          { blockTimeMs: config.blockTimeMs, maxBlockTxs: config.maxBlockTxs, mining: config.mining },
          { chain, mempool, proposer: devValidatorKeyPair(0).address, logger: logger.child('producer'), onProposalCommitted: onCommitted, onFatal },
        )
        : null;
      node = new PelNode(config, logger, store, chain, mempool, producer, createVerifier(), executor, !hooks.executor, metrics, null);
      nodeRef = node;
      if (config.consensus === 'bft') await node.startBft(onCommitted, onFatal);
      await node.restoreMempool();
      if (hooks.serveRpc !== false) {
        node.rpc = new RpcServer(
          rpcServerOptionsOf(config),
          buildMethods(node),
          {
            logger: logger.child('rpc'),
            routes: { '/metrics': () => metrics.render(), '/health': healthRoute(() => node.executorHealth()) },
            site: !config.noExplorer ? loadExplorer(undefined, logger.child('explorer')) : null,
          },
        );
        node.rpcAddress = await node.rpc.start();
      }
      producer?.start();
      return node;
    } catch (e) {
      if (nodeRef) await nodeRef.stopBft().catch(() => undefined);
      await executorRef?.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * BFT mode: libp2p network (node key from the node folder), the Tendermint engine over the
   * chain (this validator's key, or none for a follower), block sync, and tx gossip. Every
   * committed block, from the engine or from sync, goes through the app's one commit queue.
   */
  private async startBft(onCommitted: (p: Proposal, dropped: readonly DroppedTx[], commitMs: number) => void, onFatal: (e: unknown) => void): Promise<void> {
    const { config, chain, logger } = this;
    const genesis = chain.genesis;
    if (config.validatorKeyPath && (await stat(config.validatorKeyPath).then(() => true, () => false))) {
      this.validatorKey = await loadValidatorKey(config.validatorKeyPath);
      if (!genesis.validators.some((v) => Buffer.compare(v.address, this.validatorKey!.address) === 0)) {
        throw new ConfigError(`validator key ${config.validatorKeyPath} (${formatAddress(this.validatorKey.address)}) is not in the genesis validator set`);
      }
    } else logger.warn('no validator key: following the chain without voting', { path: config.validatorKeyPath });
    const nodeKey = await loadOrCreateNodeKey(config.nodeKeyPath!);
    const network = await Libp2pNetwork.create({ chainId: genesis.chainId, privateKey: nodeKey, listen: config.p2pListen, bootstrap: config.peers, logger: logger.child('p2p') });
    this.network = network;
    const app = new ChainBftApp({ maxBlockTxs: config.maxBlockTxs }, {
      chain, mempool: this.mempool, store: this.store, logger: logger.child('app'), verifyTxs: (raws) => this.verifyRaws(raws), onCommitted,
    });
    this.bftApp = app;
    const engine = new BftEngine<Proposal>(
      { timeouts: { ...DEFAULT_BFT_TIMEOUTS, blockTimeMs: config.blockTimeMs }, key: this.validatorKey },
      {
        app, network, verifier: this.verifier, logger: logger.child('consensus'),
        onBehind: (height, from) => this.sync?.notifyBehind(height, from),
        onCommit: (executed) => this.logCommitted(executed),
        onFatal,
      },
    );
    this.consensus = engine;
    this.sync = new BlockSync({}, {
      network, app, store: this.store, verifier: this.verifier, logger: logger.child('sync'),
      onSynced: () => engine.syncedTo(),
      onFatal,
    });
    network.onGossip('tx', (data, from) => this.onGossipTxs(data, from));
    await network.start();
    await engine.start();
    this.sync.start();
  }

  private async stopBft(): Promise<void> {
    await this.consensus?.stop();
    await this.sync?.stop();
    await this.bftApp?.close();
    await this.network?.stop();
  }

  private logCommitted(p: Proposal): void {
    const h = p.block.header;
    this.logger.child('consensus').info('block committed', {
      height: Number(h.height), txs: h.txCount, hash: toHex(p.block.hash).slice(0, 18), executeMs: +p.timings.executeMs.toFixed(1),
      executor: p.stats.fallback ? `sequential (${p.stats.fallback})` : p.stats.executor,
    });
  }

  /** This node's validator address (solo devnet: the devnet validator), or null for a follower. */
  get validatorAddress(): string | null {
    if (this.config.consensus === 'solo') return formatAddress(devValidatorKeyPair(0).address);
    return this.validatorKey ? formatAddress(this.validatorKey.address) : null;
  }

  syncStatusJson(): Record<string, unknown> | null {
    const s = this.sync?.status();
    if (!s) return null;
    return { syncing: s.syncing, target: s.target === null ? null : Number(s.target), peerHeads: s.peerHeads.map((p) => ({ peerId: p.peerId, head: Number(p.head) })) };
  }

  /**
   * Txs from gossip: one message is a bytes list of raw txs (what one node accepted in one
   * ingestion batch). Undecodable or forged content is rejected (the relaying peer is scored
   * down); a batch with anything new is accepted and relayed; one with only known or
   * no-longer-valid txs is ignored.
   */
  private async onGossipTxs(data: Uint8Array, _from: string): Promise<Verdict> {
    let raws: Uint8Array[];
    try {
      raws = decodeBytesList(data, 'tx gossip', MAX_TX_BYTES);
    } catch {
      return 'reject';
    }
    if (raws.length === 0 || raws.length > MAX_GOSSIP_TXS) return 'reject';
    const results = await this.submit(raws, 'gossip');
    let fresh = false;
    for (const r of results) {
      if (r.ok) fresh ||= !r.duplicate;
      else if (r.error.data.code === 'INVALID_TX_ENCODING' || r.error.data.code === 'BAD_SIGNATURE') return 'reject';
    }
    return fresh ? 'accept' : 'ignore';
  }

  get rpcUrl(): string {
    return this.rpcAddress?.url ?? '';
  }

  get wsUrl(): string {
    return this.rpcAddress?.wsUrl ?? '';
  }

  /** Re-admit the txs journaled before a restart; drop the ones no longer valid. */
  private async restoreMempool(): Promise<void> {
    const raws = await this.store.loadMempoolJournal();
    if (raws.length === 0) return;
    const txs: SignedTx[] = [];
    const invalid: Uint8Array[] = [];
    for (const raw of raws) {
      try {
        txs.push(decodeTx(raw));
      } catch {
        // A journal entry we wrote ourselves cannot fail to decode unless the disk lies.
        this.logger.warn('dropping undecodable mempool journal entry');
      }
    }
    txs.sort((a, b) => (toHexRaw(a.sender) < toHexRaw(b.sender) ? -1 : toHexRaw(a.sender) > toHexRaw(b.sender) ? 1 : a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
    let restored = 0;
    for (const tx of txs) {
      try {
        this.mempool.add(tx);
        restored++;
      } catch (e) {
        invalid.push(tx.hash);
        if (e instanceof MempoolError) this.rememberDropped(tx.hash, { code: e.code, message: e.message });
      }
    }
    await this.store.removeFromMempoolJournal(invalid);
    this.logger.info('mempool restored from journal', { restored, dropped: invalid.length });
  }

  /**
   * One submission, coalesced with every other submission of the same tick (e.g. all
   * tx_send calls of a JSON-RPC batch, which the server runs concurrently) into one
   * `submit`: one verification batch on the worker pool and one journal write.
   */
  submitOne(raw: Uint8Array): Promise<SubmitResult> {
    return new Promise((resolve, reject) => {
      this.pendingSubmits.push({ raw, resolve, reject });
      if (this.pendingSubmits.length === 1) {
        setImmediate(() => {
          const batch = this.pendingSubmits.splice(0);
          this.submit(batch.map((b) => b.raw)).then(
            (rs) => rs.forEach((r, i) => batch[i]!.resolve(r)),
            (e: unknown) => batch.forEach((b) => b.reject(e)),
          );
        });
      }
    });
  }

  /**
   * Ingestion: decode, verify signature, admit to the mempool, journal to disk, then report.
   * One journal write per call, so a JSON-RPC batch of submissions costs one disk write.
   */
  async submit(raws: readonly Uint8Array[], source: 'rpc' | 'gossip' = 'rpc'): Promise<SubmitResult[]> {
    const results: SubmitResult[] = new Array(raws.length);
    const ingested = await ingestRaws(raws, this.pool, this.verifier);
    const fresh: SignedTx[] = [];
    const replaced: Uint8Array[] = [];
    ingested.forEach((g, i) => {
      if (!g.ok) {
        results[i] = { ok: false, error: g.code === 'BAD_SIGNATURE' ? RpcError.of('BAD_SIGNATURE', 'signature does not verify for the sender public key over the signing bytes (see docs/PROTOCOL.md, Signatures)', { hash: toHex(g.hash) }) : RpcError.of('INVALID_TX_ENCODING', `cannot decode transaction: ${g.message}`, { reason: g.reason }) };
        return;
      }
      const tx = g.tx;
      try {
        const r = this.mempool.add(tx);
        if (!r.duplicate) fresh.push(tx);
        if (r.replaced) {
          replaced.push(r.replaced.hash);
          this.rememberDropped(r.replaced.hash, { code: 'TX_REPLACED', message: `replaced by ${toHex(tx.hash)} (same nonce, higher gas price)` });
        }
        results[i] = { ok: true, hash: tx.hash, duplicate: r.duplicate };
      } catch (e) {
        if (e instanceof MempoolError) results[i] = { ok: false, error: RpcError.of(e.code, e.message, { hash: toHex(tx.hash) }) };
        else throw e;
      }
    });
    if (fresh.length > 0) {
      await this.store.journalMempoolTxs(fresh);
      this.producer?.notify();
      // Gossip what this node accepted from its clients; what came by gossip is relayed by gossipsub itself.
      if (source === 'rpc' && this.network) {
        let chunk: Uint8Array[] = [];
        let bytes = 0;
        const flush = (): void => {
          if (chunk.length === 0) return;
          this.network!.publish('tx', encodeBytesList(chunk)).catch((e: unknown) => this.logger.warn('tx gossip failed', { error: String(e) }));
          chunk = [];
          bytes = 0;
        };
        for (const t of fresh) {
          if (chunk.length === MAX_GOSSIP_TXS || bytes + t.raw.length > MAX_GOSSIP_TX_BYTES) flush();
          chunk.push(t.raw);
          bytes += t.raw.length + 4;
        }
        flush();
      }
    }
    if (replaced.length > 0) await this.store.removeFromMempoolJournal(replaced);
    return results;
  }

  /** Signature checks of a block's raw txs (from another validator or sync): on the worker pool when the node has one. */
  private verifyRaws(raws: readonly Uint8Array[]): Promise<Uint8Array> {
    return verifyRaws(raws, this.pool, sameThreadVerifyTxs(this.verifier));
  }

  /** The executor's state for /health and chain_getInfo: its worker pool's size, restarts and whether it is lost. */
  executorHealth(): ExecutorHealth {
    return executorHealth(this.pool?.poolStats() ?? null);
  }

  /** The Block-STM worker pool, which also checks signatures; null on the sequential executor. */
  private get pool(): ParallelExecutor | null {
    return this.executor instanceof ParallelExecutor ? this.executor : null;
  }

  private afterBlock(p: Proposal, dropped: readonly DroppedTx[]): void {
    this.executionLog.record({ height: p.block.header.height, hash: p.block.hash, stats: p.stats, executeMs: p.timings.executeMs, rootMs: p.timings.rootMs, discarded: p.discarded.length });
    for (const d of p.discarded) this.rememberDropped(d.tx.hash, { code: d.code, message: d.message });
    for (const d of dropped) this.rememberDropped(d.tx.hash, { code: d.code, message: d.message });
    if (dropped.length > 0) {
      this.store.removeFromMempoolJournal(dropped.map((d) => d.tx.hash)).catch((e: unknown) => this.logger.warn('journal cleanup failed', { error: String(e) }));
    }
    if (this.waiters.size > 0) {
      const b = p.block;
      b.txs.forEach((tx, index) => this.resolveWaiters(toHexRaw(tx.hash), { kind: 'committed', height: b.header.height, index, receipt: p.receipts.at(index)!, blockHash: b.hash }));
    }
  }

  private rememberDropped(hash: Uint8Array, reason: TxStatusDropped): void {
    const id = toHexRaw(hash);
    this.dropped.set(id, reason);
    if (this.dropped.size > DROPPED_HISTORY) this.dropped.delete(this.dropped.keys().next().value!);
    this.resolveWaiters(id, { kind: 'dropped', reason });
  }

  private resolveWaiters(id: string, r: TxWaitResult): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const f of set) f(r);
  }

  /** Resolves when the tx is committed or dropped; undefined on timeout. */
  waitForTx(hash: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<TxWaitResult | undefined> {
    const id = toHexRaw(hash);
    // The waiter is registered before the store is read: a block committed while that read is
    // in flight (the read may see the store from before the block) then resolves the waiter
    // instead of being missed, which left the caller waiting until its timeout.
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiters = set;
      let settled = false;
      const finish = (): void => {
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id);
      };
      const done = (r: TxWaitResult | undefined): void => {
        if (settled) return;
        finish();
        resolve(r);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const onAbort = (): void => done(undefined);
      signal?.addEventListener('abort', onAbort);
      waiters.add(done);
      this.lookupTx(hash).then(
        (r) => {
          if (r) done(r);
        },
        (e: unknown) => {
          if (settled) return;
          finish();
          reject(e);
        },
      );
    });
  }

  /** The tx's committed location and receipt, or why it was dropped; undefined if neither (yet). */
  private async lookupTx(hash: Uint8Array): Promise<TxWaitResult | undefined> {
    const loc = await this.chain.getTxLocation(hash);
    if (loc) {
      const c = await this.chain.getCommittedTx(loc.height, loc.index);
      if (c) return { kind: 'committed', height: loc.height, index: loc.index, receipt: c.receipt, blockHash: c.blockHash };
    }
    const d = this.dropped.get(toHexRaw(hash));
    return d ? { kind: 'dropped', reason: d } : undefined;
  }

  onBlock(listener: (b: CommittedBlock) => void): () => void {
    this.chain.on('block', listener);
    return () => this.chain.off('block', listener);
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        await this.producer?.stop();
        await this.stopBft();
        await this.rpc?.close();
        if (this.ownsExecutor) await this.executor.close();
        this.chain.close();
        await this.store.close();
      })();
    }
    return this.stopping;
  }
}
