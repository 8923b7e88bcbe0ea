// Slow clients: headers must arrive within HEADERS_TIMEOUT_SECONDS and a whole request within
// REQUEST_TIMEOUT_SECONDS (Node's own server timeouts, answered 408 by Node), and a body must keep
// coming: fewer than UPLOAD_MIN_BYTES_PER_SECOND × UPLOAD_STALL_SECONDS bytes in any such window
// and the connection is cut, which frees what the upload held. Against one byte a second
// (slow loris), which no total timeout alone stops in reasonable time.
import type { ServerOptions } from 'node:http';
import type { RequestHandler } from 'express';
import type { Config } from '../shared/config.js';
import { HttpProblem, sendProblem } from './problem.js';
import { hasBody } from './upload.js';

/** Options for http.createServer. */
export function serverTimeouts(config: Config): ServerOptions {
  const requestTimeout = config.REQUEST_TIMEOUT_SECONDS * 1000;
  return {
    requestTimeout,
    headersTimeout: Math.min(config.HEADERS_TIMEOUT_SECONDS * 1000, requestTimeout),
    // How often Node checks the two above (default 30 s, far coarser than a 10 s headers timeout).
    connectionsCheckingInterval: Math.min(1000, config.HEADERS_TIMEOUT_SECONDS * 500),
  };
}

/** Cuts off a request whose body stalls (see above). */
export function uploadStallGuard(config: Config): RequestHandler {
  const windowMs = config.UPLOAD_STALL_SECONDS * 1000;
  const minBytes = config.UPLOAD_MIN_BYTES_PER_SECOND * config.UPLOAD_STALL_SECONDS;
  return (req, res, next) => {
    if (minBytes <= 0 || !hasBody(req)) return next();
    const socket = req.socket;
    let seen = socket.bytesRead;
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return clearInterval(timer);
      const now = socket.bytesRead;
      if (now - seen >= minBytes) {
        seen = now;
        return;
      }
      clearInterval(timer);
      req.log?.warn({ bytes: now - seen, windowMs }, 'upload stalled: closing the connection');
      if (res.headersSent) return socket.destroy();
      res.setHeader('Connection', 'close');
      res.once('finish', () => socket.destroy());
      sendProblem(
        res,
        new HttpProblem(
          408,
          'request-timeout',
          'Request Timeout',
          `the upload sent under ${minBytes} bytes in ${config.UPLOAD_STALL_SECONDS} s; the connection is closed`,
        ),
      );
    }, windowMs);
    timer.unref();
    res.once('close', () => clearInterval(timer));
    next();
  };
}
