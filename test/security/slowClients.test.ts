// Hostile clients over real sockets: one that sends its headers, or its upload, a byte at a time is
// cut off and frees what it held; parallel uploads past MAX_UPLOAD_MEMORY_BYTES are answered 503
// with Retry-After while the process stays up and serves the next upload.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import request from 'supertest';
import { startApi, type RunningApi } from '../../api/server.js';
import { createLogger } from '../../shared/logger.js';
import { testApiConfig } from '../helpers/api.js';
import { until } from '../helpers/cluster.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { rawClient } from '../helpers/rawHttp.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const log = createLogger('slow-test', 'silent');
const MB = 1024 * 1024;

let server: TestRedis;
let api: RunningApi;

before(async () => {
  server = await startTestRedis();
  api = await startApi(
    testApiConfig(server, {
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '0',
      SHUTDOWN_TIMEOUT_SECONDS: '2',
      // Seconds-scale for the test (the defaults are 10 s and 10 s).
      HEADERS_TIMEOUT_SECONDS: '1',
      UPLOAD_STALL_SECONDS: '1',
      UPLOAD_MIN_BYTES_PER_SECOND: '1024',
      MAX_UPLOAD_BYTES: String(3 * MB),
      MAX_UPLOAD_MEMORY_BYTES: String(4 * MB),
    }),
    log,
  );
  await until('the API', async () => (await request(api.url).get('/readyz')).status === 200, 10_000);
});

after(async () => {
  await api.close();
  await server.close();
});

/** Upload bytes the API holds now, from its own gauge. */
async function heldBytes(): Promise<number> {
  const m = await request(api.url).get('/metrics');
  return Number(/^turdify_upload_memory_bytes (\d+)$/m.exec(m.text)?.[1] ?? NaN);
}

/** Sends `text` a byte every `ms` until the connection closes; resolves with the bytes sent. */
async function trickle(client: Awaited<ReturnType<typeof rawClient>>, text: string, ms: number) {
  let sent = 0;
  let open = true;
  void client.closed.then(() => (open = false));
  while (open && sent < text.length) {
    await client.write(text[sent++]!);
    await sleep(ms);
  }
  return sent;
}

describe('slow clients are cut off', () => {
  test('headers sent a byte at a time: 408 and the connection closed', async () => {
    const client = await rawClient(api.url);
    const head = `POST /jobs HTTP/1.1\r\nHost: x\r\n${'X-Slow: '.padEnd(4000, 'a')}`;
    const sent = await trickle(client, head, 100);
    await client.closed;
    assert.ok(sent < head.length, 'cut off before the headers were done');
    assert.equal((await client.response).status, 408);
    assert.equal((await request(api.url).get('/healthz')).status, 200);
  });

  test('an upload sent a byte at a time: 408 problem+json, the connection closed, its bytes freed', async () => {
    const client = await rawClient(api.url);
    const boundary = 'slowloris';
    const part = `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
    await client.write(
      `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${part}`,
    );
    const sent = await trickle(client, '\xff\xd8\xff'.padEnd(100000 - part.length, 'x'), 50);
    await client.closed;
    assert.ok(sent < 1000, `cut off after ${sent} bytes`);
    const res = await client.response;
    // The 408 may be lost when the client is still writing as the server closes: either is a cut.
    if (res.status !== 0) {
      assert.equal(res.status, 408);
      assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    }
    await until('the upload memory to be freed', async () => (await heldBytes()) === 0, 5000);
    assert.equal((await request(api.url).get('/healthz')).status, 200);
  });
});

describe('the upload memory bound', () => {
  test('parallel large uploads past MAX_UPLOAD_MEMORY_BYTES get 503 + Retry-After; the process stays up', async () => {
    // 1.8 MB uploads against a 4 MB bound: at most two can be held at once.
    const photo = await sharp(join(fixturesDir, 'dlib_voc_2007_007763.jpg'))
      .resize(1000, 600, { fit: 'fill' })
      .png({ compressionLevel: 0 })
      .toBuffer();
    assert.ok(photo.length > 1.7 * MB && photo.length < 2 * MB, `photo is ${photo.length} bytes`);
    const clients = await Promise.all(Array.from({ length: 6 }, () => rawClient(api.url)));
    const head = `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${photo.length}\r\n\r\n`;
    for (const c of clients) await c.write(head);
    const firstPart = Math.floor(1.5 * MB);
    await Promise.all(clients.map((c) => c.write(photo.subarray(0, firstPart))));
    // No upload can finish before the rest is sent, and no three first parts fit: four are refused.
    const answered = new Set<number>();
    clients.forEach((c, i) => void c.response.then(() => answered.add(i)));
    await until('four refusals', async () => answered.size >= 4, 20_000);
    for (const [i, c] of clients.entries()) if (!answered.has(i)) await c.write(photo.subarray(firstPart));
    const responses = await Promise.all(clients.map((c) => c.response));
    for (const c of clients) c.socket.destroy();

    const refused = responses.filter((r) => r.status === 503);
    const accepted = responses.filter((r) => r.status === 202);
    assert.equal(refused.length + accepted.length, 6, JSON.stringify(responses.map((r) => r.status)));
    assert.ok(refused.length >= 4, `${refused.length} refused`);
    assert.ok(accepted.length >= 1, `${accepted.length} accepted`);
    for (const r of refused) {
      assert.equal(r.headers['retry-after'], '2');
      assert.match(r.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal((JSON.parse(r.body) as { type: string }).type, '/problems/uploads-busy');
    }
    await until('the upload memory to be freed', async () => (await heldBytes()) === 0, 5000);
    const next = await request(api.url).post('/jobs').set('Content-Type', 'image/png').send(photo);
    assert.equal(next.status, 202, next.text);
  });
});
