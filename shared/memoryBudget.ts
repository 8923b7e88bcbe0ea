// Redis memory as a budget the service keeps, rather than an OOM error it runs into.
//
// The ledger. Every stored upload has an entry in one Redis hash (`keys.ledger`): job id →
// "input:reserve:admittedAt:state", where `input` is the upload's bytes, `reserve` the bytes the job
// may still write (its result, its record's growth, its events; see reservedBytes), and `state` p
// (admitted, bytes not written yet) or w (written). Totals sit beside the entries in the same hash
// (fields "#input", "#reserve", "#pending", "#jobs"; job ids never start with "#"), and a sorted set
// (`keys.ledgerExpiry`) orders the entries by their upload's expiry.
//
// Exact under concurrency: admission, the write, and release are Lua scripts, each atomic against
// every API and worker process. Two uploads cannot both take the last bytes; a job that completes,
// fails or is deleted while others arrive subtracts its bytes once (release is idempotent: only the
// call that removes the entry subtracts).
//
// Self-correcting: admissions and usage reads first drop the entries whose upload's TTL has passed
// (no worker took it); once a minute an admission recomputes the totals from the entries, dropping
// those whose upload is gone without a release (an API that died between admission and write, a key
// deleted by hand); and both keys expire an INPUT_TTL after the last admission, by when every entry's
// upload has expired too. So a crash can leave the figures wrong for a minute at most.
//
// Admission refuses an upload when
// - the stored uploads plus this one would pass MAX_QUEUED_BYTES (unset: half of Redis's maxmemory,
//   or DEFAULT_MAX_QUEUED_BYTES when Redis has no limit), or
// - Redis's used_memory + uploads admitted but not written yet + this upload + the bytes reserved
//   for every admitted job and this one + a headroom would pass maxmemory.
// used_memory and maxmemory are read inside the script (INFO memory): the check and the
// reservation are one step, and a maxmemory changed with CONFIG SET applies at once.
//
// Under a full Redis (used_memory > maxmemory) Redis refuses a script's first command that may grow
// memory, unless the script has already changed something; so every script here deletes before it
// counts, and release works even in a full Redis.
import type { Redis } from 'ioredis';
import type { InputFormat, OutputFormat } from './jobs.js';
import type { RedisKeys } from './keys.js';

/** MAX_QUEUED_BYTES when it is unset and Redis has no maxmemory. */
export const DEFAULT_MAX_QUEUED_BYTES = 512 * 2 ** 20;
/** Kept free below maxmemory beyond every reservation: the larger of these two. */
export const HEADROOM_MIN_BYTES = 4 * 2 ** 20;
export const HEADROOM_FRACTION = 0.05;
/**
 * What one job adds to Redis besides its two images: the job hash with its return value, its
 * entries in BullMQ's lists, sets and events stream, the ledger entry (bench/redisMemory.ts
 * measures ≈ 4 KB waiting, 6.5 KB completed; docs/deploy.md, "Redis memory"), with room to spare.
 */
export const JOB_OVERHEAD_BYTES = 16 * 1024;
const RECONCILE_EVERY_MS = 60_000;
/** An entry whose bytes were never written is dropped this long after its admission. */
const WRITE_GRACE_MS = 60_000;
/** Kept after the last admission beyond INPUT_TTL, so an expired entry is always purged first. */
const LEDGER_TTL_EXTRA_MS = 60_000;

/**
 * Bytes a job may still write beyond its upload: its result (output resolution = input
 * resolution; measured on the 139 fixture photos: JPEG and WebP at quality 85 ≤ 0.31 bytes per
 * pixel, PNG ≤ 2.8; so 0.4, and raw RGB or RGBA for PNG) plus JOB_OVERHEAD_BYTES. Generous on
 * purpose: a result refused later fails its job, an upload refused now can come back.
 */
export function reservedBytes(
  input: { width: number; height: number; format: InputFormat },
  output: OutputFormat,
): number {
  const pixels = input.width * input.height;
  const perPixel = output === 'png' ? (input.format === 'jpeg' ? 3 : 4) : 0.4;
  return Math.ceil(pixels * perPixel) + JOB_OVERHEAD_BYTES;
}

