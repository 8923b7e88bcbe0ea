// The image work of one job, as plain functions (no Redis, no BullMQ):
// decode once → detection copy → detect → boxes back to full size → cover layers → paste and encode once.
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { JobFailure } from '../shared/errors.js';
import {
  CONTENT_TYPES,
  type FaceBox,
  type JobOptions,
  type OutputFormat,
  type Point,
} from '../shared/jobs.js';
import { coverLayers, paste, type RenderEmoji } from './covers/index.js';
import { failOnFor } from './decodeStrictness.js';
import type { Detection, FaceDetector } from './detectors/types.js';

export interface PipelineDeps {
  detector: FaceDetector;
  renderEmoji: RenderEmoji;
  /**
   * MAX_PIXELS: the most pixels libvips may decode (default: no limit). The API read the header
   * in JavaScript; libvips reads it again here and its answer decides.
   */
  maxPixels?: number;
}

export interface PipelineOutput {
  output: Buffer;
  faces: FaceBox[];
  width: number;
  height: number;
  format: OutputFormat;
  contentType: string;
  timings: Record<string, number>;
}

export type PipelineOptions = JobOptions & {
  /** Seeds emoji=random: the job id, so every attempt of a job covers its faces the same way. */
  seed?: string;
};

export type StageListener = (
  stage: 'decoded' | 'detected' | 'rendered' | 'encoded',
  percent: number,
) => unknown;

/**
 * Above this many pixels JPEG output skips Huffman table optimisation: on the 10 MP photo it is
 * 114 → 28 ms of encoding for 1.3 % more bytes; on the dev set's photos it saves 14 % of the bytes
 * for 1.5 ms, so small pictures keep it (docs/performance.md, "Decisions").
 */
export const JPEG_OPTIMISE_MAX_PIXELS = 2_000_000;

/**
 * The one place output encoding settings live (tests re-encode inputs the same way to compare).
 * `pixels`: the picture's width × height, which picks the JPEG setting.
 */
export function encoder(image: Sharp, format: OutputFormat, pixels: number): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 85, mozjpeg: false, optimiseCoding: pixels <= JPEG_OPTIMISE_MAX_PIXELS });
    case 'png':
      // Level 3 writes the same bytes as 6 (+0.3 %) in 16 % less time on the dev set's photos.
      return image.png({ compressionLevel: 3 });
    case 'webp':
      // Effort 2 against 4: half the time (10 MP: 933 → 496 ms), 0–4 % more bytes.
      return image.webp({ quality: 85, effort: 2 });
  }
}

/**
 * Detector boxes (in the detection copy's pixels) → integer boxes in full-resolution pixels;
 * landmarks to a tenth of a pixel (they may lie outside the picture: a face cut by the edge).
 */
export function scaleBoxes(
  found: Detection[],
  sx: number,
  sy: number,
  width: number,
  height: number,
): FaceBox[] {
  const point = ([px, py]: Point): Point => [Math.round(px * sx * 10) / 10, Math.round(py * sy * 10) / 10];
  return found.map((d) => {
    const x = Math.max(0, Math.round(d.x * sx));
    const y = Math.max(0, Math.round(d.y * sy));
    const box: FaceBox = {
      x,
      y,
      width: Math.max(1, Math.min(width, Math.round((d.x + d.width) * sx)) - x),
      height: Math.max(1, Math.min(height, Math.round((d.y + d.height) * sy)) - y),
      score: Math.round(d.score * 1e4) / 1e4,
    };
    if (d.landmarks) {
      const m = d.landmarks;
      box.landmarks = {
        left_eye: point(m.left_eye),
        right_eye: point(m.right_eye),
        nose: point(m.nose),
        mouth_left: point(m.mouth_left),
        mouth_right: point(m.mouth_right),
      };
    }
    return box;
  });
}

/** The copy the detector is given: the decoded pixels themselves when they already fit. */
export async function detectionCopy(
  full: { data: Buffer; info: OutputInfo },
  maxSide: number,
): Promise<{ data: Buffer; width: number; height: number }> {
  const { width, height, channels } = full.info;
  if (Math.max(width, height) <= maxSide && channels === 3) return { data: full.data, width, height };
  const small = await sharp(full.data, { raw: { width, height, channels } })
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: small.data, width: small.info.width, height: small.info.height };
}

const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

/** Why libvips could not decode an upload: too many pixels, a codec it lacks, or damage. */
function decodeFailure(message: string, maxPixels: number | undefined): JobFailure {
  if (/exceeds pixel limit/i.test(message))
    return new JobFailure('too_large', `the image has more than ${maxPixels} pixels (MAX_PIXELS)`);
  // libheif without an HEVC decoder (sharp's prebuilt libvips): most iPhone HEIC photos.
  if (/has not been built in|unsupported (codec|compression)/i.test(message))
    return new JobFailure('unsupported_image', `this server cannot decode it: ${lastLine(message)}`);
  return new JobFailure('corrupt_image', `the image could not be decoded: ${message}`);
}

export async function processImage(
  input: Buffer,
  options: PipelineOptions,
  deps: PipelineDeps,
  onStage: StageListener = () => {},
): Promise<PipelineOutput> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round((now - t) * 10) / 10;
    t = now;
  };

  // Decode once, upright (EXIF orientation applied), as raw sRGB pixels; damaged bytes fail here.
  let full: { data: Buffer; info: OutputInfo };
  try {
    full = await sharp(input, { failOn: failOnFor(input), limitInputPixels: deps.maxPixels ?? false })
      .rotate()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw decodeFailure((err as Error).message, deps.maxPixels);
  }
  const { width, height, channels } = full.info;
  const raw = { raw: { width, height, channels } };
  lap('decode');
  await onStage('decoded', 20);

  const small = await detectionCopy(full, deps.detector.maxSide);
  lap('resize');
  const found = await deps.detector.detect(small, options.minConfidence);
  const faces = scaleBoxes(found, width / small.width, height / small.height, width, height);
  lap('detect');
  await onStage('detected', 60);

  const layers = await coverLayers(faces, options, {
    image: { data: full.data, width, height, channels },
    renderEmoji: deps.renderEmoji,
    seed: options.seed ?? '',
  });
  lap('render'); // each face's layer: an emoji raster (cached), or a blurred, mosaic or filled region
  await onStage('rendered', 70);

  // Paste the layers onto the decoded pixels in place (they are read no more: the detector has its
  // copy), then encode in one libvips pass. Encoding from raw pixels writes no metadata: no EXIF
  // (GPS, camera, orientation: already applied), XMP, IPTC, comments or ICC profile; the pixels
  // are sRGB (converted from the input's profile at decode), which is what viewers assume of an
  // untagged image.
  paste({ data: full.data, width, height, channels }, layers);
  const output = await encoder(sharp(full.data, raw), options.format, width * height).toBuffer();
  lap('encode');
  await onStage('encoded', 95);

  return {
    output,
    faces,
    width,
    height,
    format: options.format,
    contentType: CONTENT_TYPES[options.format],
    timings,
  };
}
