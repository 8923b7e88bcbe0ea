// What the CLI prints: the bars on a terminal (cli-progress, drawn into a stand-in TTY stream), the
// quiet lines and the --json objects otherwise.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { barReporter, lineReporter, oneLine, outcomeJson, type Outcome } from '../../cli/report.js';

const ID = '0b5c6f1e-8f0a-4c11-9d55-3f0e8c1f2a77';
const done: Outcome = { file: 'a.jpg', id: ID, status: 'completed', faces: 2, output: 'a.turdified.jpg' };
const bad: Outcome = {
  file: 'notes.jpg',
  status: 'failed',
  error: 'not an image (415 unsupported-media-type)',
};

function sink(tty: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  Object.assign(stream, { isTTY: tty, columns: 120, rows: 40, cursorTo: () => true });
  return { stream, text: () => text };
}

describe('CLI output', () => {
  it('on a terminal: a bar per file in flight, an overall one, outcomes logged above', async () => {
    const term = sink(true);
    const r = barReporter(term.stream, 2);
    r.update('a.jpg', 'covering faces', 60);
    r.update('notes.jpg', 'uploading', 0);
    // cli-progress redraws on a timer (10 a second): wait for the frame with both files.
    for (let i = 0; i < 250 && !/60% a\.jpg covering faces/.test(term.text()); i++) await sleep(20);
    r.end(done);
    r.end(bad);
    r.finish();
    const text = term.text();
    assert.match(text, /60% a\.jpg covering faces/);
    assert.match(text, /0% notes\.jpg uploading/);
    assert.ok(text.includes('a.jpg → a.turdified.jpg (2 faces)\n'));
    assert.ok(text.includes('notes.jpg: not an image (415 unsupported-media-type)\n'));
    assert.match(text, /100% all 2\/2 files, 1 failed/);
  });

  it('off a terminal: results on stdout, failures and their count on stderr', () => {
    const [stdout, stderr] = [sink(false), sink(false)];
    const r = lineReporter({ stdout: stdout.stream, stderr: stderr.stream }, false);
    r.end(done);
    r.end({ file: 'b.jpg', id: ID, status: 'queued' });
    r.end(bad);
    r.finish();
    assert.equal(stdout.text(), `a.jpg → a.turdified.jpg (2 faces)\n${ID}\tb.jpg\n`);
    assert.equal(
      stderr.text(),
      'notes.jpg: not an image (415 unsupported-media-type)\nturdify: 1 of 3 files failed\n',
    );
  });

  it('--json: every field on every line, null where it does not apply', () => {
    assert.deepEqual(JSON.parse(outcomeJson(done)), {
      id: ID,
      file: 'a.jpg',
      status: 'completed',
      faces: 2,
      output: 'a.turdified.jpg',
      error: null,
    });
    assert.deepEqual(JSON.parse(outcomeJson(bad)), {
      id: null,
      file: 'notes.jpg',
      status: 'failed',
      faces: null,
      output: null,
      error: 'not an image (415 unsupported-media-type)',
    });
  });

  it('puts a multi-line message on one line, repeats dropped, cut to a length', () => {
    assert.equal(oneLine('bad seek\nbad seek\n  corrupt frame \n'), 'bad seek; corrupt frame');
    assert.equal(oneLine('x'.repeat(50), 10), `${'x'.repeat(9)}…`);
  });
});
