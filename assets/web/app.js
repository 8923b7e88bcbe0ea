// The page: photos in (pick, camera, drop, paste), one card per photo with its progress, the result
// beside the original, and downloads (one, or all as a zip).
import { ApiError, fetchCatalogue, fetchResult, submitPhoto, watchJob, wordJobError } from './api.js';
import { forgetKey, saveKey, savedKey, setUpChoices } from './choices.js';

/** Photos sent at once; the rest wait their turn (the API rate-limits submissions). */
const PARALLEL = 3;
/** A photo refused for a while (429, 503 with Retry-After) is sent again by itself, this often at most. */
const AUTO_RETRIES = 3;
const MAX_AUTO_WAIT_S = 120;

const $ = (sel) => document.querySelector(sel);
const resultsPanel = $('#results-panel');
const list = $('#results');
const zipButton = $('#zip');
const keyForm = $('#key-form');
const keyInput = $('#key-input');

let fields = () => new Map();
const jobs = [];
const waiting = [];
let running = 0;

const EXT = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' };

/** `holiday.jpg` → `holiday.turdified.png` (the result's own format), as the CLI names them. */
function resultName(file, blob) {
  const base = (file.name || 'photo').replace(/\.[^.]*$/, '') || 'photo';
  return `${base}.turdified.${EXT[blob.type] ?? 'img'}`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function newCard(file) {
  const li = $('#job-template').content.firstElementChild.cloneNode(true);
  const name = file.name || 'Pasted photo';
  li.querySelector('.name').textContent = name;
  const before = li.querySelector('.before');
  before.src = URL.createObjectURL(file);
  before.alt = `Original: ${name}`;
  // Not a picture the browser can show (a text file, or HEIC in most browsers): no empty frame.
  before.addEventListener('error', () => {
    before.closest('figure').hidden = true;
  });
  li.querySelector('.bar').setAttribute('aria-label', `Progress of ${name}`);
  list.append(li);
  resultsPanel.hidden = false;
  const job = { file, name, li, blob: null, state: 'waiting' };
  li.querySelector('.retry').addEventListener('click', () => enqueue(job));
  jobs.push(job);
  return job;
}

function show(job, { status, progress, error }) {
  const { li } = job;
  const bar = li.querySelector('.bar');
  if (progress === undefined) bar.removeAttribute('value');
  else bar.value = progress;
  bar.hidden = progress === 100 || Boolean(error);
  if (status !== undefined) li.querySelector('.status').textContent = status;
  const err = li.querySelector('.error');
  err.hidden = !error;
  err.textContent = error ?? '';
  li.classList.toggle('failed', Boolean(error));
}

function enqueue(job) {
  clearTimeout(job.timer);
  job.state = 'waiting';
  job.li.querySelector('.retry').hidden = true;
  show(job, { status: 'Waiting its turn…', progress: undefined });
  waiting.push(job);
  pump();
}

function pump() {
  while (running < PARALLEL && waiting.length > 0) {
    const job = waiting.shift();
    running++;
    run(job).finally(() => {
      running--;
      pump();
    });
  }
}

const statusLine = (status, progress) =>
  status === 'queued' ? 'Waiting for a worker…' : `Finding and covering faces… ${progress} %`;

async function run(job) {
  job.state = 'running';
  const key = savedKey();
  try {
    show(job, { status: 'Uploading…', progress: 0 });
    const view = await submitPhoto(job.file, fields(), key, (f) =>
      show(job, { status: `Uploading… ${Math.round(f * 100)} %`, progress: undefined }),
    );
    show(job, { status: statusLine(view.status, 0), progress: 0 });
    const final = await watchJob(view.id, key, (progress, status) =>
      show(job, { status: statusLine(status, progress), progress }),
    );
    if (final.status === 'failed') throw new ApiError(wordJobError(final.error), { status: 422 });
    const blob = await fetchResult(view.id, key);
    done(job, final, blob);
  } catch (err) {
    failed(job, err);
  }
}

function done(job, view, blob) {
  job.state = 'done';
  job.blob = blob;
  job.downloadName = resultName(job.file, blob);
  const faces = Array.isArray(view.faces) ? view.faces.length : 0;
  const found = faces === 0 ? 'No face found' : `${plural(faces, 'face', 'faces')} covered`;
  const url = URL.createObjectURL(blob);
  const after = job.li.querySelector('.after');
  after.src = url;
  after.alt = `Result: ${job.name}, ${found.toLowerCase()}`;
  job.li.querySelector('.after-figure').hidden = false;
  const link = job.li.querySelector('.download');
  link.href = url;
  link.download = job.downloadName;
  link.textContent = `Download ${job.downloadName}`;
  link.hidden = false;
  show(job, { status: `Done: ${found}.`, progress: 100 });
  zipButton.disabled = false;
}

function failed(job, err) {
  job.state = 'failed';
  const message = err instanceof ApiError ? err.message : 'Something went wrong with this photo.';
  show(job, { status: '', error: message });
  if (err instanceof ApiError && err.needsKey) {
    job.state = 'needs-key';
    if (err.message.includes('not accepted')) forgetKey();
    askForKey(err.message);
    return;
  }
  const retryable = err instanceof ApiError && err.retryable;
  job.li.querySelector('.retry').hidden = !retryable;
  const wait = retryable ? err.retryAfter : undefined;
  if (wait !== undefined && wait <= MAX_AUTO_WAIT_S && (job.autoRetries ?? 0) < AUTO_RETRIES) {
    job.autoRetries = (job.autoRetries ?? 0) + 1;
    show(job, { status: `Sending it again by itself in ${wait} s.`, error: message });
    clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      if (job.state === 'failed') enqueue(job);
    }, wait * 1000);
  }
}

