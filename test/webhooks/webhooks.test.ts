// Webhooks, live progress and long polling against a private Redis, a real worker (real inference
// on a small photo) and real HTTP receivers on loopback.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { startApi, type RunningApi } from '../../api/server.js';
import { CallbackRefused, refusedBecause } from '../../shared/callbackPolicy.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { newJobId, type TurdifyJobData } from '../../shared/jobs.js';
import { createLogger } from '../../shared/logger.js';
import { openQueue, type TurdifyQueue } from '../../shared/queue.js';
import { createRedis } from '../../shared/redis.js';
import type { WebhookEvent } from '../../shared/webhooks.js';
import { postWebhook } from '../../worker/webhookSender.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { readyDeps, testApiConfig } from '../helpers/api.js';
import { repoRoot } from '../helpers/fixtures.js';
import type { JobView } from '../helpers/http.js';
import { freePort, keysWithoutTtl, prefixedKeys, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { assertForwardOnly, readEvents, type SseReader } from '../helpers/sse.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const PUBLIC_URL = 'https://turdify.example';
const photo = readFileSync(join(repoRoot, 'docs/img/astronaut-before.jpg'));
const log = createLogger('webhooks-test', 'silent');

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback whose answers a test scripts. */
async function startReceiver(
  port = 0,
  answer: (n: number) => number = () => 200,
  /** Runs before the answer is sent (awaited). */
  onReceive: (r: Received) => unknown = () => {},
) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const n = received.length;
      await onReceive(r);
      res.statusCode = answer(n);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  return {
    received,
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('webhooks, SSE and long polling', () => {
  let redisServer: TestRedis;
  let config: Config;
  let api: RunningApi;
  let apiB: RunningApi;
  let worker: RunningWorker;
  /** Pauses the whole queue (globally, as an operator would), so a job stays queued for a while. */
  let control: TurdifyQueue;
  let controlRedis: Redis;

  before(async () => {
    redisServer = await startTestRedis();
    config = testApiConfig(redisServer, {
      PUBLIC_URL,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_SCHEDULE: '200ms,400ms,800ms,1600ms,3200ms',
      WEBHOOK_TIMEOUT_SECONDS: '2',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
      LOG_LEVEL: 'silent',
    });
    api = await startApi(config, log);
    apiB = await startApi(config, log); // a second API process on the same Redis
    worker = await startWorker({ config, log, renderEmoji, detector: await sharedDetector() });
    controlRedis = createRedis(redisServer.url, 'blocking');
    control = openQueue(config, controlRedis);
  });

  after(async () => {
    await control.close();
    controlRedis.disconnect();
    await worker.close();
    await api.close();
    await apiB.close();
    await redisServer.close();
  });

  const submit = (callbackUrl?: string) => {
    const r = request(api.url).post('/jobs').attach('image', photo, 'astronaut.jpg');
    return callbackUrl ? r.field('callback_url', callbackUrl) : r;
  };
  const view = async (id: string) => (await request(api.url).get(`/jobs/${id}`)).body as JobView;
  const delivery = async (id: string) => (await view(id)).webhook as Record<string, unknown> | undefined;

  it('signs the completion event; the receiver verifies it and can fetch the result at once', async () => {
    let fetched: number | undefined;
    // On receipt, fetch result_url's path from the API at once, as a real receiver would.
    const rx = await startReceiver(0, undefined, (r) => {
      const event = JSON.parse(r.body) as WebhookEvent;
      void request(api.url)
        .get(new URL(event.data.result_url!).pathname)
        .then((res) => (fetched = res.status));
    });
    try {
      const res = await submit(rx.url);
      assert.equal(res.status, 202, res.text);
      const id = res.body.id as string;
      await until('delivery', async () => (await delivery(id))?.state === 'delivered');
      assert.equal(rx.received.length, 1);
      const [{ headers, body }] = rx.received as [Received];
      const wh = new Webhook(SECRET);
      const event = wh.verify(body, headers as Record<string, string>) as WebhookEvent;
      assert.equal(event.type, 'job.completed');
      assert.equal(event.data.id, id);
      assert.equal(event.data.status, 'completed');
      assert.equal(event.data.faces.count, 1);
      assert.equal(event.data.faces.boxes.length, 1);
      // RetinaFace's five landmarks travel with each box.
      assert.deepEqual(Object.keys(event.data.faces.boxes[0]!.landmarks ?? {}), [
        'left_eye',
        'right_eye',
        'nose',
        'mouth_left',
        'mouth_right',
      ]);
      assert.equal(event.data.result_url, `${PUBLIC_URL}/jobs/${id}/result`);
      assert.equal(event.data.error, null);
      assert.deepEqual(
        event.data.options,
        (await view(id)).options,
        'the options as GET /jobs/:id shows them',
      );
      assert.match(String(headers['webhook-id']), /^msg_[0-9a-f]{32}$/);
      // A tampered body (or a wrong secret) fails verification.
      assert.throws(() =>
        wh.verify(body.replace('"count":1', '"count":2'), headers as Record<string, string>),
      );
      const other = new Webhook(`whsec_${randomBytes(32).toString('base64')}`);
      assert.throws(() => other.verify(body, headers as Record<string, string>));
      await until('receiver fetch', async () => fetched);
      assert.equal(fetched, 200, 'the result must be ready when the event arrives');
      const record = (await delivery(id))!;
      assert.equal(record.url, rx.url);
      assert.equal(record.attempts, 1);
      assert.equal(record.last_status, 200);
      assert.ok(record.delivered_at);
    } finally {
      await rx.close();
    }
  });

  it('retries a failing receiver with the same webhook-id until it succeeds, once', async () => {
    let id = '';
    // What GET /jobs/:id said of the delivery when each retry arrived: the attempts before it.
    const seenAtRetry: (Record<string, unknown> | undefined)[] = [];
    let attempt = 0;
    const rx = await startReceiver(
      0,
      (n) => (n === 1 ? 500 : n === 2 ? 503 : 204),
      async () => {
        if (++attempt > 1) seenAtRetry.push(await delivery(id));
      },
    );
    try {
      id = (await submit(rx.url)).body.id as string;
      await until('delivery', async () => (await delivery(id))?.state === 'delivered');
      await sleep(1000); // time for a spurious extra attempt to show up
      assert.equal(rx.received.length, 3);
      assert.equal(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1);
      const bodies = new Set(rx.received.map((r) => r.body));
      assert.equal(bodies.size, 1, 'every attempt sends the same event');
      const wh = new Webhook(SECRET);
      for (const r of rx.received) wh.verify(r.body, r.headers as Record<string, string>);
      // Each retry came after the failure before it was recorded, with the next attempt scheduled.
      const [second, third] = seenAtRetry;
      assert.deepEqual(
        [second, third].map((r) => [r?.state, r?.attempts, r?.last_status, typeof r?.next_attempt_at]),
        [
          ['pending', 1, 500, 'string'],
          ['pending', 2, 503, 'string'],
        ],
      );
      const record = (await delivery(id))!;
      assert.equal(record.attempts, 3);
      assert.equal(record.last_status, 204);
    } finally {
      await rx.close();
    }
  });

  it('delivers to a receiver that was down when the job ended, once it is back', async () => {
    const port = await freePort();
    const id = (await submit(`http://127.0.0.1:${port}/hook`)).body.id as string;
    const failedOnce = await until('a failed attempt', async () => {
      const d = await delivery(id);
      return d && Number(d.attempts) >= 1 && d.state === 'pending' && d;
    });
    assert.match(String(failedOnce.last_error), /ECONNREFUSED/);
    assert.ok(failedOnce.next_attempt_at);
    const rx = await startReceiver(port);
    try {
      await until('delivery', async () => (await delivery(id))?.state === 'delivered', 15_000);
      assert.equal(rx.received.length, 1);
    } finally {
      await rx.close();
    }
  });

  it('stops at 410 Gone', async () => {
    const rx = await startReceiver(0, () => 410);
    try {
      const id = (await submit(rx.url)).body.id as string;
      await until('a final failure', async () => (await delivery(id))?.state === 'failed');
      await sleep(1000); // longer than the next two steps of the schedule
      assert.equal(rx.received.length, 1);
      const record = (await delivery(id))!;
      assert.equal(record.last_status, 410);
      assert.equal(record.next_attempt_at, null);
    } finally {
      await rx.close();
    }
  });

  it('sends job.failed for a job that fails', async () => {
    const rx = await startReceiver();
    const connection = createRedis(redisServer.url, 'blocking');
    const queue = openQueue(config, connection);
    try {
      // A job whose upload has expired: it fails in the worker with input_expired.
      const id = newJobId();
      const data: TurdifyJobData = {
        v: 1,
        options: { emoji: 'poop', format: 'jpeg', minConfidence: 0.5 },
        input: { format: 'jpeg', bytes: 1, width: 1, height: 1 },
        submittedAt: Date.now(),
        baseUrl: PUBLIC_URL,
        callbackUrl: rx.url,
      };
      await queue.add('turdify', data, { jobId: id });
      await until('delivery', async () => rx.received.length > 0);
      const event = new Webhook(SECRET).verify(
        rx.received[0]!.body,
        rx.received[0]!.headers as Record<string, string>,
      ) as WebhookEvent;
      assert.equal(event.type, 'job.failed');
      assert.equal(event.data.status, 'failed');
      assert.equal(event.data.error?.code, 'input_expired');
      assert.equal(event.data.result_url, null);
      assert.deepEqual(event.data.faces, { count: 0, boxes: [] });
    } finally {
      await queue.close();
      connection.disconnect();
      await rx.close();
    }
  });

  it('DELETE removes the webhook record with the job', async () => {
    const rx = await startReceiver();
    try {
      const id = (await submit(rx.url)).body.id as string;
      await until('delivery', async () => (await delivery(id))?.state === 'delivered');
      assert.equal((await request(api.url).delete(`/jobs/${id}`)).status, 204);
      const redis = createRedis(redisServer.url, 'blocking');
      try {
        assert.deepEqual(await prefixedKeys(redis, config.KEY_PREFIX, `*${id}*`), []);
      } finally {
        redis.disconnect();
      }
    } finally {
      await rx.close();
    }
  });

  it('streams state, progress and completion as Server-Sent Events, in order, from another API process', async () => {
    await control.pause();
    let id = '';
    let stream: SseReader;
    try {
      id = (await submit()).body.id as string;
      // Connected to the other API process while the job waits; the worker resumes after.
      stream = readEvents(await fetch(`${apiB.url}/jobs/${id}/events`));
    } finally {
      await control.resume();
    }
    const events = await stream.rest(); // the stream ends when the job does
    const names = events.map((e) => e.event);
    assertForwardOnly(events);
    assert.equal(events[0]!.data.status, 'queued');
    assert.equal(names[1], 'active', 'a queued job is seen starting');
    assert.equal(names.at(-1), 'completed');
    assert.equal(events.at(-1)!.data.id, id);
    assert.equal((events.at(-1)!.data.faces as unknown[]).length, 1);
    // Started and detected (the end is the completion itself).
    assert.ok(names.filter((n) => n === 'progress').length >= 2, `progress events: ${names.join(' ')}`);
    // After the end, a new stream says so at once.
    const again = await readEvents(await fetch(`${api.url}/jobs/${id}/events`)).rest();
    assert.deepEqual(
      again.map((e) => [e.event, e.data.status]),
      [
        ['state', 'completed'],
        ['completed', 'completed'],
      ],
    );
  });

  it('on an idle service: the first event is the state at that moment, and events only move forward', async () => {
    const lives: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = (await submit()).body.id as string;
      const events = await readEvents(await fetch(`${api.url}/jobs/${id}/events`)).rest();
      assertForwardOnly(events);
      assert.equal(events.at(-1)!.event, 'completed');
      lives.push(
        events.map((e) => (e.event === 'state' ? `state:${String(e.data.status)}` : e.event)).join(' '),
      );
    }
    console.log(`SSE on an idle service: ${lives.join(' | ')}`);
  });

  it('drops events that arrive late or twice (a state read overlapping them): never backwards', async () => {
    // The stream subscribes before it reads the job, so what happened in between arrives after the
    // state it already reported: replayed here on the API's own event reader, deterministically.
    const built = await readyDeps(config, log);
    const server = createApp(built.deps).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    await control.pause();
    try {
      const id = (await submit()).body.id as string;
      const port = (server.address() as AddressInfo).port;
      const stream = readEvents(await fetch(`http://127.0.0.1:${port}/jobs/${id}/events`));
      assert.equal((await stream.next())?.data.status, 'queued');
      const replay = (event: 'active' | 'progress', data: Record<string, unknown>) =>
        built.deps.queueEvents.emit(event, { jobId: id, ...data }, '0-0');
      replay('active', { prev: 'waiting' });
      replay('progress', { data: 40 });
      replay('active', { prev: 'waiting' });
      replay('progress', { data: 20 });
      replay('progress', { data: 40 });
      await control.resume();
      const events = [{ event: 'state', data: { status: 'queued', progress: 0 } }, ...(await stream.rest())];
      assertForwardOnly(events);
      assert.deepEqual(
        events.slice(0, 3).map((e) => e.event),
        ['state', 'active', 'progress'],
      );
      assert.equal(events[2]!.data.progress, 40);
      assert.equal(events.at(-1)!.event, 'completed');
    } finally {
      await control.resume();
      await new Promise((r) => server.close(r));
      await built.close();
    }
  });

  it('streams "removed" when the job is deleted, then ends', async () => {
    await control.pause();
    try {
      const id = (await submit()).body.id as string;
      const stream = readEvents(await fetch(`${apiB.url}/jobs/${id}/events`));
      assert.equal((await stream.next())?.data.status, 'queued');
      assert.equal((await request(api.url).delete(`/jobs/${id}`)).status, 204);
      assert.deepEqual(await stream.rest(), [{ event: 'removed', data: { id } }]);
    } finally {
      await control.resume();
    }
  });

  it("the README's example receiver verifies a real delivery", async () => {
    const port = await freePort();
    const rx = spawn(process.execPath, [join(repoRoot, 'docs/examples/webhook-receiver.mjs')], {
      env: { ...process.env, WEBHOOK_SECRET: SECRET, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    rx.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await until('receiver listening', async () => out.includes('listening'));
      const id = (await submit(`http://127.0.0.1:${port}/hook`)).body.id as string;
      await until('verified line', async () => out.includes(`verified job.completed ${id} faces=1`));
      assert.match(out, new RegExp(`faces=1 ${PUBLIC_URL}/jobs/${id}/result`));
    } finally {
      rx.kill();
    }
  });

  it('leaves no key without a TTL once deliveries are done', async () => {
    const redis = createRedis(redisServer.url, 'blocking');
    try {
      const q = `${config.KEY_PREFIX}:webhooks`;
      await until('all deliveries finished', async () => {
        const pending =
          (await redis.zcard(`${q}:delayed`)) +
          (await redis.llen(`${q}:wait`)) +
          (await redis.llen(`${q}:active`));
        return pending === 0;
      });
      await sleep(200); // records get their TTL just after they finish
      assert.deepEqual(await keysWithoutTtl(redis, config.KEY_PREFIX), []);
    } finally {
      redis.disconnect();
    }
  });

  it('answers SSE for an unknown job with a 404 problem', async () => {
    const r = await request(api.url).get(`/jobs/${newJobId()}/events`);
    assert.equal(r.status, 404);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  });

  it('long poll answers with the job once it ends, or at the deadline with the state then', async () => {
    await control.pause();
    let id = '';
    let waiting: Promise<request.Response>;
    try {
      id = (await submit()).body.id as string;
      const waited = await request(api.url).get(`/jobs/${id}?wait=1`);
      assert.equal(waited.status, 200);
      assert.equal(waited.body.status, 'queued', 'at the deadline: the state then');
      assert.equal(waited.headers['retry-after'], '1');
      // Asked while the job waits, on the other API process: answered by the job's end.
      waiting = request(apiB.url)
        .get(`/jobs/${id}?wait=60`)
        .then((r) => r);
      assert.equal((await view(id)).status, 'queued');
    } finally {
      await control.resume();
    }
    const res = await waiting;
    assert.equal(res.body.status, 'completed');
    assert.equal(res.body.faces.length, 1);
    assert.equal(res.headers['retry-after'], undefined);
    for (const bad of ['abc', '-1', '61', '']) {
      const r = await request(api.url).get(`/jobs/${id}?wait=${bad}`);
      assert.equal(r.status, 400, `wait=${bad}`);
    }
  });
});

describe('webhook deliveries that do not succeed', () => {
  let redisServer: TestRedis;
  let api: RunningApi;
  let worker: RunningWorker;

  before(async () => {
    redisServer = await startTestRedis();
    // Three attempts, 100 ms apart; an attempt gets half a second to be answered.
    const config = testApiConfig(redisServer, {
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_RETRY_SCHEDULE: '100ms,100ms',
      WEBHOOK_TIMEOUT_SECONDS: '0.5',
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
      LOG_LEVEL: 'silent',
    });
    api = await startApi(config, log);
    worker = await startWorker({ config, log, renderEmoji, detector: await sharedDetector() });
  });
  after(async () => {
    await worker.close();
    await api.close();
    await redisServer.close();
  });

  const submit = async (callbackUrl: string) => {
    const r = await request(api.url)
      .post('/jobs')
      .field('callback_url', callbackUrl)
      .attach('image', photo, 'astronaut.jpg');
    assert.equal(r.status, 202, r.text);
    return r.body.id as string;
  };
  const delivery = async (id: string) =>
    (await request(api.url).get(`/jobs/${id}`)).body.webhook as Record<string, unknown> | undefined;
  const ended = (id: string) =>
    until('the delivery to end', async () => {
      const d = await delivery(id);
      return (d?.state === 'delivered' || d?.state === 'failed') && d;
    });

  it('gives up after the last scheduled retry: failed, with the last answer', async () => {
    const rx = await startReceiver(0, () => 500);
    try {
      const record = await ended(await submit(rx.url));
      assert.equal(rx.received.length, 3, 'one attempt and two retries');
      assert.equal(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1);
      assert.equal(record.state, 'failed');
      assert.equal(record.attempts, 3);
      assert.equal(record.last_status, 500);
      assert.equal(record.next_attempt_at, null);
    } finally {
      await rx.close();
    }
  });

  it('counts no answer within WEBHOOK_TIMEOUT_SECONDS as a failed attempt, and retries', async () => {
    // The first request is left hanging; the retry is answered.
    const hanging: http.ServerResponse[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      if (hanging.length === 0) hanging.push(res);
      else req.on('end', () => res.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const id = await submit(url);
      const firstFailed = await until('the first attempt to time out', async () => {
        const d = await delivery(id);
        return d && Number(d.attempts) >= 1 && d;
      });
      assert.match(String(firstFailed.last_error), /no answer within 500 ms/);
      assert.equal(firstFailed.last_status, null);
      const record = await ended(id);
      assert.equal(record.state, 'delivered');
      assert.equal(record.attempts, 2);
    } finally {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('does not follow a redirect: the receiver it points to gets nothing', async () => {
    const target = await startReceiver();
    const redirecting = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(307, { Location: target.url }).end());
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
    try {
      const id = await submit(`http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`);
      const record = await ended(id);
      assert.equal(record.state, 'failed', 'a 3xx is not a success');
      assert.equal(record.last_status, 307);
      assert.equal(record.attempts, 3);
      assert.equal(target.received.length, 0, 'the redirect was not followed');
    } finally {
      await new Promise((r) => redirecting.close(r));
      await target.close();
    }
  });
});

describe('callback_url guard', () => {
  let redisServer: TestRedis;
  const built: { close(): Promise<void> }[] = [];

  before(async () => {
    redisServer = await startTestRedis();
  });
  after(async () => {
    for (const b of built) await b.close();
    await redisServer.close();
  });

  const appWith = async (env: Record<string, string>) => {
    const config = {
      REDIS_URL: redisServer.url,
      KEY_PREFIX: redisServer.prefix,
      LOG_LEVEL: 'silent',
      ...env,
    };
    const deps = await readyDeps(loadConfig(config), log);
    built.push(deps);
    return createApp(deps.deps);
  };
  const post = (app: ReturnType<typeof createApp>, url: string) =>
    request(app).post('/jobs').query({ callback_url: url }).attach('image', photo, 'a.jpg');

  it('refuses private, loopback, metadata and non-http callbacks by default', async () => {
    const app = await appWith({ WEBHOOK_SECRET: SECRET });
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost:8080/hook', // a name resolving to loopback
      'http://10.1.2.3/hook',
      'http://192.168.1.20/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'ftp://example.com/hook',
      'file:///etc/passwd',
      'not a url',
    ]) {
      const r = await post(app, url);
      assert.equal(r.status, 400, `${url}: ${r.status} ${r.text}`);
      assert.match(String(r.body.detail), /^callback_url: /, url);
    }
  });

  it('allows a LAN with WEBHOOK_ALLOW_PRIVATE, but never the metadata address', async () => {
    const app = await appWith({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_PRIVATE: 'true' });
    assert.equal((await post(app, 'http://192.168.1.20/hook')).status, 202);
    assert.equal((await post(app, 'http://localhost:9/hook')).status, 202);
    assert.equal((await post(app, 'http://169.254.169.254/')).status, 400);
  });

  it('allows listed CIDRs only', async () => {
    const app = await appWith({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_CIDRS: '192.168.1.0/24' });
    assert.equal((await post(app, 'http://192.168.1.20/hook')).status, 202);
    assert.equal((await post(app, 'http://192.168.2.20/hook')).status, 400);
  });

  it('refuses callback_url when webhooks are not configured', async () => {
    const r = await post(await appWith({}), 'https://example.com/hook');
    assert.equal(r.status, 400);
    assert.match(String(r.body.detail), /WEBHOOK_SECRET/);
  });

  it('checks the address actually connected to (DNS rebinding)', async () => {
    // The name passed a check once; at delivery it resolves to loopback, which is refused.
    const rx = await startReceiver();
    try {
      await assert.rejects(
        postWebhook(
          new URL(`http://localhost:${rx.port}/hook`),
          '{}',
          {},
          {
            timeoutMs: 2000,
            policy: { allowPrivate: false, allowCidrs: [] },
            userAgent: 'test',
          },
        ),
        CallbackRefused,
      );
      assert.equal(rx.received.length, 0, 'nothing reached the receiver');
    } finally {
      await rx.close();
    }
  });

  it('classifies addresses', () => {
    const none = { allowPrivate: false, allowCidrs: [] };
    assert.equal(refusedBecause('93.184.215.14', none), null);
    assert.equal(refusedBecause('2606:4700:4700::1111', none), null);
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fc00::1',
      'fe80::1',
      '224.0.0.1',
    ]) {
      assert.ok(refusedBecause(ip, none), ip);
    }
  });
});
