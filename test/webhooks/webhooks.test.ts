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
import { createDeps, startApi, type RunningApi } from '../../api/server.js';
import { CallbackRefused, refusedBecause } from '../../shared/callbackPolicy.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { newJobId, type TurdifyJobData } from '../../shared/jobs.js';
import { createLogger } from '../../shared/logger.js';
import { openQueue, type TurdifyQueue } from '../../shared/queue.js';
import { createRedis } from '../../shared/redis.js';
import type { WebhookEvent } from '../../shared/webhooks.js';
import { postWebhook } from '../../worker/webhookSender.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { repoRoot } from '../helpers/fixtures.js';
import type { JobView } from '../helpers/http.js';
import { freePort, keysWithoutTtl, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const PUBLIC_URL = 'https://turdify.example';
const photo = readFileSync(join(repoRoot, 'docs/img/astronaut-before.jpg'));
const log = createLogger('webhooks-test', 'silent');

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A webhook receiver on loopback whose answers a test scripts. */
async function startReceiver(
  port = 0,
  answer: (n: number) => number = () => 200,
  onReceive: (r: Received) => void = () => {},
) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(r);
      onReceive(r);
      res.statusCode = answer(received.length);
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
    config = loadConfig({
      REDIS_URL: redisServer.url,
      PORT: '0',
      HOST: '127.0.0.1',
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
    const rx = await startReceiver(0, (n) => (n === 1 ? 500 : n === 2 ? 503 : 204));
    try {
      const id = (await submit(rx.url)).body.id as string;
      await until('delivery', async () => (await delivery(id))?.state === 'delivered');
      await sleep(1000); // time for a spurious extra attempt to show up
      assert.equal(rx.received.length, 3);
      assert.equal(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1);
      const bodies = new Set(rx.received.map((r) => r.body));
      assert.equal(bodies.size, 1, 'every attempt sends the same event');
      const wh = new Webhook(SECRET);
      for (const r of rx.received) wh.verify(r.body, r.headers as Record<string, string>);
      // The schedule's first two steps separate the attempts.
      assert.ok(rx.received[1]!.at - rx.received[0]!.at >= 150);
      assert.ok(rx.received[2]!.at - rx.received[1]!.at >= 350);
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
        assert.deepEqual(await redis.keys(`*${id}*`), []);
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
    let stream: Response | undefined;
    try {
      id = (await submit()).body.id as string;
      // Connected to the other API process while the job waits; the worker resumes after.
      stream = await fetch(`${apiB.url}/jobs/${id}/events`);
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers.get('content-type')), /^text\/event-stream/);
    } finally {
      await control.resume();
    }
    const text = await stream.text(); // the stream ends when the job does
    const events = text
      .split('\n\n')
      .filter((block) => block.includes('event: '))
      .map((block) => ({
        event: /event: (.*)/.exec(block)![1],
        data: JSON.parse(/data: (.*)/.exec(block)![1]!) as Record<string, unknown>,
      }));
    const names = events.map((e) => e.event);
    assert.equal(names[0], 'state');
    assert.equal(events[0]!.data.status, 'queued');
    assert.equal(names.at(-1), 'completed');
    assert.equal(events.at(-1)!.data.id, id);
    assert.equal((events.at(-1)!.data.faces as unknown[]).length, 1);
    const progress = events.filter((e) => e.event === 'progress').map((e) => Number(e.data.progress));
    assert.ok(progress.length >= 3, `progress events: ${names.join(' ')}`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress never goes back',
    );
    assert.ok(names.indexOf('active') < names.indexOf('progress'));
    // After the end, a new stream says so at once.
    const again = await (await fetch(`${api.url}/jobs/${id}/events`)).text();
    assert.match(again, /event: state[\s\S]*event: completed/);
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
      assert.deepEqual(await keysWithoutTtl(redis), []);
    } finally {
      redis.disconnect();
    }
  });

  it('answers SSE for an unknown job with a 404 problem', async () => {
    const r = await request(api.url).get(`/jobs/${newJobId()}/events`);
    assert.equal(r.status, 404);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  });

  it('long poll answers within a second of completion, or at the deadline with the current state', async () => {
    await control.pause();
    let id = '';
    try {
      id = (await submit()).body.id as string;
      const t0 = Date.now();
      const waited = await request(api.url).get(`/jobs/${id}?wait=1`);
      assert.equal(waited.body.status, 'queued');
      assert.ok(Date.now() - t0 >= 950, 'waited the full second');
      assert.equal(waited.headers['retry-after'], '1');
    } finally {
      await control.resume();
    }
    const res = await request(apiB.url).get(`/jobs/${id}?wait=30`);
    const answeredAt = Date.now();
    assert.equal(res.body.status, 'completed');
    const finishedAt = Date.parse(res.body.finished_at as string);
    assert.ok(answeredAt - finishedAt < 1000, `answered ${answeredAt - finishedAt} ms after completion`);
    for (const bad of ['abc', '-1', '61', '']) {
      const r = await request(api.url).get(`/jobs/${id}?wait=${bad}`);
      assert.equal(r.status, 400, `wait=${bad}`);
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

  const appWith = (env: Record<string, string>) => {
    const deps = createDeps(loadConfig({ REDIS_URL: redisServer.url, LOG_LEVEL: 'silent', ...env }), log);
    built.push(deps);
    return createApp(deps.deps);
  };
  const post = (app: ReturnType<typeof createApp>, url: string) =>
    request(app).post('/jobs').query({ callback_url: url }).attach('image', photo, 'a.jpg');

  it('refuses private, loopback, metadata and non-http callbacks by default', async () => {
    const app = appWith({ WEBHOOK_SECRET: SECRET });
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
    const app = appWith({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_PRIVATE: 'true' });
    assert.equal((await post(app, 'http://192.168.1.20/hook')).status, 202);
    assert.equal((await post(app, 'http://localhost:9/hook')).status, 202);
    assert.equal((await post(app, 'http://169.254.169.254/')).status, 400);
  });

  it('allows listed CIDRs only', async () => {
    const app = appWith({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOW_CIDRS: '192.168.1.0/24' });
    assert.equal((await post(app, 'http://192.168.1.20/hook')).status, 202);
    assert.equal((await post(app, 'http://192.168.2.20/hook')).status, 400);
  });

  it('refuses callback_url when webhooks are not configured', async () => {
    const r = await post(appWith({}), 'https://example.com/hook');
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
