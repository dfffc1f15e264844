/**
 * A small typed JSON-RPC client for pel: calls over HTTP (`fetch`), subscriptions over
 * WebSocket (the global WebSocket where there is one, as in browsers and Node >= 22, else the
 * `ws` package, loaded on first use).
 */
import { toHex } from '../protocol/hex.js';
import type { JsonValue } from '../protocol/value.js';

export class PelRpcError extends Error {
  constructor(readonly code: number, message: string, readonly data?: { code?: string; [k: string]: unknown }) {
    super(message);
    this.name = 'PelRpcError';
  }
  /** The stable string code (data.code), e.g. NONCE_TOO_LOW. */
  get reason(): string | undefined {
    return this.data?.code;
  }
}

export interface ChainInfo {
  chainId: number;
  height: number;
  headHash: string;
  stateRoot: string;
  genesisHash: string;
  executor: string;
}

export interface AccountInfo {
  address: string;
  balance: string;
  nonce: string;
}

export interface EventJson {
  module: string;
  name: string;
  fields: Record<string, JsonValue>;
}

export interface ReceiptJson {
  txHash: string;
  blockHeight: number;
  blockHash: string;
  index: number;
  status: 'success' | 'failed';
  errorCode: string;
  gasUsed: string;
  fee: string;
  events: EventJson[];
}

export interface BlockJson {
  hash: string;
  header: Record<string, string | number>;
  txs: (string | Record<string, unknown>)[];
}

export type RpcResult<T = unknown> = { ok: true; result: T } | { ok: false; error: PelRpcError };

export class PelClient {
  private nextId = 1;
  constructor(readonly url: string, private readonly opts: { timeoutMs?: number } = {}) {}