function askForKey(why) {
  $('#key-why').textContent = `${why} It is kept in this browser only.`;
  keyForm.hidden = false;
  keyInput.focus();
}

keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (!key) return;
  saveKey(key);
  keyInput.value = '';
  keyForm.hidden = true;
  for (const job of jobs) if (job.state === 'needs-key') enqueue(job);
});

function addFiles(files) {
  for (const file of files) enqueue(newCard(file));
}

/** Distinct names inside the zip: a second `a.turdified.png` becomes `a.turdified (2).png`. */
function uniqueNames(names) {
  const seen = new Map();
  return names.map((n) => {
    const count = (seen.get(n) ?? 0) + 1;
    seen.set(n, count);
    return count === 1 ? n : n.replace(/(\.[^.]*)?$/, ` (${count})$1`);
  });
}

zipButton.addEventListener('click', async () => {
  const ready = jobs.filter((j) => j.blob);
  if (ready.length === 0) return;
  zipButton.disabled = true;
  try {
    // Loaded only when wanted; zipSync, not zip: fflate's async form starts a blob: Worker, which
    // the page's Content-Security-Policy does not allow. Level 0: the images are compressed already.
    const { zipSync } = await import('/web/vendor/fflate.js');
    const names = uniqueNames(ready.map((j) => j.downloadName));
    const entries = {};
    for (const [i, j] of ready.entries())
      entries[names[i]] = [new Uint8Array(await j.blob.arrayBuffer()), { level: 0 }];
    const zip = new Blob([zipSync(entries)], { type: 'application/zip' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(zip);
    a.download = 'turdified.zip';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  } finally {
    zipButton.disabled = false;
  }
});

for (const input of [$('#pick'), $('#camera')]) {
  input.addEventListener('change', () => {
    addFiles([...input.files]);
    input.value = '';
  });
}

const drop = $('#drop');
for (const type of ['dragenter', 'dragover']) {
  document.addEventListener(type, (e) => {
    if (![...(e.dataTransfer?.types ?? [])].includes('Files')) return;
    e.preventDefault();
    drop.classList.add('dragging');
  });
}
document.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) drop.classList.remove('dragging');
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('dragging');
  addFiles([...(e.dataTransfer?.files ?? [])]);
});
document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length === 0 || e.target instanceof HTMLInputElement) return;
  e.preventDefault();
  addFiles(files);
});

async function start() {
  const form = $('#options');
  try {
    fields = setUpChoices(form, await fetchCatalogue());
  } catch (err) {
    form.querySelector('.note').textContent =
      err instanceof ApiError
        ? `The choices could not be loaded: ${err.message}`
        : 'The choices could not be loaded.';
  }
  document.body.classList.add('ready');
}

start();
