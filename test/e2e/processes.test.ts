// End to end over real processes: `npm start`'s launcher (scripts/start.ts) running the API and
// worker processes against a private Redis, driven over HTTP like a user would.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { fixturesDir, repoRoot } from '../helpers/fixtures.js';
import { pollJob, submitFile, waitHttp } from '../helpers/http.js';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { redisKeys } from '../../shared/keys.js';
import { createRedis, pingRedis } from '../../shared/redis.js';
import { listWorkers } from '../../shared/workerRegistry.js';
import { readEvents } from '../helpers/sse.js';
import { sharedDetector } from '../helpers/worker.js';

const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

function launch(script: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  Object.defineProperty(child, 'output', { get: () => output });
  return child;
}
const outputOf = (c: ChildProcess) => (c as ChildProcess & { output: string }).output;

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

async function waitWorkers(base: string, count: number, timeoutMs = 60_000): Promise<{ backends: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/readyz`).catch(() => undefined);
    if (res?.ok) {
      const body = (await res.json()) as { workers: { count: number; backends: string[] } };
      if (body.workers.count >= count) return body.workers;
    }
    if (Date.now() > deadline)
      throw new Error(`fewer than ${count} workers registered after ${timeoutMs} ms`);
    await sleep(200);
  }
}

describe('npm start: API + worker processes', () => {
  let redis: TestRedis;
  let start: ChildProcess;
  let base: string;

  before(async () => {
    redis = await startTestRedis();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    start = launch('scripts/start.ts', {
      REDIS_URL: redis.url,
      KEY_PREFIX: redis.prefix,
      PORT: String(port),
      WORKERS: '2',
    });
    await waitHttp(`${base}/healthz`);
    const workers = await waitWorkers(base, 2);
    // The backend TF_BACKEND=auto picks on this machine (tfjs-node where it installs, else onnx,
    // else wasm: docs/onnx.md), as the same selection code answers in this process.
    const expected = (await sharedDetector()).backend;
    assert.deepEqual(workers.backends, [expected]);
  });

  after(async () => {
    if (start.exitCode === null) start.kill('SIGKILL');
    await redis.close();
  });

  it('processes uploads submitted over HTTP and serves the results', async () => {
    const files = ['dlib_voc_2008_001322.jpg', 'fddb_2002_08_09_img_579.jpg', 'neg_dlib_eagle.jpg'];
    const ids = await Promise.all(
      files.map(async (file) => {
        const res = await submitFile(base, readFileSync(join(fixturesDir, file)), file);
        assert.equal(res.status, 202);
        assert.match(res.headers.get('location') ?? '', /^\/jobs\/[0-9a-f-]{36}$/);
        return ((await res.json()) as { id: string }).id;
      }),
    );
    for (const [i, id] of ids.entries()) {
      const job = await pollJob(base, id);
      assert.equal(job.status, 'completed', JSON.stringify(job));
      const res = await fetch(`${base}/jobs/${id}/result`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      assert.equal(meta.format, 'jpeg');
      if (files[i]!.startsWith('neg_')) assert.equal(job.faces?.length, 0);
      else assert.ok((job.faces?.length ?? 0) > 0);
    }
  });

  it('keeps the original synchronous POST /turdify/ working', async () => {
    const form = new FormData();
    form.append('my_file', new Blob([readFileSync(join(fixturesDir, 'dlib_voc_2008_001009.jpg'))]), 'a.jpg');
    const res = await fetch(`${base}/turdify/`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.equal(meta.format, 'png');
  });

  it('stops every process on SIGTERM', async () => {
    start.kill('SIGTERM');
    assert.equal(await exited(start, 30_000), 0, outputOf(start));
    await assert.rejects(fetch(`${base}/healthz`));
  });
});

describe('npm start without a running Redis', () => {
  it(
    'starts a private redis-server on the configured local port and stops it on exit',
    { skip: !hasRedisServer && 'redis-server is not installed' },
    async () => {
      const redisPort = await freePort();
      const redisUrl = `redis://127.0.0.1:${redisPort}`;
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const start = launch('scripts/start.ts', {
        REDIS_URL: redisUrl,
        PORT: String(port),
        WORKERS: '0',
        LOG_LEVEL: 'info',
      });
      try {
        await waitHttp(`${base}/readyz`);
        assert.match(outputOf(start), /started a private redis-server/);
        assert.equal(await pingRedis(redisUrl), true);
      } finally {
        start.kill('SIGTERM');
        assert.equal(await exited(start, 30_000), 0, outputOf(start));
      }
      assert.equal(await pingRedis(redisUrl), false);
    },
  );

  it('an API whose Redis has never answered: 503 at once for job routes, not a held request', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = launch('api/main.ts', { REDIS_URL: 'redis://127.0.0.1:1', PORT: String(port) });
    try {
      await waitHttp(`${base}/healthz`);
      const photo = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(photo)]), 'face.jpg');
      for (const res of [
        await fetch(`${base}/jobs`, { method: 'POST', body: form, signal: AbortSignal.timeout(5000) }),
        await fetch(`${base}/jobs/00000000-0000-4000-8000-000000000000`, {
          signal: AbortSignal.timeout(5000),
        }),
        await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5000) }),
      ]) {
        assert.equal(res.status, 503, `${res.url}: ${await res.text()}`);
        assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
        assert.ok(res.headers.get('retry-after'));
      }
    } finally {
      api.kill('SIGTERM');
      assert.equal(await exited(api, 30_000), 0, outputOf(api));
    }
  });

  it('says in one line how to get Redis when it cannot start one', async () => {
    const start = launch('scripts/start.ts', {
      REDIS_URL: 'redis://127.0.0.1:1',
      START_PRIVATE_REDIS: 'false',
    });
    assert.equal(await exited(start, 30_000), 1);
    assert.match(outputOf(start), /no Redis answers at redis:\/\/127\.0\.0\.1:1: install redis-server/);
  });
});

