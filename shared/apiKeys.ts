// API keys: made by `npm run keys -- create NAME`, checked by the API on every job request.
// Only a key's SHA-256 is stored. A key is 256 random bits, so a fast hash is enough: guessing a
// preimage of one is as hopeless as guessing the key (slow hashes such as scrypt or bcrypt exist
// for low-entropy passwords), and it lets every request be checked in microseconds with one Redis
// read. The hash is the record's address, so checking a key compares no secret byte by byte; the
// stored hash is still compared with timingSafeEqual, and so is the admin token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

/** What a request authenticated with a key is known by: `id` owns its jobs. */
export interface ApiKeyInfo {
  /** Random, stable for the key's life; jobs record it as their owner. */
  id: string;
  name: string;
  createdAt: string;
}

export const KEY_PREFIX_TEXT = 'tdy_';
export const API_KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export const sha256 = (text: string | Buffer): Buffer => createHash('sha256').update(text).digest();

/** Constant-time equality of two secrets of any length (compared as SHA-256 digests). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export class ApiKeyError extends Error {
  override name = 'ApiKeyError';
}

/** Makes a key named `name`; returns the key itself, which exists nowhere else afterwards. */
export async function createApiKey(
  redis: Redis,
  keys: RedisKeys,
  name: string,
): Promise<{ key: string; info: ApiKeyInfo }> {
  if (!API_KEY_NAME.test(name)) {
    throw new ApiKeyError(
      'a key name is 1–64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit',
    );
  }
  const key = KEY_PREFIX_TEXT + randomBytes(32).toString('base64url');
  const hash = sha256(key).toString('hex');
  const info: ApiKeyInfo = { id: randomBytes(8).toString('hex'), name, createdAt: new Date().toISOString() };
  // The name is claimed first, so two `create`s of one name cannot both succeed.
  if (!(await redis.hsetnx(keys.apiKeyNames, name, hash))) {
    throw new ApiKeyError(`a key named "${name}" exists already (revoke it first)`);
  }
  await redis.hset(keys.apiKey(hash), { id: info.id, name, created_at: info.createdAt, hash });
  return { key, info };
}

export async function listApiKeys(redis: Redis, keys: RedisKeys): Promise<ApiKeyInfo[]> {
  const names = await redis.hgetall(keys.apiKeyNames);
  const out: ApiKeyInfo[] = [];
  for (const [name, hash] of Object.entries(names)) {
    const rec = await redis.hgetall(keys.apiKey(hash));
    out.push({ id: rec.id ?? '?', name, createdAt: rec.created_at ?? '?' });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Deletes the key named `name` (at once, for every API process); false when there is none. */
export async function revokeApiKey(redis: Redis, keys: RedisKeys, name: string): Promise<boolean> {
  const hash = await redis.hget(keys.apiKeyNames, name);
  if (!hash) return false;
  await redis.multi().unlink(keys.apiKey(hash)).hdel(keys.apiKeyNames, name).exec();
  return true;
}

/** The key's record, or undefined when no such key exists (never made, or revoked). */
export async function verifyApiKey(
  redis: Redis,
  keys: RedisKeys,
  presented: string,
): Promise<ApiKeyInfo | undefined> {
  const digest = sha256(presented);
  const rec = await redis.hgetall(keys.apiKey(digest.toString('hex')));
  if (!rec.hash || !rec.id || !rec.name) return undefined;
  const stored = Buffer.from(rec.hash, 'hex');
  if (stored.length !== digest.length || !timingSafeEqual(stored, digest)) return undefined;
  return { id: rec.id, name: rec.name, createdAt: rec.created_at ?? '' };
}
