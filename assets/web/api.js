// Talking to the API: submit a photo (XHR, for upload progress), follow its job's event stream
// (fetch with a streaming reader: EventSource cannot send the Authorization header), fetch the
// result. Every failure becomes an ApiError whose message is a sentence for people.

/** A failure worded for the page; `retryAfter` in seconds when the server said when to retry. */
export class ApiError extends Error {
  constructor(message, { status = 0, slug = '', retryAfter, needsKey = false } = {}) {
    super(message);
    this.status = status;
    this.slug = slug;
    this.retryAfter = retryAfter;
    this.needsKey = needsKey;
    this.retryable = status === 0 || status === 429 || status === 503 || status === 408;
  }
}

const authHeaders = (key) => (key ? { Authorization: `Bearer ${key}` } : {});

/** The problem's slug: the last part of its `type` URI. */
const slugOf = (problem) => String(problem?.type ?? '').replace(/^.*\//, '');

function seconds(header) {
  const n = Number(header);
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const at = Date.parse(header ?? '');
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : undefined;
}

const inSeconds = (s) => (s === undefined ? 'in a moment' : s === 1 ? 'in 1 second' : `in ${s} seconds`);

/** A problem+json answer (or any error answer) as a sentence; never the JSON itself. */
export function wordProblem(status, problem, retryAfterHeader) {
  const slug = slugOf(problem);
  const retryAfter = seconds(retryAfterHeader);
  const detail = typeof problem?.detail === 'string' ? problem.detail : '';
  const opts = { status, slug, retryAfter };
  switch (status) {
    case 401:
      return new ApiError(
        detail.includes('not valid')
          ? 'The saved API key was not accepted (unknown or revoked). Enter a valid key.'
          : 'This server needs an API key. Enter it above, and the photo is sent again.',
        { ...opts, needsKey: true },
      );
    case 413:
      if (slug === 'too-many-pixels' && problem.width && problem.height) {
        const mp = (n) => `${Math.round(n / 1e6)} megapixels`;
        return new ApiError(
          `This photo is too large: ${problem.width} × ${problem.height} pixels is more than the ` +
            `${mp(problem.max_pixels)} this server takes.`,
          opts,
        );
      }
      return new ApiError(
        'This photo is too large to upload to this server (its file is over the size limit).',
        opts,
      );
    case 415: {
      const formats = Array.isArray(problem?.accepted_formats)
        ? ` It takes ${problem.accepted_formats.map((f) => f.toUpperCase()).join(', ')}.`
        : '';
      return new ApiError(`This file is not an image the service can read.${formats}`, opts);
    }
    case 422:
      if (slug === 'corrupt-image') {
        return new ApiError(
          'This image is damaged: it cannot be read in full, so it was not processed.',
          opts,
        );
      }
      break;
    case 429:
      return new ApiError(`Too many photos in a short time: try again ${inSeconds(retryAfter)}.`, opts);
    case 503:
      if (slug === 'queue-full') {
        return new ApiError(`The queue is full right now: try again ${inSeconds(retryAfter)}.`, opts);
      }
      return new ApiError(`The service is busy or starting up: try again ${inSeconds(retryAfter)}.`, opts);
    case 400:
      if (slug === 'invalid-option' || slug === 'unknown-option') {
        return new ApiError(`The server refused an option: ${detail}`, opts);
      }
      if (slug === 'missing-image' || detail === 'the uploaded file is empty') {
        return new ApiError('This file is empty.', opts);
      }
      break;
    case 408:
      return new ApiError('The upload was too slow and the server gave up on it. Try again.', opts);
    case 404:
      return new ApiError('The job is gone from the server (it expired or was deleted).', opts);
  }
  if (status >= 500) return new ApiError('The server had a problem with this photo. Try again later.', opts);
  return new ApiError(`The server refused this photo (HTTP ${status}).`, opts);
}

/** A failed job's error code as a sentence. */
export function wordJobError(error) {
  switch (error?.code) {
    case 'corrupt_image':
      return 'This image is damaged: it cannot be read in full, so it was not processed.';
    case 'unsupported_image':
      return 'This image is in a form the service cannot process.';
    case 'too_large':
      return 'This photo has too many pixels for the service.';
    case 'input_expired':
      return 'The photo waited too long for a worker and expired. Try again.';
    case 'timeout':
      return 'Processing this photo took too long and was stopped.';
    case 'cancelled':
      return 'The job was cancelled.';
    case 'storage_full':
      return 'The server ran out of room for the result. Try again later.';
    default:
      return 'The service could not process this photo.';
  }
}

async function errorOf(res) {
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await res.json().catch(() => null) : null;
  return wordProblem(res.status, body, res.headers.get('retry-after'));
}

const offline = () => new ApiError('Could not reach the server. Check the connection and try again.');

/**
 * POST /jobs with the photo and options (a Map of name → value); resolves with the job view.
 * onUpload(fraction) reports the upload.
 */
export function submitPhoto(file, options, key, onUpload) {
  const form = new FormData();
  for (const [name, value] of options) form.append(name, value);
  form.append('image', file, file.name || 'photo');
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/jobs');
    xhr.responseType = 'text';
    for (const [k, v] of Object.entries(authHeaders(key))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onUpload(e.loaded / e.total);
    };
    xhr.onerror = () => reject(offline());
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: worded from the status alone
      }
      if (xhr.status === 202 && body?.id) resolve(body);
      else reject(wordProblem(xhr.status, body, xhr.getResponseHeader('retry-after')));
    };
    xhr.send(form);
  });
}

