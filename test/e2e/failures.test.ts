// Failures, for real: Redis, the API and four workers as separate OS processes on this machine
// (each worker in its own UTS namespace with its own hostname where `unshare` works, standing for
// the Raspberry Pis of docs/deploy.md). Workers are killed, stopped, Redis crashes, the API
// restarts; every accepted job must complete, and run once (BullMQ's attemptsStarted counts each time
// a worker took it: only a run the scenario interrupted may be started again). Each scenario prints
// its figures.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { QUEUE_NAME } from '../../shared/keys.js';
import { createRedis } from '../../shared/redis.js';
import { canUnshareUts, startService, until, type Proc } from '../helpers/cluster.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { submitFile, waitHttp, type JobView } from '../helpers/http.js';
import { freePort, needsPrivateRedis, startTestRedis, type TestRedis } from '../helpers/redis.js';

// Seconds-scale recovery for the test; the defaults (15 s / 5 s) are documented in docs/deploy.md.
const WORKER_ENV = {
  DETECTOR: 'tiny',
  WORKER_LOCK_MS: '4000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  WORKER_HEARTBEAT_SECONDS: '1',
};

interface Figures {
  scenario: string;
  submitted: number;
  completed: number;
  lost: number;
  /** Jobs started more often than the scenario's interruptions explain: processed twice. */
  duplicated: number;
  [extra: string]: string | number;
}

function report(f: Figures): void {
  const line = Object.entries(f)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`failures: ${line}`);
}

