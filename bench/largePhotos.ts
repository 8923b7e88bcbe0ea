// Large photos: what DETECT_MAX_SIDE costs and buys. The development photos are small (all but 5
// ≤ 512 px), so no cap above 1024 changes their scores; here they are tiled into mosaics of 7 × 5
// cells of 512 px (3584 × 2560, 9.2 MP: a crowd photo whose faces are as small as in the photos
// themselves), with their annotations moved along, and each mosaic is looked at through detection
// copies of several longest sides, as the worker would (detection copy → detect → full-size boxes).
import sharp, { type OutputInfo, type OverlayOptions } from 'sharp';
import type { FaceDetector } from '../worker/detectors/types.js';
import {
  predictFaces,
  scoreDevSet,
  turnedPhoto,
  type DevPhoto,
  type DevScore,
} from '../test/helpers/devset.js';
import type { Box } from '../test/helpers/fixtures.js';
import { median } from './lib/stats.js';

const CELL = 512;
const COLS = 7;
const ROWS = 5;
/** Detection copies' longest sides; 3584 is the mosaic's own (no copy). */
export const LARGE_PHOTO_SIDES = [1280, 1600, 2048, 2560, 3584];

export interface LargePhotoRow {
  maxSide: number;
  score: DevScore;
  /** Median detection time per mosaic (all looks; one ONNX thread), ms. */
  detectMs: number;
}

export interface LargePhotoResult {
  mosaics: number;
  /** A mosaic's longest side: a copy at least this long is the mosaic itself. */
  side: number;
  megapixels: number;
  faces: number;
  rows: LargePhotoRow[];
}

interface Mosaic {
  photo: DevPhoto;
  pixels: { data: Buffer; info: OutputInfo };
}

/** As many full mosaics as the photos that fit a cell make, each photo centred in its cell. */
async function mosaics(photos: DevPhoto[], limit: number): Promise<Mosaic[]> {
  const fit = photos.filter((p) => Math.max(p.width, p.height) <= CELL);
  const per = COLS * ROWS;
  const out: Mosaic[] = [];
  for (let m = 0; (m + 1) * per <= fit.length && m < limit; m++) {
    const faces: Box[] = [];
    const ignore: Box[] = [];
    const layers: OverlayOptions[] = [];
    for (let i = 0; i < per; i++) {
      const p = fit[m * per + i]!;
      const left = (i % COLS) * CELL + Math.floor((CELL - p.width) / 2);
      const top = Math.floor(i / COLS) * CELL + Math.floor((CELL - p.height) / 2);
      const { data, info } = await turnedPhoto(p, 0);
      layers.push({ input: data, raw: { width: info.width, height: info.height, channels: 3 }, left, top });
      const move = ([x, y, w, h]: Box): Box => [x + left, y + top, w, h];
      faces.push(...p.faces.map(move));
      ignore.push(...p.ignore.map(move));
    }
    const [width, height] = [COLS * CELL, ROWS * CELL];
    const pixels = await sharp({ create: { width, height, channels: 3, background: '#808080' } })
      .composite(layers)
      .raw()
      .toBuffer({ resolveWithObject: true });
    out.push({ photo: { file: `mosaic${m}`, path: '', width, height, faces, ignore }, pixels });
  }
  return out;
}

export async function benchLargePhotos(
  detector: FaceDetector,
  photos: DevPhoto[],
  threshold: number,
  opts: { quick?: boolean } = {},
): Promise<LargePhotoResult> {
  const set = await mosaics(photos, opts.quick ? 1 : Infinity);
  const sides = opts.quick ? [2048] : LARGE_PHOTO_SIDES;
  const rows: LargePhotoRow[] = [];
  for (const maxSide of sides) {
    const predictions: Record<string, number[][]> = {};
    const times: number[] = [];
    for (const { photo, pixels } of set) {
      const { boxes, wallMs } = await predictFaces(detector, pixels, 0, maxSide);
      predictions[photo.file] = boxes;
      times.push(wallMs);
    }
    const score = scoreDevSet(
      set.map((s) => s.photo),
      predictions,
      0,
      threshold,
    );
    rows.push({ maxSide, score, detectMs: median(times) });
    process.stderr.write(`  large photos, copy ≤ ${maxSide} px: ${JSON.stringify(score)}\n`);
  }
  return {
    mosaics: set.length,
    side: Math.max(COLS, ROWS) * CELL,
    megapixels: (COLS * CELL * ROWS * CELL) / 1e6,
    faces: set.reduce((a, s) => a + s.photo.faces.length, 0),
    rows,
  };
}
