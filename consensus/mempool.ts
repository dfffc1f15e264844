/**
 * Mempool: transactions accepted but not yet in a block.
 *
 * - Per sender, txs are kept by nonce. A tx is *ready* when every nonce from the account's
 *   committed nonce up to it is present; later ones (a gap) are *queued* until it fills.
 * - Same sender and nonce: the new tx replaces the old only if its gas price is at least
 *   10% higher (REPLACEMENT_UNDERPRICED otherwise).
 * - Caps: `maxPerSender` txs per sender (also the furthest nonce accepted ahead of the
 *   account nonce) and `maxTotal` overall; past them the tx is rejected, never silently
 *   dropped, and nothing already accepted is evicted.
 * - Admission checks against committed state: chain id, expiry, gas price and limit bounds,
 *   nonce not stale, balance covers gasLimit * gasPrice. Signatures are checked before.
 * - Block selection is round-robin over senders in order of arrival, so one busy sender
 *   cannot starve others and consecutive txs mostly come from different senders.
 */
import { addressHex, toHexRaw } from '../protocol/hex.js';
import type { SignedTx } from '../protocol/tx.js';
import { intrinsicGas } from '../execution/gas.js';
import type { ChainParams, DiscardCode } from '../execution/types.js';
import { getBalance, getNonce } from '../contracts/coin/state.js';
import type { Chain } from './chain.js';

/** Why a tx is refused: everything that would get it discarded at execution, plus the pool's own limits. */
export type MempoolRejectCode = DiscardCode | 'MEMPOOL_FULL' | 'SENDER_LIMIT_REACHED' | 'REPLACEMENT_UNDERPRICED';

export class MempoolError extends Error {
  readonly code: MempoolRejectCode;
  constructor(code: MempoolRejectCode, message: string) {
    super(message);
    this.name = 'MempoolError';
    this.code = code;
  }
}

export interface MempoolOptions {
  maxTotal: number;
  maxPerSender: number;
}

export const DEFAULT_MEMPOOL_OPTIONS: MempoolOptions = { maxTotal: 100_000, maxPerSender: 2_048 };

/** What the mempool needs from the chain: committed account state and the rules in force. */
export interface MempoolChainView {
  readonly chainId: number;
  nextHeight(): bigint;
  params(): ChainParams;
  nonceOf(address: Uint8Array): bigint;
  balanceOf(address: Uint8Array): bigint;
}

/** The view a node's mempool takes of its chain: committed nonces and balances, the rules of the next block. */
export function mempoolViewOf(chain: Chain): MempoolChainView {
  return {
    chainId: chain.genesis.chainId,
    nextHeight: () => chain.height + 1n,
    params: () => chain.params(),
    nonceOf: (a) => getNonce(chain.world, a),
    balanceOf: (a) => getBalance(chain.world, a),
  };
}

/** A tx the mempool dropped after a block, with the reason (a code that RPC errors use). */
export interface DroppedTx {
  readonly tx: SignedTx;
  readonly code: 'NONCE_TOO_LOW' | 'TX_EXPIRED';
  readonly message: string;
}

export interface AddResult {
  readonly hash: Uint8Array;
  /** The tx was already in the pool (same hash): nothing changed. */
  readonly duplicate: boolean;
  /** The tx it replaced (same sender and nonce), if any. */
  readonly replaced: SignedTx | null;
}

interface SenderQueue {
  readonly address: Uint8Array;
  readonly byNonce: Map<bigint, SignedTx>;
}

export class Mempool {
  private readonly opts: MempoolOptions;
  private readonly byHash = new Map<string, SignedTx>();
  /** Insertion order = arrival order of a sender's first pending tx (round-robin order). */
  private readonly senders = new Map<string, SenderQueue>();

  constructor(opts: Partial<MempoolOptions>, private readonly chain: MempoolChainView) {
    this.opts = { ...DEFAULT_MEMPOOL_OPTIONS, ...opts };
  }

  get size(): number {
    return this.byHash.size;
  }