/** Parses a text/event-stream body, calling onEvent(name, data) per event. */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = 'message';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (data.length) onEvent(event, data.join('\n'));
        event = 'message';
        data = [];
      } else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
}

/**
 * Follows a job to its end: onProgress(percent, status) as it moves, resolves with the final view
 * (completed or failed). If the stream breaks off, waits with long polls instead.
 */
export async function watchJob(id, key, onProgress) {
  const url = `/jobs/${encodeURIComponent(id)}`;
  let final;
  try {
    const res = await fetch(`${url}/events`, {
      headers: { ...authHeaders(key), Accept: 'text/event-stream' },
    });
    if (!res.ok || !res.body) throw await errorOf(res);
    await readEvents(res.body, (name, text) => {
      let data;
      try {
        data = JSON.parse(text);
      } catch {
        return;
      }
      if (name === 'state') onProgress(data.progress, data.status);
      else if (name === 'active') onProgress(0, 'active');
      else if (name === 'progress') onProgress(data.progress, 'active');
      else if (name === 'completed' || name === 'failed') final = data;
      else if (name === 'removed') final = { status: 'removed' };
    });
  } catch (err) {
    if (err instanceof ApiError && !err.retryable) throw err;
  }
  while (!final) {
    const res = await fetch(`${url}?wait=30`, { headers: authHeaders(key) }).catch(() => null);
    if (!res) throw offline();
    if (!res.ok) throw await errorOf(res);
    const view = await res.json();
    onProgress(view.progress, view.status);
    if (view.status === 'completed' || view.status === 'failed') final = view;
  }
  if (final.status === 'removed') throw new ApiError('The job was deleted before it finished.');
  return final;
}

/** GET /jobs/:id/result as a Blob. */
export async function fetchResult(id, key) {
  const res = await fetch(`/jobs/${encodeURIComponent(id)}/result`, { headers: authHeaders(key) }).catch(
    () => null,
  );
  if (!res) throw offline();
  if (!res.ok) throw await errorOf(res);
  return res.blob();
}

/** GET /covers: the modes, shapes, options and emoji the page offers. */
export async function fetchCatalogue() {
  const res = await fetch('/covers').catch(() => null);
  if (!res) throw offline();
  if (!res.ok) throw await errorOf(res);
  return res.json();
}
