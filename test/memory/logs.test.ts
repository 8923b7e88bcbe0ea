// Logs never hold image bytes or other payloads. ioredis's ReplyError carries the failed command
// with its arguments, and pino's standard serializer wrote an upload refused by Redis into the log
// as a JSON array of numbers (one 3.5 MB photo: a 12 MB line). Here a Redis error is forced on a
// real upload (an ACL user that may not SET) and the API's log must stay small and byte-free.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { startApi, type RunningApi } from '../../api/server.js';
import { loadConfig } from '../../shared/config.js';
import { RedisImageStore } from '../../shared/imageStore.js';
import { newJobId } from '../../shared/jobs.js';
import { redisKeys } from '../../shared/keys.js';
import { capValue, createLogger, errSerializer } from '../../shared/logger.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { submitFile, waitHttp } from '../helpers/http.js';
import { largePhoto } from '../helpers/largePhoto.js';
import { needsPrivateRedis, startTestRedis, type TestRedis } from '../helpers/redis.js';

/** What a logged photo looks like: its bytes as numbers, as a Buffer's JSON, or as base64. */
function assertNoPayload(text: string, photo: Buffer): void {
  assert.doesNotMatch(text, /(\d{1,3},){64}/, 'no run of byte values');
  assert.doesNotMatch(text, /"type":"Buffer"/);
  assert.ok(!text.includes(photo.subarray(1000, 1048).toString('base64')), 'no base64 of the photo');
  assert.ok(!text.includes(photo.subarray(1000, 1032).toString('latin1')), 'no raw bytes of the photo');
}

describe('logs hold no payloads', { skip: needsPrivateRedis }, () => {
  let server: TestRedis;
  let admin: Redis;
  let photo: Buffer;
  const uploaderUrl = () => server.url.replace('redis://', 'redis://uploader:s3cret@');

  before(async () => {
    server = await startTestRedis({ args: ['--maxmemory', '64mb'] });
    admin = createRedis(server.url, 'blocking');
    // A user that may do everything but SET: the upload's write script fails with a ReplyError
    // whose command carries the photo among its arguments.
    await admin.call('ACL', 'SETUSER', 'uploader', 'on', '>s3cret', '~*', '&*', '+@all', '-set');
    photo = await largePhoto();
  });
  after(async () => {
    admin.disconnect();
    await server.close();
  });

  it("an ioredis error is logged as what it is, not with the command's arguments", async () => {
    const redis = createRedis(uploaderUrl(), 'blocking');
    await waitReady(redis, 10_000);
    const store = new RedisImageStore(redis, redisKeys('t'), { inputSeconds: 60, resultSeconds: 60 });
    const err = await store.putInput(newJobId(), photo).then(
      () => assert.fail('the write was refused'),
      (e: unknown) => e as Error,
    );
    redis.disconnect();
    // The hazard is real: pino's standard serializer copies the photo into the log.
    assert.ok(JSON.stringify(pino.stdSerializers.err(err)).length > photo.length);

    const lines: string[] = [];
    const log = createLogger('t', 'info', { write: (s: string) => void lines.push(s) });
    log.error({ err }, 'upload failed');
    log.warn({ context: { cause: err, bytes: photo, note: 'x'.repeat(100_000) } }, 'nested');
    log.error(err);
    const text = lines.join('');
    assert.ok(text.length < 20_000, `${text.length} chars of log`);
    assertNoPayload(text, photo);
    const first = JSON.parse(lines[0]!) as { err: { type: string; message: string } };
    assert.equal(first.err.type, 'ReplyError');
    // The write is one script; Redis refuses its SET for this user.
    assert.match(first.err.message, /can't run this command/, 'the reason is kept');
    const nested = JSON.parse(lines[1]!) as { context: { bytes: string; note: string } };
    assert.equal(nested.context.bytes, `[${photo.length} bytes]`);
    assert.ok(nested.context.note.length < 2100);
  });

  it('caps any logged value: strings, arrays, depth', () => {
    const deep = { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } };
    const capped = capValue({ list: Array.from({ length: 1000 }, (_, i) => i), deep }) as {
      list: unknown[];
      deep: unknown;
    };
    assert.equal(capped.list.length, 21);
    assert.match(JSON.stringify(capped.deep), /\[Object\]/);
    const e = errSerializer(Object.assign(new Error('m'.repeat(10_000)), { command: { args: [photo] } }));
    assert.ok(JSON.stringify(e).length < 7000);
  });

  it('a Redis error on an upload: a 500, and a log that stays small and byte-free', async () => {
    const lines: string[] = [];
    const log = createLogger('api', 'info', { write: (s: string) => void lines.push(s) });
    const config = loadConfig({
      REDIS_URL: uploaderUrl(),
      PORT: '0',
      HOST: '127.0.0.1',
      SHUTDOWN_TIMEOUT_SECONDS: '2',
    });
    const api: RunningApi = await startApi(config, log);
    try {
      await waitHttp(`${api.url}/readyz`);
      const res = await submitFile(api.url, photo, 'phone.jpg');
      assert.equal(res.status, 500);
      assert.doesNotMatch(await res.text(), /NOPERM|can't run|script/, 'no internals in the answer');
    } finally {
      await api.close();
    }
    const text = lines.join('');
    assert.ok(
      text.length < 32_768,
      `${text.length} chars of log for one failed upload of ${photo.length} bytes`,
    );
    for (const l of lines) assert.ok(l.length < 16_384, `a log line of ${l.length} chars`);
    assertNoPayload(text, photo);
    assert.match(text, /can't run this command/, 'the error itself is logged');
  });
});
