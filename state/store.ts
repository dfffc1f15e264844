/**
 * ChainStore: pel's LevelDB database. One atomic batch per block writes the block, its
 * receipts, the tx index, every state change, the new head and the mempool-journal
 * deletions, so after a crash (even kill -9) the database holds exactly the blocks whose
 * batch completed, with the state that matches the head.
 *
 * Key layout (string keys, binary values):
 *   s:<state key>          state value
 *   b:<height, 16 hex>     encoded block
 *   r:<height, 16 hex>     u32 count | (u32 len | encoded receipt)*
 *   c:<height, 16 hex>     encoded commit certificate (BFT); absent for genesis and for blocks
 *                          of the single-validator producer, which have none
 *   h:<block hash hex>     u64 height
 *   t:<tx hash hex>        u64 height | u32 index
 *   m:<tx hash hex>        raw signed tx accepted into the mempool and not yet included
 *   meta:head              u64 height
 *   meta:genesis           genesis JSON (UTF-8)
 *   meta:signstate         the BFT engine's sign state (opaque to the store), written alone
 *                          with fsync: it must be on disk before the vote it allows is sent
 */
import type { AbstractLevel, AbstractPutOptions } from 'abstract-level';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { decodeBytesList, encodeBytesList, Reader, Writer, utf8 } from '../protocol/codec.js';
import { toHexRaw } from '../protocol/hex.js';
import type { WriteSet } from './types.js';

