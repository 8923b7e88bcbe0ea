// The README's cover-mode examples ask for what they say: each curl line's options pass the API's
// validation, except the one the README says is refused, which fails naming its option.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { parseOptions } from '../../api/options.js';
import { HttpProblem } from '../../api/problem.js';
import { repoRoot } from '../helpers/fixtures.js';

it("accepts the README's cover examples and refuses the one it says is refused", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Cover modes'),
    readme.indexOf('## Be told when a job ends'),
  );
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!.split('\n');
  let checked = 0;
  for (const [i, line] of block.entries()) {
    if (!line.startsWith('curl ')) continue;
    const form: Record<string, string> = {};
    for (const m of line.matchAll(/-F (\w+)=(\S+)/g)) if (m[1] !== 'image') form[m[1]!] = m[2]!;
    const url = /'?(http:\/\/\S+?)'?(?:\s|$)/.exec(line)![1]!;
    const query = Object.fromEntries(new URL(url).searchParams);
    const parse = () => parseOptions(query, form, { minConfidence: 0.5, inputFormat: 'jpeg' });
    const comment = block[i - 1] ?? '';
    if (/Refused/.test(comment)) {
      const option = /"(\w+): does not apply/.exec(comment)![1]!;
      assert.throws(
        parse,
        (e: unknown) => e instanceof HttpProblem && e.message.startsWith(`${option}:`),
        line,
      );
    } else {
      assert.doesNotThrow(parse, line);
    }
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} examples found`);
});
