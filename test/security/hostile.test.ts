// A generated corpus of hostile uploads against the API and a worker as real processes: truncated,
// damaged, wrong magic, polyglots, decompression bombs in every format, hostile filenames and
// broken multipart bodies. Each is answered with a 4xx problem+json or becomes a failed job with
// an error code (hostile filenames on a good photo are just processed); no process dies; and the
// next good photo completes. HOSTILE_VERBOSE=1 prints each case's outcome.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { JOB_ERROR_CODES } from '../../shared/errors.js';
import { startService, until, type Proc } from '../helpers/cluster.js';
import { bombs, damaged, encodings, truncate, type Variant } from '../helpers/damage.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { pollJob, waitHttp } from '../helpers/http.js';
import { rawClient, type RawResponse } from '../helpers/rawHttp.js';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis.js';

type Expect = 'refused' | 'processed' | 'either';
interface Case {
  name: string;
  expect: Expect;
  send(): Promise<RawResponse>;
}

let redis: TestRedis;
let api: Proc;
let worker: Proc;
let base: string;

before(async () => {
  redis = await startTestRedis();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: redis.url,
    KEY_PREFIX: redis.prefix,
    PORT: String(port),
    RATE_LIMIT_PER_MINUTE: '0',
  };
  api = startService('api', env);
  worker = startService('worker', { ...env, WORKER_HEARTBEAT_SECONDS: '1' });
  await waitHttp(`${base}/healthz`);
  await until(
    'a worker',
    async () =>
      ((await (await fetch(`${base}/readyz`)).json()) as { workers: { count: number } }).workers.count > 0,
    90_000,
    200,
  );
});

after(async () => {
  for (const p of [api, worker]) p?.signal('SIGKILL');
  await redis.close();
});

/** One request by hand (Connection: close), so a body can be exactly as broken as wanted. */
async function post(path: string, headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
  const c = await rawClient(base);
  const head = Object.entries({
    Host: 'x',
    Connection: 'close',
    ...headers,
    'Content-Length': String(body.length),
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  await c.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`);
  await c.write(body);
  const res = await c.response;
  c.socket.destroy();
  return res;
}

const BOUNDARY = 'hostile-boundary';
/** A multipart body with one part (or the given raw parts), headers as given, byte for byte. */
const part = (headers: string, content: Buffer | string) =>
  Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\n${headers}\r\n\r\n`, 'latin1'),
    Buffer.from(content),
    Buffer.from('\r\n'),
  ]);
const form = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
const fileHeaders = (filename: string, field = 'image') =>
  `Content-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream`;