export interface BudgetUsage {
  /** Bytes of stored uploads not processed yet (admitted: written or being written). */
  queuedBytes: number;
  queuedJobs: number;
  /** Bytes reserved for what the admitted jobs will still write. */
  reservedBytes: number;
  /** Bytes admitted and not written yet (not in usedMemory yet). */
  pendingBytes: number;
  /** The bound in effect (MAX_QUEUED_BYTES, or derived from maxmemory). */
  maxQueuedBytes: number;
  /** Redis INFO memory. */
  usedMemory: number;
  /** 0: Redis has no limit. */
  maxMemory: number;
  headroom: number;
}

export type RefusalReason = 'too-large' | 'queue-full' | 'memory-full';

/** An upload the budget cannot take now (or, for too-large, ever). */
export class BudgetRefusal extends Error {
  override name = 'BudgetRefusal';
  constructor(
    readonly reason: RefusalReason,
    readonly bytes: number,
    readonly usage: BudgetUsage,
  ) {
    super(`upload of ${bytes} bytes refused: ${reason}`);
  }
}

const PRELUDE = `
local ledger, expiry = KEYS[1], KEYS[2]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Numbers as Redis reads integers (Lua would pass -0 as "-0", which HINCRBY refuses).
local function int(n) return string.format('%d', n) end
local function parse(v)
  local input, reserve, at, state = string.match(v, '^(%d+):(%d+):(%d+):(%a)$')
  return tonumber(input), tonumber(reserve), tonumber(at), state
end
-- Deletions first: in a full Redis a script may go on writing once it has changed something.
local function forget(id, v)
  redis.call('HDEL', ledger, id)
  redis.call('ZREM', expiry, id)
  local input, reserve, _, state = parse(v)
  redis.call('HINCRBY', ledger, '#input', int(-input))
  redis.call('HINCRBY', ledger, '#reserve', int(-reserve))
  redis.call('HINCRBY', ledger, '#jobs', -1)
  if state == 'p' then redis.call('HINCRBY', ledger, '#pending', int(-input)) end
end
local function purge(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 100)) do
    local v = redis.call('HGET', ledger, id)
    if v then forget(id, v) else redis.call('ZREM', expiry, id) end
  end
end
local function totals()
  local t = redis.call('HMGET', ledger, '#input', '#reserve', '#pending', '#jobs')
  return tonumber(t[1]) or 0, tonumber(t[2]) or 0, tonumber(t[3]) or 0, tonumber(t[4]) or 0
end
local function memory()
  local info = redis.call('INFO', 'memory')
  return tonumber(string.match(info, 'used_memory:(%d+)')), tonumber(string.match(info, 'maxmemory:(%d+)'))
end
-- ARGV[1..4] of usage and admit: configured MAX_QUEUED_BYTES (0: unset), default without
-- maxmemory, headroom minimum, headroom fraction.
local function figures()
  local used, maxmem = memory()
  local configured = tonumber(ARGV[1])
  local maxQueued = configured
  if configured == 0 then
    if maxmem > 0 then maxQueued = math.floor(maxmem / 2) else maxQueued = tonumber(ARGV[2]) end
  end
  local headroom = 0
  if maxmem > 0 then headroom = math.max(tonumber(ARGV[3]), math.floor(maxmem * tonumber(ARGV[4]))) end
  local queued, reserved, pending, jobs = totals()
  return {queued, jobs, reserved, pending, maxQueued, used, maxmem, headroom}
end
-- The totals again from the entries, dropping those whose upload is gone without a release.
local function reconcile(now, grace, inputPrefix)
  local all = redis.call('HGETALL', ledger)
  local input, reserve, pending, jobs = 0, 0, 0, 0
  for i = 1, #all, 2 do
    local id = all[i]
    if string.sub(id, 1, 1) ~= '#' then
      local b, r, at, state = parse(all[i + 1])
      local lost = (state == 'w' and redis.call('EXISTS', inputPrefix .. id) == 0)
        or (state == 'p' and now - at > grace)
      if lost then
        redis.call('HDEL', ledger, id)
        redis.call('ZREM', expiry, id)
      else
        input, reserve, jobs = input + b, reserve + r, jobs + 1
        if state == 'p' then pending = pending + b end
      end
    end
  end
  redis.call('HSET', ledger, '#input', int(input), '#reserve', int(reserve), '#pending', int(pending),
    '#jobs', jobs, '#reconciled', int(now))
end
`;

