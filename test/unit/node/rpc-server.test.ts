import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Logger } from '../../../node/logger.js';
import { RpcError, RpcCode, invalidParams } from '../../../node/rpc/errors.js';
import { chainMethods } from '../../../node/rpc/methods/chain.js';
import { bindMethods } from '../../../node/rpc/params.js';
import { RpcServer, handleRpcText, defaultRpcServerOptions, type RpcContext, type RpcHandler } from '../../../node/rpc/server.js';

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
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

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Polls `cond` until it holds or the deadline passes (for effects with no event to wait on). */
async function until(cond: () => boolean | Promise<boolean>, what: string, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Rejects if `p` does not settle within the deadline, so a missing message fails clearly. */
function within<T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// Responses are checked with toEqual/toMatchObject; the tests read into them freely.
type Json = any;

/** A WebSocket client that queues every message so a test can wait for the one it expects. */
class WsClient {
  readonly messages: Json[] = [];
  private waiters: { pred: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      const msg: Json = JSON.parse(String(data));
      const i = this.waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(msg);
      else this.messages.push(msg);
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static open(url: string): Promise<WsClient> {
    const ws = new WebSocket(url);
    return within(
      new Promise((resolve, reject) => {
        ws.once('open', () => resolve(new WsClient(ws)));
        ws.once('error', reject);
      }),
      'ws open',
    );
  }

  /** The first queued or future message matching `pred`, removed from the queue. */
  waitFor(pred: (m: Json) => boolean, what = 'ws message'): Promise<Json> {
    const i = this.messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]);
    const d = deferred<Json>();
    this.waiters.push({ pred, resolve: d.resolve });
    return within(d.promise, what);
  }

  /** The next message in arrival order. */
  next(): Promise<Json> {
    return this.waitFor(() => true, 'next ws message');
  }

  request(method: string, params: unknown[] | undefined, id: number | string): Promise<Json> {
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    return this.waitFor((m) => m.id === id && !('method' in m), `response ${id}`);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

function openRejected(url: string): Promise<string> {
  const ws = new WebSocket(url);
  return within(
    new Promise((resolve, reject) => {
      ws.once('open', () => reject(new Error('upgrade was accepted')));
      ws.once('error', (err) => resolve(err.message));
    }),
    'ws upgrade refusal',
  );
}

/** Writes raw bytes on a fresh TCP connection and returns all it receives until the server closes. */
function rawExchange(port: number, data: string | Buffer): Promise<string> {
  return within(
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(port, '127.0.0.1', () => s.write(data));
      s.on('data', (c) => chunks.push(c));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    }),
    'raw exchange',
  );
}

/** Completes a WebSocket handshake by hand, for frames no well-behaved client would send. */
function rawWsConnect(port: number): Promise<{ socket: Socket; received: Buffer[]; closed: Promise<void> }> {
  return within(
    new Promise((resolve, reject) => {
      const received: Buffer[] = [];
      let headers = '';
      let upgraded = false;
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
      });
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        if (upgraded) return void received.push(chunk);
        headers += chunk.toString('latin1');
        const end = headers.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!headers.startsWith('HTTP/1.1 101')) return reject(new Error(headers));
        upgraded = true;
        const rest = Buffer.from(headers.slice(end + 4), 'latin1');
        if (rest.length > 0) received.push(rest);
        resolve({ socket, received, closed });
      });
    }),
    'raw ws handshake',
  );
}

// ------------------------------------------------------------------------------------------
// toy handlers
// ------------------------------------------------------------------------------------------

interface ManualSub {
  push: (r: unknown) => void;
  cleanups: number;
  cleaned: Deferred<void>;
}

