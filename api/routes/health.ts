// Liveness (the process answers) and readiness (Redis answers; workers are reported, not required).
import { Router } from 'express';
import { listWorkers } from '../../shared/workerRegistry.js';
import { isAdmin } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { workerView } from '../workerView.js';
import { HttpProblem } from '../problem.js';

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function healthRouter(deps: ApiDeps): Router {
  const { redis, keys, queue, store } = deps;
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });

  router.get('/readyz', async (req, res) => {
    let workers, counts, usage;
    try {
      await withTimeout(redis.ping(), 1000);
      [workers, counts, usage] = await withTimeout(
        Promise.all([
          listWorkers(redis, keys),
          queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'paused'),
          store.usage(),
        ]),
        2000,
      );
    } catch (err) {
      req.log?.warn({ err: (err as Error).message }, 'not ready: redis unavailable');
      throw new HttpProblem(503, 'not-ready', 'Service Unavailable', 'Redis is not answering', {
        extensions: { redis: 'down' },
        headers: { 'Retry-After': '5', 'Cache-Control': 'no-store' },
      });
    }
    res.set('Cache-Control', 'no-store').json({
      status: 'ready',
      redis: 'ok',
      workers: {
        count: workers.length,
        backends: [...new Set(workers.map((w) => w.backend))].sort(),
        // Hosts and pids are the operator's business: with ADMIN_TOKEN set, only for the token.
        ...(isAdmin(deps.config, req) ? { list: workers.map((w) => workerView(w)) } : {}),
      },
      queue: counts,
      // Bytes of uploads stored and not processed yet, against their bound; Redis's memory (0: no limit).
      memory: {
        queued_bytes: usage.queuedBytes,
        queued_jobs: usage.queuedJobs,
        max_queued_bytes: usage.maxQueuedBytes,
        reserved_bytes: usage.reservedBytes,
        redis_used_memory: usage.usedMemory,
        redis_maxmemory: usage.maxMemory,
      },
    });
  });
  return router;
}
