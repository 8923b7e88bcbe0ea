// The Express application: logging, routes, and problem+json for everything that goes wrong.
import cors from 'cors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { logSerializers } from '../shared/logger.js';
import { adminAuth, clientAuth } from './auth.js';
import type { ApiDeps } from './deps.js';
import { submissionLimits } from './limits.js';
import { createMetrics, type ApiMetrics } from './metrics.js';
import { uploadStallGuard } from './slowClients.js';
import { HttpProblem, problemHandler, redisUnavailable, sendProblem } from './problem.js';
import { adminRouter } from './routes/admin.js';
import { coversRouter } from './routes/covers.js';
import { docsRouter } from './routes/docs.js';
import { eventsRouter } from './routes/events.js';
import { healthRouter } from './routes/health.js';
import { jobsRouter } from './routes/jobs.js';
import { pageRouter } from './routes/page.js';
import { openapiRouter } from './routes/openapi.js';
import { problemsRouter } from './routes/problems.js';
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
  { pattern: /^\/(emojis\/[^/]+\.svg|web\/.+)?$/, allow: ['GET', 'HEAD'] },
  { pattern: /^\/(openapi\.json|docs|problems)\/?$/, allow: ['GET', 'HEAD'] },
  { pattern: /^\/problems\/[^/]+\/?$/, allow: ['GET', 'HEAD'] },
];

/**
 * The Content-Security-Policy of every answer, made for the web page the API serves at `/`: its own
 * script and style files only (no inline script, no eval), previews from blob:/data: URLs, fetch and
 * EventSource to this origin only, never framed. No upgrade-insecure-requests: `npm start` and a
 * LAN of Pis serve plain http, and that directive would send the page's requests to https.
 */
export const CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'blob:', 'data:'],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
};

/** Request headers a browser on another origin (CORS_ORIGINS) may send, and answer headers it may read. */
const CORS_REQUEST_HEADERS = [
  'Authorization',
  'X-API-Key',
  'Content-Type',
  'Idempotency-Key',
  'If-None-Match',
];
const CORS_EXPOSED_HEADERS = [
  'Location',
  'Retry-After',
  'RateLimit',
  'RateLimit-Policy',
  'Idempotent-Replayed',
  'ETag',
  'WWW-Authenticate',
  'X-Turdify-Job-Id',
];

/** Request headers that carry secrets: logged as "[redacted]". */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'cookie'];

/** pino-http's request serializer, less the API key or admin token (its `headers` is the request's own). */
function withoutCredentials<T extends { headers?: Record<string, unknown> }>(req: T): T {
  const headers = req.headers;
  if (headers && CREDENTIAL_HEADERS.some((h) => h in headers)) {
    req.headers = { ...headers };
    for (const h of CREDENTIAL_HEADERS) if (h in headers) req.headers[h] = '[redacted]';
  }
  return req;
}

/** metrics: pass the one server.ts also serves on METRICS_PORT; by default the app makes its own. */
export function createApp(deps: ApiDeps, metrics: ApiMetrics = createMetrics(deps)): Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Only result images carry an ETag (the worker's, strong); JSON answers are not cached.
  app.set('etag', false);
  // Whose address req.ip is (rate limits per address): X-Forwarded-For only from trusted proxies.
  app.set('trust proxy', config.TRUST_PROXY);
  app.use(
    helmet({
      contentSecurityPolicy: CONTENT_SECURITY_POLICY,
      xFrameOptions: { action: 'deny' },
      // Browsers honour it over HTTPS only; not for the subdomains of a name the API may merely share.
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
    }),
  );
  app.use(
    pinoHttp({
      logger: deps.log,
      // Ours for err, not pino's standard one, which copies a Redis error's command arguments (an
      // upload); requests without their credentials.
      serializers: { ...logSerializers, req: withoutCredentials },
      autoLogging: { ignore: (req) => /^\/(healthz|metrics)/.test(req.url ?? '') },
      customLogLevel: (_req, res) =>
        res.statusCode === 500 ? 'error' : res.statusCode >= 500 ? 'warn' : 'info',
    }),
  );
  app.use(metrics.middleware);
  if (config.CORS_ORIGINS.length > 0) {
    app.use(
      cors({
        origin: config.CORS_ORIGINS,
        methods: ['GET', 'HEAD', 'POST', 'DELETE'],
        allowedHeaders: CORS_REQUEST_HEADERS,
        exposedHeaders: CORS_EXPOSED_HEADERS,
        maxAge: 600,
      }),
    );
  }
  app.use(uploadStallGuard(config));
  app.use(healthRouter(deps));

  // Operator routes: ADMIN_TOKEN when set. /metrics moves to METRICS_PORT when that is set.
  const admin = adminAuth(config);
  if (config.METRICS_PORT === undefined) {
    app.use('/metrics', admin);
    app.use(metrics.router);
  } else {
    app.all('/metrics', (req) => {
      throw new HttpProblem(404, 'not-found', 'Not Found', `no route for ${req.method} ${req.path}`);
    });
  }
  app.use('/workers', admin);
  // The queue dashboard: only with ADMIN_TOKEN (else its path is a 404).
  const dashboard = adminRouter(deps, CONTENT_SECURITY_POLICY);
  if (dashboard) app.use(dashboard);

  // Job routes: Redis connected (BullMQ waits, without end, for a connection never yet made: a
  // Redis down since the API started would hold every request), an API key (required with
  // REQUIRE_API_KEY), then the submission limits.
  app.use(['/jobs', '/turdify'], (_req: Request, _res: Response, next: NextFunction) => {
    next(deps.redis.status === 'ready' ? undefined : redisUnavailable());
  });
  app.use(['/jobs', '/turdify'], clientAuth(deps));
  const limits = submissionLimits(deps);
  if (limits.length > 0) app.post(['/jobs', '/turdify'], ...limits);

  app.use(jobsRouter(deps));
  app.use(eventsRouter(deps));
  app.use(turdifyRouter(deps));
  app.use(workersRouter(deps));
  app.use(coversRouter());
  app.use(pageRouter());
  app.use(problemsRouter());
  app.use(openapiRouter(deps));
  app.use(docsRouter());

  app.use((req: Request, res: Response, _next: NextFunction) => {
    const known = KNOWN_PATHS.find((k) => k.pattern.test(req.path));
    // A GET that reached here under /web/ or /emojis/ is a file that is not there: 404, not 405.
    if (known && !known.allow.includes(req.method)) {
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
