/**
 * ChainStore: pel's two stores of a data dir, opened, cleared and closed together.
 *   - LevelDB (the data dir itself): one atomic batch per block writes the block, its
 *     receipts, the tx index, the block's state write set (`w:`), the new head and the
 *     mempool-journal deletions, so after a crash (even kill -9) it holds exactly the blocks
 *     whose batch completed.
 *   - the LMDB state store (`<dataDir>/state`, state/state-db.ts, `state`): the committed
 *     state and its tree, written by consensus/chain.ts through DiskWorldState AFTER the
 *     block's LevelDB batch. So the state store is never ahead of the LevelDB head, and at
 *     most the blocks whose `w:` record is still here behind it: Chain.open re-applies them.
 *   A store opened `inMemory` keeps LevelDB in memory and the state store in a temp dir that
 *   close() removes (workers read state through LMDB, so there is no in-memory state store).
 *
 * Key layout (string keys, binary values):
 *   w:<height, 16 hex>     the block's state write set (encodeWriteSet); deleted by the batch
 *                          of a later block once the state store has written it, and at open
 *                          once recovery caught the state store up
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
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AbstractLevel, AbstractPutOptions } from 'abstract-level';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { decodeBytesList, encodeBytesList, Reader, Writer, utf8 } from '../protocol/codec.js';
import { toHexRaw } from '../protocol/hex.js';
import { StateDb, type StateDbOptions } from './state-db.js';
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
  /**
   * Height of the last block the state store has written when this batch is built: its `w:`
   * record is no longer needed and is deleted in this batch. Undefined: delete none.
   */
  readonly stateHeight?: bigint;
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

/**
 * A write set as one value: u32 count, then per entry u16 key length | key (ASCII) | u32
 * value length (0xffffffff: deleted) | value. One LevelDB value per block instead of one key
 * per state change.
 */
export function encodeWriteSet(ws: WriteSet): Uint8Array {
  let size = 4;
  for (const [k, v] of ws) size += 6 + k.length + (v === null ? 0 : v.length);
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32LE(ws.length, 0);
  for (const [k, v] of ws) {
    at = out.writeUInt16LE(k.length, at);
    at += out.write(k, at, 'latin1');
    at = out.writeUInt32LE(v === null ? 0xffffffff : v.length, at);
    if (v !== null) {
      out.set(v, at);
      at += v.length;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, at);
}

export function decodeWriteSet(b: Uint8Array, what = 'stored write set'): WriteSet {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const fail = (): never => {
    throw new StoreError('STORE_CORRUPT', `${what} is truncated or malformed`);
  };
  if (buf.length < 4) fail();
  const n = buf.readUInt32LE(0);
  const out: (readonly [string, Uint8Array | null])[] = [];
  let at = 4;
  for (let i = 0; i < n; i++) {
    if (at + 2 > buf.length) fail();
    const kl = buf.readUInt16LE(at);
    at += 2;
    if (at + kl + 4 > buf.length) fail();
    const k = buf.toString('latin1', at, at + kl);
    at += kl;
    const vl = buf.readUInt32LE(at);
    at += 4;
    if (vl === 0xffffffff) out.push([k, null]);
    else {
      if (at + vl > buf.length) fail();
      out.push([k, Uint8Array.prototype.slice.call(buf, at, at + vl)]);
      at += vl;
    }
  }
  if (at !== buf.length) fail();
  return out;
}

/** State options for the data dir's state store (path is chosen by the store). */
export type ChainStateOptions = Omit<StateDbOptions, 'path' | 'readOnly'>;

/**
 * The state store's writer thread loads the compiled state-writer.js next to state-db.js;
 * run from the TypeScript sources (unit tests) there is none, so commits are written on the
 * calling thread instead. Same transaction, same bytes.
 */
const DEFAULT_WRITER: StateDbOptions['writer'] = import.meta.url.endsWith('.ts') ? 'inline' : 'thread';

/** Temp state dirs of in-memory stores not closed yet: removed at process exit at the latest. */
const tempStateDirs = new Set<string>();
let exitHook = false;
function trackTempDir(dir: string): void {
  tempStateDirs.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of tempStateDirs) rmSync(d, { recursive: true, force: true });
  });
}

