// The README's configuration table documents every setting the service reads.
import assert from 'node:assert/strict';
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
