import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EMOJIS } from '../../shared/emojis.js';
import {
  MAX_EMOJI_SIZE,
  UnknownEmojiError,
  createEmojiRenderer,
  defaultAssetsDir,
  listEmojiFiles,
  verifyEmojiAssets,
  type EmojiImage,
} from '../../shared/emojiRenderer.js';
import { findProjectRoot } from '../../shared/projectRoot.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const names = EMOJIS.map((e) => e.name);

const alphaAt = (img: EmojiImage, x: number, y: number): number => img.data[(y * img.width + x) * 4 + 3]!;

/** Fraction of pixels in the square [lo, hi) × [lo, hi) (fractions of the side) with alpha >= min. */
function opaqueFraction(img: EmojiImage, lo: number, hi: number, min: number): number {
  const a = Math.floor(img.width * lo);
  const b = Math.ceil(img.width * hi);
  let n = 0;
  for (let y = a; y < b; y++) for (let x = a; x < b; x++) if (alphaAt(img, x, y) >= min) n++;
  return n / ((b - a) * (b - a));
}

/** Mean alpha (0..255) of the four corner squares, each `frac` of the side. */
function cornerMeanAlpha(img: EmojiImage, frac: number): number {
  const s = img.width;
  const k = Math.max(1, Math.round(s * frac));
  let sum = 0;
  for (let y = 0; y < k; y++) {
    for (let x = 0; x < k; x++) {
      sum += alphaAt(img, x, y) + alphaAt(img, s - 1 - x, y) + alphaAt(img, x, s - 1 - y);
      sum += alphaAt(img, s - 1 - x, s - 1 - y);
    }
  }
  return sum / (4 * k * k);
}

const tmpDirs: string[] = [];
const tempAssets = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'turdify-emoji-'));
  tmpDirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