  /** At this size a tx behind a nonce gap is refused (three quarters of the capacity). */
  private get queuedLimit(): number {
    return Math.floor((this.opts.maxTotal * 3) / 4);
  }

  get capacity(): number {
    return this.opts.maxTotal;
  }

  has(hash: Uint8Array): boolean {
    return this.byHash.has(toHexRaw(hash));
  }

  get(hash: Uint8Array): SignedTx | undefined {
    return this.byHash.get(toHexRaw(hash));
  }

  /** Checks the tx and adds it, or throws MempoolError. */
  add(tx: SignedTx): AddResult {
    const id = toHexRaw(tx.hash);
    if (this.byHash.has(id)) return { hash: tx.hash, duplicate: true, replaced: null };
    const c = this.chain;
    const { gas, fee } = c.params();
    if (tx.chainId !== c.chainId) throw new MempoolError('WRONG_CHAIN_ID', `transaction is for chain ${tx.chainId}, this node runs chain ${c.chainId}`);
    const next = c.nextHeight();
    if (tx.expiry < next) throw new MempoolError('TX_EXPIRED', `transaction expired at height ${tx.expiry}; the next block is ${next}`);
    if (tx.gasPrice < fee.minGasPrice) throw new MempoolError('GAS_PRICE_TOO_LOW', `gas price ${tx.gasPrice} is below the minimum ${fee.minGasPrice}`);
    const intrinsic = intrinsicGas(gas, tx.raw.length);
    if (tx.gasLimit < intrinsic) throw new MempoolError('GAS_LIMIT_TOO_LOW', `gas limit ${tx.gasLimit} is below the intrinsic gas ${intrinsic} of this transaction`);
    if (tx.gasLimit > gas.maxTxGas) throw new MempoolError('GAS_LIMIT_TOO_HIGH', `gas limit ${tx.gasLimit} is above the maximum ${gas.maxTxGas}`);
    const accountNonce = c.nonceOf(tx.sender);
    if (tx.nonce < accountNonce) throw new MempoolError('NONCE_TOO_LOW', `nonce ${tx.nonce} is already used; the account's next nonce is ${accountNonce}`);
    const maxFee = tx.gasLimit * tx.gasPrice;
    const balance = c.balanceOf(tx.sender);
    if (balance < maxFee) throw new MempoolError('INSUFFICIENT_BALANCE_FOR_FEE', `balance ${balance} cannot pay the maximum fee ${maxFee} (gasLimit x gasPrice)`);

    const sid = addressHex(tx.sender);
    const q = this.senders.get(sid);
    const existing = q?.byNonce.get(tx.nonce);
    if (!existing && q && q.byNonce.size >= this.opts.maxPerSender) {
      throw new MempoolError('SENDER_LIMIT_REACHED', `sender already has ${q.byNonce.size} pending transactions (limit ${this.opts.maxPerSender}); wait for some to be included`);
    }
    if (tx.nonce >= accountNonce + BigInt(this.opts.maxPerSender)) {
      throw new MempoolError('NONCE_TOO_HIGH', `nonce ${tx.nonce} is too far ahead of the account's next nonce ${accountNonce} (at most ${this.opts.maxPerSender} ahead)`);
    }

    if (existing) {
      if (tx.gasPrice * 10n < existing.gasPrice * 11n) {
        throw new MempoolError('REPLACEMENT_UNDERPRICED', `a tx with nonce ${tx.nonce} is pending at gas price ${existing.gasPrice}; a replacement needs at least ${(existing.gasPrice * 11n + 9n) / 10n}`);
      }
      q!.byNonce.set(tx.nonce, tx);
      this.byHash.delete(toHexRaw(existing.hash));
      this.byHash.set(id, tx);
      return { hash: tx.hash, duplicate: false, replaced: existing };
    }
    if (this.byHash.size >= this.opts.maxTotal) throw new MempoolError('MEMPOOL_FULL', `mempool is full (${this.opts.maxTotal} transactions); retry after the next blocks`);
    if (this.byHash.size >= this.queuedLimit) {
      // The last quarter is kept for txs that can run now: otherwise txs stuck behind nonce gaps
      // could fill the pool and refuse the very txs that would close the gaps, forever.
      let ready = accountNonce;
      while (q?.byNonce.has(ready)) ready++;
      if (tx.nonce > ready) {
        throw new MempoolError('MEMPOOL_FULL', `mempool is ${this.byHash.size}/${this.opts.maxTotal} full and keeps its last quarter for txs that can run now; send nonce ${ready} of this sender first, or retry after the next blocks`);
      }
    }
    if (q) q.byNonce.set(tx.nonce, tx);
    else this.senders.set(sid, { address: tx.sender, byNonce: new Map([[tx.nonce, tx]]) });
    this.byHash.set(id, tx);
    return { hash: tx.hash, duplicate: false, replaced: null };
  }

