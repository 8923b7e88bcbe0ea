// The OpenAPI description against the real app: a valid OpenAPI 3.1 document; every route the
// Express app registers is described and every described operation answers (something other than
// the not-found problem); every example validates against its schema, and so do real answers;
// every problem type is described with its status. Redis is a private redis-server; a BullMQ
// worker inside the test completes jobs with a fake result (test/helpers/fakeWorker.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { buildOpenApi } from '../../api/openapi/document.js';
import { PROBLEM_SLUGS, PROBLEM_TYPES } from '../../api/problemTypes.js';
import { readyDeps } from '../helpers/api.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { startFakeWorker } from '../helpers/fakeWorker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, unknown>;
type Operation = {
  responses: Record<string, Json>;
  parameters?: Json[];
  requestBody?: Json;
  security?: Json[];
};
type OpenApi = { paths: Record<string, Record<string, Operation>>; components: Json };

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'] as const;

/** Not API: static files of the web page, Swagger UI's files, the queue dashboard (its own UI). */
const EXCLUDED = [/^\/web(\/|$)/, /^\/docs\/\{file\}$/, /^\/admin\/queues(\/|$)/];

const jpeg = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));

/** Express 5 syntax to OpenAPI's: /jobs/:id → /jobs/{id}; no trailing slash but for "/". */
const normalise = (path: string): string =>
  path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/(.)\/+$/, '$1');

/** Every (method, path) the app's routers register, walked through the router stack. */
function registeredRoutes(app: Express): Set<string> {
  const found = new Set<string>();
  type Layer = {
    route?: { path: string | string[]; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
    rawPath?: string | string[];
  };
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          for (const m of Object.keys(layer.route.methods)) found.add(`${m} ${normalise(prefix + p)}`);
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return found;
}

let redisServer: TestRedis;
let config: Config;
let app: Express;
let doc: OpenApi;
let closeDeps: () => Promise<void>;
let worker: { close(): Promise<void> };
let ajv: Ajv2020;

before(async () => {
  redisServer = await startTestRedis();
  config = loadConfig({ REDIS_URL: redisServer.url, KEY_PREFIX: redisServer.prefix });
  const built = await readyDeps(config, createLogger('openapi-test', 'silent'));
  app = createApp(built.deps);
  closeDeps = built.close;
  worker = await startFakeWorker(config);
  const r = await request(app).get('/openapi.json');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  doc = JSON.parse(r.text) as OpenApi;
  // The components as one schema document the others refer to.
  ajv = addFormats(new Ajv2020({ allErrors: true, strict: true }));
  ajv.addFormat('binary', true);
  ajv.addSchema({ $id: 'urn:turdify:components', $defs: pointed(doc.components.schemas) as Json });
});

after(async () => {
  await worker.close();
  await closeDeps();
  await redisServer.close();
});

/** A schema of the document, its component references pointed at the schema ajv holds. */
const pointed = (schema: unknown): unknown =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"urn:turdify:components#/$defs/'));

const compile = (schema: unknown): ValidateFunction => ajv.compile(pointed(schema) as Json);

function assertValid(schema: unknown, value: unknown, what: string): void {
  const validate = compile(schema);
  assert.ok(
    validate(value),
    `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`,
  );
}

/** The response object of an operation for a status, following a components.responses $ref. */
function responseOf(path: string, method: string, status: number): Json | undefined {
  const r = doc.paths[path]?.[method]?.responses[String(status)];
  return r;
}

function operations(): { key: string; path: string; method: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({
      key: `${method} ${path}`,
      path,
      method,
      op: item[method]!,
    })),
  );
}

describe('the document', () => {
  test('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(doc as unknown as Json);
    assert.ok(result.valid, JSON.stringify(result.errors, null, 1)?.slice(0, 3000));
    assert.match((doc as unknown as { openapi: string }).openapi, /^3\.1\./);
  });

  test("option lists come from the code's tables", async () => {
    const post = doc.paths['/jobs']!.post!;
    const form = (post.requestBody as { content: Record<string, { schema: { properties: Json } }> }).content[
      'multipart/form-data'
    ]!.schema.properties;
    const covers = (await request(app).get('/covers')).body as {
      modes: { name: string }[];
      shapes: { name: string }[];
    };
    assert.deepEqual(
      (form.mode as { enum: string[] }).enum,
      covers.modes.map((m) => m.name),
    );
    assert.deepEqual(
      (form.shape as { enum: string[] }).enum,
      covers.shapes.map((s) => s.name),
    );
    assert.equal((form.min_confidence as { default: number }).default, config.MIN_CONFIDENCE);
    const query = (post.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    assert.deepEqual(
      query.sort(),
      Object.keys(form)
        .filter((k) => k !== 'image')
        .sort(),
    );
  });
});