describe('emoji assets', () => {
  test('the default assets dir is <repo>/assets/emoji and has one SVG per catalogue name', () => {
    assert.equal(findProjectRoot(), repoRoot);
    assert.equal(defaultAssetsDir(), join(repoRoot, 'assets', 'emoji'));
    const files = listEmojiFiles();
    assert.deepEqual(
      files.map((f) => f.name),
      names,
    );
    for (const { file } of files) assert.ok(existsSync(file), `${file} exists`);
  });

  test('the project root is found from any depth below it (source or dist/)', () => {
    assert.equal(findProjectRoot(join(repoRoot, 'dist', 'shared')), repoRoot);
    assert.equal(findProjectRoot(join(repoRoot, 'shared')), repoRoot);
    assert.throws(() => findProjectRoot(tempAssets()), /project root/);
  });

  test('the SVGs are square, self-contained and script-free', () => {
    for (const { name, file } of listEmojiFiles()) {
      // The SVG namespace is the one URL allowed (an identifier, never fetched).
      const svg = readFileSync(file, 'utf8').replace(' xmlns="http://www.w3.org/2000/svg"', '');
      const viewBox = /viewBox="0 0 (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)"/.exec(svg);
      assert.ok(viewBox, `${name}: has a viewBox from 0 0`);
      assert.equal(viewBox[1], viewBox[2], `${name}: viewBox is square`);
      assert.doesNotMatch(svg, /href/i, `${name}: no links`);
      assert.doesNotMatch(
        svg,
        /<(script|text|image|foreignObject|style|use|font)\b/i,
        `${name}: no forbidden elements`,
      );
      assert.doesNotMatch(svg, /\bon[a-z]+\s*=/i, `${name}: no event handlers`);
      assert.doesNotMatch(svg, /url\((?!#)/i, `${name}: url() only to local fragments`);
      assert.doesNotMatch(svg, /(https?|file|data):/i, `${name}: no external or embedded resources`);
    }
  });

  test('verifyEmojiAssets passes on the real assets', async () => {
    const checked = await verifyEmojiAssets();
    assert.deepEqual(
      checked.map((f) => f.name),
      names,
    );
  });

  test('verifyEmojiAssets names every missing, broken or blank asset', async () => {
    const dir = tempAssets();
    for (const name of names.slice(3))
      copyFileSync(join(defaultAssetsDir(), `${name}.svg`), join(dir, `${name}.svg`));
    writeFileSync(join(dir, `${names[0]}.svg`), '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10');
    writeFileSync(
      join(dir, `${names[1]}.svg`),
      '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128"/>',
    );
    // names[2] is missing.
    await assert.rejects(verifyEmojiAssets({ assetsDir: dir }), (err: Error) => {
      assert.match(err.message, new RegExp(`${names[0]}: .* does not render`));
      assert.match(err.message, new RegExp(`${names[1]}: .* renders almost empty`));
      assert.match(err.message, new RegExp(`${names[2]}: missing`));
      for (const name of names.slice(3)) assert.doesNotMatch(err.message, new RegExp(`${name}:`));
      return true;
    });
  });
});

describe('createEmojiRenderer', () => {
  const renderer = createEmojiRenderer();

  for (const name of names) {
    for (const size of [16, 100, 777]) {
      test(`${name} at ${size} px: an opaque-centred RGBA square with clear corners`, async () => {
        const img = await renderer.render(name, size);
        assert.equal(img.width, size);
        assert.equal(img.height, size);
        assert.equal(img.channels, 4);
        assert.equal(img.data.length, size * size * 4);
        const centre = opaqueFraction(img, 0.2, 0.8, 250);
        assert.ok(
          centre >= 0.9,
          `${name}@${size}: ${(centre * 100).toFixed(1)}% of the central 60% is opaque`,
        );
        for (const [x, y] of [
          [0, 0],
          [size - 1, 0],
          [0, size - 1],
          [size - 1, size - 1],
        ] as const) {
          assert.ok(alphaAt(img, x, y) <= 8, `${name}@${size}: corner (${x},${y}) is transparent`);
        }
        const corners = cornerMeanAlpha(img, 0.06);
        assert.ok(corners <= 40, `${name}@${size}: corner squares mean alpha ${corners.toFixed(1)}`);
      });
    }
  }

  test('large sizes are drawn from the vector, not upscaled (edges stay sharp)', async () => {
    for (const name of names) {
      const img = await renderer.render(name, 777);
      let soft = 0;
      for (let i = 3; i < img.data.length; i += 4) if (img.data[i]! > 5 && img.data[i]! < 250) soft++;
      // Anti-aliased outline pixels: ~0.4 % when rasterised at 777 px; ~4 % when a 128 px raster is upscaled.
      const frac = soft / (777 * 777);
      assert.ok(frac < 0.015, `${name}: ${(frac * 100).toFixed(2)}% of pixels are partially transparent`);
    }
  });

  test('size 1 works', async () => {
    const img = await renderer.render('poop', 1);
    assert.equal(img.width, 1);
    assert.equal(img.data.length, 4);
  });

  test('a repeated call returns the cached image and buffer', async () => {
    const a = await renderer.render('grin', 64);
    const b = await renderer.render('grin', 64);
    assert.equal(b, a);
    assert.equal(b.data, a.data);
    const other = await renderer.render('grin', 65);
    assert.notEqual(other.data, a.data);
  });

  test('concurrent calls for the same key share one render', async () => {
    const r = createEmojiRenderer();
    const results = await Promise.all([
      r.render('ghost', 300),
      r.render('ghost', 300),
      r.render('ghost', 300),
    ]);
    assert.equal(results[1], results[0]);
    assert.equal(results[2], results[0]);
    // Even with the cache disabled.
    const uncached = createEmojiRenderer({ maxCacheEntries: 0 });
    const [x, y] = await Promise.all([uncached.render('alien', 90), uncached.render('alien', 90)]);
    assert.equal(x, y);
    assert.notEqual(await uncached.render('alien', 90), x);
  });

  test('the cache is a bounded LRU', async () => {
    const r = createEmojiRenderer({ maxCacheEntries: 2 });
    const a = await r.render('poop', 40);
    const b = await r.render('grin', 40);
    assert.equal(await r.render('poop', 40), a); // touch: grin is now the least recently used
    await r.render('ghost', 40); // evicts grin
    assert.equal(await r.render('poop', 40), a);
    const b2 = await r.render('grin', 40);
    assert.notEqual(b2, b);
    assert.deepEqual(b2.data, b.data);
  });

  test('images over the byte budget are returned but not kept', async () => {
    const r = createEmojiRenderer({ maxCacheBytes: 100 * 100 * 4 });
    const small = await r.render('poop', 100);
    const big = await r.render('poop', 101);
    assert.equal(await r.render('poop', 100), small);
    assert.notEqual(await r.render('poop', 101), big);
  });

  test('an unknown name rejects with an error naming it', async () => {
    for (const bad of ['nope', '', '__proto__', 'constructor', '../package', 'POOP']) {
      await assert.rejects(renderer.render(bad, 64), (err: Error) => {
        assert.ok(err instanceof UnknownEmojiError);
        assert.ok(err.message.includes(JSON.stringify(bad)), err.message);
        return true;
      });
    }
  });

  test('a bad size rejects with a RangeError', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_EMOJI_SIZE + 1]) {
      await assert.rejects(renderer.render('poop', bad), RangeError);
    }
  });

  test('a failed render is not cached: fixing the file on disk makes it work', async () => {
    const dir = tempAssets();
    const file = join(dir, 'poop.svg');
    const r = createEmojiRenderer({ assetsDir: dir });
    await assert.rejects(r.render('poop', 32), /poop.*cannot read/);
    writeFileSync(file, '<svg');
    await assert.rejects(r.render('poop', 32));
    copyFileSync(join(defaultAssetsDir(), 'poop.svg'), file);
    const img = await r.render('poop', 32);
    assert.equal(img.width, 32);
  });

  test('all five at once, at one size: five different pictures, each cached under its own name', async () => {
    // (How fast rendering is belongs in the benchmarks; this checks what comes back.)
    const r = createEmojiRenderer();
    const first = await Promise.all(names.map((n) => r.render(n, 256)));
    const digests = first.map((img) => createHash('sha256').update(img.data).digest('hex'));
    assert.equal(new Set(digests).size, names.length, 'every emoji looks different');
    const again = await Promise.all(names.map((n) => r.render(n, 256)));
    for (const [i, img] of again.entries()) assert.equal(img, first[i], `${names[i]} came from the cache`);
  });
});
