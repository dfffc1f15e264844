/**
 * RpcServer's resource limits (node/rpc/server.ts, node/rpc/limits.ts), each against a real
 * server on 127.0.0.1 with small limits, and each answering its documented code:
 * HTTP connections in all and per IP (503 CONNECTION_LIMIT), WebSocket connections in all and
 * per IP (503 CONNECTION_LIMIT on the upgrade), subscriptions in all (SUBSCRIPTION_LIMIT,
 * scope "node"), the header, request and keep-alive timeouts (408 REQUEST_TIMEOUT, or a close),
 * the idle timeout, and unsent WebSocket output per connection (close 4008) and in all (4009),
 * held notifications included. A second loopback address (127.0.0.2) stands for another peer.
 *
 * Timeouts are small (a few hundred ms) and the tests wait for the close or the answer they
 * cause, never for time; where a test must show that something did NOT happen before a
 * timeout, it waits for the event that proves the timeout passed (another connection cut).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { silentLogger, type Logger } from '../../../node/logger.js';
import { RpcCode } from '../../../node/rpc/errors.js';
import { WsCloseCode } from '../../../node/rpc/limits.js';
import { chainMethods } from '../../../node/rpc/methods/chain.js';
import { bindMethods } from '../../../node/rpc/params.js';
import { RpcServer, type RpcContext, type RpcHandler, type RpcServerOptions } from '../../../node/rpc/server.js';

type Json = any;

interface LogLine {
  level: string;
  msg: string;
  ctx?: Record<string, unknown>;
}

function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger: Logger = {
    error: (msg, ctx) => void lines.push({ level: 'error', msg, ctx }),
    warn: (msg, ctx) => void lines.push({ level: 'warn', msg, ctx }),
    info: (msg, ctx) => void lines.push({ level: 'info', msg, ctx }),
    debug: (msg, ctx) => void lines.push({ level: 'debug', msg, ctx }),
    child: () => logger,
  };
  return { logger, lines };
}

/** Polls `cond` until it holds or the deadline passes (for effects with no event to wait on). */
async function until(cond: () => boolean | Promise<boolean>, what: string, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A raw TCP client: what it received, and a promise that settles when the server closes. */
class Raw {
  readonly chunks: Buffer[] = [];
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.on('data', (c) => this.chunks.push(c));
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  static open(port: number, localAddress = '127.0.0.1'): Promise<Raw> {
    return within(
      new Promise((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', localAddress });
        s.once('connect', () => resolve(new Raw(s)));
        s.once('error', reject);
      }),
      'tcp connect',
    );
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** The first complete HTTP response received: status, headers (lower-case) and JSON body. */
  response(): { status: number; headers: Record<string, string>; json: Json } | null {
    const t = this.text;
    const end = t.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const [statusLine, ...headerLines] = t.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const len = Number(headers['content-length'] ?? 0);
    const body = t.slice(end + 4, end + 4 + len);
    if (body.length < len) return null;
    return { status: Number(statusLine!.split(' ')[1]), headers, json: len > 0 ? JSON.parse(body) : undefined };
  }

  async nextResponse(what: string): Promise<{ status: number; headers: Record<string, string>; json: Json }> {
    let r = this.response();
    await until(() => (r = this.response()) !== null || this.socket.destroyed, what);
    if (r === null) throw new Error(`${what}: connection closed without a response; got ${JSON.stringify(this.text)}`);
    return r;
  }
}

const REQUEST = (body = '{"jsonrpc":"2.0","id":1,"method":"ping"}') =>
  `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const UPGRADE = 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

interface ManualSub {
  push: (r: unknown) => void;
  cleanups: number;
}

function toyMethods() {
  const subs = new Map<string, ManualSub>();
  let gate = deferred();
  const methods: Record<string, RpcHandler> = {
    // The node's own unsubscribe (it needs no node: it closes a subscription of the connection).
    chain_unsubscribe: bindMethods({ chain_unsubscribe: chainMethods.chain_unsubscribe! }, null as never).chain_unsubscribe!,
    ping: () => 'pong',
    big: ([n]) => 'b'.repeat(n as number),
    wait: async () => {
      await gate.promise;
      return 'waited';
    },
    sub: (_p, ctx: RpcContext) => {
      const rec: ManualSub = { push: () => {}, cleanups: 0 };
      const id = ctx.subscribe!((push) => {
        rec.push = push;
        return () => void rec.cleanups++;
      });
      subs.set(id, rec);
      return id;
    },
  };
  return { methods, subs, release: () => gate.resolve(), resetGate: () => (gate = deferred()) };
}

const servers: RpcServer[] = [];
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer(opts: Partial<RpcServerOptions>, logger: Logger = silentLogger) {
  const toys = toyMethods();
  const server = new RpcServer({ host: '127.0.0.1', port: 0, ...opts }, toys.methods, { logger });
  servers.push(server);
  const info = await server.start();
  return { server, toys, ...info };
}

async function raw(port: number, localAddress?: string): Promise<Raw> {
  const r = await Raw.open(port, localAddress);
  clients.push({ close: () => r.socket.destroy() });
  return r;
}

/** A WebSocket client that queues messages and records its close. */
class Ws {
  readonly messages: Json[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextId = 1;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.messages.push(JSON.parse(String(d))));
    ws.on('error', () => {});
    this.closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
  }

  static async open(url: string, localAddress?: string): Promise<Ws> {
    const ws = new WebSocket(url, { localAddress });
    const c = await within(
      new Promise<Ws>((resolve, reject) => {
        ws.once('open', () => resolve(new Ws(ws)));
        ws.once('error', reject);
      }),
      'ws open',
    );
    clients.push({ close: () => ws.terminate() });
    return c;
  }

  async call(method: string, params: unknown[] = []): Promise<Json> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    let m: Json;
    await until(() => (m = this.messages.find((x) => x.id === id)) !== undefined, `response to ${method}`);
    return m;
  }

  /** Stops reading: the kernel buffers fill, then the server's. */
  pause(): void {
    this.ws.pause();
  }
}

// ------------------------------------------------------------------------------------------

describe('HTTP connection limits', () => {
  it('past the per-IP limit a connection gets 503 CONNECTION_LIMIT (scope ip) and is closed; another IP is served', async () => {
    const { port, server } = await startServer({ maxConnectionsPerIp: 2, maxConnections: 100 });
    const a = await raw(port);
    const b = await raw(port);
    await until(() => server.stats().httpConnections === 2, 'two connections counted');
    const c = await raw(port);
    c.socket.write(REQUEST());
    const r = await c.nextResponse('503 past the per-IP limit');
    expect(r.status).toBe(503);
    expect(r.headers.connection).toBe('close');
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.CONNECTION_LIMIT, data: { code: 'CONNECTION_LIMIT', scope: 'ip', limit: 2, transport: 'http', httpStatus: 503 } } });
    await within(c.closed, 'refused connection closed');

    // The counted ones are served; another address has its own budget.
    a.socket.write(REQUEST());
    expect((await a.nextResponse('answer on a counted connection')).json.result).toBe('pong');
    const other = await raw(port, '127.0.0.2');
    other.socket.write(REQUEST());
    expect((await other.nextResponse('answer from 127.0.0.2')).status).toBe(200);

    // A closed connection frees its slot.
    b.socket.destroy();
    await until(() => server.stats().httpConnections === 2, 'slot freed');
    const d = await raw(port);
    d.socket.write(REQUEST());
    expect((await d.nextResponse('answer after a slot was freed')).status).toBe(200);
  });

  it('the defaults serve 220 requests at once from one address (fetch opens a connection for each; pel bench rpc reads 200 accounts at once)', async () => {
    const { url, server } = await startServer({});
    const statuses = await Promise.all(Array.from({ length: 220 }, (_, i) => fetch(url, { method: 'POST', body: `{"jsonrpc":"2.0","id":${i},"method":"ping"}` }).then((r) => r.status)));
    expect(statuses.filter((st) => st !== 200)).toEqual([]);
    expect(server.stats().httpConnections).toBeGreaterThan(128);
  });

  it('past the total limit a connection gets 503 CONNECTION_LIMIT (scope node), whatever its IP', async () => {
    const { port, server } = await startServer({ maxConnections: 2, maxConnectionsPerIp: 100 });
    await raw(port);
    await raw(port, '127.0.0.2');
    await until(() => server.stats().httpConnections === 2, 'two connections counted');
    const c = await raw(port, '127.0.0.3');
    c.socket.write(REQUEST());
    const r = await c.nextResponse('503 past the total limit');
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: RpcCode.CONNECTION_LIMIT, data: { scope: 'node', limit: 2 } });
    await within(c.closed, 'refused connection closed');
  });

  it('a WebSocket leaves the HTTP count when it upgrades', async () => {
    const { port, wsUrl, server } = await startServer({ maxConnections: 1 });
    const w = await Ws.open(wsUrl);
    expect(server.stats()).toMatchObject({ httpConnections: 0, wsConnections: 1 });
    const h = await raw(port);
    h.socket.write(REQUEST());
    expect((await h.nextResponse('HTTP served beside a WebSocket')).status).toBe(200);
    expect((await w.call('ping')).result).toBe('pong');
  });
});

describe('WebSocket connection limits', () => {
  it('past the per-IP limit the upgrade gets 503 CONNECTION_LIMIT (scope ip); another IP connects', async () => {
    const { port, wsUrl } = await startServer({ maxWsConnectionsPerIp: 2, maxWsConnections: 100 });
    await Ws.open(wsUrl);
    const b = await Ws.open(wsUrl);
    const c = await raw(port);
    c.socket.write(UPGRADE);
    await within(c.closed, 'refused upgrade closed');
    const r = c.response()!;
    expect(r.status).toBe(503);
    expect(r.json.error).toMatchObject({ code: RpcCode.CONNECTION_LIMIT, data: { code: 'CONNECTION_LIMIT', scope: 'ip', limit: 2, transport: 'ws' } });
    expect((await (await Ws.open(wsUrl, '127.0.0.2')).call('ping')).result).toBe('pong');
    // Closing one frees the slot once the server has seen the socket go.
    b.ws.close();
    await b.closed;
    await until(async () => {
      try {
        await Ws.open(wsUrl);
        return true;
      } catch {
        return false;
      }
    }, 'a free per-IP slot');
  });

  it('past the total limit the upgrade gets 503 CONNECTION_LIMIT (scope node)', async () => {
    const { port, wsUrl } = await startServer({ maxWsConnections: 2, maxWsConnectionsPerIp: 100 });
    await Ws.open(wsUrl);
    await Ws.open(wsUrl, '127.0.0.2');
    const c = await raw(port, '127.0.0.3');
    c.socket.write(UPGRADE);
    await within(c.closed, 'refused upgrade closed');
    expect(c.response()!.json.error).toMatchObject({ code: RpcCode.CONNECTION_LIMIT, data: { scope: 'node', limit: 2, transport: 'ws' } });
  });
});

describe('subscriptions in all', () => {
  it('past the node-wide limit subscribe answers SUBSCRIPTION_LIMIT (scope node); unsubscribe and disconnect free slots', async () => {
    const { wsUrl, server } = await startServer({ maxSubscriptionsPerConnection: 2, maxSubscriptionsTotal: 3 });
    const a = await Ws.open(wsUrl);
    const b = await Ws.open(wsUrl);
    const a1 = (await a.call('sub')).result;
    expect((await a.call('sub')).result).toMatch(/^0x/);
    expect((await b.call('sub')).result).toMatch(/^0x/);
    const refused = await b.call('sub');
    expect(refused.error).toMatchObject({ code: RpcCode.SUBSCRIPTION_LIMIT, data: { code: 'SUBSCRIPTION_LIMIT', scope: 'node', limit: 3 } });
    expect(server.stats().subscriptions).toBe(3);
    // The per-connection limit still answers with its own scope.
    expect((await a.call('sub')).error).toMatchObject({ code: RpcCode.SUBSCRIPTION_LIMIT, data: { scope: 'connection', limit: 2 } });
    expect((await a.call('chain_unsubscribe', [a1])).result).toBe(true);
    expect((await b.call('sub')).result).toMatch(/^0x/);
    a.ws.close();
    await a.closed;
    await until(() => server.stats().subscriptions === 2, 'a disconnect frees its subscriptions');
    expect((await (await Ws.open(wsUrl)).call('sub')).result).toMatch(/^0x/);
  });
});

describe('HTTP timeouts', () => {
  it('headers not complete within the header timeout: 408 REQUEST_TIMEOUT, then closed', async () => {
    const { port } = await startServer({ headersTimeoutMs: 200, requestTimeoutMs: 60_000 });
    const c = await raw(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\n');
    await within(c.closed, 'connection closed by the header timeout');
    const r = c.response()!;
    expect(r.status).toBe(408);
    expect(r.json).toMatchObject({ id: null, error: { code: RpcCode.REQUEST_TIMEOUT, data: { code: 'REQUEST_TIMEOUT', httpStatus: 408, headersTimeoutMs: 200 } } });
  });

  it('a connection that sends nothing is closed by the header timeout too', async () => {
    const { port } = await startServer({ headersTimeoutMs: 200 });
    const c = await raw(port);
    await within(c.closed, 'silent connection closed');
  });

  it('a body not complete within the request timeout: 408 REQUEST_TIMEOUT, then closed', async () => {
    const { port } = await startServer({ headersTimeoutMs: 200, requestTimeoutMs: 300 });
    const c = await raw(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"jsonrpc":');
    await within(c.closed, 'connection closed by the request timeout');
    const r = c.response()!;
    expect(r.status).toBe(408);
    expect(r.json.error).toMatchObject({ code: RpcCode.REQUEST_TIMEOUT, data: { requestTimeoutMs: 300 } });
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout, which the answer announces', async () => {
    const { port } = await startServer({ keepAliveTimeoutMs: 1_000 });
    const c = await raw(port);
    c.socket.write(REQUEST());
    const r = await c.nextResponse('answer');
    expect(r.status).toBe(200);
    expect(r.headers['keep-alive']).toBe('timeout=1');
    await within(c.closed, 'keep-alive connection closed');
  });

  it('a request that arrived while the event loop was held up past the keep-alive timeout is answered, not reset', async () => {
    const { port } = await startServer({ keepAliveTimeoutMs: 1 }); // node:http adds 1 s to what it announces
    const c = await raw(port);
    c.socket.write(REQUEST());
    expect((await c.nextResponse('first answer')).status).toBe(200);
    c.chunks.length = 0;
    // In the check phase (after this turn's reads) the next request reaches the server's socket
    // buffer, then this whole process stalls past the keep-alive timer: when the stall ends, the
    // loop runs that expired timer before it reads the request (a reset, before the fix).
    await new Promise<void>((resolve) => setImmediate(() => {
      c.socket.write(REQUEST('{"jsonrpc":"2.0","id":2,"method":"ping"}'));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_500);
      resolve();
    }));
    const r = await c.nextResponse('answer to the request sent before the stall');
    expect(r.json).toMatchObject({ id: 2, result: 'pong' });
  });

  it('the idle timeout cuts a peer that does not read its response, not a request the server still works on', async () => {
    const { port, server, toys } = await startServer({ idleTimeoutMs: 200, keepAliveTimeoutMs: 60_000 });
    // Held by the server: no byte moves until `wait` returns.
    const waiting = await raw(port);
    waiting.socket.write(REQUEST('{"jsonrpc":"2.0","id":1,"method":"wait"}'));
    // A peer that asks for 16 MB and reads none of it.
    const stalled = await raw(port);
    stalled.socket.pause();
    stalled.socket.write(REQUEST(`{"jsonrpc":"2.0","id":2,"method":"big","params":[${16 * 1024 * 1024}]}`));
    await until(() => server.stats().httpConnections === 1, 'the stalled connection cut by the idle timeout');
    // More than the idle timeout has passed: the held request is still there, and is answered.
    expect(waiting.socket.destroyed).toBe(false);
    toys.release();
    const r = await waiting.nextResponse('answer to the held request');
    expect(r.json.result).toBe('waited');
  });
});

describe('unsent WebSocket output', () => {
  const CHUNK = 'q'.repeat(256 * 1024);

  it('past the per-connection limit the connection is closed with 4008 SLOW_CONSUMER and its bytes are released', async () => {
    const log = captureLogger();
    const { wsUrl, server, toys } = await startServer({ maxWsBufferedBytes: 1024 * 1024, maxWsBufferedBytesTotal: 64 * 1024 * 1024 }, log.logger);
    const slow = await Ws.open(wsUrl);
    const id = (await slow.call('sub')).result;
    const rec = toys.subs.get(id)!;
    slow.pause();
    let pushes = 0;
    while (rec.cleanups === 0 && pushes < 1000) {
      rec.push(CHUNK);
      pushes++;
    }
    expect(rec.cleanups).toBe(1);
    expect(pushes).toBeLessThanOrEqual(6);
    expect(log.lines.find((l) => l.msg === 'ws slow consumer closed')).toMatchObject({ level: 'warn', ctx: { code: WsCloseCode.SLOW_CONSUMER, limit: 1024 * 1024 } });
    slow.ws.resume();
    expect(await within(slow.closed, 'close frame after the backlog')).toEqual({ code: 4008, reason: expect.stringMatching(/^SLOW_CONSUMER: /) });
    await until(() => server.stats().wsBufferedBytes === 0 && server.stats().wsConnections === 0, 'every byte released');
  });

  it('takes a message bigger than the limit when nothing else is queued, even with a message still being written', async () => {
    const { wsUrl, toys } = await startServer({ maxWsBufferedBytes: 1024 * 1024 });
    const c = await Ws.open(wsUrl);
    const rec = toys.subs.get((await c.call('sub')).result)!;
    // In one turn of the event loop: the first is handed to the socket, whose write completes later.
    rec.push(CHUNK);
    rec.push('z'.repeat(3 * 1024 * 1024));
    expect(rec.cleanups).toBe(0);
    await until(() => c.messages.filter((m) => m.method === 'chain_subscription').length === 2, 'both notifications read');
    expect(c.messages.at(-1).params.result).toHaveLength(3 * 1024 * 1024);
  });

  it('past the total the connection holding the most is closed with 4009 SEND_BUFFERS_FULL; the others are served', async () => {
    // Six notifications (256 KiB and an envelope each) fit the total, a seventh does not; each connection may hold 2 MiB.
    const total = 6 * 256 * 1024 + 8 * 1024;
    const { wsUrl, server, toys } = await startServer({ maxWsBufferedBytes: 2 * 1024 * 1024, maxWsBufferedBytesTotal: total });
    const a = await Ws.open(wsUrl);
    const b = await Ws.open(wsUrl);
    const good = await Ws.open(wsUrl);
    const ra = toys.subs.get((await a.call('sub')).result)!;
    const rb = toys.subs.get((await b.call('sub')).result)!;
    a.pause();
    b.pause();
    // Three each: under the total, each connection under its own limit.
    for (let i = 0; i < 3; i++) {
      ra.push(CHUNK);
      rb.push(CHUNK);
    }
    expect(ra.cleanups + rb.cleanups).toBe(0);
    expect(server.stats().wsBufferedBytes).toBeGreaterThan(6 * 256 * 1024);
    rb.push(CHUNK); // b now holds the most, and the total is over
    expect(rb.cleanups).toBe(1);
    expect(ra.cleanups).toBe(0);
    expect(server.stats().wsBufferedBytes).toBeLessThanOrEqual(total);
    expect((await good.call('ping')).result).toBe('pong');
    b.ws.resume();
    expect(await within(b.closed, 'close frame')).toEqual({ code: 4009, reason: expect.stringMatching(/^SEND_BUFFERS_FULL: /) });
    a.ws.resume();
    await until(() => a.messages.filter((m) => m.method === 'chain_subscription').length === 3, 'a reads its three notifications');
    await until(() => server.stats().wsBufferedBytes === 0, 'every byte released');
  });

  it('serialises an object pushed to many subscriptions once', async () => {
    const { wsUrl, toys } = await startServer({});
    const clients = [await Ws.open(wsUrl), await Ws.open(wsUrl)];
    for (const c of clients) for (let i = 0; i < 2; i++) await c.call('sub');
    let serialised = 0;
    const block = { height: 7, toJSON: () => (serialised++, { height: 7 }) };
    for (const rec of toys.subs.values()) rec.push(block);
    for (const c of clients) await until(() => c.messages.filter((m) => m.method === 'chain_subscription').length === 2, 'two notifications each');
    expect(clients.flatMap((c) => c.messages.filter((m) => m.method === 'chain_subscription').map((m) => m.params.result))).toEqual(Array(4).fill({ height: 7 }));
    expect(serialised).toBe(1);
  });

  it('counts notifications held back until their subscription id is sent', async () => {
    const { wsUrl, server, toys } = await startServer({ maxWsBufferedBytes: 1024 * 1024 });
    const c = await Ws.open(wsUrl);
    // The answer to this batch waits for `wait`, so the subscription's id is not sent yet.
    c.ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'sub' }, { jsonrpc: '2.0', id: 2, method: 'wait' }]));
    await until(() => toys.subs.size === 1, 'subscribed');
    const rec = [...toys.subs.values()][0]!;
    let pushes = 0;
    while (rec.cleanups === 0 && pushes < 1000) {
      rec.push(CHUNK);
      pushes++;
    }
    expect(rec.cleanups).toBe(1);
    expect(pushes).toBeLessThanOrEqual(6);
    expect((await within(c.closed, 'closed while its notifications were held')).code).toBe(4008);
    toys.release();
    await until(() => server.stats().wsBufferedBytes === 0 && server.stats().subscriptions === 0, 'held bytes released');
  });
});
