// What Redis did between two moments: commands by name (INFO commandstats) and its CPU time
// (INFO cpu), the benchmark's own INFO calls left out.
import type { Redis } from 'ioredis';

export interface RedisStats {
  calls: Record<string, number>;
  usec: Record<string, number>;
  /** used_cpu_user + used_cpu_sys, seconds: the server's main thread and its I/O. */
  cpuSeconds: number;
  /** Bytes received from and sent to clients (INFO stats). */
  netIn: number;
  netOut: number;
}

export async function redisStats(redis: Redis): Promise<RedisStats> {
  const text = await redis.info('all');
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls[m[1]!] = Number(m[2]);
    usec[m[1]!] = Number(m[3]);
  }
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    calls,
    usec,
    cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'),
    netIn: field('total_net_input_bytes'),
    netOut: field('total_net_output_bytes'),
  };
}

export interface RedisDelta extends RedisStats {
  totalCalls: number;
  /** Microseconds spent executing commands (commandstats usec), all commands. */
  totalUsec: number;
  /** EVAL + EVALSHA (+ FCALL): BullMQ's Lua scripts and the rate limiter's. */
  scripts: number;
}

const IGNORED = new Set(['info']);

export function redisDelta(before: RedisStats, after: RedisStats): RedisDelta {
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const [name, n] of Object.entries(after.calls)) {
    const d = n - (before.calls[name] ?? 0);
    if (d > 0 && !IGNORED.has(name)) {
      calls[name] = d;
      usec[name] = after.usec[name]! - (before.usec[name] ?? 0);
    }
  }
  const total = (names: string[]) => names.reduce((a, k) => a + (calls[k] ?? 0), 0);
  return {
    calls,
    usec,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    netIn: after.netIn - before.netIn,
    netOut: after.netOut - before.netOut,
    totalCalls: total(Object.keys(calls)),
    totalUsec: Object.values(usec).reduce((a, b) => a + b, 0),
    scripts: total(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall']),
  };
}

/** "evalsha 9.0, hget 3.0, …": the commands per job, most first. */
export function perJob(delta: RedisDelta, jobs: number, top = 8): string {
  return Object.entries(delta.calls)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, n]) => `${k} ${(n / jobs).toFixed(1)}`)
    .join(', ');
}
