// The compiled service (dist/), as `npm ci` builds it (package.json "prepare") and the npm scripts
// and images run it. Tests of those run against dist/, so they need it current.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

/** Fails, saying what to do, unless dist/ is at least as new as every source file it is built from. */
export function assertBuilt(): void {
  const built = ['dist/worker/main.js', 'dist/api/main.js', 'dist/scripts/keys.js'].map((f) =>
    join(repoRoot, f),
  );
  const missing = built.filter((f) => !existsSync(f));
  assert.deepEqual(missing, [], 'dist/ is not built: run `npm run build` (npm ci does it)');
  const oldest = Math.min(...built.map((f) => statSync(f).mtimeMs));
  const stale = ['api', 'shared', 'worker', 'scripts'].flatMap((dir) =>
    readdirSync(join(repoRoot, dir), { recursive: true, withFileTypes: true })
      .filter(
        (e) => e.isFile() && e.name.endsWith('.ts') && statSync(join(e.parentPath, e.name)).mtimeMs > oldest,
      )
      .map((e) => join(e.parentPath, e.name)),
  );
  assert.deepEqual(stale, [], 'dist/ is older than these sources: run `npm run build`');
}
