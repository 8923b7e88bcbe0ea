// Reading the uploaded image: a multipart file field, or (POST /jobs only) a raw image/* body.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { HttpProblem } from './problem.js';

export function multipartUpload(field: string, maxBytes: number): RequestHandler {
  const parse = multer({
    storage: multer.memoryStorage(),
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

/** Whether the request says it carries a body (the same test Express's req.is() makes). */
const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/** Accepts multipart/form-data (file in `field`) and, when allowRaw, a raw image/* body. */
export function imageUpload(field: string, maxBytes: number, allowRaw: boolean): RequestHandler {
  const multipart = multipartUpload(field, maxBytes);
  const raw = express.raw({ type: 'image/*', limit: maxBytes });
  return (req: Request, res: Response, next: NextFunction) => {
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
