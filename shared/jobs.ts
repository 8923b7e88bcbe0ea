// What travels through the queue: the job's data (no image bytes: those sit in the image store)
// and what a worker returns. Validated at the API edge, trusted inside.
import { randomUUID } from 'node:crypto';
import type { CoverMode, CoverShape } from './covers.js';

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Input formats accepted (decided from the bytes, never from the declared type). */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

/**
 * What the client asked for, validated by the API (api/options.ts), which stores every option that
 * applies to the mode with its default filled in. Records queued before cover modes existed carry
 * only `emoji`; shared/covers.ts (resolveCover) reads both. A worker from before cover modes fails a
 * job without an emoji name (unknown_emoji) rather than covering it the wrong way.
 */
export interface JobOptions {
  /** How faces are covered (shared/covers.ts); absent: emoji. */
  mode?: CoverMode;
  /** emoji mode: a catalogue name (GET /emojis), a comma list of them, or "random". */
  emoji?: string;
  /** blur, pixelate, solid. */
  shape?: CoverShape;
  /** Every mode but outline: multiple of the smallest cover that hides the face box. */
  coverScale?: number;
  /** solid, outline: "#rrggbb". */
  color?: string;
  format: OutputFormat;
  /** Detections scoring below this are ignored. */
  minConfidence: number;
}

export interface TurdifyJobData {
  /** Schema version of this record, for rolling upgrades of workers. */
  v: 1;
  options: JobOptions;
  input: {
    format: InputFormat;
    bytes: number;
    /** As displayed: EXIF orientation already applied. */
    width: number;
    height: number;
  };
  /** Epoch ms when the API accepted the upload. */
  submittedAt: number;
  /** Base of absolute URLs (PUBLIC_URL, else what the client called), for links in webhooks. */
  baseUrl?: string;
  /** Where to POST the job.completed / job.failed event (vetted by the SSRF guard). */
  callbackUrl?: string;
  /** The id of the API key that made the job (absent without a key): only that key can see it. */
  owner?: string;
}

/** A point [x, y] in the output image's pixels. */
export type Point = [number, number];

/**
 * Five facial landmarks (detectors that find them: RetinaFace). "Left" and "right" are as seen in
 * the picture of an upright face: left_eye is the eye nearer the image's left edge when the face is
 * upright; on a face turned by the photo they turn with it.
 */
export interface Landmarks {
  left_eye: Point;
  right_eye: Point;
  nose: Point;
  mouth_left: Point;
  mouth_right: Point;
}

/** A face in the output image's pixel coordinates (EXIF orientation applied). */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  /** Present when the detector finds landmarks. */
  landmarks?: Landmarks;
}

export interface TurdifyJobResult {
  faces: FaceBox[];
  result: {
    format: OutputFormat;
    contentType: string;
    bytes: number;
    width: number;
    height: number;
    /** Strong ETag of the result bytes (quoted, as sent in the header). */
    etag: string;
  };
  /** Milliseconds per pipeline stage. */
  timings: Record<string, number>;
  /** TensorFlow.js backend and detector that produced the faces. */
  backend: string;
  detector: string;
  worker: { host: string; pid: number };
}

/** Job ids are random UUIDs (122 random bits): unguessable, and the BullMQ job id itself. */
export const newJobId = (): string => randomUUID();
export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
