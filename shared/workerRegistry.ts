// The fleet: each worker process keeps a small hash in Redis with a TTL, refreshed by a heartbeat.
// A worker that dies simply expires; listing the live ones is a SCAN over the pattern.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  backend: string;
  detector: string;
  /** The npm package its detector's weights ship in, and their licence. */
  weights: string;
  licence: string;
  concurrency: number;
  jobsDone: number;
  jobsFailed: number;
  startedAt: number;
  lastHeartbeat: number;
  /** Live TensorFlow tensors in the detector (constant when nothing leaks). */
  tensors: number;
  /** Resident memory of the worker process, MB. */
  rssMB: number;
}

export async function publishWorker(
  redis: Redis,
  keys: RedisKeys,
  info: WorkerInfo,
  ttlSeconds: number,
): Promise<void> {
  const key = keys.worker(info.id);
  const fields = Object.fromEntries(Object.entries(info).map(([k, v]) => [k, String(v)]));
  await redis.multi().hset(key, fields).expire(key, Math.ceil(ttlSeconds)).exec();
}

export async function removeWorker(redis: Redis, keys: RedisKeys, id: string): Promise<void> {
  await redis.unlink(keys.worker(id));
}

export async function listWorkers(redis: Redis, keys: RedisKeys): Promise<WorkerInfo[]> {
  const found: WorkerInfo[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', keys.workerPattern, 'COUNT', 100);
    cursor = next;
    for (const key of batch) {
      const h = await redis.hgetall(key);
      if (!h.id) continue;
      found.push({
        id: h.id,
        host: h.host ?? '',
        pid: Number(h.pid),
        backend: h.backend ?? 'unknown',
        detector: h.detector ?? 'unknown',
        weights: h.weights ?? 'unknown',
        licence: h.licence ?? 'unknown',
        concurrency: Number(h.concurrency),
        jobsDone: Number(h.jobsDone),
        jobsFailed: Number(h.jobsFailed),
        startedAt: Number(h.startedAt),
        lastHeartbeat: Number(h.lastHeartbeat),
        tensors: Number(h.tensors ?? NaN),
        rssMB: Number(h.rssMB ?? NaN),
      });
    }
  } while (cursor !== '0');
  return found.sort((a, b) => a.id.localeCompare(b.id));
}
