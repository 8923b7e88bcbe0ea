// 3. Ingest: POST /jobs with no worker running (the API alone, held to one core where taskset
// exists), a 100 KB photo, as many connections as it takes to saturate the API.
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createApiKey } from '../shared/apiKeys.js';
import { redisKeys } from '../shared/keys.js';
import { canPin, cpuSeconds, rss, startCluster } from './lib/cluster.js';

export interface IngestResult {
  photoKB: number;
  connections: number;
  seconds: number;
  accepted: number;
  acceptedPerSecond: number;
  latencyMs: { p50: number; p99: number };
  non202: number;
  apiRssPeakMB: number;
  /** The API process was held to one core (taskset -c 0). */
  apiOneCore: boolean;
  /** The API's CPU time per accepted upload, ms. */
  apiCpuMsPerUpload: number;
  /** REQUIRE_API_KEY on (a key sent with every upload) and the rate limit and daily quota active. */
  authAndLimits: boolean;
  /** NODE_OPTIONS the API ran with ('' = Node's defaults). */
  nodeOptions: string;
}

/** V8 heap bounds for a memory-tight API (docs/deploy.md): section 3 measures what they cost. */
export const LEAN_API_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=256';

export async function benchIngest(
  photo: Buffer,
  seconds: number,
  nodeOptions = '',
  connections = 16,
): Promise<IngestResult> {
  // As exposed: a key required and checked on every upload, and both submission limits counting in
  // Redis, set high enough that they never refuse this one client.
  const cluster = await startCluster(
    0,
    {
      MAX_QUEUED_JOBS: '1000000',
      // Above what 12 s of uploads store (≈ 1 GB): the upload budget must not answer 503 here.
      MAX_QUEUED_BYTES: String(16 * 2 ** 30),
      LOG_LEVEL: 'warn',
      REQUIRE_API_KEY: 'true',
      RATE_LIMIT_PER_MINUTE: '100000000',
      DAILY_JOB_QUOTA: '1000000000',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    },
    { apiCpus: '0' },
  );
  try {
    const redis = new Redis(cluster.redis.url);
    const { key } = await createApiKey(redis, redisKeys(cluster.redis.prefix), 'bench-ingest').finally(() =>
      redis.disconnect(),
    );
    const boundary = '----turdifybench';
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n` +
          'Content-Type: image/jpeg\r\n\r\n',
      ),
      photo,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const load = (duration: number) =>
      autocannon({
        url: `${cluster.apiUrl}/jobs`,
        method: 'POST',
        body,
        duration,
        connections,
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          authorization: `Bearer ${key}`,
        },
      });
    await load(2); // warm-up
    const cpu0 = cpuSeconds(cluster.api.pid);
    const r = await load(seconds);
    const cpu = cpuSeconds(cluster.api.pid) - cpu0;
    const accepted = r['2xx'];
    return {
      photoKB: Math.round(photo.length / 1024),
      connections,
      seconds,
      accepted,
      acceptedPerSecond: accepted / seconds,
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99 },
      non202: r.non2xx + r.errors,
      apiRssPeakMB: rss(cluster.api.pid).peak,
      apiOneCore: canPin,
      apiCpuMsPerUpload: (1000 * cpu) / accepted,
      authAndLimits: true,
      nodeOptions,
    };
  } finally {
    await cluster.close();
  }
}
