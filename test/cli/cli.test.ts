// The command-line client (cli/) as a user runs it: the built dist/cli/main.js as a child process
// against real API and worker processes and a private Redis, on fixture photos copied into a
// temporary folder (never into the repository), with a text file named .jpg among them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { createApiKey } from '../../shared/apiKeys.js';
import { redisKeys } from '../../shared/keys.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { assertBuilt } from '../helpers/build.js';
import { damaged, encodings } from '../helpers/damage.js';
import { startService, until, type Proc } from '../helpers/cluster.js';
import { fixturesDir, repoRoot } from '../helpers/fixtures.js';
import { waitHttp, type JobView } from '../helpers/http.js';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis.js';

const CLI = join(repoRoot, 'dist/cli/main.js');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NOT_AN_IMAGE = '(415 unsupported-media-type)';

/** dist/cli/ exists and is no older than cli/*.ts (assertBuilt checks the service's own dirs). */
function assertCliBuilt() {
  assertBuilt();
  assert.ok(existsSync(CLI), 'dist/cli/main.js is not built: run `npm run build`');
  const built = statSync(CLI).mtimeMs;
  const stale = readdirSync(join(repoRoot, 'cli')).filter(
    (f) => f.endsWith('.ts') && statSync(join(repoRoot, 'cli', f)).mtimeMs > built,
  );
  assert.deepEqual(stale, [], 'dist/cli/ is older than these sources: run `npm run build`');
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's and stderr's lines, empty ones dropped. */
  out: string[];
  err: string[];
}

/** Runs the built CLI in `cwd` with pipes (not a terminal), none of the caller's TURDIFY_* set. */
function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TURDIFY_')));
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
      resolve({ code, stdout, stderr, out: lines(stdout), err: lines(stderr) });
    }),
  );
}

async function imageFormat(path: string): Promise<string | undefined> {
  return (await sharp(path).metadata()).format;
}

