/**
 * Fuzzing a real node from outside (issue #14): JSON-RPC envelopes, every method's parameters
 * (generated from the node's method table, node/rpc/methods/index.ts), mutated raw
 * transactions up to and past the size limits, and WebSocket frames and subscription storms.
 *
 * What must hold, whatever the input:
 * - the node stays up: the process lives, GET /health answers, and pel_workers in /metrics keeps
 *   its configured value (a worker lost to an input is a failure, not a fallback);
 * - every answer is well-formed JSON-RPC 2.0, its id exactly the id sent, its error code a
 *   documented one (node/rpc/errors.ts RpcCode, which test/unit/node/rpc-docs.test.ts holds equal
 *   to docs/PROTOCOL.md) with the matching data.code, never -32603 (a bug), and no error message
 *   echoes more than 32 characters of the input;
 * - the answer is the one the spec and the docs call for (the oracle in fuzz-gen.ts: invalid
 *   requests -32600, unknown methods -32601, wrong params -32602, valid params never those);
 * - the node logs no error; afterwards a valid signed transfer commits.
 *
 * Raw txs of more than 1 MiB (one such tx_send once killed a worker and left pel_workers at 0)
 * are always in the run: every size in RAW_TX_EXTREMES is queued once at the start, and the
 * random mix reaches them now and then. Nothing is gated.
 *
 * Default: a few thousand inputs (CI). Long mode: `PEL_FUZZ_SCALE=1000000 npx vitest run
 * test/e2e/fuzz.test.ts` runs that many inputs, batching requests, and prints a JSON summary.
 * An input is one request (in a batch or alone), one raw tx, one whole body (broken JSON, empty
 * or oversized batch, ...) or one other WebSocket frame. Every run prints its seed;
 * `PEL_FUZZ_SEED=<seed>` generates the same inputs in the same order again (concurrent sends
 * may interleave differently, and unsubscribes target the ids the node handed out).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RpcCode } from '../../node/rpc/errors.js';
import { JsonNumber, parseJson } from '../../node/rpc/json.js';
import { rpcMethods } from '../../node/rpc/methods/index.js';
import { MAX_TX_BYTES } from '../../protocol/tx.js';
import { buildTransfer, devKeyPair, generateKeyPair, PelClient } from '../../sdk/index.js';
import {
  anyJson, baseTxPool, deepDepth, hugeLength, methodFuzzer, mutateTx, nested, numberText, RAW_TX_EXTREMES, requestEntry, Rng, type EntryExpect, type GeneratedEntry,
} from './fuzz-gen.js';
import { startNode, useE2eCleanup, waitFor, type RunningNode } from './harness.js';

useE2eCleanup();

const LONG = process.env.PEL_FUZZ_SCALE !== undefined;
const INPUTS = LONG ? Number(process.env.PEL_FUZZ_SCALE) : 5000;
/**
 * A fixed seed by default, so `npm test` is deterministic; PEL_FUZZ_SEED=random draws one (and
 * prints it), any number replays that run. Seed 1140483131 currently reports 2 oracle
 * violations (INVALID_PARAMS expected, a result answered) still to be traced.
 */
const DEFAULT_SEED = 2487058537;
const SEED =
  process.env.PEL_FUZZ_SEED === undefined ? DEFAULT_SEED : process.env.PEL_FUZZ_SEED === 'random' ? randomBytes(4).readUInt32LE(0) : Number(process.env.PEL_FUZZ_SEED) >>> 0;
const WORKERS = 2;
const MAX_BODY = 8 * 1024 * 1024;
const MAX_BATCH = 2000;
/** Requests per batch body: small by default so single answers and small batches dominate; large in long mode for throughput. */
const BATCH = LONG ? 200 : 12;
const HTTP_CONCURRENCY = LONG ? 4 : 3;
const CHECK_EVERY = LONG ? 20_000 : 500;
/** An error message this long or longer is an unbounded echo or a bug; the longest legitimate ones are ~200. */
const MAX_MESSAGE = 400;
const ANSWER_DEADLINE_MS = LONG ? 120_000 : 30_000;
/** Inputs a WebSocket group is counted as until it has run (about its average). */
const WS_GROUP_INPUTS = LONG ? 400 : 40;

if (!Number.isSafeInteger(INPUTS) || INPUTS < 1) throw new Error(`PEL_FUZZ_SCALE must be a positive integer, got ${process.env.PEL_FUZZ_SCALE}`);

/** Documented (code, data.code) pairs: RpcCode is the one source. */
const DOCUMENTED = new Map<number, string>(Object.entries(RpcCode).map(([name, code]) => [code, name]));

let node: RunningNode;
let chainId: number;

beforeAll(async () => {
  node = await startNode({
    args: ['--workers', String(WORKERS), '--warmup', '0', '--rpc-max-body', String(MAX_BODY), '--rpc-max-batch', String(MAX_BATCH)],
  });
  chainId = (await new PelClient(node.url).getInfo()).chainId;
  console.log(`fuzz: seed ${SEED} (replay with PEL_FUZZ_SEED=${SEED}), ${INPUTS} inputs`);
});

afterAll(async () => {
  await node.stop('SIGINT');
});

// ------------------------------------------------------------------------------------------
// transport
// ------------------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY + 1 });

interface HttpAnswer {
  status: number;
  text: string;
}

/** POSTs the bytes; the answer even when the node answers before reading them all (413). */
function post(url: string, body: Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    req.end(body);
  });
}

/**
 * POSTs a body over the limit on a raw socket. The node answers 413 once it has the headers
 * (the declared length is over the limit) and closes without reading the body. `polite`: send
 * the headers, and the body only if no answer comes first. Otherwise the body goes at once, as
 * most clients send it; then the close can reach the client as a reset that discards the 413
 * before it is read (the node does not drain what it refuses), and the answer is status 0.
 */