  private async post(body: unknown): Promise<unknown> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
    });
    const text = await res.text();
    if (res.status === 204 || text === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new PelRpcError(-32700, `non-JSON response (HTTP ${res.status}): ${text.slice(0, 200)}`);
    }
  }

  async request<T>(method: string, params: unknown[] = []): Promise<T> {
    const r = (await this.post({ jsonrpc: '2.0', id: this.nextId++, method, params })) as { result?: T; error?: { code: number; message: string; data?: PelRpcError['data'] } };
    if (r.error) throw new PelRpcError(r.error.code, r.error.message, r.error.data);
    return r.result as T;
  }

  /** One HTTP request carrying many calls; results in call order. */
  async batch<T = unknown>(calls: readonly { method: string; params?: unknown[] }[]): Promise<RpcResult<T>[]> {
    const first = this.nextId;
    this.nextId += calls.length;
    const body = calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: c.method, params: c.params ?? [] }));
    const res = await this.post(body);
    if (!Array.isArray(res)) {
      const e = (res as { error?: { code: number; message: string; data?: PelRpcError['data'] } }).error;
      throw new PelRpcError(e?.code ?? -32603, e?.message ?? 'unexpected batch response', e?.data);
    }
    const byId = new Map<number, { result?: T; error?: { code: number; message: string; data?: PelRpcError['data'] } }>();
    for (const r of res as { id: number }[]) byId.set(r.id, r as never);
    return calls.map((_, i) => {
      const r = byId.get(first + i);
      if (!r) return { ok: false, error: new PelRpcError(-32603, 'missing response in batch') };
      if (r.error) return { ok: false, error: new PelRpcError(r.error.code, r.error.message, r.error.data) };
      return { ok: true, result: r.result as T };
    });
  }

  getInfo(): Promise<ChainInfo> {
    return this.request('chain_getInfo');
  }

  getAccount(address: Uint8Array | string): Promise<AccountInfo> {
    return this.request('account_get', [typeof address === 'string' ? address : toHex(address)]);
  }

  sendRawTx(raw: Uint8Array): Promise<{ hash: string }> {
    return this.request('tx_send', [toHex(raw)]);
  }

  sendRawTxAndWait(raw: Uint8Array, timeoutMs?: number): Promise<ReceiptJson> {
    return this.request('tx_send', [toHex(raw), { wait: true, ...(timeoutMs ? { timeoutMs } : {}) }]);
  }

  getReceipt(hash: string): Promise<ReceiptJson | null> {
    return this.request('tx_getReceipt', [hash]);
  }

  getTx(hash: string): Promise<Record<string, unknown> | null> {
    return this.request('tx_get', [hash]);
  }

  /** `id`: a height (a number: the node refuses "5"), "latest" or a 0x block hash. */
  getBlock(id: number | string = 'latest', opts: { txs?: 'hashes' | 'full' | 'none'; receipts?: boolean } = {}): Promise<BlockJson | null> {
    return this.request('block_get', [id, opts]);
  }

  mine(count = 1): Promise<{ heights: number[] }> {
    return this.request('dev_mine', [count]);
  }

  /**
   * The receipt of `hash` once its block has committed. Polls `tx_get` every `pollMs`;
   * rejects with PelRpcError TX_DROPPED if the node dropped the tx, and TX_WAIT_TIMEOUT after
   * `timeoutMs`.
   */
  async waitForReceipt(hash: string, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<ReceiptJson> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const t = await this.request<{ status: string; reason?: string } | null>('tx_get', [hash]);
      if (t?.status === 'committed') {
        const r = await this.getReceipt(hash);
        if (r) return r;
      }
      if (t?.status === 'dropped') throw new PelRpcError(-32015, `tx ${hash} was dropped: ${t.reason ?? 'no reason given'}`, { code: 'TX_DROPPED', reason: t.reason });
      if (Date.now() >= deadline) throw new PelRpcError(-32020, `tx ${hash} has no receipt after ${opts.timeoutMs ?? 60_000} ms`, { code: 'TX_WAIT_TIMEOUT' });
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
  }

  /**
   * Subscribe over WebSocket (the RPC URL with ws:// or wss://): `'newBlocks'` pushes every
   * committed block (header and tx hashes), `['tx', hash]` the tx's status once. Returns a
   * handle whose close() unsubscribes and closes the connection; `onError` hears of a lost
   * connection or a refused subscription.
   */
  async subscribe<T = BlockJson>(kind: 'newBlocks' | readonly ['tx', string], onMessage: (result: T) => void, onError?: (e: Error) => void): Promise<{ id: string; close(): void }> {
    const url = this.url.replace(/^http/, 'ws');
    const WS = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket ?? ((await import('ws')).default as unknown as WebSocketCtor);
    const ws = new WS(url);
    const params = kind === 'newBlocks' ? ['newBlocks'] : [...kind];
    return new Promise((resolve, reject) => {
      let id: string | null = null;
      ws.onopen = () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_subscribe', params }));
      ws.onerror = (ev: unknown) => {
        const e = new Error(`WebSocket ${url}: ${(ev as { message?: string }).message ?? 'connection error'}`);
        if (id === null) reject(e);
        else onError?.(e);
      };
      ws.onclose = () => {
        if (id === null) reject(new Error(`WebSocket ${url} closed before the subscription was made`));
      };
      ws.onmessage = (ev: { data: unknown }) => {
        const m = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { code: number; message: string; data?: PelRpcError['data'] }; params?: { subscription: string; result: T } };
        if (m.id === 1) {
          if (m.error) {
            reject(new PelRpcError(m.error.code, m.error.message, m.error.data));
            ws.close();
            return;
          }
          id = String(m.result);
          resolve({ id, close: () => ws.close() });
          return;
        }
        if (m.params && m.params.subscription === id) onMessage(m.params.result);
      };
    });
  }
}

/** The part of the WebSocket API the client uses, in both the browser's and the `ws` package's shape. */
interface WebSocketLike {
  onopen: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}
type WebSocketCtor = new (url: string) => WebSocketLike;