/** KEYS: ledger, expiry. ARGV: the four of figures(). Returns figures(). */
const USAGE = `${PRELUDE}
purge(now_ms())
return figures()`;

/**
 * KEYS: ledger, expiry. ARGV: the four of figures(), job id, input bytes, reserve bytes, input
 * TTL ms, ledger TTL ms, reconcile period ms, write grace ms, input key prefix.
 * Returns {verdict, figures()...}: verdict "ok" (figures after admission) or a RefusalReason.
 */
const ADMIT = `${PRELUDE}
local id, input, reserve = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
purge(now)
local f = figures()
local queued, reserved, pending, maxQueued, used, maxmem, headroom = f[1], f[3], f[4], f[5], f[6], f[7], f[8]
if redis.call('EXISTS', ledger) == 1 and (maxmem == 0 or used < maxmem) then
  local last = tonumber(redis.call('HGET', ledger, '#reconciled')) or 0
  if now - last >= tonumber(ARGV[10]) then
    reconcile(now, tonumber(ARGV[11]), ARGV[12])
    f = figures()
    queued, reserved, pending = f[1], f[3], f[4]
  end
end
local verdict = 'ok'
if input > maxQueued then verdict = 'too-large'
elseif queued + input > maxQueued then verdict = 'queue-full'
elseif maxmem > 0 and used + pending + input + reserved + reserve + headroom > maxmem then verdict = 'memory-full'
elseif redis.call('HEXISTS', ledger, id) == 0 then
  redis.call('HSET', ledger, id, string.format('%d:%d:%d:p', input, reserve, now))
  redis.call('HINCRBY', ledger, '#input', int(input))
  redis.call('HINCRBY', ledger, '#reserve', int(reserve))
  redis.call('HINCRBY', ledger, '#pending', int(input))
  redis.call('HINCRBY', ledger, '#jobs', 1)
  redis.call('ZADD', expiry, int(now + tonumber(ARGV[8])), id)
  redis.call('PEXPIRE', ledger, ARGV[9])
  redis.call('PEXPIRE', expiry, ARGV[9])
  f = figures()
end
return {verdict, unpack(f)}`;

/**
 * Stores an admitted upload and counts it as written, atomically. KEYS: ledger, input key.
 * ARGV: job id, the bytes, TTL seconds. 1: stored and counted. 0: the admission lapsed (dropped as
 * never written): nothing is stored. One script rather than a MULTI of SET and a script: two
 * commands fewer per upload, and ioredis sends the bytes without copying them into a pipeline.
 */
const WRITE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
local input, reserve, at, state = string.match(v, '^(%d+):(%d+):(%d+):(%a)$')
if state == 'p' then
  redis.call('HSET', KEYS[1], ARGV[1], input .. ':' .. reserve .. ':' .. at .. ':w')
  redis.call('HINCRBY', KEYS[1], '#pending', string.format('%d', -tonumber(input)))
