// Rasterises the emoji art (assets/emoji/<name>.svg) to raw RGBA squares for compositing over faces.
// Each (name, size, angle) is rendered straight from the vector (turned faces get the art turned in
// the SVG, not a rotated bitmap), so the result is crisp at any size and angle, and kept in a small
// LRU: a photo's faces tend to repeat sizes.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { EMOJIS, isEmojiName } from './emojis.js';
import { findProjectRoot } from './projectRoot.js';

/** Raw, non-premultiplied RGBA pixels, row-major, `width * height * 4` bytes (what sharp's `raw()` gives). */
export interface EmojiImage {
  /** Shared with the cache and with every other caller of the same (name, size): treat as read-only. */
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 4;
}

export interface EmojiRendererOptions {
  /** Directory holding `<name>.svg`; default `<project root>/assets/emoji`. */
  assetsDir?: string;
  /** Rendered (name, size) pairs kept; default 64. 0 disables the cache (concurrent calls still share). */
  maxCacheEntries?: number;
  /** Bound on the cached pixel bytes; default 256 MiB. A single larger image is returned but not kept. */
  maxCacheBytes?: number;
}

export interface EmojiRenderer {
  readonly assetsDir: string;
  /**
   * The emoji `name` as a `size`×`size` RGBA square; turned by `angle` degrees (clockwise as seen,
   * any finite number) it is drawn centred in the smallest square that holds the turned square,
   * `rotatedSide(size, angle)` pixels wide. Rejects with an UnknownEmojiError for a name not in the
   * catalogue (shared/emojis.ts) and with a RangeError for a size that is not an integer in
   * 1..MAX_EMOJI_SIZE or a turned square wider than that. Repeated calls return the same object (and
   * buffer) while it is cached.
   */
  render(name: string, size: number, angle?: number): Promise<EmojiImage>;
}

/** Largest side render() accepts (8192² RGBA is 256 MiB); callers clamp larger boxes. */
export const MAX_EMOJI_SIZE = 8192;

export const DEFAULT_MAX_CACHE_ENTRIES = 64;
export const DEFAULT_MAX_CACHE_BYTES = 256 * 1024 * 1024;

export class UnknownEmojiError extends Error {
  override name = 'UnknownEmojiError';
  constructor(readonly emoji: string) {
    super(
      `unknown emoji ${JSON.stringify(emoji.length > 64 ? `${emoji.slice(0, 64)}…` : emoji)}; ` +
        `known: ${EMOJIS.map((e) => e.name).join(', ')}`,
    );
  }
}

let defaultDir: string | undefined;
/** `<project root>/assets/emoji`, found once. */
export function defaultAssetsDir(): string {
  defaultDir ??= join(findProjectRoot(), 'assets', 'emoji');
  return defaultDir;
}

/** The SVG file of every catalogue emoji (whether or not it exists; see verifyEmojiAssets). */
export function listEmojiFiles(assetsDir: string = defaultAssetsDir()): { name: string; file: string }[] {
  return EMOJIS.map(({ name }) => ({ name, file: join(assetsDir, `${name}.svg`) }));
}

interface Source {
  svg: Buffer;
  /** The SVG's intrinsic size in pixels at 72 dpi (sharp's default density). */
  side: number;
}

interface CacheEntry {
  promise: Promise<EmojiImage>;
  /** 0 until the render settles. */
  bytes: number;
}

function checkSize(size: number, angle: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_EMOJI_SIZE) {
    throw new RangeError(`emoji size must be an integer in 1..${MAX_EMOJI_SIZE}, got ${String(size)}`);
  }
  if (!Number.isFinite(angle)) throw new RangeError(`emoji angle must be finite, got ${String(angle)}`);
  if (rotatedSide(size, angle) > MAX_EMOJI_SIZE) {
    throw new RangeError(`emoji size ${size} turned by ${angle}° is wider than ${MAX_EMOJI_SIZE}`);
  }
}

/** Side of the smallest square holding a `size` square turned by `angle` degrees. */
export function rotatedSide(size: number, angle: number): number {
  const a = (angle * Math.PI) / 180;
  const exact = size * (Math.abs(Math.cos(a)) + Math.abs(Math.sin(a)));
  // Multiples of 90° keep the size exactly (cos/sin round-off must not add a pixel).
  return Math.abs(exact - Math.round(exact)) < 1e-6 ? Math.round(exact) : Math.ceil(exact);
}

/**
 * The art turned about its centre, as an SVG of `side` px holding the `size` px original (nested
 * <svg> with the original's viewBox, so the vector is drawn at the final scale).
 */
function turnedSvg(svg: Buffer, size: number, angle: number, side: number): Buffer {
  const text = svg.toString('utf8').replace(/^\s*<\?xml[^>]*\?>/, '');
  const inner = text.replace(
    /<svg\b[^>]*>/,
    (open) =>
      `<svg width="${size}" height="${size}"${open.slice(4).replace(/\s(width|height)="[^"]*"/g, '')}`,
  );
  const c = side / 2;
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}" viewBox="0 0 ${side} ${side}">` +
      `<g transform="translate(${c} ${c}) rotate(${angle}) translate(${-size / 2} ${-size / 2})">${inner}</g></svg>`,
  );
}

