/**
 * What /health and chain_getInfo say about the worker pool (node/health.ts), and that the
 * node's /health route replaces the RPC server's built-in one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerPoolStats } from '../../../execution/parallel/pool.js';
import { executorHealth, healthRoute } from '../../../node/health.js';
import { silentLogger } from '../../../node/logger.js';
import { RpcServer } from '../../../node/rpc/server.js';

const stats = (over: Partial<WorkerPoolStats>): WorkerPoolStats => ({
  configured: 2,
  workers: 2,
  restarts: 0,
  lost: null,
  busyMs: { execute: 0, validate: 0, finalise: 0, ingest: 0, verify: 0 },
  heaps: [null, null],
  ...over,
});

const body = async (h: ReturnType<typeof executorHealth>): Promise<unknown> => JSON.parse((await healthRoute(() => h)()).body);

describe('executor health', () => {
  it('ok with every worker in service, and on the sequential executor', async () => {
    const full = executorHealth(stats({ restarts: 3 }));
    expect(full).toEqual({ status: 'parallel', workers: { configured: 2, inService: 2, restarts: 3 }, reason: null });
    expect(await body(full)).toEqual({ status: 'ok' });
    const seq = executorHealth(null);
    expect(seq).toEqual({ status: 'sequential', workers: null, reason: null });
    expect(await body(seq)).toEqual({ status: 'ok' });
  });

  it('degraded while a worker is being replaced', async () => {
    const h = executorHealth(stats({ workers: 1, restarts: 1 }));
    expect(h.status).toBe('degraded');
    expect(h.reason).toMatch(/^1 of 2 workers in service/);
    expect(await body(h)).toEqual({ status: 'degraded', executorStatus: 'degraded', reason: h.reason, workers: { configured: 2, inService: 1, restarts: 1 } });
  });

  it('degraded, with the reason, once the pool is lost', async () => {
    const h = executorHealth(stats({ workers: 0, restarts: 5, lost: 'worker 0 exited (code 1), after 5 restarts within 60 s (crash loop)' }));
    expect(h.status).toBe('pool-lost');
    expect(h.reason).toContain('crash loop');
    expect(await body(h)).toMatchObject({ status: 'degraded', executorStatus: 'pool-lost', workers: { configured: 2, inService: 0, restarts: 5 } });
  });
});

describe('GET /health on the RPC server', () => {
  let server: RpcServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  const get = async (routes: ConstructorParameters<typeof RpcServer>[2]['routes']): Promise<{ status: number; body: unknown }> => {
    server = new RpcServer({ host: '127.0.0.1', port: 0 }, {}, { logger: silentLogger, routes });
    const { url } = await server.start();
    const res = await fetch(new URL('/health', url));
    return { status: res.status, body: await res.json() };
  };

  it('is the built-in {"status":"ok"} without a route, and the route\'s answer (HTTP 200) with one', async () => {
    expect(await get(undefined)).toEqual({ status: 200, body: { status: 'ok' } });
    await server!.close();
    const degraded = executorHealth(stats({ workers: 1, restarts: 1 }));
    expect(await get({ '/health': healthRoute(() => degraded) })).toEqual({ status: 200, body: { status: 'degraded', executorStatus: 'degraded', reason: degraded.reason, workers: degraded.workers } });
  });
});
