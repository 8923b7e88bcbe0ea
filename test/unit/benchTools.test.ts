// The benchmark's own tools: the delaying proxy of the far-worker section passes bytes through
// whole and in order (its delay is measured by the benchmark, never asserted here), Redis's
// counters are read and differenced as INFO prints them, and the targets table judges the
// issue-15 targets from a run's figures.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import { redisDelta, redisStats } from '../../bench/lib/redisStats.js';
import { targets, type Results } from '../../bench/report.js';
import { repoRoot } from '../helpers/fixtures.js';
import { freePort, startTestRedis } from '../helpers/redis.js';

it('the delay proxy passes every byte through, in order, in both directions, with a delay set', async () => {
  const echo = createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const port = await freePort();
  const proxy = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'bench/lib/delayProxy.ts'),
      '127.0.0.1',
      String(port),
      '127.0.0.1',
      String((echo.address() as AddressInfo).port),
    ],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    let out = '';
    const said = (line: string) =>
      new Promise<void>((res) => {
        const check = () => (out.includes(`${line}\n`) ? res() : proxy.stdout.once('data', check));
        check();
      });
    proxy.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await said('ready');
    proxy.stdin.write('4\n');
    await said('rtt 4');
    const socket = connect(port, '127.0.0.1');
    const sent = Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 3000)));
    const total = sent.reduce((a, b) => a + b.length, 0);
    const received: Buffer[] = [];
    let got = 0;
    const all = new Promise<void>((res) =>
      socket.on('data', (d: Buffer) => {
        received.push(d);
        got += d.length;
        if (got >= total) res();
      }),
    );
    for (const chunk of sent) socket.write(chunk);
    await all;
    assert.ok(Buffer.concat(received).equals(Buffer.concat(sent)));
    socket.destroy();
  } finally {
    proxy.stdin.end();
    await once(proxy, 'exit');
    echo.close();
  }
});

it('reads command counts and CPU from INFO and leaves its own INFO calls out of the difference', async () => {
  const server = await startTestRedis();
  const redis = new Redis(server.url);
  try {
    const before = await redisStats(redis);
    await redis.set('a', '1');
    await redis.set('b', '2');
    await redis.get('a');
    const d = redisDelta(before, await redisStats(redis));
    assert.equal(d.calls.set, 2);
    assert.equal(d.calls.get, 1);
    assert.equal(d.calls.info, undefined);
    assert.equal(d.totalCalls, 3);
    assert.ok(d.cpuSeconds >= 0 && d.netIn > 0 && d.netOut > 0);
  } finally {
    redis.disconnect();
    await server.close();
  }
});

it('judges the seed ratio on both mixes, the far worker at 10 ms and ingest with keys and limits', () => {
  const faces = {
    photos: 10,
    bothFound: 9,
    sameCount: 8,
    onlyPeer: 0,
    onlyTurdify: 1,
    neither: 0,
    peerFaces: 9,
    turdifyFaces: 11,
  };
  const mix = (name: string, peer: number, async: number) => ({
    mix: name,
    photos: 10,
    rounds: 3,
    inFlight: 4,
    rate: { peer, async, sync: async, fast: 2 * async },
    samples: { peer: [peer], async: [async], sync: [async], fast: [2 * async] },
    failed: { peer: 0, async: 0, sync: 0, fast: 0 },
    faces,
    fastFaces: faces,
    stagesMs: {},
    fastStagesMs: {},
  });
  const row = (rttMs: number, photosPerSecond: number, ratio: number) => ({
    rttMs,
    measuredRttMs: rttMs,
    samples: [photosPerSecond],
    photosPerSecond,
    ratio,
    addedMsPerJob: 0,
    roundTripsPerJob: 0,
    commandsPerJob: 100,
    scriptsPerJob: 10,
    topCommands: '',
    failed: 0,
  });
  const r: Results = {
    machine: {
      cores: 2,
      cpu: 'x',
      memoryGiB: 1,
      node: 'v20',
      platform: 'linux/x64',
      date: '2026-12-02T00:00:00Z',
    },
    quick: false,
    seed: { processes: 2, mixes: [mix('dev set', 2, 20), mix('fixtures', 2, 10)] },
    farWorker: { jobsPerRound: 42, rounds: 3, rows: [row(0, 10, 1), row(10, 9.5, 0.95)] },
    ingest: {
      photoKB: 84,
      connections: 16,
      seconds: 10,
      accepted: 12_000,
      acceptedPerSecond: 1200,
      latencyMs: { p50: 8, p99: 60 },
      non202: 0,
      apiRssPeakMB: 110,
      apiOneCore: true,
      apiCpuMsPerUpload: 0.5,
      authAndLimits: true,
      nodeOptions: '',
    },
  };
  const verdicts = Object.fromEntries(targets(r).map((t) => [t.target, t.verdict]));
  const find = (part: string) => Object.entries(verdicts).find(([k]) => k.includes(part))?.[1];
  assert.match(find('dev set mix')!, /^async met/);
  assert.match(find('fixtures mix')!, /^async \*\*missed\*\* by 38 %/);
  assert.match(find('fixtures mix')!, /fast met$/);
  assert.equal(find('10 ms RTT'), 'met');
  assert.match(find('accepted uploads')!, /rate met; p99 \*\*missed\*\*/);
  assert.equal(find('API ≤ 120 MB'), 'met');
});