export function createEmojiRenderer(opts: EmojiRendererOptions = {}): EmojiRenderer {
  const assetsDir = opts.assetsDir ?? defaultAssetsDir();
  const maxEntries = Math.max(0, Math.floor(opts.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES));
  const maxBytes = Math.max(0, opts.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES);

  const sources = new Map<string, Promise<Source>>();
  // Map order is recency order: the first key is the least recently used.
  const cache = new Map<string, CacheEntry>();
  // Renders in flight when the cache is disabled or after eviction, so concurrent calls still share.
  const inflight = new Map<string, Promise<EmojiImage>>();
  let cachedBytes = 0;

  const loadSource = (name: string): Promise<Source> => {
    const known = sources.get(name);
    if (known) return known;
    const file = join(assetsDir, `${name}.svg`);
    const source = (async () => {
      let svg: Buffer;
      try {
        svg = await readFile(file);
      } catch (err) {
        throw new Error(`emoji ${JSON.stringify(name)}: cannot read ${file}`, { cause: err });
      }
      const meta = await sharp(svg).metadata();
      if (meta.format !== 'svg' || !meta.width || !meta.height) {
        throw new Error(`emoji ${JSON.stringify(name)}: ${file} is not a usable SVG`);
      }
      return { svg, side: Math.max(meta.width, meta.height) };
    })();
    sources.set(name, source);
    // A failed read may be fixed on disk (or be transient): try again next time.
    source.catch(() => {
      if (sources.get(name) === source) sources.delete(name);
    });
    return source;
  };

  const rasterise = async (name: string, size: number, angle: number): Promise<EmojiImage> => {
    const { svg, side } = await loadSource(name);
    if (angle % 360 !== 0) {
      const turned = rotatedSide(size, angle);
      const { data, info } = await sharp(turnedSvg(svg, size, angle, turned))
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.width !== turned || info.height !== turned || info.channels !== 4) {
        throw new Error(
          `emoji ${JSON.stringify(name)}: rendered ${info.width}x${info.height}x${info.channels} turned, wanted ${turned}x${turned}x4`,
        );
      }
      return Object.freeze({ data, width: turned, height: turned, channels: 4 as const });
    }
    // Rasterise at the density that gives `size` pixels (librsvg draws the vector at that scale; no
    // upscaling of a small bitmap). sharp wants density >= 1, so sizes below side/72 are drawn a
    // little larger and reduced. The resize is then a no-op, or fixes rounding / a non-square viewBox.
    const density = Math.min(100_000, Math.max(1, (72 * size) / side));
    const { data, info } = await sharp(svg, { density })
      .resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== 4) {
      throw new Error(
        `emoji ${JSON.stringify(name)}: rendered ${info.width}x${info.height}x${info.channels}, wanted ${size}x${size}x4`,
      );
    }
    return Object.freeze({ data, width: size, height: size, channels: 4 as const });
  };

  const evict = (): void => {
    for (const [key, entry] of cache) {
      if (cache.size <= maxEntries && cachedBytes <= maxBytes) break;
      cache.delete(key);
      cachedBytes -= entry.bytes;
    }
  };

  const render = async (name: string, size: number, angle = 0): Promise<EmojiImage> => {
    if (!isEmojiName(name)) throw new UnknownEmojiError(name);
    checkSize(size, angle);
    const key = `${name}\u0000${size}\u0000${angle % 360 === 0 ? 0 : angle}`;

    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit.promise;
    }
    const running = inflight.get(key);
    if (running) return running;

    const promise = rasterise(name, size, angle);
    inflight.set(key, promise);
    const entry: CacheEntry = { promise, bytes: 0 };
    if (maxEntries > 0) {
      cache.set(key, entry);
      evict();
    }
    try {
      const image = await promise;
      if (cache.get(key) === entry) {
        entry.bytes = image.data.length;
        cachedBytes += entry.bytes;
        if (entry.bytes > maxBytes) {
          cache.delete(key);
          cachedBytes -= entry.bytes;
        } else {
          evict();
        }
      }
      return image;
    } catch (err) {
      // Never cache a failure.
      if (cache.get(key) === entry) cache.delete(key);
      throw err;
    } finally {
      if (inflight.get(key) === promise) inflight.delete(key);
    }
  };

  return { assetsDir, render };
}

/**
 * Startup check: every catalogue emoji has an SVG in `assetsDir` that sharp renders to a square with
 * visible pixels. Resolves with the files checked; rejects with one Error naming every problem.
 */
export async function verifyEmojiAssets(
  opts: { assetsDir?: string } = {},
): Promise<{ name: string; file: string }[]> {
  const assetsDir = opts.assetsDir ?? defaultAssetsDir();
  const renderer = createEmojiRenderer({ assetsDir, maxCacheEntries: 0 });
  const files = listEmojiFiles(assetsDir);
  const problems: string[] = [];
  await Promise.all(
    files.map(async ({ name, file }) => {
      if (!existsSync(file)) {
        problems.push(`${name}: missing ${file}`);
        return;
      }
      try {
        const { data } = await renderer.render(name, 32);
        let opaque = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! >= 128) opaque++;
        if (opaque < (32 * 32) / 4) problems.push(`${name}: ${file} renders almost empty`);
      } catch (err) {
        problems.push(
          `${name}: ${file} does not render (${err instanceof Error ? err.message : String(err)})`,
        );
      }
    }),
  );
  if (problems.length > 0) {
    throw new Error(`emoji assets in ${assetsDir} are not usable: ${problems.sort().join('; ')}`);
  }
  return files;
}
