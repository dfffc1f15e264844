/**
 * The state store's writer thread (started by StateDb when `writer` is 'thread'). It opens
 * the same LMDB environment and applies each packed commit (state-commit.ts) in one
 * synchronous write transaction, in the order they arrive, replying once each is visible.
 * The main thread only packs (bytes in, transferred); it never waits on LMDB's page work.
 */
import { parentPort } from 'node:worker_threads';
import { applyPackedCommit } from './state-commit.js';
import { openStateEnv, type StateEnv, type StateEnvOptions } from './state-env.js';
import { StateError } from './state-error.js';

export type WriterRequest =
  | { readonly type: 'init'; readonly opts: StateEnvOptions }
  | { readonly type: 'commit'; readonly pack: Uint8Array; readonly flags: number }
  | { readonly type: 'close' };

export type WriterReply =
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'done' }
  | { readonly type: 'failed'; readonly code: string; readonly message: string };

let env: StateEnv | null = null;
/** After a failed commit every later one fails too: they were computed on top of it. */
let failed: string | null = null;

const port = parentPort;
if (port !== null) {
  port.on('message', (m: WriterRequest) => {
    switch (m.type) {
      case 'init':
        try {
          env = openStateEnv(m.opts);
          port.postMessage({ type: 'ready' } satisfies WriterReply);
        } catch (e) {
          port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies WriterReply);
        }
        return;
      case 'commit': {
        if (failed !== null || env === null) {
          port.postMessage({ type: 'failed', code: 'STATE_WRITE_FAILED', message: failed ?? 'state writer not initialised' } satisfies WriterReply);
          return;
        }
        const e = env;
        try {
          e.root.transactionSync(() => applyPackedCommit(e.tables, m.pack), m.flags);
          port.postMessage({ type: 'done' } satisfies WriterReply);
        } catch (err) {
          failed = `an earlier state commit failed: ${err instanceof Error ? err.message : String(err)}`;
          port.postMessage({ type: 'failed', code: err instanceof StateError ? err.code : 'STATE_WRITE_FAILED', message: err instanceof Error ? err.message : String(err) } satisfies WriterReply);
        }
        return;
      }
      case 'close':
        void (env?.root.close() ?? Promise.resolve()).then(() => process.exit(0));
        return;
    }
  });
}
