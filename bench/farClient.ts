// The far-worker benchmark's load generator, run inside the server namespace (bench/farWorker.ts
// starts it there): submits the fixture mix, long-polls every job to its end, and prints one JSON
// line: the jobs as the client saw them and what Redis did meanwhile.
// Args: API_URL REDIS_URL JOBS
import { Redis } from 'ioredis';
import type { JobDone } from './lib/client.js';
import { waitForWorkers } from './lib/cluster.js';
import { submitAndAwait } from './lib/load.js';
import { fixturePhotos } from './lib/photos.js';
import { redisDelta, redisStats, type RedisDelta } from './lib/redisStats.js';

export interface FarClientReport {
  done: JobDone[];
  redis: RedisDelta;
}

const [apiUrl, redisUrl, jobsArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const photos = await fixturePhotos();
await waitForWorkers(apiUrl!, 1);
const redis = new Redis(redisUrl!);
const before = await redisStats(redis);
const done = await submitAndAwait(apiUrl!, photos, jobs);
const report: FarClientReport = { done, redis: redisDelta(before, await redisStats(redis)) };
redis.disconnect();
process.stdout.write(`${JSON.stringify(report)}\n`);
