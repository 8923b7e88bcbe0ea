// Redis memory per job, and the largest burst a 64 MB Redis absorbs:
//   npx tsx bench/redisMemory.ts            (rewrites the figures in docs/deploy.md, "Redis memory")
//   npx tsx bench/redisMemory.ts --no-write (prints them only)
// Each measurement has its own private redis-server, the API (in process) and one worker with the
// real detector. Per job: what one upload, its result, its job record, its events and its ledger
// entry take in Redis (MEMORY USAGE, and used_memory before and after). Burst: six clients upload
// one photo size each until Redis's budget refuses them (no worker running), then a worker drains
// the queue; every accepted job must complete, and Redis must have refused no command (OOM).
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startApi } from '../api/server.js';
import { loadConfig } from '../shared/config.js';
import { QUEUE_NAME, redisKeys } from '../shared/keys.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { startWorker } from '../worker/worker.js';
import { pollJob, submitFile } from '../test/helpers/http.js';
import { largePhoto } from '../test/helpers/largePhoto.js';
import { oomRefusals, redisMemory, startTestRedis } from '../test/helpers/redis.js';
import { renderEmoji, sharedDetector } from '../test/helpers/worker.js';
import { mdTable, writeGeneratedSection } from './lib/docs.js';
import { fixturesDir, repoRoot } from './lib/photos.js';

export const REDIS_MEMORY_MARKERS = {
  start: '<!-- redis-memory:start -->',
  end: '<!-- redis-memory:end -->',
};

interface Photo {
  name: string;
  bytes: Buffer;
}

const KB = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const MB = (n: number) => `${(n / 2 ** 20).toFixed(2)} MB`;
const log = createLogger('bench', 'error');
const keys = redisKeys('turdify');

async function service(maxmemory?: string) {
  const server = await startTestRedis({ args: maxmemory ? ['--maxmemory', maxmemory] : [] });
  const redis = createRedis(server.url, 'blocking');
  const config = loadConfig({
    REDIS_URL: server.url,
    PORT: '0',
    HOST: '127.0.0.1',
    SHUTDOWN_TIMEOUT_SECONDS: '2',
  });
  const api = await startApi(config, log);
  const worker = () =>
    sharedDetector().then((detector) => startWorker({ config, log, renderEmoji, detector }));
  return {
    redis,
    api,
    worker,
    close: async () => {
      await api.close();
      redis.disconnect();
      await server.close();
    },
  };
}

const usage = async (redis: Redis, key: string) =>
  Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** used_memory once Redis has shrunk the clients' query buffers (it does so within ~2 s of idling). */
const settledUsed = async (redis: Redis) => {
  await sleep(3000);
  return (await redisMemory(redis)).used;
};