export class ChainStore {
  private constructor(
    private readonly db: Db,
    readonly location: string,
    private stateDb: StateDb,
    /** Directory of the state store; for an in-memory store a temp dir that close() removes. */
    readonly statePath: string,
    private readonly stateOpts: ChainStateOptions,
    private readonly tempState: boolean,
  ) {}

  /**
   * Opens LevelDB at `path` (or in memory), then the LMDB state store in `<path>/state` (for
   * an in-memory store: a fresh temp dir). Opening LevelDB first takes its lock, so a second
   * node on the same data dir fails before touching the state store.
   */
  static async open(opts: { path?: string; inMemory?: boolean; state?: ChainStateOptions }): Promise<ChainStore> {
    let db: Db;
    const inMemory = opts.inMemory || !opts.path;
    if (inMemory) db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Db;
    else db = new Level<string, Uint8Array>(opts.path!, { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Db;
    try {
      await db.open();
    } catch (cause) {
      const detail = cause instanceof Error && cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
      throw new StoreError('STORE_OPEN_FAILED', `cannot open database at ${opts.path ?? 'memory'}${detail} (is another pel node using this data dir?)`, { cause });
    }
    const statePath = inMemory ? mkdtempSync(join(tmpdir(), 'pel-state-')) : join(opts.path!, 'state');
    if (inMemory) trackTempDir(statePath);
    const stateOpts: ChainStateOptions = { writer: DEFAULT_WRITER, ...opts.state };
    let stateDb: StateDb;
    try {
      stateDb = StateDb.open({ ...stateOpts, path: statePath });
    } catch (e) {
      await db.close().catch(() => undefined);
      if (inMemory) await removeTemp(statePath);
      throw e;
    }
    return new ChainStore(db, inMemory ? ':memory:' : opts.path!, stateDb, statePath, stateOpts, inMemory);
  }

  /** The LMDB state store of this data dir (read through DiskWorldState; workers open it read-only). */
  get state(): StateDb {
    return this.stateDb;
  }

  /** Delete everything (pel devnet --reset), while holding the database lock: LevelDB and the state store. */
  async clear(): Promise<void> {
    await this.db.clear();
    await this.stateDb.close();
    await rm(this.statePath, { recursive: true, force: true });
    this.stateDb = StateDb.open({ ...this.stateOpts, path: this.statePath });
  }

  /** Closes the state store (waiting for its pending commits), then LevelDB. */
  async close(): Promise<void> {
    try {
      await this.stateDb.close();
    } finally {
      await this.db.close();
      if (this.tempState) await removeTemp(this.statePath);
    }
  }

  /** The write set of block `height` kept for recovery (`w:`), or undefined once pruned. */
  async getWriteSet(height: bigint): Promise<WriteSet | undefined> {
    const v = await this.getOrUndefined(heightKey('w:', height));
    return v === undefined ? undefined : decodeWriteSet(v, `stored write set of block ${height}`);
  }

  /** Deletes every `w:` record up to and including `height` (the state store has written them). */
  async pruneWriteSets(height: bigint): Promise<void> {
    await this.db.clear({ gte: 'w:', lte: heightKey('w:', height) });
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

  /** Genesis: its write set, block 0, head and the genesis document in one batch. */
  async initGenesis(genesisJson: string, c: BlockCommit): Promise<void> {
    await this.commitBlock(c, [{ type: 'put', key: 'meta:genesis', value: utf8(genesisJson) }]);
  }

  async commitBlock(c: BlockCommit, extra: BatchOp[] = []): Promise<void> {
    const ops: BatchOp[] = extra;
    ops.push({ type: 'put', key: heightKey('w:', c.height), value: encodeWriteSet(c.writeSet) });
    if (c.stateHeight !== undefined && c.stateHeight < c.height) ops.push({ type: 'del', key: heightKey('w:', c.stateHeight) });
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

async function removeTemp(dir: string): Promise<void> {
  tempStateDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}
