/**
 * Resource limits of the JSON-RPC transport that span connections: how many connections an
 * IP address and the node may hold open, and how many bytes of WebSocket output the node
 * holds for peers that do not read (docs/PROTOCOL.md, "Limits"). Plain bookkeeping, no
 * sockets: server.ts decides when to count and what to answer.
 */

/** WebSocket close codes pel sends (4000-4999: private use, RFC 6455 section 7.4.2). */
export const WsCloseCode = {
  /** This connection's unsent output passed --rpc-ws-buffer. */
  SLOW_CONSUMER: 4008,
  /** The node's unsent WebSocket output passed --rpc-ws-buffer-total and this connection held the most. */
  SEND_BUFFERS_FULL: 4009,
} as const;

/** The key a peer's connections are counted under: its IP address, IPv4-mapped IPv6 as IPv4. */
export function peerKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '?';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}

export type LimitScope = 'ip' | 'node';

/** Open connections, in total and per peer key. */
export class ConnectionCounter {
  private readonly perKey = new Map<string, number>();
  private total = 0;

  constructor(
    readonly maxTotal: number,
    readonly maxPerKey: number,
  ) {}

  get size(): number {
    return this.total;
  }

  countOf(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  /** Which limit one more connection for `key` would pass, if any. */
  check(key: string): LimitScope | null {
    if (this.total >= this.maxTotal) return 'node';
    if (this.countOf(key) >= this.maxPerKey) return 'ip';
    return null;
  }

  add(key: string): void {
    this.perKey.set(key, this.countOf(key) + 1);
    this.total++;
  }

  /** Counts one more connection for `key`, or says which limit refuses it (and counts nothing). */
  tryAdd(key: string): LimitScope | null {
    const over = this.check(key);
    if (over === null) this.add(key);
    return over;
  }

  remove(key: string): void {
    const n = this.countOf(key);
    if (n <= 0) return;
    if (n === 1) this.perKey.delete(key);
    else this.perKey.set(key, n - 1);
    this.total--;
  }
}

/** A connection whose unsent output the send budget tracks. */
export interface BufferHolder {
  /** Bytes this connection holds that are not yet written to its socket, plus those the socket still holds. */
  readonly bufferedBytes: number;
  /** Bytes a close would free at once (all but what the socket holds). */
  readonly droppableBytes: number;
  /** Open: may still send. Once closed, only its in-flight bytes remain until the socket goes. */
  readonly open: boolean;
  /** Close as a consumer too slow for the node's total: drop what is queued, send the close frame. */
  closeForBudget(total: number, limit: number): void;
  /** Destroy the socket now (drops what it holds). */
  terminate(): void;
}

/**
 * Bytes of WebSocket output held for all connections. Each connection reports what it adds
 * and what leaves; past the limit, `shed()` closes the open connections that hold the most,
 * then, if closing peers that have not yet taken their last bytes still hold too much, tears
 * those down too.
 */
export class SendBudget {
  private bytes = 0;
  private readonly holders = new Set<BufferHolder>();

  constructor(readonly limit: number) {}

  get total(): number {
    return this.bytes;
  }

  track(h: BufferHolder): void {
    this.holders.add(h);
  }

  /** Once a connection holds nothing any more (its socket is gone). */
  untrack(h: BufferHolder): void {
    this.holders.delete(h);
  }

  add(n: number): void {
    this.bytes += n;
  }

  release(n: number): void {
    this.bytes -= n;
  }

  /** Brings the total back to the limit; returns how many connections it closed. */
  shed(): number {
    if (this.bytes <= this.limit) return 0;
    let closed = 0;
    const open = [...this.holders].filter((h) => h.open && h.bufferedBytes > 0).sort((a, b) => b.bufferedBytes - a.bufferedBytes);
    for (const h of open) {
      if (this.bytes <= this.limit) return closed;
      h.closeForBudget(this.bytes, this.limit);
      closed++;
    }
    // What is left is in sockets of closed connections waiting for their close handshake.
    let pending = this.bytes;
    for (const h of [...this.holders].filter((x) => !x.open).sort((a, b) => b.bufferedBytes - a.bufferedBytes)) {
      if (pending <= this.limit) break;
      pending -= h.bufferedBytes;
      h.terminate();
    }
    return closed;
  }
}
