// Built once: `npm ci` compiles dist/ (package.json "prepare") and the start scripts run it without
// compiling, so workers started side by side cannot race on dist/ (three started together used to
// crash one with "does not provide an export named …"). Starts three `npm run worker` at once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { redisKeys } from '../../shared/keys.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { listWorkers } from '../../shared/workerRegistry.js';
import { assertBuilt } from '../helpers/build.js';
import { track, until, type Proc } from '../helpers/cluster.js';
import { repoRoot } from '../helpers/fixtures.js';
import { startTestRedis } from '../helpers/redis.js';

const scripts = (
  JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

describe('built once, started without building', () => {
  it('npm ci builds dist/ (prepare); the start scripts only run it', () => {
    assert.match(scripts.prepare!, /tsc -p tsconfig\.build\.json/);
    for (const name of ['start', 'api', 'worker', 'workers', 'keys']) {
      assert.match(scripts[name]!, /^node dist\//, name);
      assert.doesNotMatch(scripts[name]!, /build|tsc|tsx/, name);
    }
  });

  const procs: Proc[] = [];
  after(() => {
    for (const p of procs) p.signal('SIGKILL');
  });

  it(
    'three `npm run worker` started at once all register and keep running',
    { timeout: 180_000 },
    async () => {
      assertBuilt();
      const redisServer = await startTestRedis();
      const redis = createRedis(redisServer.url, 'client');
      try {
        await waitReady(redis, 5000);
        const env = {
          ...process.env,
          REDIS_URL: redisServer.url,
          KEY_PREFIX: redisServer.prefix,
          LOG_LEVEL: 'warn',
          WORKERS: '3',
          WORKER_HEARTBEAT_SECONDS: '1',
        };
        for (let i = 0; i < 3; i++) {
          const child = spawn('npm', ['run', '-s', 'worker'], {
            cwd: repoRoot,
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true,
          });
          procs.push(track(`worker-${i}`, child));
        }
        const keys = redisKeys('turdify');
        const registered = await until(
          'three workers',
          async () => {
            for (const p of procs) assert.ok(p.running(), `${p.name} exited:\n${p.output()}`);
            const ws = await listWorkers(redis, keys);
            return ws.length === 3 && ws;
          },
          150_000,
          250,
        );
        assert.equal(new Set(registered.map((w) => w.pid)).size, 3);
        for (const p of procs) {
          assert.ok(p.running(), p.output());
          assert.doesNotMatch(p.output(), /does not provide an export|ERR_MODULE_NOT_FOUND|SyntaxError/);
        }
        // Each stops gracefully and leaves the registry; its pipes close once npm and node are gone.
        const closed = procs.map((p) => new Promise((resolve) => p.child.once('close', resolve)));
        for (const p of procs) p.signal('SIGTERM');
        await until(
          'the workers to leave the registry',
          async () => (await listWorkers(redis, keys)).length === 0,
          60_000,
        );
        await Promise.all(closed);
      } finally {
        redis.disconnect();
        await redisServer.close();
      }
    },
  );
});
