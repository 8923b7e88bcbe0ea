// The far-worker benchmark's load generator, run inside the server namespace (bench/farWorker.ts
// starts it there): submits the fixture mix, long-polls every job to its end, and prints one JSON
// line: the jobs as the client saw them and what Redis did meanwhile.
// Args: API_URL REDIS_URL JOBS
import { Redis } from 'ioredis';
import { awaitJob, submit, type JobDone } from './lib/client.js';
import { waitForWorkers } from './lib/cluster.js';
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
const waits: Promise<JobDone>[] = [];
for (let i = 0; i < jobs; i++) {
  const p = photos[i % photos.length]!;
  waits.push(awaitJob(apiUrl!, await submit(apiUrl!, p.bytes, p.name)));
}
const done = await Promise.all(waits);
const report: FarClientReport = { done, redis: redisDelta(before, await redisStats(redis)) };
redis.disconnect();
process.stdout.write(`${JSON.stringify(report)}\n`);