async function submitAll(base: string, photo: Photo, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await submitFile(base, photo.bytes, photo.name);
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

interface PerJob {
  photo: string;
  upload: number;
  input: number;
  result: number;
  recordWaiting: number;
  recordCompleted: number;
  events: number;
  ledger: number;
  queuedPerJob: number;
  completedPerJob: number;
}

let redisVersion = '';

async function perJob(photo: Photo, n = 10): Promise<PerJob> {
  const s = await service();
  try {
    redisVersion ||= /^redis_version:(\S+)/m.exec(await s.redis.info('server'))?.[1] ?? '?';
    // One job through first, then deleted: the baseline has every script loaded and every queue
    // structure made, so the figures are what each further job adds.
    const [warmup] = await submitAll(s.api.url, photo, 1);
    const first = await s.worker();
    await pollJob(s.api.url, warmup!, 120_000);
    await first.close();
    await fetch(`${s.api.url}/jobs/${warmup}`, { method: 'DELETE' });
    const before = await settledUsed(s.redis);
    const ids = await submitAll(s.api.url, photo, n);
    const input = mean(await Promise.all(ids.map((id) => usage(s.redis, keys.input(id)))));
    const recordWaiting = mean(await Promise.all(ids.map((id) => usage(s.redis, keys.bullJob(id)))));
    const ledger = (await usage(s.redis, keys.ledger)) / n;
    const queued = await settledUsed(s.redis);
    const worker = await s.worker();
    for (const id of ids) await pollJob(s.api.url, id, 120_000);
    while ((await s.redis.exists(...ids.map((id) => keys.input(id)))) > 0) await sleep(50);
    await worker.close();
    const result = mean(await Promise.all(ids.map((id) => usage(s.redis, keys.result(id)))));
    const recordCompleted = mean(await Promise.all(ids.map((id) => usage(s.redis, keys.bullJob(id)))));
    const events = (await usage(s.redis, `turdify:${QUEUE_NAME}:events`)) / n;
    const completed = await settledUsed(s.redis);
    return {
      photo: photo.name,
      upload: photo.bytes.length,
      input,
      result,
      recordWaiting,
      recordCompleted,
      events,
      ledger,
      queuedPerJob: (queued - before) / n,
      completedPerJob: (completed - before) / n,
    };
  } finally {
    await s.close();
  }
}

interface Burst {
  photo: string;
  upload: number;
  accepted: number;
  refused: Record<string, number>;
  maxQueued: number;
  peakUsed: number;
  completed: number;
  oom: number;
}

/** Six clients upload until refused; then one worker drains the queue. */
async function burst(photo: Photo, maxmemory = '64mb'): Promise<Burst> {
  const s = await service(maxmemory);
  try {
    const ids: string[] = [];
    const refused: Record<string, number> = {};
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (;;) {
          const res = await submitFile(s.api.url, photo.bytes, photo.name);
          const body = (await res.json()) as { id?: string; type?: string };
          if (res.status === 202) {
            ids.push(body.id!);
            continue;
          }
          const kind = `${res.status} ${String(body.type).split('/').pop()}`;
          refused[kind] = (refused[kind] ?? 0) + 1;
          return;
        }
      }),
    );
    const ready = (await (await fetch(`${s.api.url}/readyz`)).json()) as {
      memory: { max_queued_bytes: number };
    };
    const peakUsed = Number(/^used_memory_peak:(\d+)/m.exec(await s.redis.info('memory'))?.[1]);
    const worker = await s.worker();
    let completed = 0;
    for (const id of ids) if ((await pollJob(s.api.url, id, 300_000)).status === 'completed') completed++;
    await worker.close();
    return {
      photo: photo.name,
      upload: photo.bytes.length,
      accepted: ids.length,
      refused,
      maxQueued: ready.memory.max_queued_bytes,
      peakUsed,
      completed,
      oom: await oomRefusals(s.redis),
    };
  } finally {
    await s.close();
  }
}

const fixture = 'dlib_voc_2007_007763.jpg';
const photos: Photo[] = [
  { name: `${fixture} (500×375)`, bytes: readFileSync(join(fixturesDir, fixture)) },
  { name: '1600×1200 JPEG', bytes: await largePhoto(1600, 1200) },
  { name: '2400×1800 JPEG', bytes: await largePhoto(2400, 1800) },
  { name: '4000×3000 JPEG', bytes: await largePhoto(4000, 3000) },
];

const perJobRows: PerJob[] = [];
for (const p of photos) perJobRows.push(await perJob(p));
const burstRows: Burst[] = [];
for (const p of photos) burstRows.push(await burst(p));

const perJobTable = mdTable(
  [
    'photo',
    'upload',
    'input key',
    'result key',
    'job record (waiting → completed)',
    'events',
    'ledger entry',
    'used_memory per queued job',
    'per completed job',
  ],
  perJobRows.map((r) => [
    r.photo,
    KB(r.upload),
    KB(r.input),
    KB(r.result),
    `${KB(r.recordWaiting)} → ${KB(r.recordCompleted)}`,
    KB(r.events),
    `${Math.round(r.ledger)} B`,
    KB(r.queuedPerJob),
    KB(r.completedPerJob),
  ]),
);
const burstTable = mdTable(
  [
    'photo',
    'upload',
    'accepted',
    'accepted bytes',
    'refused with',
    'MAX_QUEUED_BYTES',
    'Redis peak',
    'completed',
    'OOM',
  ],
  burstRows.map((r) => [
    r.photo,
    MB(r.upload),
    r.accepted,
    MB(r.accepted * r.upload),
    Object.entries(r.refused)
      .map(([k, v]) => `${v} × ${k}`)
      .join(', '),
    MB(r.maxQueued),
    MB(r.peakUsed),
    `${r.completed} / ${r.accepted}`,
    r.oom,
  ]),
);
const markdown = [
  `Measured by \`npx tsx bench/redisMemory.ts\` (run of ${new Date().toISOString().slice(0, 10)}, Redis ${redisVersion}). Per job, ten jobs of each photo, \`MEMORY USAGE\` of each key and \`used_memory\` before and after:`,
  '',
  perJobTable,
  '',
  'The largest burst a Redis of `maxmemory 64mb` absorbed: six clients uploading at once until refused, no worker running, then one worker draining the queue:',
  '',
  burstTable,
].join('\n');

process.stdout.write(`${markdown}\n`);
if (!process.argv.includes('--no-write')) {
  await writeGeneratedSection(join(repoRoot, 'docs/deploy.md'), REDIS_MEMORY_MARKERS, markdown);
}
process.exit(0);
