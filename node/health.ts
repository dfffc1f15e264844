/**
 * What `GET /health` and `chain_getInfo` say about the executor: whether blocks run on a full
 * worker pool, and if not, why (docs/EXECUTION.md, "Worker pool: failures and healing").
 *
 * A degraded node still answers every request correctly (blocks fall back to the sequential
 * reference, signature checks to the main thread), only slower, so `/health` answers HTTP 200
 * with `"status": "degraded"` rather than 503: a load balancer keeps a correct node in
 * rotation, and monitoring reads the status (or `pel_workers`, `pel_worker_restarts_total`).
 */
import type { WorkerPoolStats } from '../execution/parallel/pool.js';
import type { HttpRoute } from './rpc/server.js';

export type ExecutorStatus =
  /** The sequential executor (`--executor sequential`): no pool, nothing missing. */
  | 'sequential'
  /** Every worker in service. */
  | 'parallel'
  /** A worker is being replaced: blocks run sequentially and jobs go to the others until it is back. */
  | 'degraded'
  /** The pool is out of service (crash loop): every block runs sequentially until the node restarts. */
  | 'pool-lost';

export interface ExecutorHealth {
  readonly status: ExecutorStatus;
  /** The worker pool; null on the sequential executor. */
  readonly workers: { readonly configured: number; readonly inService: number; readonly restarts: number } | null;
  /** What is wrong, for a person (null when nothing is). */
  readonly reason: string | null;
}

export function executorHealth(pool: WorkerPoolStats | null): ExecutorHealth {
  if (pool === null) return { status: 'sequential', workers: null, reason: null };
  const workers = { configured: pool.configured, inService: pool.workers, restarts: pool.restarts };
  if (pool.lost !== null) {
    return { status: 'pool-lost', workers, reason: `worker pool out of service (${pool.lost}): blocks run sequentially and signatures are checked on the main thread until the node restarts` };
  }
  if (pool.workers < pool.configured) {
    return { status: 'degraded', workers, reason: `${pool.workers} of ${pool.configured} workers in service while a replacement starts: blocks run sequentially until it is back` };
  }
  return { status: 'parallel', workers, reason: null };
}

/** `GET /health`: `{"status":"ok"}`, or `{"status":"degraded","reason":...,"workers":{...}}`, always HTTP 200 (see above). */
export function healthRoute(health: () => ExecutorHealth): HttpRoute {
  return () => {
    const h = health();
    const body = h.reason === null ? { status: 'ok' } : { status: 'degraded', executorStatus: h.status, reason: h.reason, workers: h.workers };
    return { contentType: 'application/json', body: JSON.stringify(body) };
  };
}
