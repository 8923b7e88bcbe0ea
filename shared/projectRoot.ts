// Where the checkout or image keeps package.json and assets/, found from this file: a module of its
// own so the API finds its pages without loading the image code (sharp, libvips) beside it.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * The nearest directory at or above `from` holding both package.json and assets/. Works from source
 * (shared/ via tsx) and compiled (dist/shared/) alike.
 */
export function findProjectRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ;) {
    if (existsSync(join(dir, 'package.json')) && isDirectory(join(dir, 'assets'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find the project root (a directory with package.json and assets/) above ${from}`,
      );
    }
    dir = parent;
  }
}
