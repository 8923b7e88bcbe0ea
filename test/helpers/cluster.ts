// The service as separate OS processes on this machine, for failure tests: the API and worker
// processes (Redis comes from ./redis.ts). Each process leads its own process group so a test can
// SIGKILL it (and anything it started) and clean up whatever happens.
// Workers get their own UTS namespace and hostname (`unshare --uts`, root only) where that works, so
// they show up as separate hosts in GET /workers; they still share this machine's network and CPUs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './fixtures.js';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Everything it printed (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once it has exited; rejects after timeoutMs. */
  exited(timeoutMs: number): Promise<number | string>;
  /** Sends a signal to the process group. */
  signal(sig: NodeJS.Signals): void;
  running(): boolean;
}

/** Follows a child started with `detached: true` (its own process group), as a Proc. */
export function track(name: string, child: ChildProcess): Proc {
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    name,
    child,
    pid: child.pid!,
    output: () => output,
    exited: (timeoutMs) =>
      Promise.race([
        exit,
        sleep(timeoutMs, undefined, { ref: false }).then(() => {
          throw new Error(
            `${name} (pid ${child.pid}) still running after ${timeoutMs} ms\n${output.slice(-4000)}`,
          );
        }),
      ]),
    signal: (sig) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    },
    running: () => child.exitCode === null && child.signalCode === null,
  };
}

let unshareWorks: boolean | undefined;
/** True when `unshare --uts` can give a child its own hostname (root on Linux). */
export function canUnshareUts(): boolean {
  unshareWorks ??=
    process.platform === 'linux' &&
    spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname turdify-probe'], { stdio: 'ignore' }).status === 0;
  return unshareWorks;
}

/** Starts api/main.ts or worker/main.ts from source under tsx, in a process group of its own. */
export function startService(
  kind: 'api' | 'worker',
  env: Record<string, string>,
  opts: { hostname?: string } = {},
): Proc {
  const node = [process.execPath, '--import', 'tsx', join(repoRoot, `${kind}/main.ts`)];
  const [cmd, args] =
    opts.hostname && canUnshareUts()
      ? [
          'unshare',
          ['--uts', 'sh', '-c', `hostname "$1" && shift && exec "$@"`, 'sh', opts.hostname, ...node],
        ]
      : [node[0]!, node.slice(1)];
  const child = spawn(cmd, args as string[], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return track(opts.hostname ?? kind, child);
}

/** Polls check() every intervalMs until it returns a value other than undefined/false. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
