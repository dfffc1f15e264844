/**
 * End-to-end harness: runs the real `pel` CLI (dist/node/cli.js, built by `npm test`'s
 * pretest tsc) as child processes with a real LevelDB dir under os.tmpdir() and real sockets
 * on 127.0.0.1, port 0.
 *
 * Every process started here is tracked and killed by `cleanupAll()`; every temp dir made
 * here is removed by `removeTempDirs()`. `useE2eCleanup()` registers both as vitest hooks so
 * a failing test never leaves a node running or a directory behind.
 * No sleeps as synchronisation: `waitFor` polls a condition with a deadline, and process
 * start/stop wait for the banner line / the exit event, each with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { WebSocket } from 'ws';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO_ROOT, 'dist', 'node', 'cli.js');

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
/** Kept per stream so a chatty node (block-time 0 logs every block) cannot eat the test's memory. */
const MAX_CAPTURE_CHARS = 4 * 1024 * 1024;

// ------------------------------------------------------------------------------------------
// polling
// ------------------------------------------------------------------------------------------

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Names the condition in the timeout error (a function is called only then). */
  what?: string | (() => string);
}

/**
 * Polls `cond` until it returns a value other than false / undefined / null and returns that
 * value; throws when the deadline passes (with the last error `cond` threw, if any).
 */
export async function waitFor<T>(cond: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, false | undefined | null>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v !== false && v !== undefined && v !== null) return v as Exclude<T, false | undefined | null>;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      const what = typeof opts.what === 'function' ? opts.what() : opts.what ?? 'condition';
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ------------------------------------------------------------------------------------------
// temp dirs and process tracking
// ------------------------------------------------------------------------------------------

const tempDirs = new Set<string>();
const live = new Set<ChildProcess>();
/** Processes started while a test (not a beforeAll hook) runs: killed after that test. */
const startedInTest = new Set<ChildProcess>();
let inTest = false;

function track(proc: ChildProcess): void {
  live.add(proc);
  if (inTest) startedInTest.add(proc);
}

function untrack(proc: ChildProcess): void {
  live.delete(proc);
  startedInTest.delete(proc);
}

export async function makeTempDir(label = 'e2e'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `pel-${label}-`));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Resolves with the exit code (null when killed by a signal) once the process has exited. */
function exitOf(proc: ChildProcess): Promise<number | null> {
  if (exited(proc)) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function killAll(procs: ChildProcess[]): Promise<void> {
  for (const p of procs) untrack(p);
  await Promise.all(
    procs.map(async (p) => {
      if (exited(p)) return;
      p.kill('SIGKILL');
      await withDeadline(exitOf(p), STOP_TIMEOUT_MS, `pid ${p.pid} exit after SIGKILL`).catch(() => undefined);
    }),
  );
}

/** SIGKILLs every process this harness started that is still running, and waits for them. */
export function cleanupAll(): Promise<void> {
  return killAll([...live]);
}

/**
 * Registers cleanup hooks (call once, at the top of a test file): after each test, the
 * processes that test started (nodes from beforeAll live on); after the file, every process
 * and every temp dir.
 */
export function useE2eCleanup(): void {
  beforeEach(() => {
    inTest = true;
  });
  afterEach(async () => {
    inTest = false;
    await killAll([...startedInTest]);
  });
  afterAll(async () => {
    await cleanupAll();
    await removeTempDirs();
  });
}

// Last resort: a vitest worker that dies must not leave pel nodes behind.
process.once('exit', () => {
  for (const p of live) if (!exited(p)) p.kill('SIGKILL');
});

function capture(stream: NodeJS.ReadableStream | null, sink: { text: string }, onData?: () => void): void {
  if (!stream) return;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    sink.text += chunk;
    if (sink.text.length > MAX_CAPTURE_CHARS) sink.text = sink.text.slice(-MAX_CAPTURE_CHARS / 2);
    onData?.();
  });
}

// ------------------------------------------------------------------------------------------
// node processes
// ------------------------------------------------------------------------------------------

export interface StartOptions {
  /** LevelDB data dir; a fresh temp dir when omitted. */
  dataDir?: string;
  /** Extra `pel devnet` flags, e.g. ['--mining', 'manual']. */
  args?: string[];
  /** The whole command line instead of `devnet --host 127.0.0.1 --port 0 --data-dir D ...args` (e.g. ['node', '--home', dir]). */
  command?: string[];
  /** Node.js / V8 options placed before the script, e.g. ['--heap-growing-percent=20']. */
  nodeArgs?: string[];
  /** Extra environment variables for the node process (test hooks such as PEL_TEST_CRASH_AT). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface RunningNode {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly proc: ChildProcess;
  readonly dataDir: string;
  /** Sends `signal` and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL (kill -9) and wait for the process to be gone. */
  kill9(): Promise<void>;
  stdout(): string;
  stderr(): string;
}