type Db = AbstractLevel<string | Buffer | Uint8Array, string, Uint8Array>;
type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export class StoreError extends Error {
  readonly code: 'STORE_OPEN_FAILED' | 'STORE_CORRUPT' | 'STORE_WRITE_FAILED';
  constructor(code: StoreError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export interface BlockCommit {
  readonly height: bigint;
  readonly hash: Uint8Array;
  readonly blockBytes: Uint8Array;
  readonly receipts: readonly Uint8Array[];
  readonly txHashes: readonly Uint8Array[];
  readonly writeSet: WriteSet;
  /** Mempool journal entries to delete in the same batch (included and dropped txs). */
  readonly mempoolRemovals: readonly Uint8Array[];
  /** Encoded commit certificate of this block (BFT), written in the same batch. */
  readonly certificate?: Uint8Array;
}

export interface TxLocation {
  readonly height: bigint;
  readonly index: number;
}

const SIGN_STATE_KEY = 'meta:signstate';
/** classic-level's fsync option; abstract-level's types do not declare it, hence the intersection. */
const SYNC_WRITE: AbstractPutOptions<string, Uint8Array> & { sync: boolean } = { sync: true };

const heightKey = (prefix: string, h: bigint): string => prefix + h.toString(16).padStart(16, '0');
const u64 = (v: bigint): Uint8Array => new Writer(8).u64(v).finish();
const readU64 = (b: Uint8Array): bigint => new Reader(b, 'stored u64').u64();

export const encodeReceiptList = (receipts: readonly Uint8Array[]): Uint8Array => encodeBytesList(receipts);
export const decodeReceiptList = (b: Uint8Array): Uint8Array[] => decodeBytesList(b, 'stored receipts');

export class ChainStore {
  private constructor(private readonly db: Db, readonly location: string) {}

  static async open(opts: { path?: string; inMemory?: boolean }): Promise<ChainStore> {
    let db: Db;
    if (opts.inMemory || !opts.path) db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Db;
    else db = new Level<string, Uint8Array>(opts.path, { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Db;
    try {
      await db.open();
    } catch (cause) {
      const detail = cause instanceof Error && cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
      throw new StoreError('STORE_OPEN_FAILED', `cannot open database at ${opts.path ?? 'memory'}${detail} (is another pel node using this data dir?)`, { cause });
    }
    return new ChainStore(db, opts.inMemory || !opts.path ? ':memory:' : opts.path);
  }

  /** Delete everything (pel devnet --reset), while holding the database lock. */
  async clear(): Promise<void> {
    await this.db.clear();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async getOrUndefined(key: string): Promise<Uint8Array | undefined> {
    const v = await this.db.get(key);
    return v ?? undefined;
  }

  async getHeadHeight(): Promise<bigint | undefined> {
    const v = await this.getOrUndefined('meta:head');
    return v === undefined ? undefined : readU64(v);
  }

  async getGenesisJson(): Promise<string | undefined> {
    const v = await this.getOrUndefined('meta:genesis');
    return v === undefined ? undefined : new TextDecoder().decode(v);
  }

  async getBlockBytes(height: bigint): Promise<Uint8Array | undefined> {
    return this.getOrUndefined(heightKey('b:', height));
  }

  async getCertificate(height: bigint): Promise<Uint8Array | undefined> {
    return this.getOrUndefined(heightKey('c:', height));
  }

  async getSignState(): Promise<Uint8Array | undefined> {
    return this.getOrUndefined(SIGN_STATE_KEY);
  }

  /**
   * `sync: true` makes LevelDB fsync before resolving: after kill -9 or power loss the engine
   * reloads the state that its last vote was sent under and so cannot sign a conflicting one.
   * (memory-level ignores the option.)
   */
  async putSignState(state: Uint8Array): Promise<void> {
    try {
      await this.db.put(SIGN_STATE_KEY, state, SYNC_WRITE);
    } catch (cause) {
      throw new StoreError('STORE_WRITE_FAILED', 'writing the BFT sign state failed', { cause });
    }
  }

  async getHeightByHash(hash: Uint8Array): Promise<bigint | undefined> {
    const v = await this.getOrUndefined('h:' + toHexRaw(hash));
    return v === undefined ? undefined : readU64(v);
  }

  async getReceipts(height: bigint): Promise<Uint8Array[] | undefined> {
    const v = await this.getOrUndefined(heightKey('r:', height));
    return v === undefined ? undefined : decodeReceiptList(v);
  }

  async getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    const v = await this.getOrUndefined('t:' + toHexRaw(hash));
    if (v === undefined) return undefined;
    const r = new Reader(v, 'tx location');
    return { height: r.u64(), index: r.u32() };
  }

  /** Every state entry (startup). */
  async loadState(): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for await (const [k, v] of this.db.iterator({ gte: 's:', lt: 's;' })) out.set(k.slice(2), v);
    return out;
  }

  /** Raw txs in the mempool journal (startup). */
  async loadMempoolJournal(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for await (const v of this.db.values({ gte: 'm:', lt: 'm;' })) out.push(v);
    return out;
  }

  /** Persist accepted txs before their acceptance is reported (survives kill -9). */
  async journalMempoolTxs(txs: readonly { hash: Uint8Array; raw: Uint8Array }[]): Promise<void> {
    if (txs.length === 0) return;
    await this.db.batch(txs.map((t) => ({ type: 'put' as const, key: 'm:' + toHexRaw(t.hash), value: t.raw })));
  }

  async removeFromMempoolJournal(hashes: readonly Uint8Array[]): Promise<void> {
    if (hashes.length === 0) return;
    await this.db.batch(hashes.map((h) => ({ type: 'del' as const, key: 'm:' + toHexRaw(h) })));
  }

  /** Genesis: state, block 0, head and the genesis document in one batch. */
  async initGenesis(genesisJson: string, c: BlockCommit): Promise<void> {
    await this.commitBlock(c, [{ type: 'put', key: 'meta:genesis', value: utf8(genesisJson) }]);
  }

  async commitBlock(c: BlockCommit, extra: BatchOp[] = []): Promise<void> {
    const ops: BatchOp[] = extra;
    for (const [k, v] of c.writeSet) ops.push(v === null ? { type: 'del', key: 's:' + k } : { type: 'put', key: 's:' + k, value: v });
    ops.push({ type: 'put', key: heightKey('b:', c.height), value: c.blockBytes });
    ops.push({ type: 'put', key: heightKey('r:', c.height), value: encodeReceiptList(c.receipts) });
    if (c.certificate) ops.push({ type: 'put', key: heightKey('c:', c.height), value: c.certificate });
    ops.push({ type: 'put', key: 'h:' + toHexRaw(c.hash), value: u64(c.height) });
    for (let i = 0; i < c.txHashes.length; i++) {
      ops.push({ type: 'put', key: 't:' + toHexRaw(c.txHashes[i]!), value: new Writer(12).u64(c.height).u32(i).finish() });
    }
    for (const h of c.mempoolRemovals) ops.push({ type: 'del', key: 'm:' + toHexRaw(h) });
    ops.push({ type: 'put', key: 'meta:head', value: u64(c.height) });
    try {
      await this.db.batch(ops);
    } catch (cause) {
      throw new StoreError('STORE_WRITE_FAILED', `writing block ${c.height} failed`, { cause });
    }
  }
}
