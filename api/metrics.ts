// Prometheus metrics (GET /metrics): HTTP latency by route, the queue's job counts, queued bytes and
// Redis memory, and the worker fleet as the registry reports it (backend, jobs done, live tensors,
// memory), so one scrape of any API process shows the whole service. A registry per app: tests can
// build many apps.
import type { NextFunction, Request, Response } from 'express';
import { Router } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { listWorkers } from '../shared/workerRegistry.js';
import type { ApiDeps } from './deps.js';

export interface ApiMetrics {
  middleware(req: Request, res: Response, next: NextFunction): void;
  router: Router;
}

export function createMetrics(deps: ApiDeps): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'turdify_api_' });

  const http = new Histogram({
    name: 'turdify_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });

  new Gauge({
    name: 'turdify_queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await deps.queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });

  const workers = new Gauge({
    name: 'turdify_workers',
    help: 'Live worker processes by host, TensorFlow/ONNX backend and detector',
    labelNames: ['host', 'backend', 'detector'] as const,
    registers: [registry],
  });
  const perWorker = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['worker', 'host', 'backend'] as const, registers: [registry] });
  const done = perWorker('turdify_worker_jobs_done', 'Jobs a live worker process has completed');
  const failed = perWorker('turdify_worker_jobs_failed', 'Jobs a live worker process has failed');
  const tensors = perWorker(
    'turdify_worker_live_tensors',
    'Live tensors in a worker (flat when nothing leaks)',
  );
  const rss = perWorker('turdify_worker_resident_memory_bytes', 'Resident memory of a worker process');

  const memory = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  const queuedBytes = memory('turdify_queued_bytes', 'Bytes of uploads stored and not processed yet');
  const maxQueuedBytes = memory('turdify_queued_bytes_limit', 'MAX_QUEUED_BYTES in effect');
  const reservedBytes = memory('turdify_reserved_bytes', 'Bytes reserved for what admitted jobs will write');
  const redisUsed = memory('turdify_redis_used_memory_bytes', "Redis's used_memory");
  const redisMax = memory('turdify_redis_maxmemory_bytes', "Redis's maxmemory (0: no limit)");
  new Gauge({
    name: 'turdify_upload_memory_bytes',
    help: 'Upload bytes this API process holds in memory (bounded by MAX_UPLOAD_MEMORY_BYTES)',
    registers: [registry],
    collect() {
      this.set(deps.uploads.bytes);
    },
  });

  const router = Router();
  router.get('/metrics', async (_req, res) => {
    // The fleet is read fresh on each scrape; workers that stopped drop out.
    const [fleet, usage] = await Promise.all([listWorkers(deps.redis, deps.keys), deps.store.usage()]);
    queuedBytes.set(usage.queuedBytes);
    maxQueuedBytes.set(usage.maxQueuedBytes);
    reservedBytes.set(usage.reservedBytes);
    redisUsed.set(usage.usedMemory);
    redisMax.set(usage.maxMemory);
    for (const g of [workers, done, failed, tensors, rss]) g.reset();
    for (const w of fleet) {
      workers.inc({ host: w.host, backend: w.backend, detector: w.detector });
      const labels = { worker: w.id, host: w.host, backend: w.backend };
      done.set(labels, w.jobsDone);
      failed.set(labels, w.jobsFailed);
      if (Number.isFinite(w.tensors)) tensors.set(labels, w.tensors);
      if (Number.isFinite(w.rssMB)) rss.set(labels, w.rssMB * 2 ** 20);
    }
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });

  return {
    router,
    middleware(req, res, next) {
      const end = http.startTimer();
      res.on('finish', () => {
        // The route pattern (not the URL) keeps the label set small: job ids never become labels.
        const route = (req.route as { path?: string } | undefined)?.path;
        end({
          method: req.method,
          route: typeof route === 'string' ? route : 'unmatched',
          status: res.statusCode,
        });
      });
      next();
    },
  };
}
