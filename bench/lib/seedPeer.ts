// The original 2021 app (../shared/peers/seed-python, see its README) as a benchmark peer: built by
// its own setup.sh (apt packages + a small C++ module, idempotent), run under uvicorn with N workers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../test/helpers/redis.js';
import { repoRoot } from './photos.js';

export const seedPeerDir = resolve(repoRoot, '../shared/peers/seed-python');

export interface SeedPeer {
  url: string;
  /** The uvicorn supervisor's pid (its workers are its children). */
  pid: number;
  stop(): Promise<void>;
}

/** Runs setup.sh; returns the built peer's directory, or throws saying precisely why not. */
export function buildSeedPeer(): string {
  const script = resolve(seedPeerDir, 'setup.sh');
  if (!existsSync(script)) throw new Error(`no seed peer at ${seedPeerDir} (setup.sh missing)`);
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 15 * 60_000 });
  const dir = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !dir || !existsSync(dir)) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`seed peer setup.sh failed (exit ${r.status ?? r.signal}): ${why}`);
  }
  return dir;
}

export async function startSeedPeer(dir: string, workers = 2): Promise<SeedPeer> {
  const port = await freePort();
  const args = ['-m', 'uvicorn', 'app:app', '--app-dir', dir, '--host', '127.0.0.1'];
  // Its own process group: uvicorn's worker processes go with it.
  const child = spawn(
    '/usr/bin/python3',
    [...args, '--port', String(port), '--workers', String(workers), '--log-level', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const url = `http://127.0.0.1:${port}`;
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => kill('SIGKILL'))]);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the seed peer exited (${child.exitCode}) before answering`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the seed peer did not answer /health within 60 s');
    }
    await sleep(200);
  }
  return { url, pid: child.pid!, stop };
}
