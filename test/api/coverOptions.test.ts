// The cover options at the API edge (no worker): GET /covers, what a job stores and shows for each
// mode, and a 400 naming the option and what it allows for every bad value or misplaced option,
// through POST /jobs (form fields and query parameters) and POST /turdify/ (query parameters).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startApi, type RunningApi } from '../../api/server.js';
import { COVER_MODES, COVER_SHAPES, coverCatalogue } from '../../shared/covers.js';
import { EMOJIS } from '../../shared/emojis.js';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { webhookEvent } from '../../shared/webhooks.js';
import type { TurdifyJobData } from '../../shared/jobs.js';
import { testApiConfig } from '../helpers/api.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const DEFAULT_MIN_CONFIDENCE = loadConfig({}).MIN_CONFIDENCE;

const photo = readFileSync(join(fixturesDir, 'astronaut.png'));
let redisServer: TestRedis;
let api: RunningApi;

before(async () => {
  redisServer = await startTestRedis();
  const config = testApiConfig(redisServer, {
    SYNC_TIMEOUT_SECONDS: '1',
    SHUTDOWN_TIMEOUT_SECONDS: '2',
  });
  api = await startApi(config, createLogger('covers-test', 'silent'));
});
after(async () => {
  await api.close();
  await redisServer.close();
});

const post = (query: string, fields: Record<string, string> = {}) => {
  let r = request(api.url).post(`/jobs${query}`).attach('image', photo, 'astronaut.png');
  for (const [k, v] of Object.entries(fields)) r = r.field(k, v);
  return r;
};

interface Problem {
  status: number;
  type: string;
  detail: string;
  errors?: { option: string; message: string; allowed?: string[] }[];
  unknown_options?: string[];
}

function badOption(res: request.Response, option: string, mentions: (string | RegExp)[] = []): Problem {
  assert.equal(res.status, 400, res.text);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const p = JSON.parse(res.text) as Problem;
  assert.equal(p.type, '/problems/invalid-option');
  assert.ok(
    p.errors?.some((e) => e.option === option),
    `${option} not named: ${res.text}`,
  );
  const message = p
    .errors!.filter((e) => e.option === option)
    .map((e) => e.message)
    .join(' ');
  for (const m of mentions)
    assert.match(message, typeof m === 'string' ? new RegExp(m) : m, `${option}: ${message}`);
  return p;
}

describe('GET /covers and /emojis', () => {
  it('lists the modes, shapes, options with their defaults, and the emoji', async () => {
    const r = await request(api.url).get('/covers');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, JSON.parse(JSON.stringify(coverCatalogue())));
    assert.deepEqual(
      r.body.modes.map((m: { name: string }) => m.name),
      [...COVER_MODES],
    );
    assert.equal(r.body.modes.find((m: { default: boolean }) => m.default).name, 'emoji');
    assert.deepEqual(r.body.modes.find((m: { name: string }) => m.name === 'solid').options, [
      'shape',
      'cover_scale',
      'color',
    ]);
    assert.deepEqual(
      r.body.shapes.map((s: { name: string }) => s.name),
      [...COVER_SHAPES],
    );
    assert.deepEqual(r.body.options.cover_scale.default, { emoji: 1.1, ellipse: 1.3, box: 1.5 });
    assert.deepEqual(r.body.options.color.default, { solid: '#000000', outline: '#00ff00' });
    assert.equal(r.body.emojis.length, EMOJIS.length);
    assert.equal((await request(api.url).head('/covers')).status, 200);
    assert.equal((await request(api.url).post('/covers')).status, 405);
  });

  it('keeps GET /emojis as it was', async () => {
    const r = await request(api.url).get('/emojis');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ['emojis']);
    assert.ok(r.body.emojis.some((e: { name: string; default: boolean }) => e.name === 'poop' && e.default));
  });
});