describe("the server's configuration", () => {
  test('keys required, ADMIN_TOKEN, METRICS_PORT and MIN_CONFIDENCE show in the document', () => {
    const strict = buildOpenApi(
      {
        ...config,
        REQUIRE_API_KEY: true,
        ADMIN_TOKEN: 'x'.repeat(20),
        METRICS_PORT: 9464,
        MIN_CONFIDENCE: 0.6,
      },
      '0.0.0',
    ) as unknown as OpenApi & { paths: Record<string, Record<string, { security?: Json[] }>> };
    assert.deepEqual(strict.paths['/jobs']!.post!.security, [{ apiKey: [] }, { apiKeyHeader: [] }]);
    assert.deepEqual(strict.paths['/workers']!.get!.security, [{ adminToken: [] }]);
    assert.equal(strict.paths['/metrics'], undefined, '/metrics is on METRICS_PORT');
    const min = (strict.paths['/jobs']!.post!.parameters as Json[]).find((p) => p.name === 'min_confidence')!;
    assert.equal((min.schema as Json).default, 0.6);
    // This app's own: keys optional (`{}`), operator routes open.
    assert.deepEqual(doc.paths['/jobs']!.post!.security, [{ apiKey: [] }, { apiKeyHeader: [] }, {}]);
    assert.deepEqual(doc.paths['/workers']!.get!.security, []);
  });
});

describe('routes', () => {
  test('every route the app registers is described', () => {
    const described = new Set(operations().map((o) => `${o.method} ${normalise(o.path)}`));
    const registered = registeredRoutes(app);
    // The walk itself works: it finds routes of routers mounted at the root.
    for (const key of ['post /jobs', 'get /jobs/{id}/events', 'post /turdify', 'get /problems/{slug}']) {
      assert.ok(registered.has(key), `${key} not found in ${[...registered].join(', ')}`);
    }
    const missing = [...registered].filter((key) => {
      const path = key.slice(key.indexOf(' ') + 1);
      return !EXCLUDED.some((x) => x.test(path)) && !described.has(key);
    });
    assert.deepEqual(missing, []);
  });

  test('every described operation exists and answers', async (t) => {
    // A job of our own for the routes that need one.
    const created = await request(app).post('/jobs').attach('image', jpeg, 'face.jpg');
    assert.equal(created.status, 202, created.text);
    const id = String(created.body.id);
    const sample: Record<string, string> = { id, slug: 'not-found', name: 'poop' };
    for (const { key, path, method } of operations()) {
      await t.test(key, async () => {
        const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => sample[name]!);
        // The event stream of a job that is not done stays open: ask for an unknown job's (a 404).
        const target = key === 'get /jobs/{id}/events' ? url.replace(id, randomUUID()) : url;
        // HEAD has no body to tell a missing route from a missing job: it must answer as GET does.
        const r = await request(app)[method === 'head' ? 'get' : (method as 'get')](target);
        if (method === 'head') {
          const head = await request(app).head(target);
          assert.equal(head.status, r.status, key);
        }
        const missing = (r.status === 404 && r.body?.type === '/problems/not-found') || r.status === 405;
        assert.ok(!missing, `${key} is described but answers ${r.status}: ${r.text}`);
        // What it answered is described, with its content type.
        const described = responseOf(path, method, r.status);
        assert.ok(described, `${key} answered ${r.status}, which is not described`);
        const type = String(r.headers['content-type'] ?? '').split(';')[0]!;
        const content = described.content as Record<string, { schema: unknown }> | undefined;
        if (content && method !== 'head') {
          assert.ok(content[type], `${key} ${r.status}: ${type} not described (${Object.keys(content)})`);
          if (/json$/.test(type)) assertValid(content[type].schema, JSON.parse(r.text), `${key} ${r.status}`);
        }
      });
    }
  });

  test('its own routes answer other methods with 405 and Allow', async () => {
    for (const path of ['/openapi.json', '/docs', '/problems', '/problems/not-found']) {
      const r = await request(app).post(path);
      assert.equal(r.status, 405, path);
      assert.equal(r.headers.allow, 'GET, HEAD', path);
      assert.equal(JSON.parse(r.text).type, '/problems/method-not-allowed');
    }
  });
});