describe('failures across processes: Redis, API and 4 workers', { timeout: 240_000 }, () => {
  let redis: TestRedis;
  let api: Proc;
  let apiPort: number;
  let base: string;
  const workers: Proc[] = [];
  let queue: Queue;
  let events: QueueEvents;
  let photo: Buffer;
  const connections: Redis[] = [];
  let lostInCrash: string[] = [];
  /** Jobs seen completing on the queue's event stream (when), to know when a batch is done. */
  const completions = new Set<string>();
  const stalledAt = new Map<string, number>();
  const completedAt = new Map<string, number>();
  /** Final failures (none expected), with BullMQ's reason. */
  const failures = new Map<string, string>();

  // Hundreds of submissions a minute from one address: no submission limit here (limits.test.ts).
  const env = () => ({ REDIS_URL: redis.url, KEY_PREFIX: redis.prefix });
  const startApi = () => startService('api', { ...env(), PORT: String(apiPort), RATE_LIMIT_PER_MINUTE: '0' });
  const liveWorkers = () => workers.filter((w) => w.running());

  async function fleet(): Promise<{
    count: number;
    hosts: string[];
    workers: { pid: number; last_heartbeat: string }[];
  }> {
    const res = await fetch(`${base}/workers`);
    assert.equal(res.status, 200);
    return (await res.json()) as Awaited<ReturnType<typeof fleet>>;
  }

  /** The last lines each process printed, for a failure message. */
  const diagnostics = () =>
    [api, ...workers].map((p) => `\n--- ${p.name} (pid ${p.pid})\n${p.output().slice(-3000)}`).join('');

  async function submit(n: number): Promise<string[]> {
    const ids: string[] = [];
    // A few uploads in flight at once, like several clients.
    for (let i = 0; i < n; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, n - i) }, async () => {
          const res = await submitFile(base, photo, 'face.jpg');
          assert.equal(res.status, 202, await res.clone().text());
          return ((await res.json()) as { id: string }).id;
        }),
      );
      ids.push(...batch);
    }
    return ids;
  }

  /**
   * Waits until every id completed (as seen on the event stream), then checks each over HTTP, and
   * counts the jobs a worker started more than once plus the restarts `interrupted` allows it (the
   * run a scenario cut short on purpose).
   */
  async function settle(
    ids: string[],
    timeoutMs: number,
    interrupted: (id: string, job: Job) => number = () => 0,
  ) {
    await until(
      'every job to complete',
      async () => ids.every((id) => completions.has(id) || failures.has(id)),
      timeoutMs,
      100,
    ).catch((err: Error) => {
      const missing = ids.filter((id) => !completions.has(id));
      throw new Error(`${err.message}; not completed: ${missing.join(', ')}${diagnostics()}`);
    });
    const failed = ids.filter((id) => failures.has(id));
    if (failed.length) {
      console.log(
        `failed jobs: ${failed.map((id) => `${id}: ${failures.get(id)}`).join('; ')}${diagnostics()}`,
      );
    }
    const done: string[] = [];
    for (const id of ids) {
      const res = await fetch(`${base}/jobs/${id}`);
      if (res.status !== 200) continue;
      const job = (await res.json()) as JobView;
      if (job.status !== 'completed') continue;
      const img = await fetch(`${base}/jobs/${id}/result`);
      if (img.status === 200 && (await img.arrayBuffer()).byteLength > 0) done.push(id);
    }
    let duplicated = 0;
    for (const id of ids) {
      const job = await queue.getJob(id);
      if (job && job.attemptsStarted > 1 + interrupted(id, job)) {
        console.log(`job ${id} started ${job.attemptsStarted} times (stalled ${job.stalledCounter})`);
        duplicated++;
      }
    }
    return { completed: done.length, lost: ids.length - done.length, duplicated };
  }

  /** An active job that this worker has started and not finished. */
  async function activeJobOf(w: Proc): Promise<string | undefined> {
    const active = await queue.getJobs(['active']);
    const mine = active.find(
      (j) => j.processedBy?.endsWith(`:${w.pid}`) && Number(j.progress) > 0 && Number(j.progress) < 100,
    );
    return mine?.id;
  }

  before(async () => {
    apiPort = await freePort();
    base = `http://127.0.0.1:${apiPort}`;
    // Append-only file fsynced on every write, as docker-compose.yml runs it: a crash loses nothing.
    redis = await startTestRedis({ appendonly: true, fsyncAlways: true });
    photo = await sharp(join(fixturesDir, 'dlib_voc_2008_001322.jpg'))
      .resize(320)
      .jpeg({ quality: 80 })
      .toBuffer();
    api = startApi();
    for (let i = 1; i <= 4; i++) {
      workers.push(startService('worker', { ...env(), ...WORKER_ENV }, { hostname: `pi-${i}` }));
    }
    // BullMQ does not close connections it is given: after() disconnects them.
    connections.push(createRedis(redis.url, 'blocking'), createRedis(redis.url, 'blocking'));
    queue = new Queue(QUEUE_NAME, { connection: connections[0]!, prefix: redis.prefix });
    events = new QueueEvents(QUEUE_NAME, { connection: connections[1]!, prefix: redis.prefix });
    events.on('error', () => {});
    events.on('completed', ({ jobId }) => {
      completions.add(jobId);
      completedAt.set(jobId, Date.now());
    });
    events.on('stalled', ({ jobId }) => stalledAt.set(jobId, Date.now()));
    events.on('failed', ({ jobId, failedReason }) => failures.set(jobId, failedReason));
    await events.waitUntilReady();
    await waitHttp(`${base}/healthz`, 60_000);
    const f = await until(
      '4 workers in GET /workers',
      async () => {
        const now = await fleet();
        return now.count === 4 && now;
      },
      90_000,
      200,
    );
    if (canUnshareUts()) assert.deepEqual(f.hosts, ['pi-1', 'pi-2', 'pi-3', 'pi-4']);
  });

  after(async () => {
    for (const p of [api, ...workers]) p?.signal('SIGKILL');
    await Promise.race([Promise.allSettled([events?.close(), queue?.close()]), sleep(2000)]);
    for (const c of connections) c.disconnect();
    await redis?.close();
  });

  it('kill -9 of a worker mid-job: all 200 jobs complete, none lost, none twice', async () => {
    const t0 = Date.now();
    const ids = await submit(200);
    const victim = workers[0]!;
    // Once the run is well under way, catch the victim in the middle of a job.
    await until('40 completions', async () => ids.filter((id) => completions.has(id)).length >= 40, 120_000);
    await until('a job in progress on pi-1', () => activeJobOf(victim), 30_000, 5);
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    await victim.exited(10_000);
    // The jobs it held when it died (jobs take tens of ms: the one seen above may have finished
    // before the signal landed). Their locks are still held, so they are still "active" on the
    // victim: the one it was computing and the one it had prefetched (WORKER_PREFETCH), if any.
    const held = await until(
      'the jobs pi-1 held when it died',
      async () => {
        const mine = (await queue.getJobs(['active'])).filter((j) =>
          j.processedBy?.endsWith(`:${victim.pid}`),
        );
        return mine.length ? mine.map((j) => j.id!) : undefined;
      },
      5_000,
      5,
    );
    const jobId = held[0]!;

    // The victim's runs were cut short: those jobs alone are started a second time.
    const fig = await settle(ids, 120_000, (id) => (held.includes(id) ? 1 : 0));
    for (const id of held) {
      const job = await queue.getJob(id);
      assert.ok(job, 'the interrupted job is still there');
      assert.equal(await job.getState(), 'completed');
      assert.ok(job.stalledCounter >= 1, 'the interrupted job went through stalled-job recovery');
      assert.notEqual(job.returnvalue.worker.pid, victim.pid, 'another worker finished it');
    }
    report({
      scenario: 'kill-9-worker',
      submitted: ids.length,
      ...fig,
      held_by_the_victim: held.length,
      recovered_after_s: ((stalledAt.get(jobId)! - killedAt) / 1000).toFixed(1),
      interrupted_job_done_after_s: ((completedAt.get(jobId)! - killedAt) / 1000).toFixed(1),
      run_s: ((Date.now() - t0) / 1000).toFixed(1),
    });
    assert.deepEqual(fig, { completed: 200, lost: 0, duplicated: 0 });
    // The dead worker leaves the fleet within three heartbeats.
    await until('pi-1 gone from GET /workers', async () => (await fleet()).count === 3, 15_000, 200);
  });

  it('SIGTERM: a worker finishes its active job, then exits', async () => {
    const ids = await submit(24);
    const w = workers[1]!;
    const jobId = await until('a job in progress on pi-2', () => activeJobOf(w), 30_000, 5);
    const signalledAt = Date.now();
    w.signal('SIGTERM');
    assert.equal(await w.exited(60_000), 0, w.output().slice(-4000));
    const exitedAfter = Date.now() - signalledAt;
    const fig = await settle(ids, 60_000);
    const job = (await queue.getJob(jobId))!;
    assert.equal(job.returnvalue.worker.pid, w.pid, 'the stopping worker finished its own job');
    assert.equal(job.stalledCounter, 0);
    report({
      scenario: 'sigterm-worker',
      submitted: ids.length,
      ...fig,
      exited_after_s: (exitedAfter / 1000).toFixed(1),
    });
    assert.deepEqual(fig, { completed: ids.length, lost: 0, duplicated: 0 });
  });

  it(
    'Redis crashes with jobs waiting: 503 + Retry-After meanwhile, everyone reconnects, nothing lost',
    { skip: needsPrivateRedis },
    async () => {
      const ids = await submit(40);
      const counts = await queue.getJobCounts('waiting');
      assert.ok(counts.waiting! > 0, 'jobs are waiting when Redis goes down');
      const waitingAtCrash = counts.waiting!;
      await redis.crash();
      const downAt = Date.now();

      // During the outage the API stays up and says when to come back.
      const post = await until(
        'POST /jobs answering 503',
        async () => {
          const res = await submitFile(base, photo, 'face.jpg');
          return res.status === 503 ? res : (await res.arrayBuffer(), undefined);
        },
        10_000,
      );
      assert.ok(Number(post.headers.get('retry-after')) > 0, 'Retry-After on 503');
      assert.match(post.headers.get('content-type') ?? '', /application\/problem\+json/);
      const poll = await fetch(`${base}/jobs/${ids[0]}`);
      assert.equal(poll.status, 503);
      assert.ok(poll.headers.get('retry-after'));
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      // The outage itself: long enough that every client notices and starts retrying.
      await sleep(Math.max(0, 3000 - (Date.now() - downAt)));

      await redis.start();
      const upAt = Date.now();
      const apiBack = await until(
        'the API answering from Redis again',
        async () => {
          const res = await fetch(`${base}/workers`);
          return res.status === 200 && Date.now();
        },
        30_000,
        100,
      );
      const live = liveWorkers().length;
      const workersBack = await until(
        'every live worker heartbeating again',
        async () => {
          const f = await fleet();
          const fresh = f.workers.filter((w) => Date.parse(w.last_heartbeat) >= upAt);
          return fresh.length === live && Date.now();
        },
        30_000,
        200,
      );
      // A job running when Redis died may lose its lock and be recovered: once per stalled count.
      const fig = await settle(ids, 90_000, (_id, job) => job.stalledCounter);
      const lastDone = Math.max(...ids.map((id) => completedAt.get(id) ?? 0));
      // Jobs whose worker lost its lock during the outage went through stalled-job recovery.
      const interrupted: string[] = [];
      for (const id of ids) if (((await queue.getJob(id))?.stalledCounter ?? 0) > 0) interrupted.push(id);
      lostInCrash = ids.filter((id) => !completions.has(id));
      report({
        scenario: 'redis-crash',
        submitted: ids.length,
        ...fig,
        waiting_at_crash: waitingAtCrash,
        outage_s: ((upAt - downAt) / 1000).toFixed(1),
        api_back_after_s: ((apiBack - upAt) / 1000).toFixed(1),
        workers_back_after_s: ((workersBack - upAt) / 1000).toFixed(1),
        all_done_after_s: ((lastDone - upAt) / 1000).toFixed(1),
        active_at_crash_recovered: interrupted.length,
        of_them_lost: lostInCrash.length,
      });
      // Every job that was waiting is processed once; a loss can only be a job that was running.
      assert.equal(fig.duplicated, 0);
      assert.deepEqual(
        lostInCrash.filter((id) => !interrupted.includes(id)),
        [],
        'jobs that were waiting when Redis crashed',
      );
    },
  );

  it(
    'Redis crash: jobs running when Redis went down are not lost either',
    { skip: needsPrivateRedis },
    () => {
      assert.deepEqual(lostInCrash, []);
    },
  );

  it('API restart with jobs queued: they are processed and stay pollable', async () => {
    const ids = await submit(40);
    const { waiting } = await queue.getJobCounts('waiting');
    assert.ok(waiting! > 0, 'jobs are queued when the API goes down');
    const downAt = Date.now();
    api.signal('SIGKILL');
    await api.exited(10_000);
    await assert.rejects(fetch(`${base}/healthz`));
    api = startApi();
    await waitHttp(`${base}/healthz`, 60_000);
    const upAfter = Date.now() - downAt;
    const fig = await settle(ids, 90_000);
    report({
      scenario: 'api-restart',
      submitted: ids.length,
      ...fig,
      waiting_at_restart: waiting!,
      api_down_s: (upAfter / 1000).toFixed(1),
    });
    assert.deepEqual(fig, { completed: ids.length, lost: 0, duplicated: 0 });
  });

  it('checks every result once more and leaves no job behind', async () => {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    const { waiting, active, delayed, failed } = counts;
    assert.deepEqual(
      { waiting, active, delayed, failed },
      { waiting: 0, active: 0, delayed: 0, failed: lostInCrash.length },
    );
    // Over every scenario: no job was started again except by stalled-job recovery.
    const jobs = await queue.getJobs(['completed', 'failed']);
    const rerun = jobs.filter((j) => j.attemptsStarted > 1 + j.stalledCounter).map((j) => j.id);
    assert.deepEqual(rerun, []);
  });
});