describe('what a job stores and shows', () => {
  const cases: [string, Record<string, string>, Record<string, unknown>][] = [
    ['', {}, { mode: 'emoji', emoji: 'poop', cover_scale: 1.1 }],
    ['?emoji=ghost', {}, { mode: 'emoji', emoji: 'ghost', cover_scale: 1.1 }],
    [
      '',
      { emoji: ' ghost , alien ', cover_scale: '1.25' },
      { mode: 'emoji', emoji: 'ghost,alien', cover_scale: 1.25 },
    ],
    ['?mode=emoji&emoji=random', {}, { mode: 'emoji', emoji: 'random', cover_scale: 1.1 }],
    ['?mode=blur', {}, { mode: 'blur', shape: 'ellipse', cover_scale: 1.3 }],
    ['?mode=pixelate&shape=box', {}, { mode: 'pixelate', shape: 'box', cover_scale: 1.5 }],
    ['?mode=solid', {}, { mode: 'solid', shape: 'ellipse', cover_scale: 1.3, color: '#000000' }],
    [
      '?mode=solid&color=%23F0A',
      { shape: 'box', cover_scale: '2' },
      { mode: 'solid', shape: 'box', cover_scale: 2, color: '#ff00aa' },
    ],
    ['?mode=solid&color=12ab9F', {}, { mode: 'solid', shape: 'ellipse', cover_scale: 1.3, color: '#12ab9f' }],
    ['?mode=outline', {}, { mode: 'outline', color: '#00ff00' }],
    // Form fields win over query parameters.
    ['?mode=blur', { mode: 'outline', color: '#fff' }, { mode: 'outline', color: '#ffffff' }],
  ];
  for (const [query, fields, expected] of cases) {
    it(`${query || '(nothing)'} ${JSON.stringify(fields)}`, async () => {
      const r = await post(query, fields);
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(r.body.options, {
        ...expected,
        format: 'png',
        min_confidence: DEFAULT_MIN_CONFIDENCE,
      });
      const g = await request(api.url).get(`/jobs/${r.body.id}`);
      assert.deepEqual(g.body.options, r.body.options);
    });
  }

  it('puts the same options in the webhook event', () => {
    const data: TurdifyJobData = {
      v: 1,
      options: { mode: 'pixelate', shape: 'box', coverScale: 1.5, format: 'jpeg', minConfidence: 0.4 },
      input: { format: 'jpeg', bytes: 1, width: 1, height: 1 },
      submittedAt: 0,
    };
    const event = webhookEvent('id', data, { failedReason: '[internal] x' });
    assert.deepEqual(event.data.options, {
      mode: 'pixelate',
      shape: 'box',
      cover_scale: 1.5,
      format: 'jpeg',
      min_confidence: 0.4,
    });
    // A record from before cover modes: the emoji mode, its one emoji.
    const old = webhookEvent(
      'id',
      { ...data, options: { emoji: 'alien', format: 'png', minConfidence: 0.5 } },
      {
        failedReason: '[internal] x',
      },
    );
    assert.deepEqual(old.data.options, {
      mode: 'emoji',
      emoji: 'alien',
      cover_scale: 1.1,
      format: 'png',
      min_confidence: 0.5,
    });
  });
});