describe('worker process: graceful shutdown', () => {
  it('finishes its active job on SIGTERM, then exits', async () => {
    const redis = await startTestRedis();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { REDIS_URL: redis.url, KEY_PREFIX: redis.prefix, PORT: String(port) };
    const api = launch('api/main.ts', env);
    const worker = launch('worker/main.ts', env);
    try {
      await waitHttp(`${base}/healthz`);
      await waitWorkers(base, 1);
      // A large photo so the job is still running when the signal arrives.
      const big = await sharp(join(fixturesDir, 'dlib_voc_2007_007763.jpg'))
        .resize(4000, 3000)
        .png({ compressionLevel: 1 })
        .toBuffer();
      const res = await submitFile(base, big, 'big.png');
      assert.equal(res.status, 202);
      const { id } = (await res.json()) as { id: string };
      for (let i = 0; ; i++) {
        const job = (await (await fetch(`${base}/jobs/${id}`)).json()) as { status: string };
        if (job.status === 'active') break;
        assert.ok(i < 600, 'job never became active');
        await sleep(20);
      }
      worker.kill('SIGTERM');
      assert.equal(await exited(worker, 60_000), 0, outputOf(worker));
      const job = await pollJob(base, id, 1000);
      assert.equal(job.status, 'completed', JSON.stringify(job));
    } finally {
      for (const p of [api, worker]) if (p.exitCode === null) p.kill('SIGTERM');
      await exited(api, 30_000);
      await redis.close();
    }
  });
});