function makeMethods() {
  const manual = new Map<string, ManualSub>();
  const counterCleaned: Deferred<void>[] = [];
  let releaseGate = deferred();
  let gatedEntered = deferred();
  const methods: Record<string, RpcHandler> = {
    echo: (params) => params,
    transport: (_p, ctx) => ({ transport: ctx.transport, canSubscribe: typeof ctx.subscribe === 'function' }),
    add: ([a, b]) => {
      if (typeof a !== 'number' || typeof b !== 'number') throw invalidParams('add expects [number, number]');
      return a + b;
    },
    double: async ([x]) => {
      await Promise.resolve();
      return (x as number) * 2;
    },
    rpcFail: () => {
      throw RpcError.of('NONCE_TOO_LOW', 'nonce 3 is below the account nonce 5', { expected: 5n });
    },
    crash: () => {
      throw new Error('boom: secret at /home/x/db');
    },
    crashAsync: async () => {
      throw new TypeError('async boom');
    },
    big: () => ({ amount: 10n ** 30n, list: [1n, 2n] }),
    nothing: () => undefined,
    circular: () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    },
    // gated only finishes once release has run: proves batch entries run concurrently.
    gated: async () => {
      gatedEntered.resolve();
      await releaseGate.promise;
      return 'gated';
    },
    release: () => {
      releaseGate.resolve();
      return 'released';
    },
    sub_manual: (_p, ctx: RpcContext) => {
      if (ctx.subscribe === undefined) throw RpcError.of('NOT_AVAILABLE', 'subscriptions need a WebSocket connection');
      const rec: ManualSub = { push: () => {}, cleanups: 0, cleaned: deferred() };
      const id = ctx.subscribe((push) => {
        rec.push = push;
        push('first'); // before the client can know the id: must arrive after the response
        return () => {
          rec.cleanups++;
          rec.cleaned.resolve();
        };
      });
      manual.set(id, rec);
      return id;
    },
    // The node's own: it needs nothing from the node, only the connection's unsubscribe.
    chain_unsubscribe: bindMethods({ chain_unsubscribe: chainMethods.chain_unsubscribe! }, null as never).chain_unsubscribe!,
    sub_counter: (_p, ctx) => {
      const cleaned = deferred();
      counterCleaned.push(cleaned);
      return ctx.subscribe!((push) => {
        let n = 0;
        const t = setInterval(() => push(n++), 1);
        return () => {
          clearInterval(t);
          cleaned.resolve();
        };
      });
    },
  };
  return {
    methods,
    manual,
    counterCleaned,
    gate: {
      reset() {
        releaseGate = deferred();
        gatedEntered = deferred();
      },
      entered: () => gatedEntered.promise,
    },
  };
}

// ------------------------------------------------------------------------------------------
// the shared server
// ------------------------------------------------------------------------------------------

const MAX_BODY = 64 * 1024;
const toys = makeMethods();
const log = captureLogger();
let server: RpcServer;
let url: string;
let wsUrl: string;
let port: number;

beforeAll(async () => {
  server = new RpcServer(
    { host: '127.0.0.1', port: 0, maxBodyBytes: MAX_BODY, maxBatchSize: 10, maxSubscriptionsPerConnection: 3, maxWsBufferedBytes: 1024 * 1024 },
    toys.methods,
    { logger: log.logger, routes: { '/metrics': () => ({ contentType: 'text/plain; version=0.0.4', body: 'pel_up 1\n' }) } },
  );
  ({ url, wsUrl, port } = await server.start());
});

afterAll(async () => {
  await server.close();
});

async function post(body: string | Uint8Array, path = '/'): Promise<{ status: number; headers: Headers; text: string; json: Json }> {
  const res = await fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text === '' ? undefined : JSON.parse(text) };
}

async function call(req: unknown): Promise<Json> {
  const r = await post(JSON.stringify(req));
  expect(r.status).toBe(200);
  return r.json;
}

/** The server still answers a plain request: run after every bad input. */
async function expectAlive(): Promise<void> {
  expect(await call({ jsonrpc: '2.0', id: 'alive', method: 'add', params: [2, 3] })).toEqual({ jsonrpc: '2.0', id: 'alive', result: 5 });
}

// ------------------------------------------------------------------------------------------
// HTTP
// ------------------------------------------------------------------------------------------

