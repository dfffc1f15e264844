/**
 * JSON-RPC 2.0 server over HTTP (POST /) and WebSocket (same port, upgrade on /). GET and HEAD
 * serve the static files of a StaticSite when one is given (the explorer, node/explorer.ts):
 * only files loaded at start, looked up by exact path, with security headers; POST / is
 * JSON-RPC whatever else is served.
 *
 * This file owns transport and dispatch only: framing, batches, limits, error mapping,
 * subscriptions' plumbing. What each method does lives in the namespace modules that hand
 * their handlers in; nothing here knows about chains, blocks or transactions.
 *
 * Limits (node/rpc/limits.ts; docs/PROTOCOL.md, "Limits and close codes"): connections in all
 * and per IP (503 CONNECTION_LIMIT), subscriptions per connection and in all
 * (SUBSCRIPTION_LIMIT), unsent WebSocket output per connection and in all (close 4008 / 4009),
 * header, request, keep-alive and idle timeouts (408 REQUEST_TIMEOUT, or a close).
 *
 * Decisions a client can observe (see docs/PROTOCOL.md, "JSON-RPC"):
 * - Every JSON-RPC answer, error or not, is HTTP 200, except an oversized body (413) and a
 *   request made only of notifications (204, no body). The Content-Type of the request is not
 *   checked, so `curl -d` works without `-H`.
 * - Named params (`"params": {...}`) reach the handler as a single argument: `[obj]`. Handlers
 *   take positional params; a method that wants named params reads `params[0]` as an object.
 *   `params` that is neither an array nor an object makes the request invalid (-32600).
 * - A handler that returns `undefined` answers `"result": null` (the spec requires `result`).
 * - Invalid requests are always answered, with their `id` when it is a valid id and `null`
 *   otherwise, even when they lack an `id` (spec section 5 and its examples); valid
 *   notifications are never answered, not even with an error.
 * - The id goes back exactly as sent: bodies are parsed by node/rpc/json.ts, which keeps a
 *   number that is not a plain safe integer (2^53 + 1, 1.5, 1e3) as its source text, and the
 *   answer writes that text back.
 * - No message echoes more than PREVIEW_CHARS of what the client sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Logger } from '../logger.js';
import { RpcError } from './errors.js';
import { JsonNumber, JsonTooDeep, parseJson, PREVIEW_CHARS, preview } from './json.js';
import { ConnectionCounter, peerKey, SendBudget, WsCloseCode, type BufferHolder, type LimitScope } from './limits.js';

export interface RpcServerOptions {
  /** Interface to bind. Never all interfaces by default: a devnet RPC is not for the internet. */
  host: string;
  /** 0 = ephemeral; `start()` returns the port actually bound. */
  port: number;
  /** Largest HTTP body and largest WebSocket message, in bytes. */
  maxBodyBytes: number;
  /** Largest number of requests in one batch. */
  maxBatchSize: number;
  /** Open HTTP connections (WebSockets apart), in all and from one IP address; past either, 503 CONNECTION_LIMIT. */
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Open WebSocket connections, in all and from one IP address; past either the upgrade gets 503 CONNECTION_LIMIT. */
  maxWsConnections: number;
  maxWsConnectionsPerIp: number;
  /** Subscriptions per connection and across the server; past either, SUBSCRIPTION_LIMIT. */
  maxSubscriptionsPerConnection: number;
  maxSubscriptionsTotal: number;
  /** A WebSocket whose unsent output would grow past this many bytes is closed (4008, slow consumer). */
  maxWsBufferedBytes: number;
  /** Past this many unsent bytes across all WebSockets, those holding the most are closed (4009). */
  maxWsBufferedBytesTotal: number;
  /** HTTP: time to receive a request's headers, and the whole request; past either, 408 REQUEST_TIMEOUT. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** HTTP: an idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** HTTP: a connection on which nothing moves this long is closed, unless the server is still working on its request. */
  idleTimeoutMs: number;
}

export const defaultRpcServerOptions: RpcServerOptions = {
  host: '127.0.0.1',
  port: 8545,
  maxBodyBytes: 8 * 1024 * 1024,
  maxBatchSize: 2000,
  maxConnections: 1024,
  maxConnectionsPerIp: 256,
  maxWsConnections: 256,
  maxWsConnectionsPerIp: 64,
  maxSubscriptionsPerConnection: 64,
  maxSubscriptionsTotal: 4096,
  maxWsBufferedBytes: 4 * 1024 * 1024,
  maxWsBufferedBytesTotal: 64 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
};

export interface RpcContext {
  transport: 'http' | 'ws';
  /**
   * Present only on WebSocket. Opens a subscription: `start(push)` is called with a push
   * function that sends a notification, and returns a cleanup function called on
   * unsubscribe or disconnect. Returns the subscription id (a 0x-hex string). Throws
   * RpcError SUBSCRIPTION_LIMIT past the per-connection or the server-wide cap.
   * An object pushed to many subscriptions is serialised once: push the same object to all
   * of them, and do not change an object once pushed.
   */
  subscribe?: (start: (push: (result: unknown) => void) => () => void) => string;
  /** Present only on WebSocket. Closes a subscription of this connection; false if it is not open. */
  unsubscribe?: (id: string) => boolean;
}

