// Examples for the OpenAPI document: real answers (the completed job is the README's, from
// RetinaFace on a fixture). test/api/openapi.test.ts validates each against its schema.
import { PROBLEM_TYPES, problemTypeUri, type ProblemSlug } from '../problemTypes.js';

const ID = 'c7e4b91d-dbc4-457a-8a1b-e4e96346f67e';
const SELF = `http://localhost:3000/jobs/${ID}`;

/** A job view, its members in the order jobView writes them. */
const job = (
  status: string,
  progress: number,
  times: { started_at: string | null; finished_at: string | null },
  attempts: number,
  extra: Record<string, unknown> = {},
) => ({
  id: ID,
  status,
  progress,
  created_at: '2026-12-02T00:31:00.386Z',
  ...times,
  attempts,
  options: { mode: 'emoji', emoji: 'alien', cover_scale: 1.1, format: 'webp', min_confidence: 0.3 },
  input: { format: 'jpeg', width: 320, height: 320, bytes: 22024 },
  links: { self: SELF, result: `${SELF}/result` },
  ...extra,
});

export const queuedJob = job('queued', 0, { started_at: null, finished_at: null }, 0);

export const completedJob = job(
  'completed',
  100,
  { started_at: '2026-12-02T00:31:00.387Z', finished_at: '2026-12-02T00:31:00.514Z' },
  1,
  {
    faces: [
      {
        x: 108,
        y: 29,
        width: 64,
        height: 83,
        score: 0.994,
        landmarks: {
          left_eye: [126, 63.3],
          right_eye: [155.2, 64.6],
          nose: [140.2, 78.8],
          mouth_left: [126, 89.3],
          mouth_right: [151.5, 90.5],
        },
      },
    ],
    result: { url: `${SELF}/result`, content_type: 'image/webp', bytes: 18946, width: 320, height: 320 },
    timings: { decode: 3.2, resize: 0.4, detect: 89.4, render: 11, encode: 17.2, total: 124 },
    backend: 'onnx',
    detector: 'retinaface_mnet025_v1',
  },
);

export const failedJob = job(
  'failed',
  0,
  { started_at: '2026-12-02T00:31:00.387Z', finished_at: '2026-12-02T00:31:00.401Z' },
  1,
  {
    error: {
      code: 'corrupt_image',
      message: 'the image could not be decoded: VipsJpeg: Premature end of input file',
    },
  },
);

export const jobEvents = [
  'retry: 2000',
  '',
  'id: 1',
  'event: state',
  `data: ${JSON.stringify(queuedJob)}`,
  '',
  'id: 2',
  'event: active',
  `data: ${JSON.stringify({ id: ID, status: 'active' })}`,
  '',
  'id: 3',
  'event: progress',
  `data: ${JSON.stringify({ id: ID, progress: 40 })}`,
  '',
  'id: 4',
  'event: completed',
  `data: ${JSON.stringify(completedJob)}`,
  '',
  '',
].join('\n');

/** Real details for the common problems; the others show their catalogue explanation. */
const DETAILS: Partial<Record<ProblemSlug, { detail: string; extensions?: Record<string, unknown> }>> = {
  'invalid-option': {
    detail:
      'color: does not apply to mode blur (it applies to solid, outline); mode blur takes shape, cover_scale',
    extensions: {
      errors: [
        {
          option: 'color',
          message:
            'does not apply to mode blur (it applies to solid, outline); mode blur takes shape, cover_scale',
        },
      ],
    },
  },
  'missing-image': {
    detail: 'no image uploaded (expected a file in field "image")',
    extensions: { field: 'image' },
  },
  'job-not-found': { detail: `no job with id "${ID}" (it may have expired or been deleted)` },
  'result-not-ready': {
    detail: 'the job is active; its result is not ready yet',
    extensions: { job_id: ID, job_status: 'active' },
  },
  'too-many-pixels': {
    detail: 'the image is 20000×20000 (400000000 pixels); the limit is 100000000 pixels',
    extensions: { width: 20000, height: 20000, max_pixels: 100000000 },
  },
  'unsupported-media-type': {
    detail: 'the upload is not an image in a supported format',
    extensions: { accepted_formats: ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif'] },
  },
  unauthorized: {
    detail: 'this server needs an API key: send "Authorization: Bearer <key>" (or "X-API-Key: <key>")',
  },
  'not-found': { detail: 'no route for GET /nothing-here' },
  'method-not-allowed': { detail: 'PUT is not allowed here; use POST' },
};

export function problemExample(slug: ProblemSlug, status: number): Record<string, unknown> {
  const t = PROBLEM_TYPES[slug];
  const known = DETAILS[slug];
  return {
    ...known?.extensions,
    type: problemTypeUri(slug),
    title: t.title,
    status,
    detail: known?.detail ?? t.explanation,
  };
}
