// Reading the uploaded image: a multipart file field, or (POST /jobs only) a raw image/* body. Both
// count their bytes against the process's upload budget as they arrive (api/uploadBudget.ts).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import multer from 'multer';
import { HttpProblem } from './problem.js';
import { uploadsBusy, type UploadBudget } from './uploadBudget.js';

const tooLarge = () =>
  new HttpProblem(413, 'payload-too-large', 'Payload Too Large', 'the upload exceeds the size limit');

/** multer's memory storage, counting each chunk against the budget as busboy hands it over. */
function budgetedMemoryStorage(budget: UploadBudget): multer.StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const meter = budget.meter(req, req.res!);
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      file.stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        if (!meter.add(chunk.length)) {
          failed = true;
          chunks.length = 0;
          file.stream.resume(); // let busboy run to the end of the part; multer then drains the body
          cb(uploadsBusy());
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      file.stream.on('error', (err: Error) => {
        if (!failed) cb(err);
        failed = true;
      });
      file.stream.on('end', () => {
        if (!failed) cb(null, { buffer: Buffer.concat(chunks, size), size });
      });
    },
    _removeFile(_req, file, cb) {
      delete (file as Partial<Express.Multer.File>).buffer;
      cb(null);
    },
  };
}

export function multipartUpload(field: string, maxBytes: number, budget: UploadBudget): RequestHandler {
  const parse = multer({
    storage: budgetedMemoryStorage(budget),
    limits: { fileSize: maxBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 40 },
  }).single(field);
  // Busboy reports a malformed body (no boundary, cut short) as a plain Error: that is the client's.
  return (req, res, next) =>
    parse(req, res, (err?: unknown) => {
      if (!err || err instanceof multer.MulterError || err instanceof HttpProblem) return next(err);
      next(
        new HttpProblem(
          400,
          'malformed-multipart',
          'Bad Request',
          `the multipart/form-data body could not be parsed: ${(err as Error).message}`,
        ),
      );
    });
}

/** A raw image/* body into req.body, at most maxBytes, counted against the budget as it arrives. */
export function rawUpload(maxBytes: number, budget: UploadBudget): RequestHandler {
  return (req, res, next) => {
    if (!hasBody(req)) return next();
    const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') {
      return next(
        new HttpProblem(
          415,
          'unsupported-media-type',
          'Unsupported Media Type',
          `Content-Encoding "${encoding}" is not accepted: send the image bytes as they are`,
        ),
      );
    }
    const meter = budget.meter(req, res);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // Once refused, the rest of the body is read and dropped (Node does so after the answer).
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (err) chunks.length = 0;
      next(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) return settle(tooLarge());
      if (!meter.add(chunk.length)) return settle(uploadsBusy());
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      req.body = Buffer.concat(chunks, size);
      settle();
    });
    req.on('error', () =>
      settle(new HttpProblem(400, 'bad-request', 'Bad Request', 'the upload was cut off before its end')),
    );
  };
}

/** Whether the request says it carries a body (the same test Express's req.is() makes). */
export const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/** Accepts multipart/form-data (file in `field`) and, when allowRaw, a raw image/* body. */
export function imageUpload(
  field: string,
  maxBytes: number,
  allowRaw: boolean,
  budget: UploadBudget,
): RequestHandler {
  const multipart = multipartUpload(field, maxBytes, budget);
  const raw = rawUpload(maxBytes, budget);
  return (req: Request, res: Response, next: NextFunction) => {
    // Refused before a byte of the body is read: too large for the limit, or for the budget now.
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared)) {
      const isRaw = allowRaw && req.is('image/*');
      if (isRaw && declared > maxBytes) return next(tooLarge());
      if (!budget.fits(Math.min(declared, maxBytes))) return next(uploadsBusy());
    }
    if (req.is('multipart/form-data')) return multipart(req, res, next);
    if (allowRaw && req.is('image/*')) return raw(req, res, next);
    if (hasBody(req)) {
      return next(
        new HttpProblem(
          415,
          'unsupported-media-type',
          'Unsupported Media Type',
          allowRaw
            ? `send multipart/form-data with the image in field "${field}", or a raw image/* body`
            : `send multipart/form-data with the image in field "${field}"`,
        ),
      );
    }
    next();
  };
}

/** The uploaded bytes, or a 400 when there are none. */
export function uploadedBytes(req: Request, field: string): Buffer {
  if (req.file) return req.file.buffer;
  if (Buffer.isBuffer(req.body) && req.body.length > 0) return req.body;
  throw new HttpProblem(
    400,
    'missing-image',
    'Bad Request',
    `no image uploaded (expected a file in field "${field}")`,
    {
      extensions: { field },
    },
  );
}

/** Form fields (multipart only), for option parsing. */
export const formFields = (req: Request): unknown =>
  req.file || req.is('multipart/form-data') ? req.body : undefined;