describe('API process: graceful shutdown with long polls and event streams open', () => {
  it('answers the long polls with the job as it is, ends the streams, then exits', async () => {
    const redis = await startTestRedis();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // No worker: the job stays queued. Past SHUTDOWN_TIMEOUT_SECONDS the API would cut every
    // connection still open; a long poll cut that way gets no answer at all.
    const api = launch('api/main.ts', {
      REDIS_URL: redis.url,
      KEY_PREFIX: redis.prefix,
      PORT: String(port),
      SHUTDOWN_TIMEOUT_SECONDS: '3',
    });
    try {
      await waitHttp(`${base}/healthz`);
      const photo = readFileSync(join(fixturesDir, 'fddb_2002_08_09_img_579.jpg'));
      const { id } = (await (await submitFile(base, photo, 'a.jpg')).json()) as { id: string };
      const longPoll = fetch(`${base}/jobs/${id}?wait=60`);
      const stream = readEvents(await fetch(`${base}/jobs/${id}/events`));
      assert.equal((await stream.next())?.data.status, 'queued');
      api.kill('SIGTERM');
      const answered = await longPoll;
      assert.equal(answered.status, 200);
      assert.equal(answered.headers.get('retry-after'), '1');
      assert.equal(((await answered.json()) as { status: string }).status, 'queued');
      assert.deepEqual(await stream.rest(), [], 'the stream ends cleanly, with nothing more');
      assert.equal(await exited(api, 30_000), 0, outputOf(api));
    } finally {
      if (api.exitCode === null) api.kill('SIGKILL');
      await redis.close();
    }
  });
});

describe('npm run workers', () => {
  it(
    'WORKERS=auto runs one worker per core and no API, and SIGTERM stops them all',
    { skip: process.platform !== 'linux' && 'finds the launcher in /proc' },
    async () => {
      const redis = await startTestRedis();
      const keys = redisKeys(redis.prefix);
      const conn = createRedis(redis.url, 'blocking');
      const port = await freePort();
      // The real script (it builds dist/ first), as a machine that only adds workers runs it.
      const npm = spawn('npm', ['run', 'workers'], {
        cwd: repoRoot,
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          REDIS_URL: redis.url,
          KEY_PREFIX: redis.prefix,
          PORT: String(port),
          WORKERS: 'auto',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // a process group of its own: the finally below stops npm and all it started
      });
      let output = '';
      npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
      npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
      try {
        const cores = availableParallelism();
        let fleet = await listWorkers(conn, keys);
        for (let i = 0; fleet.length < cores; i++) {
          assert.ok(
            i < 1200 && npm.exitCode === null,
            `${fleet.length} of ${cores} workers registered\n${output}`,
          );
          await sleep(100);
          fleet = await listWorkers(conn, keys);
        }
        assert.equal(fleet.length, cores, 'one worker per core');
        await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no API listening');
        // npm → sh → the launcher → the workers: the launcher is the workers' parent.
        const parents = new Set(
          fleet.map((w) => readFileSync(`/proc/${w.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]),
        );
        assert.equal(parents.size, 1);
        process.kill(Number([...parents][0]), 'SIGTERM');
        assert.equal(await exited(npm, 60_000), 0, output);
        assert.deepEqual(await listWorkers(conn, keys), [], 'every worker left the registry');
      } finally {
        try {
          process.kill(-npm.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        conn.disconnect();
        await redis.close();
      }
    },
  );
});

describe('a bad setting', () => {
  for (const [entry, env, named] of [
    ['api/main.ts', { PORT: 'eighty', MAX_PIXELS: '-1' }, ['PORT', 'MAX_PIXELS']],
    ['worker/main.ts', { WORKER_CONCURRENCY: '0' }, ['WORKER_CONCURRENCY']],
    ['scripts/start.ts', { WORKERS: 'many' }, ['WORKERS']],
  ] as const) {
    it(`stops ${entry} with a message naming ${named.join(' and ')}`, async () => {
      const child = launch(entry, { REDIS_URL: 'redis://127.0.0.1:1', ...env });
      assert.equal(await exited(child, 30_000), 1);
      const out = outputOf(child);
      assert.match(out, /invalid configuration/);
      for (const name of named) assert.match(out, new RegExp(`^\\s*${name}: `, 'm'), out);
    });
  }
});
