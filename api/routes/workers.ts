// The fleet: every live worker process (its registry entry's TTL is three heartbeats), so an operator
// sees which machines are working. A worker that died drops out within WORKER_HEARTBEAT_SECONDS × 3.
import { Router } from 'express';
import { listWorkers } from '../../shared/workerRegistry.js';
import type { ApiDeps } from '../deps.js';

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);

export function workersRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/workers', async (_req, res) => {
    // Redis errors become 503 + Retry-After in the problem handler.
    const workers = await listWorkers(deps.redis, deps.keys);
    const now = Date.now();
    res.set('Cache-Control', 'no-store').json({
      count: workers.length,
      hosts: [...new Set(workers.map((w) => w.host))].sort(),
      workers: workers.map((w) => ({
        id: w.id,
        host: w.host,
        pid: w.pid,
        backend: w.backend,
        detector: w.detector,
        concurrency: w.concurrency,
        jobs_done: w.jobsDone,
        jobs_failed: w.jobsFailed,
        tensors: Number.isFinite(w.tensors) ? w.tensors : null,
        rss_mb: Number.isFinite(w.rssMB) ? w.rssMB : null,
        started_at: iso(w.startedAt),
        last_heartbeat: iso(w.lastHeartbeat),
        seconds_since_heartbeat: Number.isFinite(w.lastHeartbeat)
          ? Math.max(0, Math.round((now - w.lastHeartbeat) / 100) / 10)
          : null,
      })),
    });
  });
  return router;
}
