// The image work of one job, as plain functions (no Redis, no BullMQ):
// decode once → detection copy → detect → boxes back to full size → cover layers → paste and encode once.
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { JobFailure } from '../shared/errors.js';
import { CONTENT_TYPES, type FaceBox, type JobOptions, type OutputFormat } from '../shared/jobs.js';
import { coverLayers, paste, type RenderEmoji } from './covers/index.js';
import type { FaceDetector } from './detector.js';

export interface PipelineDeps {
  detector: FaceDetector;
  renderEmoji: RenderEmoji;
  /** Longest side of the copy the detector sees. */
  detectMaxSide: number;
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

/** The one place output encoding settings live (tests re-encode inputs the same way to compare). */
export function encoder(image: Sharp, format: OutputFormat): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 85, mozjpeg: false });
    case 'png':
      return image.png({ compressionLevel: 6 });
    case 'webp':
      return image.webp({ quality: 85, effort: 4 });
  }
}

/** Detector boxes (in the detection copy's pixels) → integer boxes in full-resolution pixels. */
export function scaleBoxes(
  found: { x: number; y: number; width: number; height: number; score: number }[],
  sx: number,
  sy: number,
  width: number,
  height: number,
): FaceBox[] {
  return found.map((d) => {
    const x = Math.max(0, Math.round(d.x * sx));
    const y = Math.max(0, Math.round(d.y * sy));
    return {
      x,
      y,
      width: Math.max(1, Math.min(width, Math.round((d.x + d.width) * sx)) - x),
      height: Math.max(1, Math.min(height, Math.round((d.y + d.height) * sy)) - y),
      score: Math.round(d.score * 1e4) / 1e4,
    };
  });
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
    full = await sharp(input, { failOn: 'truncated', limitInputPixels: false })
      .rotate()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new JobFailure('corrupt_image', `the image could not be decoded: ${(err as Error).message}`);
  }
  const { width, height, channels } = full.info;
  const raw = { raw: { width, height, channels } };
  lap('decode');
  await onStage('decoded', 20);

  const small = await sharp(full.data, raw)
    .resize(deps.detectMaxSide, deps.detectMaxSide, { fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  lap('resize');
  const found = await deps.detector.detect(
    { data: small.data, width: small.info.width, height: small.info.height },
    options.minConfidence,
  );
  const faces = scaleBoxes(found, width / small.info.width, height / small.info.height, width, height);
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
  const output = await encoder(sharp(full.data, raw), options.format).toBuffer();
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