end
return 1`;

/** KEYS: ledger, expiry, then the keys to delete. ARGV: job id. Returns how many keys it deleted. */
const RELEASE = `${PRELUDE}
local deleted = 0
if #KEYS > 2 then deleted = redis.call('UNLINK', unpack(KEYS, 3)) end
local v = redis.call('HGET', ledger, ARGV[1])
if v then forget(ARGV[1], v) end
return deleted`;

/** KEYS: ledger, expiry. ARGV: write grace ms, input key prefix. */
const RECONCILE = `${PRELUDE}
if redis.call('EXISTS', ledger) == 1 then reconcile(now_ms(), tonumber(ARGV[1]), ARGV[2]) end
return 1`;

type Arg = string | number | Buffer;
interface BudgetCommands {
  turdifyBudgetUsage(...args: Arg[]): Promise<(string | number)[]>;
  turdifyBudgetAdmit(...args: Arg[]): Promise<(string | number)[]>;
  turdifyBudgetWrite(...args: Arg[]): Promise<number>;
  turdifyBudgetRelease(...args: Arg[]): Promise<number>;
  turdifyBudgetReconcile(...args: Arg[]): Promise<number>;
}

/** The scripts, defined once per connection (ioredis sends EVALSHA, loading them when missing). */
function scripts(redis: Redis): BudgetCommands {
  const r = redis as unknown as Partial<BudgetCommands>;
  if (!r.turdifyBudgetAdmit) {
    redis.defineCommand('turdifyBudgetUsage', { numberOfKeys: 2, lua: USAGE });
    redis.defineCommand('turdifyBudgetAdmit', { numberOfKeys: 2, lua: ADMIT });
    redis.defineCommand('turdifyBudgetWrite', { numberOfKeys: 2, lua: WRITE });
    redis.defineCommand('turdifyBudgetRelease', { lua: RELEASE });
    redis.defineCommand('turdifyBudgetReconcile', { numberOfKeys: 2, lua: RECONCILE });
  }
  return r as BudgetCommands;
}

const toUsage = (f: (string | number)[]): BudgetUsage => {
  const n = f.map(Number);
  return {
    queuedBytes: n[0]!,
    queuedJobs: n[1]!,
    reservedBytes: n[2]!,
    pendingBytes: n[3]!,
    maxQueuedBytes: n[4]!,
    usedMemory: n[5]!,
    maxMemory: n[6]!,
    headroom: n[7]!,
  };
};

export interface BudgetOptions {
  /** MAX_QUEUED_BYTES; unset: derived from maxmemory. */
  maxQueuedBytes?: number;
  inputTtlSeconds: number;
}

export class MemoryBudget {
  private readonly cmd: BudgetCommands;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: BudgetOptions,
  ) {
    this.cmd = scripts(redis);
  }

  private get limitArgs(): number[] {
    return [
      this.options.maxQueuedBytes ?? 0,
      DEFAULT_MAX_QUEUED_BYTES,
      HEADROOM_MIN_BYTES,
      HEADROOM_FRACTION,
    ];
  }

  private get inputPrefix(): string {
    return this.keys.input('');
  }

  async usage(): Promise<BudgetUsage> {
    return toUsage(
      await this.cmd.turdifyBudgetUsage(this.keys.ledger, this.keys.ledgerExpiry, ...this.limitArgs),
    );
  }

  /** Reserves room for an upload of inputBytes; throws BudgetRefusal when there is none. */
  async admit(jobId: string, inputBytes: number, reserveBytes: number): Promise<BudgetUsage> {
    const ttlMs = Math.ceil(this.options.inputTtlSeconds * 1000);
    const [verdict, ...figures] = await this.cmd.turdifyBudgetAdmit(
      this.keys.ledger,
      this.keys.ledgerExpiry,
      ...this.limitArgs,
      jobId,
      inputBytes,
      Math.ceil(reserveBytes),
      ttlMs,
      ttlMs + LEDGER_TTL_EXTRA_MS,
      RECONCILE_EVERY_MS,
      WRITE_GRACE_MS,
      this.inputPrefix,
    );
    const usage = toUsage(figures);
    if (verdict !== 'ok') throw new BudgetRefusal(verdict as RefusalReason, inputBytes, usage);
    return usage;
  }

  /** Writes an admitted upload and counts it as written, in one script. */
  async write(jobId: string, bytes: Buffer, ttlSeconds: number): Promise<void> {
    const key = this.keys.input(jobId);
    const stored = await this.cmd.turdifyBudgetWrite(
      this.keys.ledger,
      key,
      jobId,
      bytes,
      Math.ceil(ttlSeconds),
    );
    if (stored !== 1) throw new Error(`the admission of upload ${jobId} lapsed before its write`);
  }

  /** Deletes the keys and gives the job's bytes back (once, however often it is called). */
  async release(jobId: string, deleteKeys: string[]): Promise<number> {
    return this.cmd.turdifyBudgetRelease(
      2 + deleteKeys.length,
      this.keys.ledger,
      this.keys.ledgerExpiry,
      ...deleteKeys,
      jobId,
    );
  }

  /** Recomputes the totals now (admissions do it once a minute). */
  async reconcile(graceMs = WRITE_GRACE_MS): Promise<void> {
    await this.cmd.turdifyBudgetReconcile(
      this.keys.ledger,
      this.keys.ledgerExpiry,
      graceMs,
      this.inputPrefix,
    );
  }
}