describe('turdify CLI against a real API, worker and Redis', { timeout: 300_000 }, () => {
  let redis: TestRedis;
  const procs: Proc[] = [];
  let server: string;
  let keyedServer: string;
  let apiKey: string;
  let dir: string;

  before(async () => {
    assertCliBuilt();
    redis = await startTestRedis();
    const env = { REDIS_URL: redis.url, KEY_PREFIX: redis.prefix };
    const [port, keyedPort] = [await freePort(), await freePort()];
    server = `http://127.0.0.1:${port}`;
    keyedServer = `http://127.0.0.1:${keyedPort}`;
    procs.push(
      startService('api', { ...env, PORT: String(port) }),
      // The same service with keys required, as the Compose and Kubernetes files run it.
      startService('api', { ...env, PORT: String(keyedPort), REQUIRE_API_KEY: 'true' }),
      startService('worker', env),
    );
    await waitHttp(`${server}/healthz`, 60_000);
    await waitHttp(`${keyedServer}/healthz`, 60_000);
    await until(
      'a worker registered',
      async () => {
        const res = await fetch(`${server}/readyz`);
        return ((await res.json()) as { workers: { count: number } }).workers.count >= 1;
      },
      90_000,
      200,
    );
    const client = createRedis(redis.url, 'client');
    await waitReady(client, 5000);
    apiKey = (await createApiKey(client, redisKeys(redis.prefix), 'cli-test')).key;
    client.disconnect();

    // photos/: two faces photos, a photo without faces, a text file named .jpg and a README;
    // photos/sub/: one more photo; single.jpg beside the folder.
    dir = mkdtempSync(join(tmpdir(), 'turdify-cli-'));
    mkdirSync(join(dir, 'photos/sub'), { recursive: true });
    const copy = (from: string, to: string) => copyFileSync(join(fixturesDir, from), join(dir, to));
    copy('dlib_voc_2008_001009.jpg', 'photos/people.jpg');
    copy('fddb_2002_08_09_img_579.jpg', 'photos/portrait.jpeg');
    copy('neg_dlib_eagle.jpg', 'photos/eagle.jpg');
    copy('dlib_voc_2008_001322.jpg', 'photos/sub/deeper.jpg');
    copy('dlib_voc_2007_007763.jpg', 'single.jpg');
    writeFileSync(join(dir, 'photos/notes.jpg'), 'meeting notes, not a photo\n');
    writeFileSync(join(dir, 'photos/README.txt'), 'not picked up from a folder\n');
  });

  after(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await Promise.all(procs.map((p) => p.exited(10_000).catch(() => undefined)));
    await redis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a folder (recursive) and a file: results beside the inputs, one line for the bad file, exit 1', async () => {
    const r = await cli(dir, ['--server', server, '--recursive', 'photos', 'single.jpg']);
    assert.equal(r.code, 1, r.stderr);
    // One line per failed file, in the API's own words and code; then the count.
    assert.deepEqual(r.err, [
      `photos/notes.jpg: the upload is not an image in a supported format ${NOT_AN_IMAGE}`,
      'turdify: 1 of 6 files failed',
    ]);
    // Quiet output off a terminal: a line per written file, no bars or escape codes.
    assert.equal(r.out.length, 5, r.stdout);
    assert.ok(!r.stdout.includes('\u001b['), 'escape codes off a terminal');
    const expected: [string, string, RegExp][] = [
      ['photos/people.jpg', 'photos/people.turdified.jpg', /\(\d+ faces?\)$/],
      ['photos/portrait.jpeg', 'photos/portrait.turdified.jpg', /\(\d+ faces?\)$/],
      ['photos/eagle.jpg', 'photos/eagle.turdified.jpg', /\(no faces\)$/],
      ['photos/sub/deeper.jpg', 'photos/sub/deeper.turdified.jpg', /\(\d+ faces?\)$/],
      ['single.jpg', 'single.turdified.jpg', /\(\d+ faces?\)$/],
    ];
    for (const [input, output, faces] of expected) {
      const line = r.out.find((l) => l.startsWith(`${input} → `));
      assert.ok(line, `no line for ${input} in:\n${r.stdout}`);
      assert.ok(line.startsWith(`${input} → ${output} `), line);
      assert.match(line, faces);
      assert.equal(await imageFormat(join(dir, output)), 'jpeg', output);
    }
    assert.ok(!existsSync(join(dir, 'photos/notes.turdified.jpg')));
    assert.ok(!existsSync(join(dir, 'photos/README.turdified.txt')));
  });

  it('--json --out --format: one JSON object per file, results in --out with the format’s extension', async () => {
    const r = await cli(dir, ['--server', server, '--json', '--out', 'out', '--format', 'png', 'photos']);
    assert.equal(r.code, 1, r.stderr);
    const objects = r.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(objects.length, 4, r.stdout); // photos/ without --recursive: sub/ left out
    for (const o of objects) {
      assert.deepEqual(Object.keys(o).sort(), ['error', 'faces', 'file', 'id', 'output', 'status']);
    }
    const byFile = new Map(objects.map((o) => [o.file as string, o]));
    for (const name of ['people', 'portrait', 'eagle']) {
      const o = byFile.get(`photos/${name}.${name === 'portrait' ? 'jpeg' : 'jpg'}`)!;
      assert.equal(o.status, 'completed', JSON.stringify(o));
      assert.match(String(o.id), UUID);
      assert.equal(typeof o.faces, 'number');
      assert.equal(o.output, `out/${name}.turdified.png`);
      assert.equal(o.error, null);
      assert.equal(await imageFormat(join(dir, String(o.output))), 'png');
    }
    assert.equal(byFile.get('photos/eagle.jpg')!.faces, 0);
    assert.ok(Number(byFile.get('photos/people.jpg')!.faces) > 0);
    const bad = byFile.get('photos/notes.jpg')!;
    assert.deepEqual(
      { ...bad, error: undefined },
      { id: null, file: 'photos/notes.jpg', status: 'failed', faces: null, output: null, error: undefined },
    );
    assert.match(String(bad.error), /415 unsupported-media-type/);
    // stderr: the bad file's line, and that a subfolder was left out.
    assert.ok(
      r.err.includes(`photos/notes.jpg: the upload is not an image in a supported format ${NOT_AN_IMAGE}`),
    );
    assert.ok(
      r.err.some((l) => /left out 1 subfolder.*--recursive/.test(l)),
      r.stderr,
    );
    assert.ok(!existsSync(join(dir, 'out/sub')));
  });

  it('--no-wait prints each job id and file and exits; the jobs run on the server', async () => {
    const r = await cli(dir, [
      '--server',
      server,
      '--no-wait',
      '--mode',
      'blur',
      'single.jpg',
      'photos/eagle.jpg',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.length, 2, r.stdout);
    const ids = r.out.map((line) => {
      const [id, file] = line.split('\t');
      assert.match(id!, UUID);
      assert.ok(file === 'single.jpg' || file === 'photos/eagle.jpg', line);
      return id!;
    });
    for (const id of ids) {
      const job = (await (await fetch(`${server}/jobs/${id}?wait=60`)).json()) as JobView;
      assert.equal(job.status, 'completed');
      assert.equal((job.options as { mode: string }).mode, 'blur');
    }
  });

  it('keys required: --api-key or TURDIFY_API_KEY works, none fails with one clear line per file', async () => {
    const env = { TURDIFY_URL: keyedServer };
    const none = await cli(dir, ['single.jpg', 'photos/eagle.jpg', '--out', 'keyed'], env);
    assert.equal(none.code, 1);
    assert.equal(none.err.filter((l) => /: .*\(401 unauthorized\)$/.test(l)).length, 2, none.stderr);
    assert.ok(none.err.some((l) => l.startsWith('single.jpg: ')));
    assert.ok(!existsSync(join(dir, 'keyed')));

    const flag = await cli(dir, ['--api-key', apiKey, '--out', 'keyed', 'single.jpg'], env);
    assert.equal(flag.code, 0, flag.stderr);
    assert.deepEqual(flag.err, []);
    assert.match(flag.out[0]!, /^single\.jpg → keyed\/single\.turdified\.jpg \(\d+ faces?\)$/);

    const fromEnv = await cli(dir, ['--json', '--out', 'keyed-env', 'single.jpg'], {
      ...env,
      TURDIFY_API_KEY: apiKey,
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal((JSON.parse(fromEnv.out[0]!) as { status: string }).status, 'completed');
  });

  it('a photo the worker cannot decode: one line with the job’s error code', async () => {
    // Passes the API's checks, fails in the decoder (libvips reports it over several lines).
    const good = await encodings(readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg')));
    writeFileSync(join(dir, 'broken.jpg'), damaged('jpeg', good.jpeg));
    const r = await cli(dir, ['--server', server, 'broken.jpg']);
    assert.equal(r.code, 1);
    assert.equal(r.err.length, 2, r.stderr);
    assert.match(
      r.err[0]!,
      /^broken\.jpg: the image could not be decoded: .+ \(job failed: corrupt_image\)$/,
    );
    assert.equal(r.err[1], 'turdify: 1 of 1 files failed');
    assert.deepEqual(r.out, []);
  });

  it('a server that does not answer: one line saying so, exit 1', async () => {
    const r = await cli(dir, ['--server', `http://127.0.0.1:${await freePort()}`, 'single.jpg']);
    assert.equal(r.code, 1);
    assert.equal(r.err.length, 1, r.stderr);
    assert.match(r.err[0]!, /^turdify: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('usage: a bin, --version, and exit 2 with a hint for a bad command line', async () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    assert.equal(pkg.bin.turdify, 'dist/cli/main.js'); // npx turdify
    assert.equal(pkg.scripts.cli, 'node dist/cli/main.js'); // npm run cli -- …
    assert.ok(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n'));
    const version = await cli(dir, ['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.out[0], pkg.version);
    for (const args of [[], ['--mode', 'sparkle', 'single.jpg'], ['--concurrency', '0', 'single.jpg']]) {
      const r = await cli(dir, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /turdify --help/);
    }
    const badEnv = await cli(dir, ['single.jpg'], { TURDIFY_URL: 'ftp://example' });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /TURDIFY_URL must be an http/);
  });
});
