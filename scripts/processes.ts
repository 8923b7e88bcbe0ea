// Helpers to run the service's entry points as child processes, from source (under tsx) or
// compiled (dist/): a child is started the same way its parent was.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Absolute path of an entry point relative to the project root, e.g. entry('api/main'). */
export function entry(name: 'api/main' | 'worker/main'): string {
  return fileURLToPath(new URL(`../${name}${ext}`, import.meta.url));
}

export function spawnEntry(name: 'api/main' | 'worker/main', options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, entry(name)], { stdio: 'inherit', ...options });
}
