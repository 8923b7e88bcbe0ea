// The fleet: every live worker process (its registry entry's TTL is three heartbeats), so an operator
// sees which machines are working. A worker that died drops out within WORKER_HEARTBEAT_SECONDS × 3.
import { Router } from 'express';
import { listWorkers } from '../../shared/workerRegistry.js';
import type { ApiDeps } from '../deps.js';
import { workerView } from '../workerView.js';

export function workersRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/workers', async (_req, res) => {
    // Redis errors become 503 + Retry-After in the problem handler.
    const workers = await listWorkers(deps.redis, deps.keys);
    const now = Date.now();
    res.set('Cache-Control', 'no-store').json({
      count: workers.length,
      hosts: [...new Set(workers.map((w) => w.host))].sort(),
      workers: workers.map((w) => workerView(w, now)),
    });
  });
  return router;
}
