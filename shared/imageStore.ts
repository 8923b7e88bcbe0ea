// Where image bytes live between the API and the workers. An interface, so a different storage
// (disk, S3) can replace Redis without touching the API or the worker.
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import { MemoryBudget, type BudgetUsage } from './memoryBudget.js';

export interface ImageStore {
  /**
   * Stores an upload if the budget has room for it and for `reserveBytes` more (what its job will
   * write: memoryBudget.ts, reservedBytes); throws BudgetRefusal when it has not.
   */
  putInput(jobId: string, bytes: Buffer, reserveBytes?: number): Promise<void>;
  getInput(jobId: string): Promise<Buffer | null>;
  /** Removes the upload and gives its bytes back to the budget. */
  deleteInput(jobId: string): Promise<void>;
  putResult(jobId: string, bytes: Buffer): Promise<void>;
  getResult(jobId: string): Promise<Buffer | null>;
  /** Removes everything stored for the job. */
  deleteAll(jobId: string): Promise<void>;
  /** Stored uploads and the memory they live in, for /readyz and /metrics. */
  usage(): Promise<BudgetUsage>;
}

export interface ImageStoreOptions {
  inputSeconds: number;
  resultSeconds: number;
  /** MAX_QUEUED_BYTES (only the API admits uploads); unset: derived from Redis's maxmemory. */
  maxQueuedBytes?: number;
}

/**
 * Binary values under their own keys, each with a TTL, so nothing outlives its retention; uploads
 * are admitted and given back through the MemoryBudget ledger.
 */
export class RedisImageStore implements ImageStore {
  private readonly budget: MemoryBudget;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: ImageStoreOptions,
  ) {
    this.budget = new MemoryBudget(redis, keys, {
      inputTtlSeconds: options.inputSeconds,
      ...(options.maxQueuedBytes ? { maxQueuedBytes: options.maxQueuedBytes } : {}),
    });
  }

  async putInput(jobId: string, bytes: Buffer, reserveBytes = 0): Promise<void> {
    await this.budget.admit(jobId, bytes.length, reserveBytes);
    try {
      await this.budget.write(jobId, bytes, this.options.inputSeconds);
    } catch (err) {
      await this.budget.release(jobId, [this.keys.input(jobId)]).catch(() => {});
      throw err;
    }
  }

  getInput(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.input(jobId));
  }

  async deleteInput(jobId: string): Promise<void> {
    await this.budget.release(jobId, [this.keys.input(jobId)]);
  }

  async putResult(jobId: string, bytes: Buffer): Promise<void> {
    await this.redis.set(this.keys.result(jobId), bytes, 'EX', Math.ceil(this.options.resultSeconds));
  }

  getResult(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.result(jobId));
  }

  async deleteAll(jobId: string): Promise<void> {
    await this.budget.release(jobId, [this.keys.input(jobId), this.keys.result(jobId)]);
  }

  usage(): Promise<BudgetUsage> {
    return this.budget.usage();
  }
}