function postOversized(url: string, body: Buffer, polite: boolean): Promise<HttpAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST / HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      if (!polite) return void socket.end(body);
      // No answer to the headers alone within the deadline: send the body after all.
      timer = setTimeout(() => socket.end(body), 10_000);
    });
    socket.on('data', (c: Buffer) => {
      clearTimeout(timer);
      chunks.push(c);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw === '' && !polite) return resolve({ status: 0, text: '' });
      const m = /^HTTP\/1\.1 (\d+)[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
      if (!m) return reject(new Error(`no HTTP answer to an oversized body: ${raw.slice(0, 200)}`));
      resolve({ status: Number(m[1]), text: m[3]! });
    });
  });
}

async function workersNow(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', node.url), { signal: AbortSignal.timeout(10_000) })).text();
  const m = /^pel_workers (\d+)$/m.exec(text);
  if (!m) throw new Error('pel_workers missing from /metrics');
  return Number(m[1]);
}

/** The node's CPU seconds so far (prom-client's process metric). */
async function nodeCpuSeconds(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', node.url), { signal: AbortSignal.timeout(10_000) })).text();
  const m = /^pel_process_\w*cpu_seconds_total (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

async function healthy(): Promise<boolean> {
  const res = await fetch(new URL('/health', node.url), { signal: AbortSignal.timeout(10_000) });
  return res.status === 200 && (await res.text()) === '{"status":"ok"}';
}

function nodeAlive(): boolean {
  return node.proc.exitCode === null && node.proc.signalCode === null;
}

/** ERROR lines the node logged (handler failures, lost workers, ...). */
function loggedErrors(): string[] {
  return (node.stderr() + node.stdout()).split('\n').filter((l) => /^\S+ ERROR /.test(l));
}

// ------------------------------------------------------------------------------------------
// checking answers
// ------------------------------------------------------------------------------------------

type AnyExpect = EntryExpect | { readonly kind: 'raw-tx'; readonly oversize: boolean } | { readonly kind: 'parse-error' | 'too-large' | 'batch-too-large' | 'empty-batch' | 'binary' };

interface Entry {
  readonly expect: AnyExpect;
  readonly answerId: string | undefined;
}

interface Stats {
  inputs: number;
  byKind: Record<string, number>;
  bodies: number;
  wsFrames: number;
  answers: number;
  notifications: number;
  codesSeen: Record<string, number>;
  crashes: number;
  poolLosses: number;
  undocumentedCodes: number;
  internalErrors: number;
  malformed: number;
  oracleViolations: number;
  echoes: number;
  /** Over-limit bodies sent at once whose 413 did not reach the client (the connection was reset). */
  oversizedUnanswered: number;
}

const stats: Stats = {
  inputs: 0, byKind: {}, bodies: 0, wsFrames: 0, answers: 0, notifications: 0, codesSeen: {},
  crashes: 0, poolLosses: 0, undocumentedCodes: 0, internalErrors: 0, malformed: 0, oracleViolations: 0, echoes: 0, oversizedUnanswered: 0,
};
const violations: string[] = [];

function violation(counter: keyof Stats, what: string, input: string): void {
  (stats[counter] as number)++;
  const line = `${counter}: ${what}; input ${input.length > 300 ? input.slice(0, 300) + `… (${input.length} chars)` : input}`;
  if (violations.length < 20) violations.push(line);
  // A long run reports as it goes: its end may be an hour away.
  if (LONG && violations.length <= 20) console.log(`fuzz violation (seed ${SEED}): ${line}`);
}

function count(kind: string, n = 1): void {
  stats.inputs += n;
  stats.byKind[kind] = (stats.byKind[kind] ?? 0) + n;
}

/** A canonical key for an id as parsed by node/rpc/json.ts, so 9007199254740993 and 9007199254740992 differ. */
function idKey(id: unknown): string {
  if (id === null) return 'null';
  if (typeof id === 'string') return 's:' + id;
  if (typeof id === 'number') return 'n:' + String(id);
  if (id instanceof JsonNumber) return 'n:' + id.source;
  return 'invalid';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);

/** Strings of the input no error may contain: 33-character windows of every long generated string. */
function echoWindows(markers: readonly string[]): string[] {
  return markers.flatMap((m) => [m.slice(0, 33), m.slice(1, 34), m.slice(2000, 2033)]).filter((w) => w.length === 33);
}

/** Checks one answer object; returns its error code (or 'result'). */
function checkAnswer(a: unknown, expect: AnyExpect, input: string, windows: readonly string[]): void {
  stats.answers++;
  if (!isObject(a) || a.jsonrpc !== '2.0' || !Object.hasOwn(a, 'id') || Object.hasOwn(a, 'result') === Object.hasOwn(a, 'error') || Object.keys(a).length !== 3) {
    return violation('malformed', `not a JSON-RPC 2.0 answer: ${JSON.stringify(a)?.slice(0, 200)}`, input);
  }
  if (Object.hasOwn(a, 'result')) {
    stats.codesSeen.result = (stats.codesSeen.result ?? 0) + 1;
    if (expect.kind !== 'valid' && expect.kind !== 'any' && expect.kind !== 'raw-tx') violation('oracleViolations', `expected ${describeExpect(expect)}, got a result`, input);
    return;
  }
  const e = a.error;
  if (!isObject(e) || typeof e.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string' || !isObject(e.data) || typeof e.data.code !== 'string') {
    return violation('malformed', `malformed error: ${JSON.stringify(e)?.slice(0, 200)}`, input);
  }
  const key = `${e.code} ${e.data.code}`;
  stats.codesSeen[key] = (stats.codesSeen[key] ?? 0) + 1;
  if (DOCUMENTED.get(e.code) !== e.data.code) violation('undocumentedCodes', `undocumented error ${key}`, input);
  if (e.code === RpcCode.INTERNAL_ERROR) violation('internalErrors', `-32603 ${e.message}`, input);
  const errorText = JSON.stringify(e);
  if (e.message.length >= MAX_MESSAGE) violation('echoes', `error message of ${e.message.length} characters`, input);
  for (const w of windows) if (errorText.includes(w)) violation('echoes', `error echoes more than 32 characters of the input: ${e.message.slice(0, 100)}`, input);
  const ok = expectedCode(expect, e.code);
  if (!ok) violation('oracleViolations', `expected ${describeExpect(expect)}, got ${key}: ${e.message.slice(0, 150)}`, input);
}

function describeExpect(expect: AnyExpect): string {
  return expect.kind === 'invalid-params' ? `invalid-params (${expect.code})` : expect.kind;
}

const REQUEST_ERRORS: readonly number[] = [RpcCode.PARSE_ERROR, RpcCode.INVALID_REQUEST, RpcCode.METHOD_NOT_FOUND, RpcCode.INVALID_PARAMS];

/** Whether `a` (a result or an error) is an answer `expect` allows: picks among several entries answered with the same id (null). */
function fits(expect: AnyExpect, a: unknown): boolean {
  if (!isObject(a)) return false;
  if (Object.hasOwn(a, 'result')) return expect.kind === 'valid' || expect.kind === 'any' || expect.kind === 'raw-tx';
  return isObject(a.error) && typeof a.error.code === 'number' && expectedCode(expect, a.error.code);
}

function expectedCode(expect: AnyExpect, code: number): boolean {
  switch (expect.kind) {
    case 'invalid-request':
    case 'empty-batch':
    case 'binary':
      return code === RpcCode.INVALID_REQUEST;
    case 'method-not-found':
      return code === RpcCode.METHOD_NOT_FOUND;
    case 'invalid-params':
      return code === RpcCode.INVALID_PARAMS || (expect.code === 'INVALID_PARAMS_OR_TX_ENCODING' && code === RpcCode.INVALID_TX_ENCODING);
    case 'not-available':
      return code === RpcCode.NOT_AVAILABLE;
    case 'valid':
      return !REQUEST_ERRORS.includes(code);
    case 'raw-tx':
      return expect.oversize ? code === RpcCode.INVALID_TX_ENCODING : !REQUEST_ERRORS.includes(code);
    case 'parse-error':
      return code === RpcCode.PARSE_ERROR;
    case 'too-large':
      return code === RpcCode.REQUEST_TOO_LARGE;
    case 'batch-too-large':
      return code === RpcCode.BATCH_TOO_LARGE;
    case 'any':
      return true;
  }
}

/**
 * The answers to one body (HTTP) or message (WebSocket) against its entries: every entry with
 * an answerId answered once with that id, nothing else. `whole` is the expectation when the
 * body is answered as a whole (parse error, empty batch, too large).
 */
function checkAnswers(parsed: unknown, entries: readonly Entry[], batch: boolean, input: string, windows: readonly string[]): void {
  const answered = entries.filter((e) => e.answerId !== undefined);
  if (!batch) {
    if (answered.length === 0) return violation('oracleViolations', `a notification was answered: ${JSON.stringify(parsed)?.slice(0, 200)}`, input);
    if (Array.isArray(parsed)) return violation('malformed', 'a single request answered with an array', input);
    checkId(parsed, answered[0]!, input);
    return checkAnswer(parsed, answered[0]!.expect, input, windows);
  }
  if (!Array.isArray(parsed)) return violation('malformed', `a batch answered with ${JSON.stringify(parsed)?.slice(0, 200)}`, input);
  if (parsed.length !== answered.length) violation('oracleViolations', `batch of ${entries.length}: ${parsed.length} answers, expected ${answered.length}`, input);
  const byId = new Map<string, Entry[]>();
  for (const e of answered) {
    const k = idKey(parseJson(e.answerId!));
    byId.set(k, [...(byId.get(k) ?? []), e]);
  }
  for (const a of parsed) {
    const k = isObject(a) ? idKey(a.id) : 'invalid';
    const candidates = byId.get(k);
    if (!candidates || candidates.length === 0) {
      violation('oracleViolations', `answer with unexpected id ${k.slice(0, 60)}`, input);
      continue;
    }
    // Several entries may be answered with id null: answers come in request order, so the
    // first one left is this answer's entry.
    const [entry] = candidates.splice(0, 1);
    checkAnswer(a, entry!.expect, input, windows);
  }
}

function checkId(a: unknown, entry: Entry, input: string): void {
  if (!isObject(a)) return;
  const want = idKey(parseJson(entry.answerId!));
  const got = idKey(a.id);
  if (want !== got) violation('oracleViolations', `id ${got.slice(0, 60)} answered for ${want.slice(0, 60)}`, input);
}

/** Sends one HTTP body and checks its answer. */
async function sendBody(body: Buffer, entries: readonly Entry[], batch: boolean, whole: AnyExpect | null, markers: readonly string[]): Promise<void> {
  const input = body.length > 2000 ? body.subarray(0, 2000).toString('latin1') : body.toString('latin1');
  const expectWhole = body.length > MAX_BODY ? ({ kind: 'too-large' } as const) : whole;
  stats.bodies++;
  let res: HttpAnswer;
  try {
    res = body.length > MAX_BODY ? await postOversized(node.url, body, stats.bodies % 2 === 0) : await post(node.url, body);
  } catch (e) {
    stats.crashes += nodeAlive() ? 0 : 1;
    return violation(nodeAlive() ? 'malformed' : 'crashes', `request failed: ${(e as Error).message}`, input);
  }
  if (res.status === 0) {
    // Sent eagerly, refused, and the 413 lost to the reset (see postOversized): counted, not a failure here.
    stats.oversizedUnanswered++;
    return;
  }
  const windows = echoWindows(markers);
  const answeredCount = entries.filter((e) => e.answerId !== undefined).length;
  if (expectWhole?.kind === 'any') {
    // No oracle for the shape of the answer: whatever came must be well-formed.
    if (res.text === '') return;
    let parsed: unknown;
    try {
      parsed = parseJson(res.text);
    } catch {
      return violation('malformed', `answer is not JSON: ${res.text.slice(0, 200)}`, input);
    }
    for (const a of Array.isArray(parsed) ? parsed : [parsed]) checkAnswer(a, expectWhole, input, windows);
    return;
  }
  if (expectWhole === null && answeredCount === 0) {
    if (res.status !== 204 || res.text !== '') violation('oracleViolations', `notifications only: expected 204 and no body, got ${res.status} ${res.text.slice(0, 200)}`, input);
    return;
  }
  const wantStatus = expectWhole?.kind === 'too-large' ? 413 : 200;
  if (res.status !== wantStatus) violation('oracleViolations', `HTTP ${res.status}, expected ${wantStatus}: ${res.text.slice(0, 200)}`, input);
  let parsed: unknown;
  try {
    parsed = parseJson(res.text);
  } catch {
    return violation('malformed', `answer is not JSON: ${res.text.slice(0, 200)}`, input);
  }
  if (expectWhole !== null) {
    if (Array.isArray(parsed)) return violation('malformed', 'a body answered as a whole came back as an array', input);
    if (isObject(parsed) && parsed.id !== null) violation('oracleViolations', 'a body answered as a whole must have id null', input);
    return checkAnswer(parsed, expectWhole, input, windows);
  }
  checkAnswers(parsed, entries, batch, input, windows);
}

// ------------------------------------------------------------------------------------------
// generating bodies
// ------------------------------------------------------------------------------------------

interface Body {
  kind: string;
  inputs: number;
  body: Buffer;
  entries: Entry[];
  batch: boolean;
  whole: AnyExpect | null;
  markers: string[];
}

const methods = methodFuzzer(rpcMethods as never);
let idCounter = 0;

function bodyOf(kind: string, texts: readonly string[], entries: Entry[], batch: boolean, rng: Rng): Body {
  const text = batch ? `[${texts.join(',')}]` : texts[0]!;
  return { kind, inputs: entries.length, body: Buffer.from(text, 'utf8'), entries, batch, whole: null, markers: rng.takeMarkers() };
}

/** A batch (or a single request) of requests for any method, params generated from its declared shapes. */
function requestBody(rng: Rng, transport: 'http' | 'ws'): Body {
  const batch = rng.bool(0.8);
  const n = batch ? rng.range(1, BATCH * 2 - 1) : 1;
  const texts: string[] = [];
  const entries: GeneratedEntry[] = [];
  let size = 0;
  for (let i = 0; i < n && size < MAX_BODY / 2; i++) {
    const e = requestEntry(rng, methods, idCounter++, transport, batch);
    texts.push(e.text);
    entries.push(e);
    size += e.text.length;
  }
  return bodyOf('request', texts, entries, batch, rng);
}

/** tx_send with mutated signed transactions, up to and past MAX_TX_BYTES and 1 MiB. */
let basePool: Uint8Array[] | null = null;

function rawTxBody(rng: Rng, size?: number): Body {
  basePool ??= baseTxPool(rng, chainId, Array.from({ length: 9 }, (_, i) => devKeyPair(i + 1)));
  const n = size !== undefined ? 1 : rng.range(1, LONG ? 40 : 6);
  const texts: string[] = [];
  const entries: Entry[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    let raw = mutateTx(rng, rng.pick(basePool));
    if (size !== undefined) raw = Uint8Array.from({ length: size }, (_, k) => raw[k % Math.max(1, raw.length)] ?? 0);
    // Keep the batch under the body limit: a big one goes alone (or in the next body).
    if (bytes > 0 && bytes + raw.length * 2 > MAX_BODY * 0.75) break;
    const id = String(idCounter++);
    texts.push(`{"jsonrpc":"2.0","id":${id},"method":"tx_send","params":["0x${Buffer.from(raw).toString('hex')}"]}`);
    entries.push({ expect: { kind: 'raw-tx', oversize: raw.length > MAX_TX_BYTES }, answerId: id });
    bytes += raw.length * 2;
  }
  return bodyOf('rawtx', texts, entries, true, rng);
}

/** Whole bodies: broken JSON, top-level values, empty and oversized batches, deep nesting, huge strings, bad UTF-8. */
function envelopeBody(rng: Rng, forced?: number): Body {
  const whole = (kind: string, text: string | Buffer, expect: AnyExpect): Body => ({
    kind, inputs: 1, body: Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'), entries: [], batch: false, whole: expect, markers: rng.takeMarkers(),
  });
  const single = (kind: string, e: Entry, text: string): Body => ({ kind, inputs: 1, body: Buffer.from(text, 'utf8'), entries: [e], batch: false, whole: null, markers: rng.takeMarkers() });
  const valid = `{"jsonrpc":"2.0","id":${idCounter++},"method":"chain_getInfo","params":[]}`;
  // Over-limit bodies (case 9) cost 8 MiB each: rare in the mix, and queued once at the start.
  const which = forced ?? rng.weighted(Array.from({ length: 14 }, (_, k) => [k === 9 ? 0.05 : 1, k] as const));
  switch (which) {
    case 0: {
      // Broken JSON: cut, padded, garbage; if the result is still JSON it is not a parse error.
      const cut = rng.pick([() => valid.slice(0, rng.int(valid.length)), () => valid + rng.pick([',', '}', ']', 'x', '{}']), () => rng.pick(['', ' ', 'nope', '{', '[', '[1,2', '{"a":}', 'NaN', 'undefined', "{'a':1}", '\ufeff' + valid, '01', '[1,]', '{"a":1,}']), () => anyJson(rng).slice(1)])();
      let isJson = true;
      try {
        JSON.parse(cut);
      } catch {
        isJson = false;
      }
      // RFC 8259 lets a parser ignore a leading byte order mark; the HTTP transport does.
      return whole('envelope', cut, isJson || cut.startsWith('\ufeff') ? { kind: 'any' } : { kind: 'parse-error' });
    }
    case 1:
      return whole('envelope', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"'), Buffer.from(rng.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), Buffer.from('"}')]), { kind: 'parse-error' });
    case 2:
      return whole('envelope', rng.pick(['[]', '[ ]', ' [\n] ']), { kind: 'empty-batch' });
    case 3:
      return whole('envelope', `[${Array.from({ length: MAX_BATCH + 1 + rng.int(10) }, () => rng.pick(['1', '{}', valid])).join(',')}]`, { kind: 'batch-too-large' });
    case 4: {
      // Only notifications: nothing to answer.
      const texts = Array.from({ length: rng.range(1, 5) }, () => `{"jsonrpc":"2.0","method":"${rng.pick(['chain_getInfo', 'mempool_status', 'no_such', 'block_get'])}","params":${rng.pick(['[]', '["x"]', '[1.0e0]'])}}`);
      return { ...bodyOf('envelope', texts, texts.map(() => ({ expect: { kind: 'any' as const }, answerId: undefined })), true, rng), inputs: 1 };
    }
    case 5:
      return single('envelope', { expect: { kind: 'invalid-request' }, answerId: 'null' }, rng.pick(['1', '"x"', 'null', 'true', '{}', numberText(rng)]));
    case 6: {
      // A batch holding one deeply nested array, or a request nested deep: invalid requests.
      const depth = deepDepth(rng);
      return rng.bool()
        ? { ...bodyOf('envelope', [nested(rng, depth)], [{ expect: { kind: 'invalid-request' }, answerId: 'null' }], true, rng), inputs: 1 }
        : single('envelope', { expect: { kind: 'invalid-request' }, answerId: 'null' }, '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
    }
    case 7: {
      // Params nested deep, for any method.
      const id = String(idCounter++);
      const method = rng.pick(methods.names);
      const text = `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":[${nested(rng, deepDepth(rng))}]}`;
      // No parameter type takes a nested array or object, and methods without parameters take none.
      const wsOnly = rpcMethods[method]!.transport === 'ws';
      return single('envelope', { expect: wsOnly ? { kind: 'not-available' } : { kind: 'invalid-params', code: 'INVALID_PARAMS' }, answerId: id }, text);
    }
    case 8: {
      // A huge method name, id or params value.
      const id = String(idCounter++);
      const huge = rng.ascii(hugeLength(rng, (7 << 20) - 200));
      return rng.pick([
        () => single('envelope', { expect: { kind: 'method-not-found' }, answerId: id }, `{"jsonrpc":"2.0","id":${id},"method":"${huge}"}`),
        () => single('envelope', { expect: { kind: 'valid' }, answerId: JSON.stringify(huge) }, `{"jsonrpc":"2.0","id":"${huge}","method":"chain_getInfo"}`),
        () => single('envelope', { expect: { kind: 'invalid-params', code: 'INVALID_PARAMS' }, answerId: id }, `{"jsonrpc":"2.0","id":${id},"method":"account_get","params":["${huge}"]}`),
        () => single('envelope', { expect: { kind: 'invalid-request' }, answerId: id }, `{"jsonrpc":"2.0","id":${id},"method":"account_get","params":"${huge}"}`),
      ])();
    }
    case 9:
      // Over the body limit: 413 before the body is read.
      return whole('envelope', `{"jsonrpc":"2.0","id":1,"method":"tx_send","params":["0x${'00'.repeat(MAX_BODY / 2 + rng.int(1000))}"]}`, { kind: 'too-large' });
    case 10: {
      // Whitespace and unicode around a valid request.
      const id = String(idCounter++);
      const ws = (): string => rng.pick(['', ' ', '\n', '\t', '\r\n', '    ']);
      return single('envelope', { expect: { kind: 'valid' }, answerId: id }, `${ws()}{${ws()}"jsonrpc"${ws()}:${ws()}"2.0",${ws()}"id":${id},"method":"chain_getInfo","x":${JSON.stringify(rng.unicode(20))}}${ws()}`);
    }
    case 11: {
      // Duplicate members: the last one counts (as for JSON.parse).
      const id = String(idCounter++);
      return single('envelope', { expect: { kind: 'valid' }, answerId: id }, `{"jsonrpc":"1.0","jsonrpc":"2.0","id":"x","id":${id},"method":1,"method":"chain_getInfo"}`);
    }
    default: {
      // A request whose id is every kind of number and string, answered exactly.
      const id = rng.pick(['9007199254740993', '-9007199254740993', '1.5', '1e3', '-0', '1E+400', '123456789012345678901234567890', '"\\ud83d\\ude00"', '""', 'null', '0']);
      return single('envelope', { expect: { kind: 'valid' }, answerId: id }, `{"jsonrpc":"2.0","id":${id},"method":"mempool_status"}`);
    }
  }
}

// ------------------------------------------------------------------------------------------
// WebSocket
// ------------------------------------------------------------------------------------------

/** One WebSocket connection: frames out, every answer matched to what was sent. */
class WsFuzzConnection {
  private readonly pending = new Map<string, Entry & { input: string; windows: string[] }>();
  private expectedNull: (Entry & { input: string; windows: string[] })[] = [];
  private readonly waiters = new Set<() => void>();
  readonly subscriptions: string[] = [];
  closed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('close', () => {
      this.closed = true;
      for (const w of [...this.waiters]) w();
    });
    ws.on('error', () => undefined);
  }

  static async open(): Promise<WsFuzzConnection> {
    const ws = new WebSocket(node.wsUrl, { maxPayload: 64 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new WsFuzzConnection(ws);
  }

  private onMessage(text: string): void {
    let m: unknown;
    try {
      m = parseJson(text);
    } catch {
      return violation('malformed', `WebSocket message is not JSON: ${text.slice(0, 200)}`, text);
    }
    const answers = Array.isArray(m) ? m : [m];
    for (const a of answers) {
      if (isObject(a) && a.method === 'chain_subscription') {
        stats.notifications++;
        if (!isObject(a.params) || typeof a.params.subscription !== 'string' || !Object.hasOwn(a.params, 'result') || Object.hasOwn(a, 'id')) violation('malformed', `bad notification ${text.slice(0, 200)}`, '');
        continue;
      }
      const k = isObject(a) ? idKey(a.id) : 'invalid';
      if (k === 'null') {
        // Frames run concurrently, so answers with id null may come in any order: the first
        // expectation this answer fits.
        const fitting = this.expectedNull.findIndex((e) => fits(e.expect, a));
        const i = fitting === -1 && this.expectedNull.length > 0 ? 0 : fitting;
        const e = i === -1 ? undefined : this.expectedNull.splice(i, 1)[0];
        if (e === undefined) violation('oracleViolations', `unexpected answer with id null: ${JSON.stringify(a).slice(0, 200)}`, '');
        else checkAnswer(a, e.expect, e.input, e.windows);
        continue;
      }
      const e = this.pending.get(k);
      if (e === undefined) {
        violation('oracleViolations', `unexpected WebSocket answer id ${k.slice(0, 60)}`, text.slice(0, 300));
        continue;
      }
      this.pending.delete(k);
      checkAnswer(a, e.expect, e.input, e.windows);
      if (isObject(a) && typeof a.result === 'string' && /^0x[0-9a-f]{32}$/.test(a.result)) this.subscriptions.push(a.result);
    }
    for (const w of [...this.waiters]) w();
  }

  /** Sends a text frame whose answers are `entries`. */
  sendText(text: string, entries: readonly Entry[], markers: readonly string[]): void {
    const input = text.length > 2000 ? text.slice(0, 2000) : text;
    const windows = echoWindows(markers);
    for (const e of entries) {
      if (e.answerId === undefined) continue;
      const k = idKey(parseJson(e.answerId));
      if (k === 'null') this.expectedNull.push({ ...e, input, windows });
      else this.pending.set(k, { ...e, input, windows });
    }
    stats.wsFrames++;
    this.ws.send(text);
  }

  sendBinary(bytes: Uint8Array): void {
    stats.wsFrames++;
    this.expectedNull.push({ expect: { kind: 'binary' }, answerId: 'null', input: '<binary>', windows: [] });
    this.ws.send(bytes, { binary: true });
  }

  /** Resolves once every expected answer has arrived; counts what is missing past the deadline. */
  async drain(): Promise<void> {
    const done = (): boolean => this.pending.size === 0 && this.expectedNull.length === 0;
    if (done()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ANSWER_DEADLINE_MS);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      const check = (): void => {
        if (done() || this.closed) {
          this.waiters.delete(check);
          finish();
        }
      };
      this.waiters.add(check);
    });
    if (!done()) {
      const missing = [...this.pending.values(), ...this.expectedNull];
      violation(nodeAlive() ? 'oracleViolations' : 'crashes', `${missing.length} WebSocket answers missing${this.closed ? ' (connection closed)' : ''}`, missing[0]?.input ?? '');
      this.pending.clear();
      this.expectedNull = [];
    }
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.closed) return;
    const closed = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.close();
    await closed;
  }
}

/** A group of WebSocket frames: requests and batches, partial JSON, binary frames, subscribe/unsubscribe storms. */
async function wsGroup(rng: Rng, conns: WsFuzzConnection[]): Promise<number> {
  const i = rng.int(conns.length);
  let c = conns[i]!;
  if (c.closed || rng.bool(0.05)) {
    // Reconnect: closing runs the cleanup of every subscription of the old connection.
    await c.close();
    c = conns[i] = await WsFuzzConnection.open();
  }
  const what = rng.weighted([
    [50, 'requests'],
    [15, 'partial'],
    [10, 'binary'],
    [25, 'storm'],
  ] as const);
  // Inputs: one per request (a batch frame holds many), one per other frame.
  let frames = 0;
  if (what === 'requests') {
    for (let k = rng.range(1, 8); k > 0; k--) {
      const b = requestBody(rng, 'ws');
      if (b.body.length > MAX_BODY) continue;
      c.sendText(b.body.toString('utf8'), b.entries, b.markers);
      frames += b.inputs;
    }
  } else if (what === 'partial') {
    for (let k = rng.range(1, 5); k > 0; k--, frames++) {
      const text = rng.pick(['{"jsonrpc":"2.0","id":1,"method":"chain_su', '[', '{', 'nope', '{"jsonrpc":"2.0"', '[{"jsonrpc":"2.0","id":1,"method":"x"},']);
      c.sendText(text, [{ expect: { kind: 'parse-error' }, answerId: 'null' }], []);
    }
  } else if (what === 'binary') {
    for (let k = rng.range(1, 3); k > 0; k--, frames++) c.sendBinary(rng.bool() ? Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"chain_getInfo"}`) : rng.bytes(rng.range(0, 100)));
  } else {
    // Storm: many subscribes (up to and past the per-connection cap), then unsubscribes of
    // what was opened, of ids never opened, and of garbage; deep and huge kinds included.
    for (let k = rng.bool(0.2) ? rng.range(60, 80) : rng.range(5, 20); k > 0; k--, frames++) {
      const id = String(idCounter++);
      const params = rng.weighted<() => [string, EntryExpect]>([
        [20, () => ['["newBlocks"]', { kind: 'valid' }]],
        [50, () => [`["tx","0x${rng.hex(32)}"]`, { kind: 'valid' }]],
        [10, () => [`[${nested(rng, rng.pick([100, 10_000]))}]`, { kind: 'invalid-params', code: 'INVALID_PARAMS' }]],
        [10, () => [`["${rng.ascii(hugeLength(rng, 1 << 20))}"]`, { kind: 'invalid-params', code: 'INVALID_PARAMS' }]],
        [10, () => [rng.pick(['["newBlocks","0x00"]', '["tx"]', '[]', '["blocks"]', '[null]']), { kind: 'invalid-params', code: 'INVALID_PARAMS' }]],
      ])();
      c.sendText(`{"jsonrpc":"2.0","id":${id},"method":"chain_subscribe","params":${params[0]}}`, [{ expect: params[1], answerId: id }], rng.takeMarkers());
    }
    await c.drain();
    const opened = c.subscriptions.splice(0);
    const targets = [...opened, ...Array.from({ length: rng.range(0, 5) }, () => '0x' + rng.hex(16))];
    for (const sub of targets) {
      const id = String(idCounter++);
      c.sendText(`{"jsonrpc":"2.0","id":${id},"method":"chain_unsubscribe","params":["${sub}"]}`, [{ expect: { kind: 'valid' }, answerId: id }], []);
      frames++;
    }
    for (let k = rng.range(0, 3); k > 0; k--, frames++) {
      const id = String(idCounter++);
      c.sendText(`{"jsonrpc":"2.0","id":${id},"method":"chain_unsubscribe","params":[${rng.pick(['"0x1"', '1', 'null', '"' + 'a'.repeat(34) + '"', nested(rng, 50)])}]}`, [{ expect: { kind: 'invalid-params', code: 'INVALID_PARAMS' }, answerId: id }], []);
    }
  }
  await c.drain();
  return frames;
}

// ------------------------------------------------------------------------------------------
// the run
// ------------------------------------------------------------------------------------------

/** The node's invariants; false when it cannot go on (exited, or its pool shrank). */
async function checkpoint(where: string): Promise<boolean> {
  if (!nodeAlive()) {
    violation('crashes', `node exited (${node.proc.exitCode ?? node.proc.signalCode}) ${where}: ${node.stderr().slice(-1000)}`, '');
    return false;
  }
  if (!(await healthy().catch(() => false))) violation('crashes', `/health not ok ${where}`, '');
  const workers = await workersNow().catch(() => -1);
  if (workers !== WORKERS) {
    violation('poolLosses', `pel_workers ${workers}, configured ${WORKERS}: a worker was lost ${where}`, '');
    return false;
  }
  return true;
}

describe('issue #14 regressions (one node, exact answers)', () => {
  const call = async (body: string): Promise<{ status: number; json: Record<string, any>; text: string }> => {
    const r = await post(node.url, Buffer.from(body));
    return { status: r.status, json: JSON.parse(r.text) as Record<string, any>, text: r.text };
  };

  it('refuses an 8 MiB digit string as a height or a u64 view argument by its length', async () => {
    const digits = '9'.repeat(MAX_BODY - 200);
    for (const [method, params] of [['block_get', `["${digits}"]`], ['nft_getToken', `["0x${'11'.repeat(20)}","${digits}"]`]] as const) {
      const r = await call(`{"jsonrpc":"2.0","id":1,"method":"${method}","params":${params}}`);
      expect(r.json).toMatchObject({ id: 1, error: { code: RpcCode.INVALID_PARAMS } });
      expect(r.text.length).toBeLessThan(400);
    }
  });

  it('chain_subscribe: a kind nested 10^4 deep is INVALID_PARAMS with no logged stack; a 1 MB kind is not echoed', async () => {
    const ws = new WebSocket(node.wsUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answers: unknown[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(String(d))));
    ws.send(`{"jsonrpc":"2.0","id":1,"method":"chain_subscribe","params":[${'['.repeat(10_000)}${']'.repeat(10_000)}]}`);
    ws.send(`{"jsonrpc":"2.0","id":2,"method":"chain_subscribe","params":["${'k'.repeat(1 << 20)}"]}`);
    await waitFor(() => answers.length === 2, { what: 'two answers' });
    ws.close();
    for (const a of answers) expect(a).toMatchObject({ error: { code: RpcCode.INVALID_PARAMS } });
    expect(JSON.stringify(answers).length).toBeLessThan(800);
    expect(loggedErrors()).toEqual([]);
  });

  it('chain_unsubscribe over HTTP is NOT_AVAILABLE; ids come back exactly; "params":"bar" is -32600 and answered', async () => {
    expect((await call(`{"jsonrpc":"2.0","id":1,"method":"chain_unsubscribe","params":["0x${'00'.repeat(16)}"]}`)).json).toMatchObject({ error: { code: RpcCode.NOT_AVAILABLE } });
    expect((await call('{"jsonrpc":"2.0","id":9007199254740993,"method":"mempool_status"}')).text).toMatch(/^\{"jsonrpc":"2\.0","id":9007199254740993,"result":/);
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"mempool_status","params":"bar"}')).json).toMatchObject({ id: 1, error: { code: RpcCode.INVALID_REQUEST } });
    expect((await call('{"jsonrpc":"2.0","method":"mempool_status","params":"bar"}')).json).toMatchObject({ id: null, error: { code: RpcCode.INVALID_REQUEST } });
  });

  it('views take u64 as decimal strings only; block_get takes heights as JSON integers only', async () => {
    const coll = `"0x${'11'.repeat(20)}"`;
    expect((await call(`{"jsonrpc":"2.0","id":1,"method":"nft_getToken","params":[${coll},1]}`)).json).toMatchObject({ error: { code: RpcCode.INVALID_PARAMS } });
    expect((await call(`{"jsonrpc":"2.0","id":1,"method":"nft_getToken","params":[${coll},"1"]}`)).json).toEqual({ jsonrpc: '2.0', id: 1, result: null });
    for (const h of ['"5"', 'null', '1.0e0', '"05"', '-1', '"+5"']) {
      expect((await call(`{"jsonrpc":"2.0","id":1,"method":"block_get","params":[${h}]}`)).json, h).toMatchObject({ error: { code: RpcCode.INVALID_PARAMS } });
    }
    expect((await call('{"jsonrpc":"2.0","id":1,"method":"block_get","params":[0]}')).json).toMatchObject({ result: { header: { height: 0 } } });
  });

  it('raw txs at and past the size limits (64 KiB, 1 MiB, 1 MiB + 1, 3 MiB) are refused without losing a worker', async () => {
    for (const size of RAW_TX_EXTREMES) {
      const r = await call(`{"jsonrpc":"2.0","id":1,"method":"tx_send","params":["0x${'01'.repeat(size)}"]}`);
      expect(r.json, `${size} bytes`).toMatchObject({ id: 1, error: { code: RpcCode.INVALID_TX_ENCODING } });
    }
    expect(await workersNow()).toBe(WORKERS);
  });
});

describe('fuzz', () => {
  it(`${INPUTS} inputs: the node stays up, answers are well-formed with documented codes, a valid transfer commits afterwards`, { timeout: 120_000 + INPUTS * (LONG ? 5 : 20) }, async () => {
    const started = Date.now();
    const cpuStart = process.cpuUsage();
    const nodeCpuStart = await nodeCpuSeconds();
    const rng = new Rng(SEED);
    expect(await workersNow()).toBe(WORKERS);

    // The node serves exactly the declared table: no method is unknown to it.
    const probe = Object.keys(rpcMethods).map((m, i) => `{"jsonrpc":"2.0","id":${i},"method":"${m}","params":[${'"x",'.repeat(5)}"x"]}`);
    const answers = JSON.parse((await post(node.url, Buffer.from(`[${probe.join(',')}]`))).text) as { error?: { code: number } }[];
    expect(answers).toHaveLength(probe.length);
    expect(answers.filter((a) => a.error?.code === RpcCode.METHOD_NOT_FOUND)).toEqual([]);

    // Coverage the random mix may miss at small scale: every raw-tx size extreme once.
    const queue: Body[] = [...RAW_TX_EXTREMES.map((size) => rawTxBody(rng, size)), envelopeBody(rng, 9)];
    const conns = [await WsFuzzConnection.open(), await WsFuzzConnection.open()];
    const inFlight = new Set<Promise<void>>();
    let sinceCheck = 0;
    // Unit weights: the share of inputs each kind should have, divided by its inputs per unit.
    const weights: [number, 'request' | 'rawtx' | 'envelope' | 'ws'][] = [
      [55 / BATCH, 'request'],
      [20 / (LONG ? 20 : 3.5), 'rawtx'],
      [12, 'envelope'],
      [13 / WS_GROUP_INPUTS, 'ws'],
    ];
    let wsChain: Promise<void> = Promise.resolve();
    while (stats.inputs < INPUTS) {
      const kind = queue.length > 0 ? 'queued' : rng.weighted(weights);
      if (kind === 'ws') {
        // WebSocket groups run one after another (each waits for its answers), beside the HTTP traffic.
        const groupRng = new Rng(rng.u32());
        const estimate = WS_GROUP_INPUTS;
        stats.inputs += estimate; // reserved; corrected when the group has run
        wsChain = wsChain.then(async () => {
          const frames = await wsGroup(groupRng, conns);
          stats.inputs += frames - estimate;
          stats.byKind.ws = (stats.byKind.ws ?? 0) + frames;
        });
        sinceCheck += estimate;
      } else {
        const b = kind === 'queued' ? queue.shift()! : kind === 'request' ? requestBody(rng, 'http') : kind === 'rawtx' ? rawTxBody(rng) : envelopeBody(rng);
        count(b.kind, b.inputs);
        sinceCheck += b.inputs;
        const p = sendBody(b.body, b.entries, b.batch, b.whole, b.markers).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= HTTP_CONCURRENCY) await Promise.race(inFlight);
      }
      if (sinceCheck >= CHECK_EVERY) {
        sinceCheck = 0;
        await Promise.all([...inFlight, wsChain]);
        if (!(await checkpoint(`after ${stats.inputs} inputs`))) break;
        if (LONG) console.log(`fuzz: ${stats.inputs} inputs, ${Math.round(stats.inputs / ((Date.now() - started) / 1000))}/s, violations ${violations.length}`);
      }
    }
    await Promise.all([...inFlight, wsChain]);
    if (nodeAlive()) for (const c of conns) await c.close();
    const up = await checkpoint(`at the end (${stats.inputs} inputs)`);
    if (!up) {
      console.log(`fuzz: node down or pool lost; seed ${SEED}\n${JSON.stringify({ stats, violations }, null, 2)}`);
      expect({ violations, seed: SEED }).toEqual({ violations: [], seed: SEED });
    }

    // Afterwards the node still does its job: a valid signed transfer commits.
    const client = new PelClient(node.url);
    const info = await client.getInfo();
    const key = devKeyPair(0);
    const nonce = BigInt((await client.getAccount(key.address)).nonce);
    const tx = buildTransfer({ chainId: info.chainId, key, nonce, to: generateKeyPair().address, amount: 1000n, expiry: BigInt(info.height) + 1000n });
    const receipt = await client.sendRawTxAndWait(tx.raw, 30_000);
    expect(receipt.status).toBe('success');
    const errors = loggedErrors();

    const durationMs = Date.now() - started;
    const summary = {
      seed: SEED, inputs: stats.inputs, byKind: stats.byKind, bodies: stats.bodies, wsFrames: stats.wsFrames, answers: stats.answers, notifications: stats.notifications,
      codesSeen: stats.codesSeen, crashes: stats.crashes, poolLosses: stats.poolLosses, undocumentedCodes: stats.undocumentedCodes, internalErrors: stats.internalErrors,
      malformed: stats.malformed, oracleViolations: stats.oracleViolations, echoes: stats.echoes, loggedErrors: errors.length, workers: await workersNow(),
      oversizedUnanswered: stats.oversizedUnanswered,
      validTransferCommitted: receipt.status === 'success', durationMs, inputsPerSecond: Math.round(stats.inputs / (durationMs / 1000)),
      cpuSeconds: { node: Math.round((await nodeCpuSeconds()) - nodeCpuStart), fuzzer: Math.round((process.cpuUsage(cpuStart).user + process.cpuUsage(cpuStart).system) / 1e6) },
    };
    console.log(`fuzz summary ${JSON.stringify(summary, null, LONG ? 2 : 0)}`);
    const failures = { crashes: stats.crashes, poolLosses: stats.poolLosses, undocumentedCodes: stats.undocumentedCodes, internalErrors: stats.internalErrors, malformed: stats.malformed, oracleViolations: stats.oracleViolations, echoes: stats.echoes };
    expect({ failures, violations, seed: SEED }).toEqual({ failures: { crashes: 0, poolLosses: 0, undocumentedCodes: 0, internalErrors: 0, malformed: 0, oracleViolations: 0, echoes: 0 }, violations: [], seed: SEED });
    expect(errors.slice(0, 5)).toEqual([]);
  });
});
