// The Express application: logging, routes, and problem+json for everything that goes wrong.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { ApiDeps } from './deps.js';
import { createMetrics } from './metrics.js';
import { HttpProblem, problemHandler, sendProblem } from './problem.js';
import { coversRouter } from './routes/covers.js';
import { eventsRouter } from './routes/events.js';
import { healthRouter } from './routes/health.js';
import { jobsRouter } from './routes/jobs.js';
import { turdifyRouter } from './routes/turdify.js';
import { workersRouter } from './routes/workers.js';

export type { ApiDeps } from './deps.js';

/** Known paths and the methods they answer, for 405 + Allow. */
const KNOWN_PATHS: { pattern: RegExp; allow: string[] }[] = [
  { pattern: /^\/jobs\/?$/, allow: ['POST'] },
  { pattern: /^\/jobs\/[^/]+\/?$/, allow: ['GET', 'HEAD', 'DELETE'] },
  { pattern: /^\/jobs\/[^/]+\/result\/?$/, allow: ['GET', 'HEAD'] },
  { pattern: /^\/jobs\/[^/]+\/events\/?$/, allow: ['GET'] },
  { pattern: /^\/turdify\/?$/, allow: ['POST'] },
  { pattern: /^\/(covers|emojis|healthz|readyz|workers|metrics)\/?$/, allow: ['GET', 'HEAD'] },
];

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Only result images carry an ETag (the worker's, strong); JSON answers are not cached.
  app.set('etag', false);
  app.use(
    pinoHttp({
      logger: deps.log,
      autoLogging: { ignore: (req) => /^\/(healthz|metrics)/.test(req.url ?? '') },
      customLogLevel: (_req, res) =>
        res.statusCode === 500 ? 'error' : res.statusCode >= 500 ? 'warn' : 'info',
    }),
  );
  const metrics = createMetrics(deps);
  app.use(metrics.middleware);
  app.use(metrics.router);
  app.use(healthRouter(deps));
  app.use(jobsRouter(deps));
  app.use(eventsRouter(deps));
  app.use(turdifyRouter(deps));
  app.use(workersRouter(deps));
  app.use(coversRouter());

  app.use((req: Request, res: Response, _next: NextFunction) => {
    const known = KNOWN_PATHS.find((k) => k.pattern.test(req.path));
    if (known) {
      const allow = known.allow.join(', ');
      sendProblem(
        res,
        new HttpProblem(
          405,
          'method-not-allowed',
          'Method Not Allowed',
          `${req.method} is not allowed here; use ${allow}`,
          {
            headers: { Allow: allow },
          },
        ),
      );
      return;
    }
    sendProblem(
      res,
      new HttpProblem(404, 'not-found', 'Not Found', `no route for ${req.method} ${req.path}`),
    );
  });
  app.use(problemHandler);
  return app;
}
