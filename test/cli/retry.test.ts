// The CLI's API client on the answers a real service gives only under load or failure (429 and 503
// with Retry-After, a dropped connection, a dropped event stream), from a small scripted HTTP
// server on loopback: every attempt of one submission carries the same Idempotency-Key.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiError } from '../../cli/api.js';
import { createApiClient, retryAfterSeconds } from '../../cli/api.js';
import { waitForJob, type Update } from '../../cli/watch.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const ID = '0b5c6f1e-8f0a-4c11-9d55-3f0e8c1f2a77';
const job = (status: string, extra: Record<string, unknown> = {}) => ({
  id: ID,
  status,
  progress: 0,
  ...extra,
});
const problem = (res: ServerResponse, status: number, slug: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/problem+json', ...headers });
  res.end(
    JSON.stringify({ type: `https://turdify.dev/problems/${slug}`, title: 'Refused', status, detail: slug }),
  );
};
const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('CLI API client: retries and reconnects', () => {
  let base: string;
  let script: Handler[] = [];
  const seen: { method: string; url: string; key?: string; auth?: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({
      method: req.method!,
      url: req.url!,
      ...(req.headers['idempotency-key'] ? { key: String(req.headers['idempotency-key']) } : {}),
      ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
    });
    req.resume();
    req.on('end', () => (script.shift() ?? ((_q, r) => problem(r, 500, 'unscripted')))(req, res));
  });
  const play = (...handlers: Handler[]) => {
    script = handlers;
    seen.length = 0;
  };

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('waits out 503 and 429 (Retry-After) and a dropped connection, under one Idempotency-Key', async () => {
    play(
      (_q, r) => problem(r, 503, 'queue-full', { 'Retry-After': '1' }),
      (q) => q.socket.destroy(),
      (_q, r) => problem(r, 429, 'rate-limited', { 'Retry-After': '1' }),
      (_q, r) => sendJson(r, 202, job('queued')),
    );
    const retries: number[] = [];
    const api = createApiClient(base, 'tdy_secret');
    const accepted = await api.submit(Buffer.from('jpeg bytes'), 'a.jpg', { mode: 'blur' }, (n) =>
      retries.push(n.waitSeconds),
    );
    assert.equal(accepted.id, ID);
    assert.equal(seen.length, 4);
    assert.equal(new Set(seen.map((s) => s.key)).size, 1, 'one key for every attempt');
    assert.ok(seen.every((s) => s.auth === 'Bearer tdy_secret' && s.method === 'POST'));
    assert.deepEqual(retries, [1, 2, 1]); // Retry-After, else 1, 2, 4… s
  });

  it('does not retry what will not change: a 400, or a Retry-After past a minute', async () => {
    const api = createApiClient(base);
    play((_q, r) => problem(r, 400, 'invalid-option'));
    await assert.rejects(api.submit(Buffer.from('x'), 'a.jpg', {}), {
      name: 'ApiError',
      message: 'invalid-option (400 invalid-option)',
    });
    play((_q, r) => problem(r, 429, 'quota-exceeded', { 'Retry-After': '3600' }));
    await assert.rejects(api.submit(Buffer.from('x'), 'a.jpg', {}), (err: ApiError) => err.status === 429);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.auth, undefined, 'no key, no Authorization header');
  });

  it('says so when the answer is not a Turdify job (another server at that address)', async () => {
    play((_q, r) => sendJson(r, 200, { hello: 'world' }));
    await assert.rejects(createApiClient(base).submit(Buffer.from('x'), 'a.jpg', {}), {
      name: 'ApiError',
      message: /^the server's answer is not a Turdify job \(id: /,
    });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(retryAfterSeconds('5'), 5);
    assert.equal(
      retryAfterSeconds(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)),
      10,
    );
    assert.equal(retryAfterSeconds('soon'), undefined);
    assert.equal(retryAfterSeconds(null), undefined);
  });

  it('waits by the event stream, opens it again when it drops, and reports progress', async () => {
    // The first stream ends before the job does (an API process shutting down ends its streams).
    const sse =
      (events: [string, unknown][]): Handler =>
      (_q, r) => {
        r.writeHead(200, { 'Content-Type': 'text/event-stream' });
        r.write('retry: 2000\n\n: keepalive\n\n');
        for (const [event, data] of events) r.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        r.end();
      };
    play(
      sse([
        ['state', job('active', { progress: 20 })],
        ['progress', { id: ID, progress: 60 }],
      ]),
      sse([
        ['state', job('active', { progress: 80 })],
        ['completed', job('completed', { faces: [{}, {}] })],
      ]),
    );
    const updates: Update[] = [];
    const ended = await waitForJob(createApiClient(base), ID, (u) => updates.push(u));
    assert.equal(ended.status, 'completed');
    assert.equal(ended.faces?.length, 2);
    assert.deepEqual(
      updates.map((u) => u.progress),
      [20, 60, 80],
    );
    assert.deepEqual(
      seen.map((s) => s.url),
      [`/jobs/${ID}/events`, `/jobs/${ID}/events`],
    );
  });

  it('long-polls a server that does not stream events', async () => {
    play(
      (_q, r) => sendJson(r, 200, job('active', { progress: 40 })),
      (_q, r) => sendJson(r, 200, job('active', { progress: 40 })),
      (_q, r) => sendJson(r, 200, job('failed', { error: { code: 'corrupt_image', message: 'broken' } })),
    );
    const ended = await waitForJob(createApiClient(base), ID, () => {});
    assert.equal(ended.status, 'failed');
    assert.equal(ended.error?.code, 'corrupt_image');
    assert.deepEqual(
      seen.map((s) => s.url),
      [`/jobs/${ID}/events`, `/jobs/${ID}?wait=30`, `/jobs/${ID}?wait=30`],
    );
  });

  it('says which job was lost when the server answers 404', async () => {
    play((_q, r) => problem(r, 404, 'job-not-found'));
    await assert.rejects(
      waitForJob(createApiClient(base), ID, () => {}),
      /job-not-found \(404 job-not-found\)/,
    );
  });
});
