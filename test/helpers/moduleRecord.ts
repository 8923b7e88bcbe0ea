// Which modules a service process loads, as deployed (dist/): it is started with a preload that
// records every module it and its threads load, then stopped once it says it is ready.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { assertBuilt } from './build.js';
import { track, until } from './cluster.js';
import { repoRoot } from './fixtures.js';
import { startTestRedis, type TestRedis } from './redis.js';

// CommonJS loads through Module._load (face-api and tfjs are required this way); ES modules through
// a resolve hook. Each appends what it saw to TURDIFY_LOAD_RECORD.
const PRELOAD = `
const { appendFileSync } = require('node:fs');
const Module = require('node:module');
const file = process.env.TURDIFY_LOAD_RECORD;
const load = Module._load;
Module._load = function (request, parent, isMain) {
  appendFileSync(file, request + '\\n');
  return load.call(this, request, parent, isMain);
};
Module.register(require('node:url').pathToFileURL(process.env.TURDIFY_LOAD_HOOKS));
`;
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.TURDIFY_LOAD_RECORD, r.url + '\\n');
  return r;
}
`;
export interface ModuleRecorder {
  /** Starts dist/<kind>/main.js, waits for `ready` in its output, stops it; the modules it loaded. */
  modulesLoaded(
    kind: 'api' | 'worker',
    name: string,
    env: Record<string, string>,
    ready: string,
  ): Promise<string[]>;
  close(): void;
}

export function moduleRecorder(): ModuleRecorder {
  const dir = mkdtempSync(join(tmpdir(), 'turdify-loads-'));
  writeFileSync(join(dir, 'preload.cjs'), PRELOAD);
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  return {
    async modulesLoaded(kind, name, env, ready) {
      const record = join(dir, `${name}.txt`);
      const child = spawn(
        process.execPath,
        ['--require', join(dir, 'preload.cjs'), join(repoRoot, `dist/${kind}/main.js`)],
        {
          cwd: repoRoot,
          env: {
            ...process.env,
            LOG_LEVEL: 'info',
            TURDIFY_LOAD_RECORD: record,
            TURDIFY_LOAD_HOOKS: join(dir, 'hooks.mjs'),
            ...env,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        },
      );
      const proc = track(name, child);
      try {
        await until(`the ${kind} to be ready`, async () => proc.output().includes(ready), 60_000);
      } finally {
        proc.signal('SIGTERM');
        await proc.exited(20_000);
      }
      assert.ok(existsSync(record), `nothing recorded:\n${proc.output().slice(-2000)}`);
      return readFileSync(record, 'utf8').split('\n').filter(Boolean);
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** For a describe block: dist/ checked, a private Redis and a recorder for its tests, both removed after. */
export function recordingSuite(): { redis: () => TestRedis; recorder: () => ModuleRecorder } {
  let redis: TestRedis | undefined;
  let recorder: ModuleRecorder | undefined;
  before(async () => {
    assertBuilt();
    redis = await startTestRedis();
    recorder = moduleRecorder();
  });
  after(async () => {
    await redis?.close();
    recorder?.close();
  });
  return { redis: () => redis!, recorder: () => recorder! };
}