describe('RpcServer over HTTP', () => {
  it('binds 127.0.0.1 by default and reports its urls', async () => {
    expect(defaultRpcServerOptions.host).toBe('127.0.0.1');
    const s = new RpcServer({ port: 0 }, {}, { logger: captureLogger().logger });
    const info = await s.start();
    expect(info.host).toBe('127.0.0.1');
    expect(info.url).toBe(`http://127.0.0.1:${info.port}/`);
    expect(info.wsUrl).toBe(`ws://127.0.0.1:${info.port}/`);
    await s.close();
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    expect(() => new RpcServer({ port: 70000 }, {}, { logger: captureLogger().logger })).toThrow(RangeError);
    expect(() => new RpcServer({ maxBatchSize: 0 }, {}, { logger: captureLogger().logger })).toThrow(/maxBatchSize/);
  });

  it('answers GET /health and configured routes', async () => {
    const h = await fetch(new URL('/health', url));
    expect(h.status).toBe(200);
    expect(h.headers.get('content-type')).toBe('application/json');
    expect(h.headers.get('access-control-allow-origin')).toBe('*');
    expect(await h.json()).toEqual({ status: 'ok' });

    const m = await fetch(new URL('/metrics', url));
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await m.text()).toBe('pel_up 1\n');
  });

  it('answers unknown paths with 404 and wrong methods with 405, as JSON-RPC error bodies', async () => {
    const nf = await fetch(new URL('/nope', url));
    expect(nf.status).toBe(404);
    expect(nf.headers.get('content-type')).toBe('application/json');
    const nfBody: Json = await nf.json();
    expect(nfBody).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.INVALID_REQUEST } });
    expect(nfBody.error.message).toContain('/nope');

    expect((await post('{}', '/nope')).status).toBe(404);
    const getRoot = await fetch(url);
    expect(getRoot.status).toBe(405);
    expect(getRoot.headers.get('allow')).toContain('POST');
    expect(((await getRoot.json()) as Json).error.code).toBe(RpcCode.INVALID_REQUEST);
    expect((await post('{}', '/health')).status).toBe(405);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(405);
    await expectAlive();
  });

  it('answers a CORS preflight', async () => {
    const res = await fetch(url, { method: 'OPTIONS', headers: { origin: 'http://wallet.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type');
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo' }));
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('content-type')).toBe('application/json');
  });

  it('answers a single request and keeps the id as sent', async () => {
    expect(await call({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['a', 2] })).toEqual({ jsonrpc: '2.0', id: 1, result: ['a', 2] });
    expect(await call({ jsonrpc: '2.0', id: 'x-1', method: 'add', params: [1, 2] })).toEqual({ jsonrpc: '2.0', id: 'x-1', result: 3 });
    expect(await call({ jsonrpc: '2.0', id: null, method: 'double', params: [21] })).toEqual({ jsonrpc: '2.0', id: null, result: 42 });
    expect(await call({ jsonrpc: '2.0', id: 7, method: 'transport' })).toEqual({ jsonrpc: '2.0', id: 7, result: { transport: 'http', canSubscribe: false } });
  });

  it('sends the id back exactly as written, numbers beyond 2^53 and fractions included', async () => {
    for (const id of ['9007199254740993', '-9007199254740993', '18446744073709551616', '1.5', '1.0e0', '-0', '1E+400', '0', '"x"', '""', 'null']) {
      const r = await post(`{"jsonrpc":"2.0","id":${id},"method":"echo","params":[1]}`);
      expect(r.text, id).toBe(`{"jsonrpc":"2.0","id":${id},"result":[1]}`);
      const e = await post(`{"jsonrpc":"2.0","id":${id},"method":"no_such_method"}`);
      expect(e.text.startsWith(`{"jsonrpc":"2.0","id":${id},"error":`), id).toBe(true);
    }
    // A string id comes back as the same string (escapes may be written differently).
    const escaped = await post('{"jsonrpc":"2.0","id":"\\u00e9\\ud83d\\ude00\\"","method":"echo"}');
    expect(escaped.json).toEqual({ jsonrpc: '2.0', id: 'é😀"', result: [] });
    const batch = await post('[{"jsonrpc":"2.0","id":9007199254740993,"method":"echo"},{"jsonrpc":"2.0","id":9007199254740995,"method":"echo"}]');
    expect(batch.text).toBe('[{"jsonrpc":"2.0","id":9007199254740993,"result":[]},{"jsonrpc":"2.0","id":9007199254740995,"result":[]}]');
  });

  it('bounds what an error echoes of the request: a long method name shows 32 characters', async () => {
    const method = 'm'.repeat(MAX_BODY - 100);
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method }));
    expect(r.json).toMatchObject({ id: 1, error: { code: RpcCode.METHOD_NOT_FOUND, data: { code: 'METHOD_NOT_FOUND', method: 'm'.repeat(32) + '…' } } });
    expect(r.text.length).toBeLessThan(300);
    const p = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: 'p'.repeat(MAX_BODY - 100) }));
    expect(p.json).toMatchObject({ id: 2, error: { code: RpcCode.INVALID_REQUEST } });
    expect(p.text.length).toBeLessThan(300);
  });

  it('maps params: absent -> [], array as is, object -> [object], anything else -> -32600 (answered even without an id)', async () => {
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'echo' })).result).toEqual([]);
    expect((await call({ jsonrpc: '2.0', id: 2, method: 'echo', params: [] })).result).toEqual([]);
    expect((await call({ jsonrpc: '2.0', id: 3, method: 'echo', params: { a: 1, b: [2] } })).result).toEqual([{ a: 1, b: [2] }]);
    for (const params of ['x', 1, null, true]) {
      const r = await call({ jsonrpc: '2.0', id: 4, method: 'echo', params });
      expect(r).toMatchObject({ jsonrpc: '2.0', id: 4, error: { code: RpcCode.INVALID_REQUEST, data: { code: 'INVALID_REQUEST' } } });
      expect(r).not.toHaveProperty('result');
      // Without an id it is still answered: an invalid request is not a notification.
      expect(await call({ jsonrpc: '2.0', method: 'echo', params })).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.INVALID_REQUEST } });
    }
  });

  it('answers malformed JSON with -32700 and id null', async () => {
    for (const body of ['{"jsonrpc":"2.0","method":"echo",', '', 'nope', '[1,2']) {
      const r = await post(body);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.PARSE_ERROR, data: { code: 'PARSE_ERROR' } } });
    }
    await expectAlive();
  });

  it('answers a body that is not valid UTF-8 with -32700', async () => {
    const bad = new Uint8Array([...Buffer.from('{"jsonrpc":"2.0","id":1,"method":"echo","params":["'), 0xff, 0xfe, ...Buffer.from('"]}')]);
    const r = await post(bad);
    expect(r.json).toMatchObject({ id: null, error: { code: RpcCode.PARSE_ERROR } });
    await expectAlive();
  });

  it('answers invalid requests with -32600, echoing a valid id', async () => {
    const cases: [unknown, unknown][] = [
      [1, null],
      ['str', null],
      [null, null],
      [true, null],
      [{ id: 1, method: 'echo' }, 1], // no jsonrpc
      [{ jsonrpc: '1.0', id: 2, method: 'echo' }, 2],
      [{ jsonrpc: 2, id: 3, method: 'echo' }, 3],
      [{ jsonrpc: '2.0', id: 4 }, 4], // no method
      [{ jsonrpc: '2.0', id: 5, method: 5 }, 5],
      [{ jsonrpc: '2.0', id: { a: 1 }, method: 'echo' }, null],
      [{ jsonrpc: '2.0', id: [1], method: 'echo' }, null],
      [{ jsonrpc: '2.0', id: true, method: 'echo' }, null],
      [{ jsonrpc: '2.0', method: 1, params: 'bar' }, null], // the spec's own example: answered though it has no id
    ];
    for (const [req, id] of cases) {
      const r = await call(req);
      expect(r, JSON.stringify(req)).toEqual({ jsonrpc: '2.0', id, error: { code: RpcCode.INVALID_REQUEST, message: expect.any(String), data: { code: 'INVALID_REQUEST' } } });
    }
    await expectAlive();
  });

  it('answers an unknown method with -32601 naming it, and does not reach Object.prototype', async () => {
    const r = await call({ jsonrpc: '2.0', id: 1, method: 'no_such_method' });
    expect(r).toMatchObject({ id: 1, error: { code: RpcCode.METHOD_NOT_FOUND, data: { code: 'METHOD_NOT_FOUND' } } });
    expect(r.error.message).toContain('no_such_method');
    for (const method of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect((await call({ jsonrpc: '2.0', id: 2, method })).error.code).toBe(RpcCode.METHOD_NOT_FOUND);
    }
  });

  it('passes an RpcError through as its toJSON()', async () => {
    const r = await call({ jsonrpc: '2.0', id: 9, method: 'rpcFail' });
    expect(r).toEqual({
      jsonrpc: '2.0',
      id: 9,
      error: { code: RpcCode.NONCE_TOO_LOW, message: 'nonce 3 is below the account nonce 5', data: { code: 'NONCE_TOO_LOW', expected: '5' } },
    });
    const p = await call({ jsonrpc: '2.0', id: 10, method: 'add', params: ['1', 2] });
    expect(p.error).toMatchObject({ code: RpcCode.INVALID_PARAMS, data: { code: 'INVALID_PARAMS' } });
  });

  it('turns any other throw into -32603 "internal error", logged but not leaked', async () => {
    for (const method of ['crash', 'crashAsync']) {
      const before = log.lines.length;
      const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method }));
      expect(r.json).toEqual({ jsonrpc: '2.0', id: 1, error: { code: RpcCode.INTERNAL_ERROR, message: 'internal error', data: { code: 'INTERNAL_ERROR' } } });
      expect(r.text).not.toContain('boom');
      expect(r.text).not.toContain('at ');
      const logged = log.lines.slice(before).filter((l) => l.level === 'error');
      expect(logged).toHaveLength(1);
      expect(logged[0]!.ctx).toMatchObject({ method });
    }
    await expectAlive();
  });

  it('serialises bigints as decimal strings, undefined as null, and survives an unserialisable result', async () => {
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'big' })).result).toEqual({ amount: '1000000000000000000000000000000', list: ['1', '2'] });
    expect(await call({ jsonrpc: '2.0', id: 2, method: 'nothing' })).toEqual({ jsonrpc: '2.0', id: 2, result: null });
    expect((await call({ jsonrpc: '2.0', id: 3, method: 'circular' })).error).toMatchObject({ code: RpcCode.INTERNAL_ERROR });
    await expectAlive();
  });

  it('answers an empty batch with one -32600 object, not an array', async () => {
    const r = await call([]);
    expect(Array.isArray(r)).toBe(false);
    expect(r).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.INVALID_REQUEST } });
  });

  it('answers a mixed batch in request order and skips notifications', async () => {
    const r = await call([
      { jsonrpc: '2.0', id: 'a', method: 'add', params: [1, 1] },
      { jsonrpc: '2.0', method: 'echo', params: ['notified'] }, // notification
      1, // invalid: answered with id null
      { jsonrpc: '2.0', method: 'no_such_method' }, // notification of an unknown method: not answered
      { jsonrpc: '2.0', method: 'crash' }, // notification whose handler throws: not answered
      { jsonrpc: '2.0', id: 'b', method: 'double', params: [4] },
      { jsonrpc: '2.0', id: 'c', method: 'no_such_method' },
      { jsonrpc: '2.0', id: 'd', method: 'echo', params: 'bad' },
      { jsonrpc: '2.0', method: 'echo', params: 'bad' }, // invalid, not a notification: answered with id null
    ]);
    expect(r).toEqual([
      { jsonrpc: '2.0', id: 'a', result: 2 },
      { jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: RpcCode.INVALID_REQUEST }) },
      { jsonrpc: '2.0', id: 'b', result: 8 },
      { jsonrpc: '2.0', id: 'c', error: expect.objectContaining({ code: RpcCode.METHOD_NOT_FOUND }) },
      { jsonrpc: '2.0', id: 'd', error: expect.objectContaining({ code: RpcCode.INVALID_REQUEST }) },
      { jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: RpcCode.INVALID_REQUEST }) },
    ]);
  });

  it('answers a notification or a batch of only notifications with 204 and no body', async () => {
    const one = await post(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: [1] }));
    expect(one.status).toBe(204);
    expect(one.text).toBe('');
    const batch = await post(JSON.stringify([{ jsonrpc: '2.0', method: 'echo' }, { jsonrpc: '2.0', method: 'nope' }]));
    expect(batch.status).toBe(204);
    expect(batch.text).toBe('');
    await expectAlive();
  });

  it('runs batch entries concurrently and keeps the order of the responses', async () => {
    toys.gate.reset();
    // gated waits for release, which comes after it: a sequential dispatcher would hang here.
    const r = await call([
      { jsonrpc: '2.0', id: 1, method: 'gated' },
      { jsonrpc: '2.0', id: 2, method: 'release' },
      { jsonrpc: '2.0', id: 3, method: 'double', params: [5] },
    ]);
    expect(r.map((x: Json) => x.id)).toEqual([1, 2, 3]);
    expect(r.map((x: Json) => x.result)).toEqual(['gated', 'released', 10]);
  });

  it('refuses a batch over maxBatchSize with one BATCH_TOO_LARGE error', async () => {
    const batch = Array.from({ length: 11 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'echo' }));
    const r = await call(batch);
    expect(r).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.BATCH_TOO_LARGE, data: { code: 'BATCH_TOO_LARGE', limit: 10 } } });
    expect((await call(batch.slice(0, 10))).length).toBe(10);
  });

  it('refuses an oversized body with 413 and REQUEST_TOO_LARGE, declared or streamed', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(MAX_BODY)] });
    const r = await post(big);
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.REQUEST_TOO_LARGE, data: { code: 'REQUEST_TOO_LARGE' } } });
    await expectAlive();

    // No Content-Length and a body that never ends: the server must stop reading and answer.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 16 * 1024;
        c.enqueue(new Uint8Array(16 * 1024).fill(0x20));
      },
    });
    const s = await fetch(url, { method: 'POST', body: endless, duplex: 'half' } as RequestInit & { duplex: 'half' });
    expect(s.status).toBe(413);
    expect(((await s.json()) as Json).error.code).toBe(RpcCode.REQUEST_TOO_LARGE);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    await expectAlive();

    // A body just under the limit is fine.
    const fits = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: ['y'.repeat(MAX_BODY - 100)] });
    expect((await call(JSON.parse(fits))).result[0]).toHaveLength(MAX_BODY - 100);
  });

  it('refuses a declared oversized body without waiting for it', async () => {
    const res = await rawExchange(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n{"jsonrpc"`);
    expect(res.startsWith('HTTP/1.1 413')).toBe(true);
    expect(res).toContain(String(RpcCode.REQUEST_TOO_LARGE));
    await expectAlive();
  });

  it('survives aborted requests and garbage on the socket', async () => {
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":"2.0"');
    await until(() => s.bytesWritten > 0, 'partial request written');
    s.destroy();
    await until(() => log.lines.some((l) => l.level === 'debug' && l.msg === 'http request aborted'), 'abort logged');
    await expectAlive();

    const garbage = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage.startsWith('HTTP/1.1 400')).toBe(true);
    await until(() => log.lines.some((l) => l.msg === 'http client error'), 'client error logged');
    await expectAlive();
  });

  it('handleRpcText dispatches without sockets', async () => {
    const ctx: RpcContext = { transport: 'http' };
    const lim = { maxBatchSize: 2 };
    expect(await handleRpcText('{"jsonrpc":"2.0","method":"echo"}', toys.methods, ctx, lim)).toBeNull();
    expect(await handleRpcText('[{"jsonrpc":"2.0","method":"echo"}]', toys.methods, ctx, lim)).toBeNull();
    expect(JSON.parse((await handleRpcText('{"jsonrpc":"2.0","id":1,"method":"add","params":[2,2]}', toys.methods, ctx, lim))!)).toEqual({ jsonrpc: '2.0', id: 1, result: 4 });
    expect(JSON.parse((await handleRpcText('[1,2,3]', toys.methods, ctx, lim))!).error.code).toBe(RpcCode.BATCH_TOO_LARGE);
    expect(JSON.parse((await handleRpcText('{', toys.methods, ctx, lim))!).error.code).toBe(RpcCode.PARSE_ERROR);
  });
});

// ------------------------------------------------------------------------------------------
// WebSocket
// ------------------------------------------------------------------------------------------

describe('RpcServer over WebSocket', () => {
  it('answers requests and batches with transport "ws"', async () => {
    const c = await WsClient.open(wsUrl);
    expect(await c.request('transport', [], 1)).toEqual({ jsonrpc: '2.0', id: 1, result: { transport: 'ws', canSubscribe: true } });
    expect(await c.request('add', [40, 2], 'two')).toEqual({ jsonrpc: '2.0', id: 'two', result: 42 });
    c.ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 10, method: 'double', params: [1] }, { jsonrpc: '2.0', method: 'echo' }, { jsonrpc: '2.0', id: 11, method: 'nope' }]));
    const batch = await c.waitFor((m) => Array.isArray(m), 'batch response');
    expect(batch.map((x: Json) => x.id)).toEqual([10, 11]);
    expect(batch[1].error.code).toBe(RpcCode.METHOD_NOT_FOUND);
    c.ws.send('{bad json');
    expect((await c.waitFor((m) => m.id === null)).error.code).toBe(RpcCode.PARSE_ERROR);
    c.ws.send('[]');
    expect((await c.waitFor((m) => m.id === null)).error.code).toBe(RpcCode.INVALID_REQUEST);
    // A notification gets nothing; the next request's answer is the next message.
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: [1] }));
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'echo', params: [2] }));
    expect(await c.next()).toEqual({ jsonrpc: '2.0', id: 12, result: [2] });
    await c.close();
  });

  it('delivers subscription notifications after the id, and stops them on chain_unsubscribe', async () => {
    const c = await WsClient.open(wsUrl);
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'sub_manual' }));
    // The first push happens inside start(), before the response exists: it must come second.
    const res = await c.next();
    expect(res.id).toBe(1);
    const subId: string = res.result;
    expect(subId).toMatch(/^0x[0-9a-f]+$/);
    expect(await c.next()).toEqual({ jsonrpc: '2.0', method: 'chain_subscription', params: { subscription: subId, result: 'first' } });

    const rec = toys.manual.get(subId)!;
    rec.push({ n: 2, big: 5n });
    expect(await c.next()).toEqual({ jsonrpc: '2.0', method: 'chain_subscription', params: { subscription: subId, result: { n: 2, big: '5' } } });

    expect((await c.request('chain_unsubscribe', [subId], 2)).result).toBe(true);
    expect(rec.cleanups).toBe(1);
    expect((await c.request('chain_unsubscribe', [subId], 3)).result).toBe(false);
    expect((await c.request('chain_unsubscribe', ['0x' + '12'.repeat(16)], 4)).result).toBe(false);
    expect((await c.request('chain_unsubscribe', [5], 5)).error.code).toBe(RpcCode.INVALID_PARAMS);
    expect((await c.request('chain_unsubscribe', ['0x1234'], 6)).error.code).toBe(RpcCode.INVALID_PARAMS);

    // A push after unsubscribe goes nowhere: the next message is the answer to the next request.
    rec.push('late');
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'echo', params: ['after'] }));
    expect(await c.next()).toEqual({ jsonrpc: '2.0', id: 6, result: ['after'] });
    expect(rec.cleanups).toBe(1);
    await c.close();
  });

  it('streams a counter subscription in order and cleans it up on disconnect', async () => {
    const c = await WsClient.open(wsUrl);
    const before = toys.counterCleaned.length;
    const subId = (await c.request('sub_counter', [], 1)).result;
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) seen.push((await c.waitFor((m) => m.params?.subscription === subId, 'counter notification')).params.result);
    expect(seen).toEqual([0, 1, 2]);
    const manualId = (await c.request('sub_manual', [], 2)).result;
    c.ws.terminate(); // no close handshake: an abrupt disconnect
    await within(toys.counterCleaned[before]!.promise, 'counter cleanup on disconnect');
    await within(toys.manual.get(manualId)!.cleaned.promise, 'manual cleanup on disconnect');
    expect(toys.manual.get(manualId)!.cleanups).toBe(1);
  });

  it('refuses subscriptions past the per-connection limit, and frees the slot on unsubscribe', async () => {
    const c = await WsClient.open(wsUrl);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await c.request('sub_manual', [], i)).result);
    expect(new Set(ids).size).toBe(3);
    const refused = await c.request('sub_manual', [], 'over');
    expect(refused.error).toMatchObject({ code: RpcCode.SUBSCRIPTION_LIMIT, data: { code: 'SUBSCRIPTION_LIMIT' } });
    expect((await c.request('chain_unsubscribe', [ids[0]], 'u')).result).toBe(true);
    expect((await c.request('sub_manual', [], 'again')).result).toMatch(/^0x/);
    // The limit is per connection: another connection has its own budget.
    const d = await WsClient.open(wsUrl);
    expect((await d.request('sub_manual', [], 1)).result).toMatch(/^0x/);
    await Promise.all([c.close(), d.close()]);
  });

  it('answers a subscription method over HTTP with NOT_AVAILABLE (no subscribe there), chain_unsubscribe too', async () => {
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'sub_manual' })).error.code).toBe(RpcCode.NOT_AVAILABLE);
    expect((await call({ jsonrpc: '2.0', id: 2, method: 'chain_unsubscribe', params: ['0x1'] })).error.code).toBe(RpcCode.NOT_AVAILABLE);
    expect((await call({ jsonrpc: '2.0', id: 3, method: 'chain_unsubscribe', params: ['0x' + '12'.repeat(16)] })).error.code).toBe(RpcCode.NOT_AVAILABLE);
  });

  it('rejects binary messages with -32600 and keeps the connection', async () => {
    const c = await WsClient.open(wsUrl);
    c.ws.send(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo' })), { binary: true });
    expect(await c.next()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RpcCode.INVALID_REQUEST } });
    expect((await c.request('add', [1, 1], 2)).result).toBe(2);
    await c.close();
  });

  it('closes a connection that sends a message over maxBodyBytes (1009), and keeps serving others', async () => {
    const c = await WsClient.open(wsUrl);
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['z'.repeat(MAX_BODY)] }));
    expect((await within(c.closed, 'close after oversized message')).code).toBe(1009);
    const d = await WsClient.open(wsUrl);
    expect((await d.request('add', [1, 2], 1)).result).toBe(3);
    await d.close();
    await expectAlive();
  });

  it('closes a connection that sends invalid UTF-8 in a text frame (1007)', async () => {
    const c = await WsClient.open(wsUrl);
    c.ws.send(Buffer.from([0x22, 0xff, 0x22]), { binary: false });
    expect((await within(c.closed, 'close after invalid UTF-8')).code).toBe(1007);
    await expectAlive();
  });

  it('closes a connection that sends an invalid frame (1002)', async () => {
    const raw = await rawWsConnect(port);
    // FIN + reserved opcode 0x3, masked, empty payload.
    raw.socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    await within(raw.closed, 'server closes the raw socket');
    const bytes = Buffer.concat(raw.received);
    expect(bytes[0]).toBe(0x88); // close frame
    expect(bytes.readUInt16BE(2)).toBe(1002);
    await expectAlive();
  });

  it('refuses upgrades on other paths with 404', async () => {
    expect(await openRejected(new URL('/other', wsUrl).toString())).toContain('404');
  });

  it('closes a slow consumer instead of buffering without bound', async () => {
    const c = await WsClient.open(wsUrl);
    const subId = (await c.request('sub_manual', [], 1)).result;
    await c.waitFor((m) => m.params?.subscription === subId, 'first notification');
    const rec = toys.manual.get(subId)!;
    c.ws.pause(); // stop reading: the kernel buffers fill, then the server's do
    const chunk = 'q'.repeat(256 * 1024);
    let pushes = 0;
    while (rec.cleanups === 0 && pushes < 1000) {
      rec.push(chunk);
      pushes++;
    }
    expect(rec.cleanups).toBe(1);
    c.ws.resume();
    await within(c.closed, 'slow consumer closed');
    await expectAlive();
    const d = await WsClient.open(wsUrl);
    expect((await d.request('add', [2, 2], 1)).result).toBe(4);
    await d.close();
  });
});

describe('RpcServer limits and shutdown', () => {
  it('refuses WebSocket upgrades past maxWsConnections with 503', async () => {
    const s = new RpcServer({ port: 0, maxWsConnections: 2 }, toys.methods, { logger: captureLogger().logger });
    const info = await s.start();
    const a = await WsClient.open(info.wsUrl);
    const b = await WsClient.open(info.wsUrl);
    expect(await openRejected(info.wsUrl)).toContain('503');
    // HTTP is unaffected by the WebSocket limit.
    expect((await fetch(new URL('/health', info.url))).status).toBe(200);
    await a.close();
    // The server notices the close a moment after the client does: retry until a slot is free.
    let c: WsClient | null = null;
    await until(async () => {
      try {
        c = await WsClient.open(info.wsUrl);
        return true;
      } catch {
        return false;
      }
    }, 'a free connection slot');
    expect((await c!.request('add', [1, 1], 1)).result).toBe(2);
    await Promise.all([b.close(), c!.close()]);
    await s.close();
  });

  it('close() closes WebSocket connections and runs subscription cleanups', async () => {
    const t = makeMethods();
    const s = new RpcServer({ port: 0 }, t.methods, { logger: captureLogger().logger });
    const info = await s.start();
    const c = await WsClient.open(info.wsUrl);
    const subId = (await c.request('sub_manual', [], 1)).result;
    const counterId = (await c.request('sub_counter', [], 2)).result;
    expect(counterId).not.toBe(subId);
    // An idle keep-alive HTTP connection must not hold close() up either.
    expect((await fetch(new URL('/health', info.url))).status).toBe(200);
    await s.close();
    expect(t.manual.get(subId)!.cleanups).toBe(1);
    await within(t.counterCleaned[0]!.promise, 'counter cleanup on close');
    expect((await within(c.closed, 'client sees the close')).code).toBe(1001);
    await expect(fetch(new URL('/health', info.url))).rejects.toThrow();
  });
});
