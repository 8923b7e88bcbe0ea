// How the API shows one worker process from the fleet registry (GET /workers, /readyz).
import type { WorkerInfo } from '../shared/workerRegistry.js';

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
const finite = (n: number) => (Number.isFinite(n) ? n : null);

export function workerView(w: WorkerInfo, now = Date.now()) {
  return {
    id: w.id,
    host: w.host,
    pid: w.pid,
    backend: w.backend,
    detector: w.detector,
    weights: w.weights,
    licence: w.licence,
    concurrency: w.concurrency,
    jobs_done: w.jobsDone,
    jobs_failed: w.jobsFailed,
    tensors: finite(w.tensors),
    rss_mb: finite(w.rssMB),
    started_at: iso(w.startedAt),
    last_heartbeat: iso(w.lastHeartbeat),
    seconds_since_heartbeat: Number.isFinite(w.lastHeartbeat)
      ? Math.max(0, Math.round((now - w.lastHeartbeat) / 100) / 10)
      : null,
  };
}