export type RpcHandler = (params: unknown[], ctx: RpcContext) => unknown | Promise<unknown>;

/** A file served as it is on GET / HEAD (the explorer, node/explorer.ts): loaded once, bounded in size. */
export interface StaticFile {
  readonly contentType: string;
  readonly body: Buffer;
  readonly etag: string;
}

/** Static files by request path ('/index.html', '/app.js'); '/' serves '/index.html'. */
export interface StaticSite {
  readonly files: ReadonlyMap<string, StaticFile>;
  /** Content-Security-Policy sent with every file. */
  readonly csp: string;
}

/** Sent with every static file: no sniffing, no framing, no referrer, nothing from elsewhere. */
const STATIC_SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface HttpRoute {
  (): { contentType: string; body: string } | Promise<{ contentType: string; body: string }>;
}

/** A number id that is not a plain safe integer stays a JsonNumber, written back as sent. */
type JsonRpcId = string | number | JsonNumber | null;
interface ErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** Method that closes a subscription (node/rpc/methods/chain.ts, through RpcContext.unsubscribe). */
export const UNSUBSCRIBE_METHOD = 'chain_unsubscribe';
/** Method name of the notifications a subscription sends. */
export const SUBSCRIPTION_NOTIFICATION = 'chain_subscription';

const HEARTBEAT_MS = 30_000;
const CLOSE_GRACE_MS = 1_000;
/**
 * A WebSocket's output is handed to its socket only while the socket holds less than this
 * (plus one message): the rest waits in the connection's own queue, which a slow-consumer
 * close can drop at once. Whatever sits in a socket's buffer stays until the socket goes.
 */
const WRITE_WINDOW_BYTES = 64 * 1024;
/** Connections over an HTTP connection limit that may wait at once for their 503; more are closed unanswered. */
const MAX_REFUSING = 64;
/** How long a refused connection has to send its request and read the 503. */
const REFUSED_LINGER_MS = 2_000;

// ---------------------------------------------------------------------------------------------
// Dispatch (no sockets)
// ---------------------------------------------------------------------------------------------

/** A handler that leaks a bigint must not break the response: it goes out as a decimal string. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** JSON text of `value`; `null` for values JSON cannot express at top level (undefined, functions). */
function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer) ?? 'null';
}

function idText(id: JsonRpcId): string {
  return id instanceof JsonNumber ? id.source : JSON.stringify(id);
}

function errorText(id: JsonRpcId, error: ErrorObject): string {
  return `{"jsonrpc":"2.0","id":${idText(id)},"error":${toJson(error)}}`;
}

function internalError(): ErrorObject {
  return RpcError.of('INTERNAL_ERROR', 'internal error').toJSON();
}

function invalidRequest(message: string): ErrorObject {
  return RpcError.of('INVALID_REQUEST', message).toJSON();
}

function isValidId(id: unknown): id is JsonRpcId {
  return id === null || typeof id === 'string' || typeof id === 'number' || id instanceof JsonNumber;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber) && !(v instanceof JsonTooDeep);
}

function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: err.message, name: err.name, stack: err.stack };
  return { error: String(err) };
}

/** Answers one request object; `null` when it is a notification (nothing to send). */
async function dispatchOne(req: unknown, methods: Record<string, RpcHandler>, ctx: RpcContext, log: Logger | undefined): Promise<string | null> {
  if (!isPlainObject(req)) return errorText(null, invalidRequest('invalid request: expected a JSON object'));
  const hasId = Object.hasOwn(req, 'id');
  if (hasId && !isValidId(req.id)) return errorText(null, invalidRequest('invalid request: "id" must be a string, a number or null'));
  const id: JsonRpcId = hasId ? (req.id as JsonRpcId) : null;
  if (req.jsonrpc !== '2.0') return errorText(id, invalidRequest('invalid request: "jsonrpc" must be exactly "2.0"'));
  if (typeof req.method !== 'string') return errorText(id, invalidRequest('invalid request: "method" must be a string'));
  const method = req.method;
  let params: unknown[];
  if (!Object.hasOwn(req, 'params')) params = [];
  else if (Array.isArray(req.params)) params = req.params;
  // Named params are passed as one positional argument; see the header comment.
  else if (isPlainObject(req.params)) params = [req.params];
  // Invalid, so answered even without an id: a bad request is not silently a notification.
  else return errorText(id, invalidRequest(`invalid request: "params" must be an array or an object; got ${preview(req.params)}`));

  let error: ErrorObject | null = null;
  let result: unknown = null;
  if (!Object.hasOwn(methods, method) || typeof methods[method] !== 'function') {
    const shown = method.length > PREVIEW_CHARS ? `${method.slice(0, PREVIEW_CHARS)}…` : method;
    error = RpcError.of('METHOD_NOT_FOUND', `method not found: ${preview(method)}`, { method: shown }).toJSON();
  } else {
    try {
      result = await methods[method]!(params, ctx);
    } catch (err) {
      if (err instanceof RpcError) {
        error = err.toJSON();
      } else {
        log?.error('rpc handler failed', { method, ...describeError(err) });
        error = internalError();
      }
    }
  }
  if (!hasId) return null;

  if (error !== null) {
    try {
      return errorText(id, error);
    } catch (err) {
      log?.error('rpc error not serialisable', { method, ...describeError(err) });
      return errorText(id, internalError());
    }
  }
  try {
    return `{"jsonrpc":"2.0","id":${idText(id)},"result":${toJson(result)}}`;
  } catch (err) {
    // Circular structures, throwing toJSON(), nesting too deep for the stack.
    log?.error('rpc result not serialisable', { method, ...describeError(err) });
    return errorText(id, internalError());
  }
}