describe('examples and answers', () => {
  test('every example validates against its schema', () => {
    let count = 0;
    const check = (media: Json, where: string) => {
      const schema = media.schema;
      if (!schema) return;
      if ('example' in media) {
        assertValid(schema, media.example, where);
        count++;
      }
      for (const [name, ex] of Object.entries((media.examples ?? {}) as Record<string, { value: unknown }>)) {
        assertValid(schema, ex.value, `${where} example ${name}`);
        count++;
      }
    };
    for (const { key, op } of operations()) {
      for (const p of op.parameters ?? []) check(p, `${key} parameter ${String(p.name)}`);
      const body = op.requestBody as { content?: Record<string, Json> } | undefined;
      for (const [type, media] of Object.entries(body?.content ?? {})) check(media, `${key} request ${type}`);
      for (const [status, res] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries((res.content ?? {}) as Record<string, Json>)) {
          check(media, `${key} ${status} ${type}`);
        }
      }
    }
    for (const [status, res] of Object.entries(doc.components.responses as Record<string, Json>)) {
      for (const media of Object.values((res.content ?? {}) as Record<string, Json>))
        check(media, `components ${status}`);
    }
    assert.ok(count > 60, `only ${count} examples checked`);
  });

  test('the job examples include a completed, a queued and a failed job', () => {
    const examples = (doc.paths['/jobs/{id}']!.get!.responses['200']!.content as Record<string, Json>)[
      'application/json'
    ]!.examples as Record<string, { value: { status: string } }>;
    assert.deepEqual(
      Object.values(examples)
        .map((e) => e.value.status)
        .sort(),
      ['completed', 'failed', 'queued'],
    );
  });

  test('real jobs validate: queued, then completed (with its events), and its result', async () => {
    const job = doc.components.schemas as Json;
    const created = await request(app).post('/jobs?emoji=alien').attach('image', jpeg, 'face.jpg');
    assertValid(job.Job, created.body, 'POST /jobs 202');
    const id = String(created.body.id);
    const done = await request(app).get(`/jobs/${id}?wait=10`);
    assert.equal(done.body.status, 'completed', done.text);
    assertValid(job.Job, done.body, 'GET /jobs/{id} completed');
    const result = await request(app).get(`/jobs/${id}/result`);
    assert.equal(result.status, 200);
    assert.ok(responseOf('/jobs/{id}/result', 'get', 200)!.content as Json);
    assert.ok(
      Object.keys(responseOf('/jobs/{id}/result', 'get', 200)!.content as Json).includes(
        String(result.headers['content-type']).split(';')[0]!,
      ),
    );
    const events = await request(app)
      .get(`/jobs/${id}/events`)
      .buffer(true)
      .parse((res, cb) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => cb(null, text));
      });
    const data = [...String(events.body).matchAll(/^event: (\w+)\ndata: (.*)$/gm)];
    assert.deepEqual(
      data.map((m) => m[1]),
      ['state', 'completed'],
    );
    for (const m of data) assertValid(job.Job, JSON.parse(m[2]!), `event ${m[1]}`);
    assert.equal((await request(app).delete(`/jobs/${id}`)).status, 204);
  });
});

describe('problems', () => {
  test('every problem type is described with its status, by example', () => {
    const seen = new Map<string, Set<number>>();
    const collect = (status: string, res: Json) => {
      const media = (res.content as Record<string, Json> | undefined)?.['application/problem+json'];
      if (!media) return;
      assert.deepEqual(media.schema, { $ref: '#/components/schemas/Problem' });
      for (const ex of Object.values(
        media.examples as Record<string, { value: { type: string; status: number } }>,
      )) {
        assert.equal(ex.value.status, Number(status));
        const slug = ex.value.type.replace('/problems/', '');
        seen.set(slug, new Set([...(seen.get(slug) ?? []), Number(status)]));
      }
    };
    for (const { op } of operations()) for (const [s, res] of Object.entries(op.responses)) collect(s, res);
    for (const [s, res] of Object.entries(doc.components.responses as Record<string, Json>)) collect(s, res);
    for (const slug of PROBLEM_SLUGS) {
      assert.deepEqual([...(seen.get(slug) ?? [])].sort(), [...PROBLEM_TYPES[slug].status], slug);
    }
  });

  test('every 4xx/5xx response of an operation is problem+json', () => {
    for (const { key, op } of operations()) {
      for (const [status, res] of Object.entries(op.responses)) {
        if (Number(status) < 400 || !res.content) continue;
        assert.deepEqual(Object.keys(res.content as Json), ['application/problem+json'], `${key} ${status}`);
      }
    }
  });

  test('real problems validate against the Problem schema', async () => {
    const schema = (doc.components.schemas as Json).Problem;
    const answers = [
      await request(app).post('/jobs'),
      await request(app)
        .post('/jobs')
        .field('mode', 'blur')
        .field('color', '#fff')
        .attach('image', jpeg, 'f.jpg'),
      await request(app).post('/jobs?nope=1').attach('image', jpeg, 'f.jpg'),
      await request(app).get(`/jobs/${randomUUID()}`),
      await request(app).get('/nothing-here'),
      await request(app).put('/jobs'),
      await request(app).post('/jobs').attach('image', Buffer.from('not an image'), 'f.txt'),
    ];
    for (const r of answers) {
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
      assertValid(schema, JSON.parse(r.text), `${r.status} ${r.text}`);
    }
  });
});

describe('GET /docs', () => {
  test('serves Swagger UI from this API only: page, scripts and styles, nothing inline', async () => {
    const page = await request(app).get('/docs');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(page.text, /<script>|<style|style=|https?:\/\//);
    const assets = [...page.text.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(
      assets.includes('/docs/init.js') && assets.includes('/docs/swagger-ui-bundle.js'),
      String(assets),
    );
    for (const asset of assets) {
      const r = await request(app).get(asset);
      assert.equal(r.status, 200, asset);
    }
    assertProblemNotFound(await request(app).get('/docs/swagger-ui-bundle.js.map'));
    assertProblemNotFound(await request(app).get('/docs/..%2Fpackage.json'));
  });
});

function assertProblemNotFound(r: request.Response): void {
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.text).type, '/problems/not-found');
}
