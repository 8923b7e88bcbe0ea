// The scenario, over a real redis-server with maxmemory 64 MB and noeviction: six clients
// upload ten 3.6 MB photos each at once. Before the memory budget this gave 16 × 202 and 44 × 500
// (OOM) with the photos' bytes in the logs; now it must give 202s up to the bound, then 503s with
// Retry-After, no 500, no OOM anywhere; and once workers drain the queue every accepted job has
// its result and uploads are accepted again. Once with a worker running throughout, once with the
// worker stopped during the burst and started after. Real API server, real worker, real detector.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { startApi, type RunningApi } from '../../api/server.js';
import type { Config } from '../../shared/config.js';
import { redisKeys } from '../../shared/keys.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { createRedis } from '../../shared/redis.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { testApiConfig } from '../helpers/api.js';
import { until } from '../helpers/cluster.js';
import { pollJob, submitFile } from '../helpers/http.js';
import { largePhoto } from '../helpers/largePhoto.js';
import {
  keysWithoutTtl,
  needsPrivateRedis,
  oomRefusals,
  startTestRedis,
  type TestRedis,
} from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const MAX_MEMORY = 64 * 2 ** 20;
const CLIENTS = 6;
const PER_CLIENT = 10;

interface Answer {
  status: number;
  retryAfter: string | null;
  contentType: string | null;
  body: Record<string, unknown>;
}

interface ReadyMemory {
  queued_bytes: number;
  queued_jobs: number;
  max_queued_bytes: number;
  reserved_bytes: number;
  redis_used_memory: number;
  redis_maxmemory: number;
}