describe('bad options', () => {
  const modes = COVER_MODES.join(', ');
  const bad: [string, string, (string | RegExp)[]][] = [
    ['mode=sepia', 'mode', [modes]],
    ['mode=Blur', 'mode', [modes]],
    ['mode=blur&shape=circle', 'shape', ['ellipse, box']],
    ['cover_scale=0.9', 'cover_scale', ['at least 1']],
    ['cover_scale=3.5', 'cover_scale', ['at most 3']],
    ['cover_scale=big', 'cover_scale', ['number from 1 to 3']],
    ['mode=solid&color=red', 'color', ['#rgb or #rrggbb']],
    ['mode=solid&color=%23ff000080', 'color', ['#rgb or #rrggbb', /opaque/]],
    ['mode=outline&color=%2312345', 'color', ['#rgb or #rrggbb']],
    ['emoji=nope', 'emoji', ['unknown emoji "nope"', 'random', 'poop, grin']],
    ['emoji=poop,,ghost', 'emoji', ['empty name']],
    ['emoji=random,poop', 'emoji', ['unknown emoji "random"']],
    [`emoji=${Array(33).fill('poop').join(',')}`, 'emoji', ['at most 32']],
    // Options the mode does not take.
    [
      'shape=box',
      'shape',
      ['does not apply to mode emoji', 'blur, pixelate, solid', 'takes emoji, cover_scale'],
    ],
    ['color=%23fff', 'color', ['does not apply to mode emoji', 'solid, outline']],
    [
      'mode=blur&emoji=ghost',
      'emoji',
      ['does not apply to mode blur', 'applies to emoji', 'takes shape, cover_scale'],
    ],
    ['mode=pixelate&color=%23fff', 'color', ['does not apply to mode pixelate']],
    ['mode=outline&cover_scale=1.2', 'cover_scale', ['does not apply to mode outline', 'takes color']],
    ['mode=outline&shape=box', 'shape', ['does not apply to mode outline']],
    ['mode=solid&mode=blur', 'mode', ['given once']],
  ];

  for (const [query, option, mentions] of bad) {
    it(`POST /jobs?${query.slice(0, 60)} → 400 naming ${option}`, async () => {
      badOption(await post(`?${query}`), option, mentions);
    });
  }

  it('the same as form fields', async () => {
    badOption(await post('', { mode: 'sepia' }), 'mode', [modes]);
    badOption(await post('', { mode: 'blur', color: '#000' }), 'color', ['does not apply to mode blur']);
    badOption(await post('?mode=outline', { cover_scale: '2' }), 'cover_scale', [
      'does not apply to mode outline',
    ]);
  });

  it('lists the allowed values of enumerations, and every bad option at once', async () => {
    const p = badOption(await post('?mode=sepia&shape=circle'), 'mode');
    assert.deepEqual(p.errors!.find((e) => e.option === 'mode')!.allowed, [...COVER_MODES]);
    assert.deepEqual(p.errors!.find((e) => e.option === 'shape')!.allowed, [...COVER_SHAPES]);
    const q = badOption(await post('?mode=blur&emoji=ghost&color=%23fff'), 'emoji');
    assert.ok(q.errors!.some((e) => e.option === 'color'));
  });

  it('POST /turdify/ takes the cover options as query parameters, with the same errors', async () => {
    const sync = (query: string) =>
      request(api.url).post(`/turdify/${query}`).attach('my_file', photo, 'a.png');
    badOption(await sync('?mode=sepia'), 'mode', [modes]);
    badOption(await sync('?mode=blur&emoji=ghost'), 'emoji', ['does not apply to mode blur']);
    badOption(await sync('?mode=solid&color=red'), 'color', ['#rgb or #rrggbb']);
    const u = await sync('?callback_url=https://example.com/');
    assert.equal(u.status, 400);
    assert.deepEqual((JSON.parse(u.text) as Problem).unknown_options, ['callback_url']);
    // Form fields besides the file are ignored, as the 2021 app ignored them.
    const ignored = await request(api.url)
      .post('/turdify/')
      .field('mode', 'sepia')
      .attach('my_file', photo, 'a.png');
    assert.equal(ignored.status, 504, ignored.text); // no worker runs here: the job is accepted and waits
    // Good options are stored on the job (it is still waiting: no worker runs in this file).
    const r = await sync('?mode=solid&shape=box&color=%23336699');
    assert.equal(r.status, 504, r.text);
    const job = await request(api.url).get(`/jobs/${(JSON.parse(r.text) as { job_id: string }).job_id}`);
    assert.deepEqual(job.body.options, {
      mode: 'solid',
      shape: 'box',
      cover_scale: 1.5,
      color: '#336699',
      format: 'png',
      min_confidence: DEFAULT_MIN_CONFIDENCE,
    });
  });
});
