// The photos benchmarks run on: the shared fixtures, and a 10 MP mosaic made from them (several
// faces, real photographic content, deterministic).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { devDir } from '../../test/helpers/devset.js';
import { fixturesDir } from '../../test/helpers/fixtures.js';

export { fixturesDir, repoRoot } from '../../test/helpers/fixtures.js';

export interface Photo {
  name: string;
  bytes: Buffer;
  width: number;
  height: number;
}

export async function fixturePhotos(): Promise<Photo[]> {
  return photosIn(fixturesDir);
}

/** The development set (../shared/fixtures/dev, 125 photos), read in place. */
export async function devPhotos(): Promise<Photo[]> {
  return photosIn(devDir);
}

async function photosIn(dir: string): Promise<Photo[]> {
  const files = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort();
  return Promise.all(files.map((f) => describe(f, readFileSync(join(dir, f)))));
}

async function describe(name: string, bytes: Buffer): Promise<Photo> {
  const m = await sharp(bytes).metadata();
  const swap = (m.orientation ?? 1) >= 5;
  return { name, bytes, width: swap ? m.height! : m.width!, height: swap ? m.width! : m.height! };
}

/** A 3872×2592 (10.0 MP) JPEG: a 4×3 grid of fixture photos. */
export async function tenMegapixelPhoto(photos: Photo[]): Promise<Photo> {
  const W = 3872;
  const H = 2592;
  const cw = W / 4;
  const ch = H / 3;
  const withFaces = photos.filter((p) => !p.name.startsWith('neg_'));
  const tiles = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => ({
      input: await sharp(withFaces[i % withFaces.length]!.bytes)
        .rotate()
        .resize(cw, ch, { fit: 'cover' })
        .toBuffer(),
      left: (i % 4) * cw,
      top: Math.floor(i / 4) * ch,
    })),
  );
  const bytes = await sharp({ create: { width: W, height: H, channels: 3, background: '#808080' } })
    .composite(tiles)
    .jpeg({ quality: 90 })
    .toBuffer();
  return { name: 'mosaic_10mp.jpg', bytes, width: W, height: H };
}

/** A JPEG of about `kb` kilobytes, for upload benchmarks. */
export async function jpegOfSize(photo: Photo, kb: number): Promise<Buffer> {
  let best = photo.bytes;
  for (const width of [2048, 1600, 1280, 1024, 800, 640, 480]) {
    const out = await sharp(photo.bytes).rotate().resize(width).jpeg({ quality: 85 }).toBuffer();
    best = out;
    if (out.length <= kb * 1024) break;
  }
  return best;
}
