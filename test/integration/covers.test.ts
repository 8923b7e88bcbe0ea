// Every cover mode through the whole service: POST /jobs with form fields, POST /turdify/ with
// query parameters, a private Redis, BullMQ and a worker with real inference, on the public-domain
// portrait.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { readyDeps } from '../helpers/api.js';
import { COVER_MODES } from '../../shared/covers.js';
import { loadConfig } from '../../shared/config.js';
import type { FaceBox } from '../../shared/jobs.js';
import { createLogger } from '../../shared/logger.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import type { JobView } from '../helpers/http.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const photo = readFileSync(join(fixturesDir, 'astronaut.png'));
const log = createLogger('covers-int', 'silent');

async function rgb(bytes: Buffer) {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean absolute RGB difference over a box. */
function boxDiff(a: { data: Buffer; width: number }, b: { data: Buffer }, f: FaceBox): number {
  let sum = 0;
  for (let y = f.y; y < f.y + f.height; y++) {
    for (let x = f.x; x < f.x + f.width; x++) {
      const i = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) sum += Math.abs(a.data[i + c]! - b.data[i + c]!);
    }
  }
  return sum / (3 * f.width * f.height);
}

describe('cover modes through the service', () => {
  let redisServer: TestRedis;
  let app: Express;
  let closeDeps: () => Promise<void>;
  let worker: RunningWorker;

  before(async () => {
    redisServer = await startTestRedis();
    const config = loadConfig({
      REDIS_URL: redisServer.url,
      KEY_PREFIX: redisServer.prefix,
      SYNC_TIMEOUT_SECONDS: '60',
    });
    const built = await readyDeps(config, log);
    app = createApp(built.deps);
    closeDeps = built.close;
    worker = await startWorker({ config, log, renderEmoji, detector: await sharedDetector() });
  });
  after(async () => {
    await worker.close();
    await closeDeps();
    await redisServer.close();
  });

  async function finished(id: string): Promise<JobView> {
    for (let n = 0; n < 1200; n++) {
      const job = (await request(app).get(`/jobs/${id}`)).body as JobView;
      if (job.status === 'completed' || job.status === 'failed') return job;
      await sleep(50);
    }
    throw new Error(`job ${id} did not finish`);
  }

  it('covers the face in every mode (POST /jobs, form fields)', async () => {
    const input = await rgb(photo);
    const fields: Record<string, Record<string, string>> = {
      emoji: { emoji: 'ghost' },
      blur: { shape: 'box' },
      pixelate: {},
      solid: { color: '#ff00ff' },
      outline: { color: '#0000ff' },
    };
    for (const mode of COVER_MODES) {
      let r = request(app).post('/jobs').attach('image', photo, 'astronaut.png').field('mode', mode);
      for (const [k, v] of Object.entries(fields[mode]!)) r = r.field(k, v);
      const res = await r;
      assert.equal(res.status, 202, res.text);
      const job = await finished(res.body.id as string);
      assert.equal(job.status, 'completed', `${mode}: ${JSON.stringify(job.error)}`);
      assert.equal((job.options as { mode: string }).mode, mode);
      assert.equal(job.faces!.length, 1);
      const face = job.faces![0]!;
      const result = await request(app).get(`/jobs/${job.id}/result`).buffer(true);
      assert.equal(result.headers['content-type'], 'image/png');
      const out = await rgb(result.body as Buffer);
      assert.deepEqual([out.width, out.height], [input.width, input.height]);
      const d = boxDiff(input, out, face);
      // outline hides nothing: inside the box it draws only the five landmark dots and the eye line.
      if (mode === 'outline') assert.ok(d < 3, `outline changed the face by ${d.toFixed(1)}`);
      else assert.ok(d > 10, `${mode} changed the face by only ${d.toFixed(1)}`);
      if (mode === 'solid') {
        const i = ((face.y + 10) * out.width + face.x + 10) * 3;
        assert.deepEqual([...out.data.subarray(i, i + 3)], [255, 0, 255]);
      }
    }
  });

  it('answers /turdify/?mode=… with the covered PNG', async () => {
    const res = await request(app)
      .post('/turdify/?mode=solid&shape=box&color=%23123456')
      .attach('my_file', photo, 'astronaut.png')
      .buffer(true);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['content-type'], 'image/png');
    const job = (await request(app).get(`/jobs/${res.headers['x-turdify-job-id']}`)).body as JobView;
    assert.deepEqual(job.options, {
      mode: 'solid',
      shape: 'box',
      cover_scale: 1.5,
      color: '#123456',
      format: 'png',
      min_confidence: loadConfig({}).MIN_CONFIDENCE,
    });
    const out = await rgb(res.body as Buffer);
    const f = job.faces![0]!;
    for (const [x, y] of [
      [f.x, f.y],
      [f.x + f.width - 1, f.y + f.height - 1],
    ] as const) {
      const i = (y * out.width + x) * 3;
      assert.deepEqual([...out.data.subarray(i, i + 3)], [0x12, 0x34, 0x56]);
    }
  });
});