const multipart = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` };

/** POST /jobs with this multipart body (Content-Type multipart with BOUNDARY unless `type`). */
const multipartCase = (name: string, body: Buffer, opts: { type?: string; expect?: Expect } = {}): Case => ({
  name,
  expect: opts.expect ?? 'refused',
  send: () => post('/jobs', opts.type ? { 'Content-Type': opts.type } : multipart, body),
});

/** POST /jobs with `bytes` as the file of a well-formed multipart body. */
const upload = (name: string, bytes: Buffer, expect: Expect = 'refused'): Case =>
  multipartCase(name, form(part(fileHeaders('upload.bin'), bytes)), { expect });

async function corpus(): Promise<Case[]> {
  const photo = readFileSync(join(fixturesDir, 'dlib_voc_2007_007763.jpg'));
  // The same photo as test/worker/damaged.test.ts, whose damage is measured to be visible.
  const good = await encodings(photo);
  const variants = Object.keys(good) as Variant[];
  const tiny = await encodings(await sharp(photo).resize(16).toBuffer());
  const zip = Buffer.from('504b030414000000080000000000000000000000000000000000', 'hex');
  const html = Buffer.from('<html><script>alert(document.cookie)</script></html>');
  const jpegMagic = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
  return [
    ...variants.map((v) => upload(`truncated ${v}`, truncate(good[v]))),
    ...variants.map((v) => upload(`damaged ${v}`, damaged(v, good[v]))),
    ...Object.entries(bombs(tiny, 60_000)).map(([name, bytes]) => upload(name, bytes)),
    upload('empty file', Buffer.alloc(0)),
    upload('text named .jpg', Buffer.from('hello, I am a JPEG')),
    upload('PNG signature on JPEG data', Buffer.concat([good.png.subarray(0, 8), good.jpeg.subarray(8)])),
    upload('JPEG magic on PNG data', Buffer.concat([jpegMagic, good.png.subarray(4)])),
    upload('JPEG + ZIP polyglot', Buffer.concat([good.jpeg, zip])),
    upload('PNG + HTML after IEND', Buffer.concat([good.png, html])),
    upload(
      'GIF/JavaScript polyglot',
      Buffer.concat([Buffer.from('GIF89a/*'), good.gif.subarray(8), Buffer.from('*/=1;alert(1)')]),
    ),
    upload('HTML behind a JPEG magic number', Buffer.concat([jpegMagic, html])),
    upload('WebP + trailing script', Buffer.concat([good.webp, html])),
    upload(
      'SVG with a script',
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ),
    upload('PDF', Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF')),
    upload('ZIP', zip),
    {
      name: 'gzip-encoded raw body',
      expect: 'refused',
      send: () =>
        post('/jobs', { 'Content-Type': 'image/jpeg', 'Content-Encoding': 'gzip' }, gzipSync(good.jpeg)),
    },
    {
      name: 'raw PNG declared as JPEG (the bytes decide)',
      expect: 'processed',
      send: () => post('/jobs', { 'Content-Type': 'image/jpeg' }, good.png),
    },
    // Hostile filenames on a good photo: the name is never used, so the photo is processed (a NUL or
    // a CRLF may instead make the part header malformed: a 400; an empty name is "no file").
    ...(
      [
        ['../../../../etc/passwd', 'processed'],
        ['..\\..\\windows\\win.ini', 'processed'],
        [`${'a'.repeat(5000)}.jpg`, 'processed'],
        ['\u202egpj.exe', 'processed'],
        ['%00%2e%2e%2f.jpg', 'processed'],
        ['<img src=x onerror=alert(1)>.jpg', 'processed'],
        ['', 'refused'], // what a browser sends when no file was chosen: missing-image
        ['nul\u0000byte.jpg', 'either'],
      ] as const
    ).map(([filename, expect]) =>
      multipartCase(
        `filename ${JSON.stringify(filename.slice(0, 40))}`,
        form(part(Buffer.from(fileHeaders(filename), 'utf8').toString('latin1'), good.jpeg)),
        { expect },
      ),
    ),
    multipartCase(
      'filename with CRLF injection',
      form(part(fileHeaders('evil.jpg"\r\nX-Injected: "1'), good.jpeg)),
      {
        expect: 'either',
      },
    ),
    // Broken multipart bodies.
    multipartCase('multipart without a boundary', form(part(fileHeaders('a.jpg'), good.jpeg)), {
      type: 'multipart/form-data',
    }),
    multipartCase('multipart with another boundary', form(part(fileHeaders('a.jpg'), good.jpeg)), {
      type: 'multipart/form-data; boundary=other',
    }),
    multipartCase('multipart cut before its end', part(fileHeaders('a.jpg'), good.jpeg.subarray(0, 500))),
    multipartCase(
      'part headers that never end',
      Buffer.from(`--${BOUNDARY}\r\n${fileHeaders('a.jpg')}\r\nX-More: ${'y'.repeat(2000)}`),
    ),
    multipartCase('part without Content-Disposition', form(part('Content-Type: image/jpeg', good.jpeg))),
    multipartCase(
      'two files in the image field',
      form(part(fileHeaders('a.jpg'), good.jpeg), part(fileHeaders('b.jpg'), good.jpeg)),
    ),
    multipartCase(
      '50 fields',
      form(
        ...Array.from({ length: 50 }, (_, i) => part(`Content-Disposition: form-data; name="f${i}"`, 'x')),
        part(fileHeaders('a.jpg'), good.jpeg),
      ),
    ),
    multipartCase(
      'a 100 KB option value',
      form(
        part('Content-Disposition: form-data; name="emoji"', 'x'.repeat(100_000)),
        part(fileHeaders('a.jpg'), good.jpeg),
      ),
    ),
    multipartCase(
      'a 100 KB part header',
      form(part(`${fileHeaders('a.jpg')}\r\nX-Big: ${'z'.repeat(100_000)}`, good.jpeg)),
    ),
    multipartCase(
      'base64 Content-Transfer-Encoding (not decoded)',
      form(
        part(`${fileHeaders('a.jpg')}\r\nContent-Transfer-Encoding: base64`, good.jpeg.toString('base64')),
      ),
    ),
    multipartCase(
      'nested multipart/mixed',
      form(
        part(
          `${fileHeaders('a.jpg')}\r\nContent-Type: multipart/mixed; boundary=inner`,
          `--inner\r\nContent-Type: image/jpeg\r\n\r\n${good.jpeg.toString('latin1')}\r\n--inner--`,
        ),
      ),
    ),
    multipartCase(
      'random bytes as multipart',
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)),
    ),
    multipartCase(
      'a 200-character boundary',
      Buffer.concat([
        Buffer.from(`--${'b'.repeat(200)}\r\n${fileHeaders('a.jpg')}\r\n\r\n`),
        good.jpeg,
        Buffer.from(`\r\n--${'b'.repeat(200)}--\r\n`),
      ]),
      { type: `multipart/form-data; boundary=${'b'.repeat(200)}`, expect: 'either' },
    ),
    {
      name: 'upload abandoned half-way (the client hangs up)',
      expect: 'either',
      send: async () => {
        const c = await rawClient(base);
        await c.write(
          `POST /jobs HTTP/1.1\r\nHost: x\r\n${multipart['Content-Type'] ? `Content-Type: ${multipart['Content-Type']}\r\n` : ''}Content-Length: 100000\r\n\r\n`,
        );
        await c.write(part(fileHeaders('a.jpg'), good.jpeg.subarray(0, 300)));
        c.socket.destroy();
        return { status: 0, headers: {}, body: '' };
      },
    },
  ];
}

type Outcome =
  | { kind: 'problem'; status: number; type: string }
  | { kind: 'failed'; code: string }
  | { kind: 'completed' }
  | { kind: 'none' };

async function outcome(res: RawResponse): Promise<Outcome> {
  if (res.status === 0) return { kind: 'none' };
  if (res.status === 202) {
    const job = await pollJob(base, (JSON.parse(res.body) as { id: string }).id, 60_000);
    return job.status === 'failed' ? { kind: 'failed', code: job.error!.code } : { kind: 'completed' };
  }
  assert.match(
    res.headers['content-type'] ?? '',
    /^application\/problem\+json/,
    `${res.status}: ${res.body}`,
  );
  return { kind: 'problem', status: res.status, type: (JSON.parse(res.body) as { type: string }).type };
}

describe('hostile uploads', { timeout: 240_000 }, () => {
  it('every case: a 4xx problem+json or a failed job with a code; no process dies; the next photo completes', async () => {
    const counts = { problem: 0, failed: 0, completed: 0, none: 0 };
    const cases = await corpus();
    for (const c of cases) {
      const o = await outcome(await c.send());
      counts[o.kind]++;
      const what = `${c.name}: ${JSON.stringify(o)}`;
      if (process.env.HOSTILE_VERBOSE) console.log(what);
      if (o.kind === 'problem') assert.ok(o.status >= 400 && o.status < 500, what);
      if (o.kind === 'failed') {
        assert.ok((JOB_ERROR_CODES as readonly string[]).includes(o.code) && o.code !== 'internal', what);
      }
      if (c.expect === 'refused') assert.ok(o.kind === 'problem' || o.kind === 'failed', what);
      if (c.expect === 'processed') assert.equal(o.kind, 'completed', what);
      if (c.expect === 'either') assert.notEqual(o.kind === 'failed' ? o.code : '', 'internal', what);
      assert.ok(
        api.running() && worker.running(),
        `a process died after "${c.name}"\n${api.output()}${worker.output()}`,
      );
    }
    console.log(
      `hostile: cases=${cases.length} problems=${counts.problem} failed_jobs=${counts.failed} processed=${counts.completed} hung_up=${counts.none}`,
    );
    const photo = readFileSync(join(fixturesDir, 'dlib_voc_2008_001322.jpg'));
    const res = await post('/jobs', multipart, form(part(fileHeaders('next.jpg'), photo)));
    assert.equal(res.status, 202, res.body);
    const job = await pollJob(base, (JSON.parse(res.body) as { id: string }).id, 60_000);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.ok((job.faces?.length ?? 0) > 0);
  });
});