/**
 * Batch-aware dispatch without sockets (also used by the tests): takes the raw body text,
 * returns the response text or null when nothing must be sent (all notifications).
 * `logger` receives handler failures that are not RpcErrors (the client only sees -32603).
 */
export async function handleRpcText(
  text: string,
  methods: Record<string, RpcHandler>,
  ctx: RpcContext,
  limits: { maxBatchSize: number },
  logger?: Logger,
): Promise<string | null> {
  let parsed: unknown;
  try {
    parsed = parseJson(text);
  } catch {
    return errorText(null, RpcError.of('PARSE_ERROR', 'parse error: the request is not valid JSON').toJSON());
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return errorText(null, invalidRequest('invalid request: empty batch'));
    if (parsed.length > limits.maxBatchSize) {
      const err = RpcError.of('BATCH_TOO_LARGE', `batch of ${parsed.length} requests exceeds the limit of ${limits.maxBatchSize}; split it`, {
        limit: limits.maxBatchSize,
      });
      return errorText(null, err.toJSON());
    }
    const responses = await Promise.all(parsed.map((req) => dispatchOne(req, methods, ctx, logger)));
    const sent = responses.filter((r): r is string => r !== null);
    return sent.length === 0 ? null : `[${sent.join(',')}]`;
  }
  return dispatchOne(parsed, methods, ctx, logger);
}

// ---------------------------------------------------------------------------------------------
// WebSocket connections
// ---------------------------------------------------------------------------------------------

interface Subscription {
  readonly id: string;
  active: boolean;
  cleanup: (() => void) | null;
  /**
   * Notifications pushed before the response carrying this id went out, already serialised
   * and counted in the connection's buffered bytes; null once released.
   */
  held: { text: string; bytes: number }[] | null;
}

/** The subscriptions one incoming message opened, held back until its answer is sent. */
interface MessageScope {
  opened: Subscription[];
  answered: boolean;
}

/** What every WebSocket connection of a server shares. */
interface WsShared {
  readonly opts: RpcServerOptions;
  readonly log: Logger;
  readonly budget: SendBudget;
  /** Open subscriptions across the server. */
  subscriptions: number;
  /** JSON of results pushed to subscriptions, by object: one serialisation for all subscribers. */
  readonly resultJson: WeakMap<object, string>;
}

/**
 * One WebSocket client. Output goes through the connection's own queue: at most
 * WRITE_WINDOW_BYTES (and one message) are handed to the socket at a time, so when the peer
 * stops reading, what piles up is here and counted, and a slow-consumer close frees it at once.
 * Bytes queued, held for a pending subscription id and not yet written by the socket all count
 * against --rpc-ws-buffer (this connection) and --rpc-ws-buffer-total (SendBudget, all of them).
 */