  /** Up to `max` ready txs: round-robin over senders, each sender's in nonce order. */
  select(max: number): SignedTx[] {
    const out: SignedTx[] = [];
    const cursors: { q: SenderQueue; nonce: bigint }[] = [];
    for (const q of this.senders.values()) cursors.push({ q, nonce: this.chain.nonceOf(q.address) });
    while (out.length < max && cursors.length > 0) {
      let w = 0;
      for (let i = 0; i < cursors.length && out.length < max; i++) {
        const cur = cursors[i]!;
        const tx = cur.q.byNonce.get(cur.nonce);
        if (!tx) continue;
        out.push(tx);
        cur.nonce++;
        cursors[w++] = cur;
      }
      cursors.length = Math.min(w, cursors.length);
    }
    return out;
  }

  /** Counts of ready (executable now) and queued (behind a nonce gap) txs. */
  stats(): { pending: number; queued: number; total: number; senders: number; capacity: number } {
    let pending = 0;
    for (const q of this.senders.values()) {
      let n = this.chain.nonceOf(q.address);
      while (q.byNonce.has(n)) {
        pending++;
        n++;
      }
    }
    return { pending, queued: this.byHash.size - pending, total: this.byHash.size, senders: this.senders.size, capacity: this.opts.maxTotal };
  }

  remove(hash: Uint8Array): SignedTx | undefined {
    const id = toHexRaw(hash);
    const tx = this.byHash.get(id);
    if (!tx) return undefined;
    this.byHash.delete(id);
    const sid = addressHex(tx.sender);
    const q = this.senders.get(sid);
    if (q && q.byNonce.get(tx.nonce) === tx) {
      q.byNonce.delete(tx.nonce);
      if (q.byNonce.size === 0) this.senders.delete(sid);
    }
    return tx;
  }

  /**
   * After a block: drop what it included or discarded, then, for the senders it touched and
   * overall, txs whose nonce is now stale or that expired. Returns the txs dropped as
   * stale or expired (the caller removes them from the journal).
   */
  afterBlock(included: readonly SignedTx[], discarded: readonly SignedTx[]): DroppedTx[] {
    const touched = new Set<string>();
    for (const tx of included) {
      this.remove(tx.hash);
      touched.add(addressHex(tx.sender));
    }
    for (const tx of discarded) this.remove(tx.hash);
    const dropped: DroppedTx[] = [];
    for (const sid of touched) {
      const q = this.senders.get(sid);
      if (!q) continue;
      const nonce = this.chain.nonceOf(q.address);
      for (const [n, tx] of q.byNonce) if (n < nonce) dropped.push({ tx, code: 'NONCE_TOO_LOW', message: `nonce ${n} was used by another transaction` });
    }
    const next = this.chain.nextHeight();
    for (const tx of this.byHash.values()) if (tx.expiry < next) dropped.push({ tx, code: 'TX_EXPIRED', message: `expired at height ${tx.expiry} before inclusion` });
    for (const d of dropped) this.remove(d.tx.hash);
    return dropped;
  }
}