/** Spawns `pel devnet` and resolves once its banner has printed the RPC URL. */
export async function startNode(opts: StartOptions = {}): Promise<RunningNode> {
  const dataDir = opts.dataDir ?? join(await makeTempDir('node'), 'data');
  const args = [...(opts.nodeArgs ?? []), CLI, ...(opts.command ?? ['devnet', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...(opts.args ?? [])])];
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test', ...opts.env } });
  track(proc);
  const out = { text: '' };
  const err = { text: '' };
  const diagnostics = (): string => `\n--- stdout ---\n${out.text.slice(-4000)}\n--- stderr ---\n${err.text.slice(-4000)}`;

  const banner = await new Promise<{ url: string; wsUrl: string; port: number }>((resolveBanner, reject) => {
    let settled = false;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`pel devnet did not print its RPC URL within ${opts.timeoutMs ?? START_TIMEOUT_MS} ms${diagnostics()}`))), opts.timeoutMs ?? START_TIMEOUT_MS);
    const check = (): void => {
      const rpc = /^ {2}RPC +(http:\/\/127\.0\.0\.1:(\d+)\/)\s*$/m.exec(out.text);
      const ws = /^ {2}WebSocket +(ws:\/\/\S+)\s*$/m.exec(out.text);
      if (rpc && ws) finish(() => resolveBanner({ url: rpc[1]!, port: Number(rpc[2]), wsUrl: ws[1]! }));
    };
    capture(proc.stdout, out, check);
    capture(proc.stderr, err);
    proc.once('error', (e) => finish(() => reject(new Error(`cannot spawn pel devnet: ${e.message}`))));
    proc.once('exit', (code, signal) => finish(() => reject(new Error(`pel devnet exited (code ${code}, signal ${signal}) before printing its RPC URL${diagnostics()}`))));
  });

  return {
    ...banner,
    proc,
    dataDir,
    stdout: () => out.text,
    stderr: () => err.text,
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (exited(proc)) return proc.exitCode;
      const done = exitOf(proc);
      proc.kill(signal);
      try {
        return await withDeadline(done, STOP_TIMEOUT_MS, `pel devnet exit after ${signal}`);
      } catch (e) {
        proc.kill('SIGKILL');
        await exitOf(proc);
        throw new Error(`${(e as Error).message}${diagnostics()}`);
      } finally {
        untrack(proc);
      }
    },
    async kill9() {
      if (exited(proc)) return;
      const done = exitOf(proc);
      proc.kill('SIGKILL');
      await withDeadline(done, STOP_TIMEOUT_MS, 'pel devnet exit after SIGKILL');
      untrack(proc);
    },
  };
}

// ------------------------------------------------------------------------------------------
// CLI commands
// ------------------------------------------------------------------------------------------

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `pel ARGS...` to completion (SIGKILLed past the deadline). */
export async function runCli(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test', ...opts.env } });
  track(proc);
  const out = { text: '' };
  const err = { text: '' };
  capture(proc.stdout, out);
  capture(proc.stderr, err);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const result = await new Promise<CliResult>((resolveRun, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`pel ${args.join(' ')}: no exit within ${timeoutMs} ms\n--- stdout ---\n${out.text}\n--- stderr ---\n${err.text}`));
    }, timeoutMs);
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close', not 'exit': stdout and stderr are complete only once the pipes have closed.
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout: out.text, stderr: err.text });
    });
  }).finally(() => untrack(proc));
  return result;
}

/** Parses a CLI's JSON stdout, with the whole output in the error when it is not JSON. */
export function parseJsonOutput<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`expected JSON on stdout (exit ${r.code})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
}

// ------------------------------------------------------------------------------------------
// raw JSON-RPC over HTTP (for requests the SDK would never build)
// ------------------------------------------------------------------------------------------

export interface RawResponse {
  status: number;
  text: string;
  json: unknown;
}

export async function postRaw(url: string, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<RawResponse> {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

// ------------------------------------------------------------------------------------------
// WebSocket JSON-RPC
// ------------------------------------------------------------------------------------------

export interface WsMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  result?: unknown;
  error?: { code: number; message: string; data?: { code?: string } };
  method?: string;
  params?: { subscription: string; result: unknown };
}

/** A WebSocket JSON-RPC client that keeps every message, so a test can wait for any of them. */
export class WsClient {
  readonly messages: WsMessage[] = [];
  private nextId = 1;
  private listeners = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as WsMessage);
      for (const l of [...this.listeners]) l();
    });
    ws.on('close', () => {
      for (const l of [...this.listeners]) l();
    });
  }

  static async connect(url: string, timeoutMs = 10_000): Promise<WsClient> {
    const ws = new WebSocket(url);
    await withDeadline(
      new Promise<void>((resolveOpen, reject) => {
        ws.once('open', () => resolveOpen());
        ws.once('error', reject);
      }),
      timeoutMs,
      `WebSocket connect ${url}`,
    );
    return new WsClient(ws);
  }

  /** Resolves with the first message (already received or future) matching `pred`. */
  next(pred: (m: WsMessage) => boolean, timeoutMs = 10_000, what = 'WebSocket message'): Promise<WsMessage> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolveMsg, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const check = (): void => {
        const m = this.messages.find(pred);
        if (m) {
          done();
          resolveMsg(m);
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          done();
          reject(new Error(`WebSocket closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what} not received within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 2000)}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Sends a request and resolves with its response (result or error message). */
  async call(method: string, params: unknown[] = [], timeoutMs = 10_000): Promise<WsMessage> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return this.next((m) => m.id === id, timeoutMs, `response to ${method}`);
  }

  notifications(subscription: string): unknown[] {
    return this.messages.filter((m) => m.method === 'chain_subscription' && m.params?.subscription === subscription).map((m) => m.params!.result);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.close();
    await withDeadline(closed, 5_000, 'WebSocket close').catch(() => this.ws.terminate());
  }
}
