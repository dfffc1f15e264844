import { describe, expect, it } from 'vitest';
import { devKeyPair } from '../../../protocol/keys.js';
import { toHexRaw } from '../../../protocol/hex.js';
import { Mempool, MempoolError, type MempoolChainView } from '../../../consensus/mempool.js';
import { buildTransfer } from '../../../sdk/tx.js';
import { benchContext } from '../../../bench/workload.js';

const keys = Array.from({ length: 4 }, (_, i) => devKeyPair(i));
const to = devKeyPair(50).address;

function chainView(): MempoolChainView & { nonces: Map<string, bigint>; balances: Map<string, bigint>; height: bigint } {
  const nonces = new Map<string, bigint>();
  const balances = new Map<string, bigint>(keys.map((k) => [toHexRaw(k.address), 10n ** 12n]));
  const v = {
    chainId: 1337,
    height: 0n,
    nonces,
    balances,
    nextHeight: () => v.height + 1n,
    params: () => benchContext().params,
    nonceOf: (a: Uint8Array) => nonces.get(toHexRaw(a)) ?? 0n,
    balanceOf: (a: Uint8Array) => balances.get(toHexRaw(a)) ?? 0n,
  };
  return v;
}

const tx = (k: number, nonce: bigint, extra: { gasPrice?: bigint; expiry?: bigint; chainId?: number; gasLimit?: bigint; amount?: bigint } = {}) =>
  buildTransfer({ chainId: extra.chainId ?? 1337, key: keys[k]!, nonce, to, amount: extra.amount ?? 1n, expiry: extra.expiry ?? 100n, gasPrice: extra.gasPrice ?? 1n, gasLimit: extra.gasLimit ?? 50_000n });

function rejects(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MempoolError) return e.code;
    throw e;
  }
  throw new Error('expected a MempoolError');
}

describe('Mempool', () => {
  it('holds future nonces until the gap fills, then they become ready in nonce order', () => {
    const c = chainView();
    const m = new Mempool({}, c);
    m.add(tx(0, 2n));
    m.add(tx(0, 1n));
    expect(m.select(10)).toEqual([]);
    expect(m.stats()).toMatchObject({ pending: 0, queued: 2, total: 2 });
    m.add(tx(0, 0n));
    expect(m.select(10).map((t) => t.nonce)).toEqual([0n, 1n, 2n]);
    expect(m.stats()).toMatchObject({ pending: 3, queued: 0 });
  });

  it('selects round-robin across senders in arrival order, up to the limit', () => {
    const m = new Mempool({}, chainView());
    for (let n = 0n; n < 3n; n++) m.add(tx(0, n));
    for (let n = 0n; n < 2n; n++) m.add(tx(1, n));
    m.add(tx(2, 0n));
    const sel = m.select(5).map((t) => `${keys.findIndex((k) => toHexRaw(k.address) === toHexRaw(t.sender))}:${t.nonce}`);
    expect(sel).toEqual(['0:0', '1:0', '2:0', '0:1', '1:1']);
  });

  it('is idempotent for the same tx and replaces only with a >= 10% higher gas price', () => {
    const m = new Mempool({}, chainView());
    const a = tx(0, 0n, { gasPrice: 10n });
    expect(m.add(a).duplicate).toBe(false);
    expect(m.add(a).duplicate).toBe(true);
    expect(rejects(() => m.add(tx(0, 0n, { gasPrice: 10n, amount: 2n })))).toBe('REPLACEMENT_UNDERPRICED');
    const b = tx(0, 0n, { gasPrice: 11n });
    expect(m.add(b).replaced?.hash).toEqual(a.hash);
    expect(m.has(a.hash)).toBe(false);
    expect(m.select(10)).toEqual([b]);
  });

  it('rejects with a clear code: stale or far-future nonce, fee balance, chain, expiry, gas bounds, caps', () => {
    const c = chainView();
    c.nonces.set(toHexRaw(keys[0]!.address), 5n);
    c.height = 10n;
    const m = new Mempool({ maxTotal: 4, maxPerSender: 2 }, c);
    expect(rejects(() => m.add(tx(0, 4n)))).toBe('NONCE_TOO_LOW');
    expect(rejects(() => m.add(tx(0, 7n)))).toBe('NONCE_TOO_HIGH');
    expect(rejects(() => m.add(tx(1, 0n, { chainId: 1 })))).toBe('WRONG_CHAIN_ID');
    expect(rejects(() => m.add(tx(1, 0n, { expiry: 10n })))).toBe('TX_EXPIRED');
    expect(rejects(() => m.add(tx(1, 0n, { gasPrice: 0n })))).toBe('GAS_PRICE_TOO_LOW');
    expect(rejects(() => m.add(tx(1, 0n, { gasLimit: 5n })))).toBe('GAS_LIMIT_TOO_LOW');
    expect(rejects(() => m.add(tx(1, 0n, { gasLimit: 10n ** 9n })))).toBe('GAS_LIMIT_TOO_HIGH');
    c.balances.set(toHexRaw(keys[3]!.address), 49_999n);
    expect(rejects(() => m.add(tx(3, 0n)))).toBe('INSUFFICIENT_BALANCE_FOR_FEE');
    m.add(tx(1, 0n));
    m.add(tx(1, 1n));
    expect(rejects(() => m.add(tx(1, 2n)))).toBe('SENDER_LIMIT_REACHED');
    m.add(tx(2, 0n));
    m.add(tx(0, 5n));
    expect(rejects(() => m.add(tx(2, 1n)))).toBe('MEMPOOL_FULL');
    expect(m.size).toBe(4);
  });

  it('keeps its last quarter for txs that can run now, so txs behind nonce gaps cannot lock it up', () => {
    const c = chainView();
    const m = new Mempool({ maxTotal: 8, maxPerSender: 8 }, c);
    // Sender 0 lost nonce 0 (e.g. rejected earlier): 1..5 sit behind the gap; the pool is 6/8 full.
    for (let n = 1n; n <= 5n; n++) m.add(tx(0, n));
    m.add(tx(1, 0n));
    expect(m.size).toBe(6);
    // Past three quarters, another gapped tx is refused...
    expect(rejects(() => m.add(tx(2, 3n)))).toBe('MEMPOOL_FULL');
    expect(rejects(() => m.add(tx(0, 7n)))).toBe('MEMPOOL_FULL');
    // ...but txs that can run now still get in: the gap-closing nonce 0, and sender 1's next nonce.
    m.add(tx(0, 0n));
    m.add(tx(1, 1n));
    expect(m.size).toBe(8);
    expect(m.stats().queued).toBe(0);
    expect(rejects(() => m.add(tx(2, 0n)))).toBe('MEMPOOL_FULL');
  });

  it('after a block drops included, discarded, stale and expired txs', () => {
    const c = chainView();
    const m = new Mempool({}, c);
    const t0 = tx(0, 0n);
    const t1 = tx(0, 1n);
    const t1b = tx(0, 1n, { gasPrice: 5n });
    const other = tx(1, 0n, { expiry: 2n });
    const bad = tx(2, 0n);
    for (const t of [t0, t1, other, bad]) m.add(t);
    // The block included t0 and (another node's) t1b; our t1 is now stale.
    c.nonces.set(toHexRaw(keys[0]!.address), 2n);
    c.height = 2n;
    const dropped = m.afterBlock([t0, t1b], [bad]);
    expect(dropped.map((d) => [d.tx.hash, d.code])).toEqual([[t1.hash, 'NONCE_TOO_LOW'], [other.hash, 'TX_EXPIRED']]);
    expect(m.size).toBe(0);
  });
});