describe('a burst of large uploads against a 64 MB Redis', { skip: needsPrivateRedis }, () => {
  let server: TestRedis;
  let redis: Redis;
  let config: Config;
  let api: RunningApi;
  let photo: Buffer;
  const lines: string[] = [];
  let log: Logger;
  const keys = redisKeys('turdify');

  before(async () => {
    server = await startTestRedis({ args: ['--maxmemory', String(MAX_MEMORY)] });
    redis = createRedis(server.url, 'blocking');
    photo = await largePhoto();
    config = testApiConfig(server, {
      // A burst from one address is the point here, not the per-address limit (limits.test.ts).
      RATE_LIMIT_PER_MINUTE: '0',
      SHUTDOWN_TIMEOUT_SECONDS: '2',
      JOB_BACKOFF_MS: '100',
    });
    // Every line the API and the worker log, to search for OOM errors and payloads.
    log = createLogger('burst', 'info', { write: (s: string) => void lines.push(s) });
    api = await startApi(config, log);
  });

  after(async () => {
    await api.close();
    assert.deepEqual(await keysWithoutTtl(redis, server.prefix), []);
    redis.disconnect();
    await server.close();
  });

  const startTheWorker = async (): Promise<RunningWorker> =>
    startWorker({ config, log, renderEmoji, detector: await sharedDetector() });

  const readyMemory = async (): Promise<ReadyMemory> => {
    const res = await fetch(`${api.url}/readyz`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { memory: ReadyMemory }).memory;
  };

  /** CLIENTS clients at once, each uploading PER_CLIENT photos one after the other. */
  async function burst(onAccepted: () => void = () => {}): Promise<Answer[]> {
    const answers: Answer[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = 0; i < PER_CLIENT; i++) {
          const res = await submitFile(api.url, photo, 'phone.jpg');
          const answer = {
            status: res.status,
            retryAfter: res.headers.get('retry-after'),
            contentType: res.headers.get('content-type'),
            body: (await res.json()) as Record<string, unknown>,
          };
          answers.push(answer);
          if (answer.status === 202) onAccepted();
        }
      }),
    );
    return answers;
  }

  /** 202s and 503s only, each 503 a queue-full or storage-full problem with Retry-After; the ids. */
  function accepted(answers: Answer[], t: TestContext): string[] {
    const kinds = answers.map((a) => (a.status === 202 ? '202' : String(a.body.type).split('/').pop()));
    const count = (k: string) => kinds.filter((x) => x === k).length;
    t.diagnostic(
      `${count('202')} × 202, ${count('queue-full')} × queue-full, ${count('storage-full')} × storage-full (of ${answers.length} uploads of ${photo.length} bytes)`,
    );
    const statuses = answers.map((a) => a.status);
    assert.deepEqual([...new Set(statuses)].sort(), [202, 503], `only 202 and 503: ${statuses.join(' ')}`);
    for (const a of answers.filter((x) => x.status === 503)) {
      assert.match(String(a.retryAfter), /^[1-9]\d*$/, 'Retry-After in seconds');
      assert.match(String(a.contentType), /^application\/problem\+json/);
      assert.match(String(a.body.type), /\/(queue-full|storage-full)$/);
      assert.equal(a.body.bytes, photo.length);
      assert.equal(a.body.redis_maxmemory, MAX_MEMORY);
      assert.equal(typeof a.body.max_queued_bytes, 'number');
      if (String(a.body.type).endsWith('queue-full')) {
        // Refused only because it would have passed the bound.
        assert.ok(Number(a.body.queued_bytes) + photo.length > Number(a.body.max_queued_bytes));
      }
    }
    return answers.filter((a) => a.status === 202).map((a) => String(a.body.id));
  }

  /** What the stored uploads really occupy, for the ledger to match. */
  async function storedInputs(): Promise<{ bytes: number; jobs: number }> {
    const found = await redis.keys(keys.input('*'));
    const lengths = await Promise.all(found.map((k) => redis.strlen(k)));
    return { bytes: lengths.reduce((a, b) => a + b, 0), jobs: found.length };
  }

  /** Every accepted job completed with its result; the ledger empty; a new upload accepted. */
  async function drainedAndOpenAgain(ids: string[]): Promise<void> {
    for (const id of ids) {
      const job = await pollJob(api.url, id, 180_000);
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
      const res = await fetch(`${api.url}/jobs/${id}/result`);
      assert.equal(res.status, 200);
      assert.equal((await res.arrayBuffer()).byteLength, job.result?.bytes);
    }
    await until('the uploads to be released', async () => (await readyMemory()).queued_jobs === 0, 30_000);
    assert.deepEqual(await storedInputs(), { bytes: 0, jobs: 0 });
    const again = await submitFile(api.url, photo, 'phone.jpg');
    assert.equal(again.status, 202, 'uploads are accepted again');
    const id = ((await again.json()) as { id: string }).id;
    assert.equal((await pollJob(api.url, id, 120_000)).status, 'completed');
    // Results deleted on request free their memory at once (and leave room for the next test).
    for (const done of [...ids, id]) {
      assert.equal((await fetch(`${api.url}/jobs/${done}`, { method: 'DELETE' })).status, 204);
    }
  }

  function nothingRanOutOfMemory(): Promise<void> {
    const oomLines = lines.filter((l) => l.includes('OOM'));
    assert.deepEqual(oomLines, [], 'no OOM error in any log');
    for (const l of lines) assert.ok(l.length < 16_384, `a log line of ${l.length} chars`);
    return oomRefusals(redis).then((n) => assert.equal(n, 0, 'Redis refused no command for want of memory'));
  }

  it('with a worker running: 202s up to the bound, then 503 + Retry-After; every accepted job completes', async (t) => {
    const worker = await startTheWorker();
    try {
      const ids = accepted(await burst(), t);
      await drainedAndOpenAgain(ids);
    } finally {
      await worker.close();
    }
    await nothingRanOutOfMemory();
  });

  it('with the worker stopped during the burst and started after: the same, and the figures exact', async (t) => {
    let worker: RunningWorker | undefined = await startTheWorker();
    let stopping: Promise<void> | undefined;
    const answers = await burst(() => {
      // Stopped at the first acceptance: it finishes the job it holds, then takes no more.
      stopping ??= worker!.close();
    });
    await stopping;
    worker = undefined;
    const ids = accepted(answers, t);

    // The ledger agrees with what Redis holds, and the bound held.
    const memory = await readyMemory();
    const real = await storedInputs();
    assert.equal(memory.queued_bytes, real.bytes);
    assert.equal(memory.queued_jobs, real.jobs);
    assert.ok(memory.queued_jobs > 0, 'uploads are waiting for a worker');
    assert.equal(memory.max_queued_bytes, MAX_MEMORY / 2, 'MAX_QUEUED_BYTES unset: half of maxmemory');
    assert.ok(memory.queued_bytes <= memory.max_queued_bytes);
    assert.equal(memory.redis_maxmemory, MAX_MEMORY);
    assert.ok(memory.redis_used_memory > memory.queued_bytes);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`^turdify_queued_bytes ${memory.queued_bytes}$`, 'm'));
    assert.match(metrics, new RegExp(`^turdify_redis_maxmemory_bytes ${MAX_MEMORY}$`, 'm'));
    assert.match(metrics, /^turdify_redis_used_memory_bytes \d+$/m);

    worker = await startTheWorker();
    try {
      await drainedAndOpenAgain(ids);
    } finally {
      await worker.close();
    }
    await nothingRanOutOfMemory();
  });
});