class WsConnection implements BufferHolder {
  readonly subs = new Map<string, Subscription>();
  readonly methods: Record<string, RpcHandler>;
  alive = true;
  closed = false;
  private readonly queue: { text: string; bytes: number }[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private heldBytes = 0;
  /** Handed to ws, write callback not yet called. */
  private inFlightBytes = 0;

  constructor(
    readonly ws: WebSocket,
    readonly peer: { address: string; port: number | undefined },
    private readonly shared: WsShared,
    methods: Record<string, RpcHandler>,
    private readonly onClosed: (conn: WsConnection) => void,
  ) {
    this.methods = methods;
  }

  private get opts(): RpcServerOptions {
    return this.shared.opts;
  }

  private get log(): Logger {
    return this.shared.log;
  }

  get bufferedBytes(): number {
    return this.queuedBytes + this.heldBytes + this.inFlightBytes;
  }

  get droppableBytes(): number {
    return this.queuedBytes + this.heldBytes;
  }

  get open(): boolean {
    return !this.closed;
  }

  onMessage(data: RawData, isBinary: boolean): void {
    this.alive = true;
    if (isBinary) {
      this.log.debug('ws binary message rejected', { bytes: rawLength(data) });
      this.send(errorText(null, invalidRequest('invalid request: binary messages are not accepted; send JSON as text')));
      return;
    }
    // ws has already checked that text frames are valid UTF-8 (it closes with 1007 otherwise).
    const text = rawToBuffer(data).toString('utf8');
    const message: MessageScope = { opened: [], answered: false };
    const ctx: RpcContext = { transport: 'ws', subscribe: (start) => this.subscribe(start, message), unsubscribe: (id) => this.unsubscribe(id) };
    handleRpcText(text, this.methods, ctx, this.opts, this.log).then(
      (out) => {
        if (out !== null) this.send(out);
        // Only now may the client know the ids, so only now do their notifications go out.
        message.answered = true;
        for (const sub of message.opened) this.release(sub);
      },
      (err: unknown) => this.log.error('ws dispatch failed', describeError(err)),
    );
  }

  subscribe(start: (push: (result: unknown) => void) => () => void, message: MessageScope): string {
    if (this.closed) throw RpcError.of('NOT_AVAILABLE', 'the connection is closing; subscribe on a new connection');
    const max = this.opts.maxSubscriptionsPerConnection;
    if (this.subs.size >= max) {
      throw RpcError.of('SUBSCRIPTION_LIMIT', `at most ${max} subscriptions per connection; close some with ${UNSUBSCRIBE_METHOD} first`, {
        limit: max,
        scope: 'connection',
      });
    }
    const total = this.opts.maxSubscriptionsTotal;
    if (this.shared.subscriptions >= total) {
      throw RpcError.of('SUBSCRIPTION_LIMIT', `this node serves at most ${total} subscriptions in all; try again later or use another node`, {
        limit: total,
        scope: 'node',
      });
    }
    // A handler that kept ctx and subscribes after its answer went out has nothing to wait for.
    const sub: Subscription = { id: newSubscriptionId(this.subs), active: true, cleanup: null, held: message.answered ? null : [] };
    this.subs.set(sub.id, sub);
    this.shared.subscriptions++;
    message.opened.push(sub);
    const push = (result: unknown): void => {
      if (!sub.active) return;
      const text = this.notificationText(sub.id, result);
      if (text === null) return;
      if (sub.held === null) this.send(text);
      else this.hold(sub, text);
    };
    try {
      sub.cleanup = start(push);
    } catch (err) {
      this.forget(sub);
      throw err;
    }
    // Unsubscribed or disconnected while start() ran: it has only now handed us its cleanup.
    if (!sub.active) this.runCleanup(sub);
    return sub.id;
  }

  private release(sub: Subscription): void {
    const held = sub.held;
    sub.held = null;
    if (held === null) return;
    for (const h of held) {
      this.heldBytes -= h.bytes;
      if (!sub.active || this.closed) this.shared.budget.release(h.bytes);
      else {
        this.queue.push(h);
        this.queuedBytes += h.bytes;
      }
    }
    this.flush();
  }

  unsubscribe(id: string): boolean {
    const sub = this.subs.get(id);
    if (sub === undefined) return false;
    this.forget(sub);
    this.runCleanup(sub);
    return true;
  }

  /** Removes a subscription from the counts and drops what it holds (cleanup is the caller's). */
  private forget(sub: Subscription): void {
    if (!sub.active) return;
    sub.active = false;
    this.subs.delete(sub.id);
    this.shared.subscriptions--;
    for (const h of sub.held ?? []) {
      this.heldBytes -= h.bytes;
      this.shared.budget.release(h.bytes);
    }
    if (sub.held !== null) sub.held = [];
  }

  private runCleanup(sub: Subscription): void {
    const cleanup = sub.cleanup;
    sub.cleanup = null;
    if (cleanup === null) return;
    try {
      cleanup();
    } catch (err) {
      this.log.error('subscription cleanup failed', { subscription: sub.id, ...describeError(err) });
    }
  }

  private notificationText(id: string, result: unknown): string | null {
    try {
      let json: string | undefined;
      if (typeof result === 'object' && result !== null) {
        json = this.shared.resultJson.get(result);
        if (json === undefined) this.shared.resultJson.set(result, (json = toJson(result)));
      } else json = toJson(result);
      return `{"jsonrpc":"2.0","method":"${SUBSCRIPTION_NOTIFICATION}","params":{"subscription":${JSON.stringify(id)},"result":${json}}}`;
    } catch (err) {
      this.log.error('subscription result not serialisable', { subscription: id, ...describeError(err) });
      return null;
    }
  }

  /**
   * Whether `bytes` more may be buffered here. A message to a connection with nothing queued
   * (at most what its socket is writing) is always taken: one notification or response larger
   * than the limit does not close a client that reads.
   */
  private admit(bytes: number): boolean {
    const now = this.bufferedBytes;
    if (this.droppableBytes === 0 || now + bytes <= this.opts.maxWsBufferedBytes) return true;
    this.closeSlow(WsCloseCode.SLOW_CONSUMER, `SLOW_CONSUMER: over ${this.opts.maxWsBufferedBytes} bytes unsent; read faster or subscribe to less`, {
      bufferedBytes: now + bytes,
      limit: this.opts.maxWsBufferedBytes,
    });
    return false;
  }

  send(text: string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    const bytes = Buffer.byteLength(text);
    if (!this.admit(bytes)) return;
    this.queue.push({ text, bytes });
    this.queuedBytes += bytes;
    this.shared.budget.add(bytes);
    this.flush();
    this.shared.budget.shed();
  }

  private hold(sub: Subscription, text: string): void {
    if (this.closed) return;
    const bytes = Buffer.byteLength(text);
    if (!this.admit(bytes)) return;
    sub.held!.push({ text, bytes });
    this.heldBytes += bytes;
    this.shared.budget.add(bytes);
    this.shared.budget.shed();
  }

  /** Hands queued output to the socket while it holds less than the write window. */
  private flush(): void {
    while (this.queueHead < this.queue.length && this.inFlightBytes < WRITE_WINDOW_BYTES && !this.closed) {
      const { text, bytes } = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = EMPTY_OUTPUT;
      this.queuedBytes -= bytes;
      this.inFlightBytes += bytes;
      this.ws.send(text, (err) => {
        this.inFlightBytes -= bytes;
        this.shared.budget.release(bytes);
        if (err) this.log.debug('ws send failed', { error: err.message });
        else this.flush();
      });
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead >= 1024 && this.queueHead * 2 >= this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Drops queued and held output (what the socket holds stays until it goes). */
  private dropOutput(): void {
    const dropped = this.queuedBytes + this.heldBytes;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    for (const sub of this.subs.values()) if (sub.held !== null) sub.held = [];
    this.heldBytes = 0;
    this.shared.budget.release(dropped);
  }

  closeForBudget(total: number, limit: number): void {
    this.closeSlow(WsCloseCode.SEND_BUFFERS_FULL, 'SEND_BUFFERS_FULL: the node holds too much unsent output and this connection held the most', {
      bufferedBytes: this.bufferedBytes,
      totalBytes: total,
      totalLimit: limit,
    });
  }

  terminate(): void {
    this.ws.terminate();
  }

  /**
   * Closes a consumer that does not keep up: forgets what it has not yet handed to the socket,
   * runs its subscriptions' cleanups, and sends the close frame behind what the socket still
   * holds. A peer that never reads never answers it; ws destroys the socket after its close
   * timeout (30 s), and until then those few bytes stay counted in the budget.
   */
  private closeSlow(code: number, reason: string, ctx: Record<string, unknown>): void {
    if (this.closed) return;
    this.log.warn('ws slow consumer closed', { code, remote: this.peer.address, remotePort: this.peer.port, ...ctx });
    this.dispose();
    this.ws.close(code, reason);
  }

  /** Forgets the connection and runs every subscription's cleanup. Idempotent. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of [...this.subs.values()]) {
      this.forget(sub);
      this.runCleanup(sub);
    }
    this.dropOutput();
    this.onClosed(this);
  }
}

const EMPTY_OUTPUT = { text: '', bytes: 0 };

function newSubscriptionId(taken: Map<string, Subscription>): string {
  for (;;) {
    const id = '0x' + randomBytes(16).toString('hex');
    if (!taken.has(id)) return id;
  }
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

const CORS_HEADERS = { 'Access-Control-Allow-Origin': '*' } as const;

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function requestHasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function sendHttp(res: ServerResponse, status: number, body: string | null, headers: Record<string, string | number> = {}, contentType = 'application/json'): void {
  if (res.headersSent || res.destroyed) return;
  const all: Record<string, string | number> = { ...CORS_HEADERS, ...headers };
  if (body !== null) {
    all['Content-Type'] = contentType;
    all['Content-Length'] = Buffer.byteLength(body);
  }
  res.writeHead(status, all);
  res.end(body ?? undefined);
}

function serveStatic(req: IncomingMessage, res: ServerResponse, f: StaticFile, csp: string, head: boolean, extra: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    ...STATIC_SECURITY_HEADERS,
    'Content-Security-Policy': csp,
    // Revalidated every time (names carry no content hash); unchanged files answer 304.
    'Cache-Control': 'no-cache',
    ETag: f.etag,
    ...extra,
  };
  if (req.headers['if-none-match'] === f.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['Content-Type'] = f.contentType;
  headers['Content-Length'] = f.body.length;
  res.writeHead(200, headers);
  res.end(head ? undefined : f.body);
}

function httpErrorBody(status: number, message: string): string {
  return errorText(null, RpcError.of('INVALID_REQUEST', message, { httpStatus: status }).toJSON());
}

const TOO_LARGE = Symbol('too-large');

/** Reads the body up to `limit` bytes; past it, stops reading and answers TOO_LARGE. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        req.off('data', onData);
        req.pause();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    // Stays attached for the life of the request so a late socket error is never unhandled.
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(err);
    });
    req.on('close', () => {
      if (done) return;
      done = true;
      reject(new Error('request aborted before its body was complete'));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/** What the server holds now (tests, and a look at a live node). */
export interface RpcServerStats {
  httpConnections: number;
  wsConnections: number;
  subscriptions: number;
  /** Unsent WebSocket output, all connections (SendBudget). */
  wsBufferedBytes: number;
}

export class RpcServer {
  private readonly opts: RpcServerOptions;
  private readonly log: Logger;
  private readonly routes: Record<string, HttpRoute>;
  private readonly site: StaticSite | null;
  /** Open WebSocket connections. */
  private readonly connections = new Set<WsConnection>();
  /** Every WebSocket whose socket is not yet closed, closing slow consumers included. */
  private readonly sockets = new Set<WsConnection>();
  private readonly shared: WsShared;
  /** HTTP connections by peer IP, counted from accept until they close or become WebSockets. */
  private readonly httpConns: ConnectionCounter;
  /** WebSocket connections by peer IP, counted until their socket closes. */
  private readonly wsConns: ConnectionCounter;
  private readonly httpCounted = new WeakMap<Duplex, string>();
  /** Connections over an HTTP limit: answered 503 CONNECTION_LIMIT at their first request. */
  private readonly refused = new WeakMap<Duplex, LimitScope>();
  private refusing = 0;
  /** Requests each HTTP connection has in the handler (the idle timeout leaves those alone). */
  private readonly inHandler = new WeakMap<Duplex, number>();
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    opts: Partial<RpcServerOptions>,
    private readonly methods: Record<string, RpcHandler>,
    deps: { logger: Logger; routes?: Record<string, HttpRoute>; site?: StaticSite | null },
  ) {
    this.opts = { ...defaultRpcServerOptions, ...stripUndefined(opts) };
    checkOptions(this.opts);
    this.log = deps.logger;
    this.routes = deps.routes ?? {};
    this.site = deps.site ?? null;
    this.shared = { opts: this.opts, log: this.log, budget: new SendBudget(this.opts.maxWsBufferedBytesTotal), subscriptions: 0, resultJson: new WeakMap() };
    this.httpConns = new ConnectionCounter(this.opts.maxConnections, this.opts.maxConnectionsPerIp);
    this.wsConns = new ConnectionCounter(this.opts.maxWsConnections, this.opts.maxWsConnectionsPerIp);
  }

  stats(): RpcServerStats {
    return { httpConnections: this.httpConns.size, wsConnections: this.wsConns.size, subscriptions: this.shared.subscriptions, wsBufferedBytes: this.shared.budget.total };
  }

  async start(): Promise<{ host: string; port: number; url: string; wsUrl: string }> {
    if (this.server !== null) throw new Error('RpcServer.start() called twice');
    const o = this.opts;
    const server = createServer({
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      // How often node:http looks for requests past those two timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.min(1_000, Math.max(10, Math.floor(Math.min(o.headersTimeoutMs, o.requestTimeoutMs) / 4))),
    }, (req, res) => {
      const socket = req.socket;
      this.inHandler.set(socket, (this.inHandler.get(socket) ?? 0) + 1);
      res.once('close', () => this.inHandler.set(socket, (this.inHandler.get(socket) ?? 1) - 1));
      this.onRequest(req, res).catch((err: unknown) => {
        this.log.error('http request handling failed', describeError(err));
        sendHttp(res, 500, errorText(null, internalError()));
      });
    });
    server.timeout = o.idleTimeoutMs;
    server.on('timeout', (socket: Socket) => this.onIdle(socket));
    server.on('connection', (socket: Socket) => this.onSocket(socket));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: this.opts.maxBodyBytes, perMessageDeflate: false });
    this.server = server;

    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error('rpc server error', describeError(err)));
    this.heartbeat = setInterval(() => this.checkHeartbeats(), HEARTBEAT_MS);
    this.heartbeat.unref();

    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('rpc server is not listening on a TCP port');
    const hostPart = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    const info = { host: addr.address, port: addr.port, url: `http://${hostPart}:${addr.port}/`, wsUrl: `ws://${hostPart}:${addr.port}/` };
    this.log.info('rpc server listening', info);
    return info;
  }

