// Where image bytes live between the API and the workers. An interface, so a different storage
// (disk, S3) can replace Redis without touching the API or the worker.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface ImageStore {
  putInput(jobId: string, bytes: Buffer): Promise<void>;
  getInput(jobId: string): Promise<Buffer | null>;
  deleteInput(jobId: string): Promise<void>;
  putResult(jobId: string, bytes: Buffer): Promise<void>;
  getResult(jobId: string): Promise<Buffer | null>;
  /** Removes everything stored for the job. */
  deleteAll(jobId: string): Promise<void>;
}

export interface ImageStoreTtls {
  inputSeconds: number;
  resultSeconds: number;
}

/** Binary values under their own keys, each with a TTL, so nothing outlives its retention. */
export class RedisImageStore implements ImageStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ttl: ImageStoreTtls,
  ) {}

  async putInput(jobId: string, bytes: Buffer): Promise<void> {
    await this.redis.set(this.keys.input(jobId), bytes, 'EX', Math.ceil(this.ttl.inputSeconds));
  }

  getInput(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.input(jobId));
  }

  async deleteInput(jobId: string): Promise<void> {
    await this.redis.unlink(this.keys.input(jobId));
  }

  async putResult(jobId: string, bytes: Buffer): Promise<void> {
    await this.redis.set(this.keys.result(jobId), bytes, 'EX', Math.ceil(this.ttl.resultSeconds));
  }

  getResult(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.result(jobId));
  }

  async deleteAll(jobId: string): Promise<void> {
    await this.redis.unlink(this.keys.input(jobId), this.keys.result(jobId));
  }
}
