#!/usr/bin/env node
// `turdify FILE|DIR… [options]` (`npx turdify`, `npm run cli -- …`): the command-line client.
// Exit status 0 when every file was turdified (or submitted, with --no-wait), 1 when any failed,
// 2 for a usage error.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { createApiClient } from './api.js';
import { parseArgs, UsageError } from './args.js';
import { barReporter, lineReporter, type Reporter } from './report.js';
import { run } from './run.js';

/** package.json's version, found upward from here (cli/ under tsx, dist/cli/ when built). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'turdify' && pkg.version) return pkg.version;
    } catch {
      // not here: look further up
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseArgs(argv, version());
  } catch (err) {
    // commander has printed help, the version or what was wrong already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      process.stderr.write(`turdify: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const bars = Boolean(process.stdout.isTTY && process.stderr.isTTY) && opts.wait && !opts.json;
  const makeReporter = (files: number): Reporter => {
    if (!bars) return lineReporter(process, opts.json);
    const reporter = barReporter(process.stderr, files);
    // Ctrl-C: give the cursor back (the bars hide it); jobs already submitted run on.
    process.once('SIGINT', () => {
      reporter.finish();
      process.exit(130);
    });
    return reporter;
  };
  const api = createApiClient(opts.server, opts.apiKey);
  const warn = (line: string) => process.stderr.write(`${line}\n`);
  const failed = await run(opts, api, makeReporter, warn);
  return failed > 0 ? 1 : 0;
}

// `turdify … | head`: a reader that stops reading is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`turdify: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