  /** Closes sockets and WebSocket connections and runs every subscription's cleanup. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === null || this.closing) return;
    this.closing = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Slow consumers already closed, still waiting for a close handshake their peer will not send.
    for (const conn of this.sockets) if (!this.connections.has(conn)) conn.ws.terminate();
    for (const conn of [...this.connections]) {
      conn.ws.close(1001, 'server shutting down');
      // A peer that never answers the close frame must not hold shutdown up.
      setTimeout(() => conn.ws.terminate(), CLOSE_GRACE_MS).unref();
      conn.dispose();
    }
    server.closeAllConnections();
    this.wss?.close();
    await closed;
    this.server = null;
    this.wss = null;
    this.log.info('rpc server closed');
  }

  /** Counts a new TCP connection as HTTP, or marks it refused (answered at its first request). */
  private onSocket(socket: Socket): void {
    const key = peerKey(socket.remoteAddress);
    const refusedBy = this.httpConns.tryAdd(key);
    if (refusedBy === null) {
      this.httpCounted.set(socket, key);
      socket.once('close', () => {
        if (this.httpCounted.delete(socket)) this.httpConns.remove(key);
      });
      return;
    }
    this.log.debug('http connection over limit', { remote: key, scope: refusedBy, connections: this.httpConns.size, fromThisIp: this.httpConns.countOf(key) });
    if (this.refusing >= MAX_REFUSING) {
      socket.destroy();
      return;
    }
    this.refusing++;
    this.refused.set(socket, refusedBy);
    const linger = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    linger.unref();
    socket.once('close', () => {
      this.refusing--;
      clearTimeout(linger);
    });
  }

