// Every accepted input format through the service (API in-process, a private Redis, a worker with
// real inference), each made in the test from astronaut.png: the face is found, and the result comes
// back in the default output format the README gives (the input's own when it is JPEG, PNG or WebP,
// else PNG). Animated and multi-page inputs are read by their first frame. The emoji asked for is
// the one pasted.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../api/app.js';
import { readyDeps } from '../helpers/api.js';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { startWorker, type RunningWorker } from '../../worker/worker.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { encodeAs, hevcHeic, type MadeFormat } from '../helpers/images.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { renderEmoji, sharedDetector } from '../helpers/worker.js';

const log = createLogger('formats-test', 'silent');
const astronaut = join(fixturesDir, 'astronaut.png');

const DEFAULT_OUTPUT: Record<MadeFormat, 'jpeg' | 'png' | 'webp'> = {
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
  gif: 'png',
  tiff: 'png',
  avif: 'png',
  heif: 'png',
};

interface Job {
  status: string;
  options: { format: string };
  input: { format: string; width: number; height: number };
  faces: unknown[];
  result: { content_type: string; width: number; height: number };
  error?: { code: string };
}

type Box = { x: number; y: number; width: number; height: number };

/** Fraction of the box's pixels that differ clearly (some channel by > 40) between two images. */
async function changedInBox(before: Buffer, after: Buffer, box: Box): Promise<number> {
  const raw = (b: Buffer) => sharp(b).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const [a, b] = [await raw(before), await raw(after)];
  let changed = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const i = (y * a.info.width + x) * 3;
      if ([0, 1, 2].some((c) => Math.abs(a.data[i + c]! - b.data[i + c]!) > 40)) changed++;
    }
  }
  return changed / (box.width * box.height);
}

describe('input formats and default outputs', () => {
  let redisServer: TestRedis;
  let app: Express;
  let closeDeps: () => Promise<void>;
  let worker: RunningWorker;

  before(async () => {
    redisServer = await startTestRedis();
    const config = loadConfig({ REDIS_URL: redisServer.url, KEY_PREFIX: redisServer.prefix });
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

  /** Submits, waits for the end, and fetches the picture. */
  async function run(bytes: Buffer, query = '') {
    const accepted = await request(app).post(`/jobs${query}`).attach('image', bytes, 'upload');
    assert.equal(accepted.status, 202, accepted.text);
    const job = (await request(app).get(`/jobs/${accepted.body.id}?wait=60`)).body as Job;
    if (job.status !== 'completed') return { job, picture: undefined };
    const res = await request(app).get(`/jobs/${accepted.body.id}/result`).buffer(true);
    assert.equal(res.status, 200);
    return { job, picture: res.body as Buffer };
  }

  for (const format of Object.keys(DEFAULT_OUTPUT) as MadeFormat[]) {
    it(`${format}: read, face covered, answered as ${DEFAULT_OUTPUT[format]}`, async () => {
      const bytes = await encodeAs(astronaut, format);
      const { job, picture } = await run(bytes);
      assert.equal(job.status, 'completed', JSON.stringify(job.error));
      assert.equal(job.input.format, format);
      assert.equal(job.options.format, DEFAULT_OUTPUT[format]);
      assert.equal(job.result.content_type, `image/${DEFAULT_OUTPUT[format]}`);
      assert.equal(job.faces.length, 1);
      const meta = await sharp(picture).metadata();
      assert.equal(meta.format, DEFAULT_OUTPUT[format]);
      assert.deepEqual([meta.width, meta.height], [512, 512]);
      const covered = await changedInBox(bytes, picture!, job.faces[0] as Box);
      assert.ok(covered > 0.5, `${format}: ${(100 * covered).toFixed(0)} % of the face changed`);
    });
  }

  it('animated GIF and WebP, multi-page TIFF: the first frame, answered as one picture', async () => {
    const face = await sharp(astronaut).resize(256).png().toBuffer();
    const red = await sharp({ create: { width: 256, height: 256, channels: 3, background: 'red' } })
      .png()
      .toBuffer();
    for (const format of ['gif', 'webp', 'tiff'] as const) {
      const frames = sharp([face, red], { join: { animated: true } });
      const bytes = await (
        format === 'gif' ? frames.gif() : format === 'webp' ? frames.webp() : frames.tiff()
      ).toBuffer();
      assert.equal((await sharp(bytes).metadata()).pages, 2, `${format}: two frames`);
      const { job, picture } = await run(bytes);
      assert.equal(job.status, 'completed', `${format}: ${JSON.stringify(job.error)}`);
      assert.equal(job.faces.length, 1, `${format}: the face on the first frame`);
      const meta = await sharp(picture).metadata();
      assert.deepEqual([meta.width, meta.height, meta.pages ?? 1], [256, 256, 1], format);
    }
  });

  it('an HEVC-coded HEIC is accepted by its header, then fails with unsupported_image', async () => {
    const { job } = await run(await hevcHeic(astronaut));
    assert.equal(job.input.format, 'heif');
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'unsupported_image');
  });

  it('POST /turdify/ answers that failure as 415 unsupported-image, as polling would report it', async () => {
    const r = await request(app)
      .post('/turdify/')
      .attach('my_file', await hevcHeic(astronaut), 'phone.heic');
    assert.equal(r.status, 415, r.text);
    assert.equal(r.body.type, '/problems/unsupported-image');
    const polled = (await request(app).get(`/jobs/${r.body.job_id}`)).body as Job;
    assert.deepEqual(polled.error, r.body.error);
  });

  it('pastes the emoji asked for: another emoji changes the face, and nothing else', async () => {
    const png = await encodeAs(astronaut, 'png');
    const pixels = async (emoji: string) => {
      const { job, picture } = await run(png, `?emoji=${emoji}`);
      assert.equal(job.status, 'completed');
      return { job, raw: await sharp(picture).removeAlpha().raw().toBuffer() };
    };
    const [poop, alien] = await Promise.all([pixels('poop'), pixels('alien')]);
    assert.deepEqual(poop.job.faces, alien.job.faces, 'the same face found');
    const face = poop.job.faces[0] as Box;
    let inFace = 0;
    let outside = 0;
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const i = (y * 512 + x) * 3;
        const differs = [0, 1, 2].some((c) => poop.raw[i + c] !== alien.raw[i + c]);
        if (!differs) continue;
        const inside = x >= face.x && x < face.x + face.width && y >= face.y && y < face.y + face.height;
        if (inside) inFace++;
        else if (
          Math.max(face.x - x, x - face.x - face.width, face.y - y, y - face.y - face.height) > face.width
        )
          outside++;
      }
    }
    assert.ok(inFace > 0.5 * face.width * face.height, `only ${inFace} face pixels differ`);
    assert.equal(outside, 0, 'pixels far from the face differ between the two emoji');
  });
});
