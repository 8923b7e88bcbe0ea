// The README's configuration table documents every setting the service reads, and its examples
// leave no files behind in the checkout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { configSchema } from '../../shared/config.js';
import { repoRoot } from '../helpers/fixtures.js';

it('documents every configuration variable in the README', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'));
  const missing = Object.keys(configSchema.shape).filter((k) => !table.includes(`\`${k}\``));
  assert.deepEqual(missing, [], 'configuration variables missing from the README table');
});

it("leaves nothing in the working tree when the README's examples are run", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const shell = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split('\n'))
    .filter((line) => !line.trimStart().startsWith('#'))
    .map((line) => line.replace(/<[^>]*>/g, 'PLACEHOLDER'))
    .join('\n');
  // Files the examples write: curl -o FILE, and shell redirections > FILE.
  const written = [...shell.matchAll(/(?:\s-o\s+|[^2&]>\s*)([^\s;|&)]+)/g)].map((m) => m[1]!);
  assert.ok(written.length > 0, 'the examples save results somewhere');
  const inTree = written.filter(
    (path) =>
      !/^(\/|\$\{?TMPDIR)/.test(path) &&
      spawnSync('git', ['check-ignore', '-q', path], { cwd: repoRoot }).status !== 0,
  );
  assert.deepEqual(inTree, [], 'paths inside the checkout that git does not ignore');
});