  private connectionLimitError(scope: LimitScope, transport: 'http' | 'ws'): RpcError {
    const perIp = scope === 'ip';
    const limit = transport === 'http' ? (perIp ? this.opts.maxConnectionsPerIp : this.opts.maxConnections) : perIp ? this.opts.maxWsConnectionsPerIp : this.opts.maxWsConnections;
    const what = transport === 'http' ? 'HTTP' : 'WebSocket';
    const message = perIp
      ? `at most ${limit} ${what} connections from one IP address; close some (or reuse one: keep-alive) and retry`
      : `this node serves at most ${limit} ${what} connections; retry later`;
    return RpcError.of('CONNECTION_LIMIT', message, { httpStatus: 503, limit, scope, transport });
  }

  /**
   * No byte moved on an HTTP connection for idleTimeoutMs (node:http also fires this for the
   * keep-alive timeout). Closed unless its request is still in the handler with nothing
   * waiting to be written: that is the node working (tx_send with wait), not the peer stalling.
   */
  private onIdle(socket: Socket): void {
    // Decided after this loop turn's I/O: when the event loop was held up past the timeout, a
    // request may be waiting unread in the socket, and a keep-alive close would reset it.
    const read = socket.bytesRead;
    setImmediate(() => {
      if (socket.destroyed || socket.bytesRead !== read) return;
      if ((this.inHandler.get(socket) ?? 0) > 0 && socket.writableLength === 0) return;
      this.log.debug('http connection idle, closing', { remote: socket.remoteAddress, unsentBytes: socket.writableLength });
      socket.destroy();
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', (err) => this.log.debug('http response error', { error: err.message }));
    const refusedBy = this.refused.get(req.socket);
    if (refusedBy !== undefined) {
      sendHttp(res, 503, errorText(null, this.connectionLimitError(refusedBy, 'http').toJSON()), { Connection: 'close', 'Retry-After': 1 });
      return;
    }
    const path = pathOf(req);
    const method = req.method ?? '';
    // Whatever we answer without reading a body, do not read (or drain) an unbounded one.
    const closeIfBody: Record<string, string> = requestHasBody(req) ? { Connection: 'close' } : {};

    if (method === 'OPTIONS') {
      sendHttp(res, 204, null, {
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'content-type',
        'Access-Control-Max-Age': 86400,
        ...closeIfBody,
      });
      return;
    }
    if (this.site !== null && (method === 'GET' || method === 'HEAD')) {
      const file = this.site.files.get(path === '/' ? '/index.html' : path);
      if (file !== undefined) {
        serveStatic(req, res, file, this.site.csp, method === 'HEAD', closeIfBody);
        return;
      }
    }
    if (path === '/') {
      if (method === 'POST') return this.onRpcPost(req, res);
      const allow = this.site !== null ? 'GET, HEAD, POST, OPTIONS' : 'POST, OPTIONS';
      sendHttp(res, 405, httpErrorBody(405, `method ${method} not allowed on /; send JSON-RPC with POST${this.site !== null ? ', or GET it for the explorer' : ''}`), { Allow: allow, ...closeIfBody });
      return;
    }
    // A '/health' in the route table (the node's, which reports its worker pool) replaces the built-in one.
    const route = Object.hasOwn(this.routes, path) ? this.routes[path] : path === '/health' ? () => ({ contentType: 'application/json', body: '{"status":"ok"}' }) : undefined;
    if (route === undefined) {
      sendHttp(res, 404, httpErrorBody(404, `not found: ${path}; JSON-RPC is served with POST /`), closeIfBody);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendHttp(res, 405, httpErrorBody(405, `method ${method} not allowed on ${path}; use GET`), { Allow: 'GET, HEAD, OPTIONS', ...closeIfBody });
      return;
    }
    let out: { contentType: string; body: string };
    try {
      out = await route();
    } catch (err) {
      this.log.error('http route failed', { path, ...describeError(err) });
      sendHttp(res, 500, errorText(null, internalError()), closeIfBody);
      return;
    }
    sendHttp(res, 200, out.body, closeIfBody, out.contentType);
  }

  private async onRpcPost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const limit = this.opts.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    let body: Buffer | typeof TOO_LARGE;
    if (declared > limit) {
      body = TOO_LARGE;
    } else {
      try {
        body = await readBody(req, limit);
      } catch (err) {
        this.log.debug('http request aborted', { error: err instanceof Error ? err.message : String(err) });
        return;
      }
    }
    if (body === TOO_LARGE) {
      this.log.debug('http request too large', { declared, limit });
      const err = RpcError.of('REQUEST_TOO_LARGE', `request body exceeds ${limit} bytes; send smaller requests or batches`, { limit });
      // Connection: close makes node destroy the socket once this is flushed: the rest of the body is never read.
      sendHttp(res, 413, errorText(null, err.toJSON()), { Connection: 'close' });
      return;
    }
    let text: string;
    try {
      text = this.utf8.decode(body);
    } catch {
      this.log.debug('http body is not valid UTF-8', { bytes: body.length });
      sendHttp(res, 200, errorText(null, RpcError.of('PARSE_ERROR', 'parse error: the request body is not valid UTF-8').toJSON()));
      return;
    }
    const out = await handleRpcText(text, this.methods, { transport: 'http' }, this.opts, this.log);
    if (out === null) sendHttp(res, 204, null);
    else sendHttp(res, 200, out);
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    this.log.debug('http client error', { code: err.code, error: err.message });
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const body = errorText(null, RpcError.of('REQUEST_TIMEOUT', `request not received within ${this.opts.headersTimeoutMs} ms (headers) / ${this.opts.requestTimeoutMs} ms (whole request); send it faster`, {
        httpStatus: 408,
        headersTimeoutMs: this.opts.headersTimeoutMs,
        requestTimeoutMs: this.opts.requestTimeoutMs,
      }).toJSON());
      socket.end(`HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy());
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.log.debug('ws socket error', { error: err.message }));
    const wss = this.wss;
    if (wss === null || this.closing) return rejectUpgrade(socket, 503, 'Service Unavailable', httpErrorBody(503, 'the server is shutting down'));
    const refusedBy = this.refused.get(socket);
    if (refusedBy !== undefined) return rejectUpgrade(socket, 503, 'Service Unavailable', errorText(null, this.connectionLimitError(refusedBy, 'http').toJSON()));
    if (pathOf(req) !== '/') return rejectUpgrade(socket, 404, 'Not Found', httpErrorBody(404, 'WebSocket JSON-RPC is served on /'));
    const key = peerKey(req.socket.remoteAddress);
    const over = this.wsConns.check(key);
    if (over !== null) {
      this.log.debug('ws connection refused: limit reached', { remote: key, scope: over, connections: this.wsConns.size, fromThisIp: this.wsConns.countOf(key) });
      return rejectUpgrade(socket, 503, 'Service Unavailable', errorText(null, this.connectionLimitError(over, 'ws').toJSON()));
    }
    // handleUpgrade calls back synchronously (no verifyClient), so the check above cannot race.
    wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, key));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, key: string): void {
    // The socket stops being an HTTP connection and starts being a WebSocket.
    const socket = req.socket;
    const httpKey = this.httpCounted.get(socket);
    if (httpKey !== undefined) {
      this.httpCounted.delete(socket);
      this.httpConns.remove(httpKey);
    }
    this.wsConns.add(key);
    const conn = new WsConnection(ws, { address: key, port: socket.remotePort }, this.shared, this.methods, (c) => this.connections.delete(c));
    this.connections.add(conn);
    this.sockets.add(conn);
    this.shared.budget.track(conn);
    ws.on('message', (data, isBinary) => conn.onMessage(data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    // Invalid frames, oversized messages (1009), invalid UTF-8 (1007): ws reports and closes.
    ws.on('error', (err) => this.log.debug('ws connection error', { error: err.message }));
    ws.on('close', () => {
      conn.dispose();
      this.wsConns.remove(key);
      this.sockets.delete(conn);
      this.shared.budget.untrack(conn);
    });
  }

  private checkHeartbeats(): void {
    for (const conn of [...this.connections]) {
      if (!conn.alive) {
        this.log.debug('ws peer unresponsive, closing');
        conn.ws.terminate();
        conn.dispose();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }
}

function rejectUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

function checkOptions(o: RpcServerOptions): void {
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new RangeError(`rpc port must be an integer in 0..65535 (0 = any free port), got ${o.port}`);
  if (typeof o.host !== 'string' || o.host === '') throw new RangeError('rpc host must be a non-empty interface address such as 127.0.0.1');
  for (const key of [
    'maxBodyBytes', 'maxBatchSize', 'maxConnections', 'maxConnectionsPerIp', 'maxWsConnections', 'maxWsConnectionsPerIp', 'maxSubscriptionsPerConnection',
    'maxSubscriptionsTotal', 'maxWsBufferedBytes', 'maxWsBufferedBytesTotal', 'headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs', 'idleTimeoutMs',
  ] as const) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 1) throw new RangeError(`rpc ${key} must be a positive integer, got ${o[key]}`);
  }
  if (o.headersTimeoutMs > o.requestTimeoutMs) throw new RangeError(`rpc headersTimeoutMs (${o.headersTimeoutMs}) must not exceed requestTimeoutMs (${o.requestTimeoutMs})`);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
