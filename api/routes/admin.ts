// /admin/queues: the queue dashboard (bull-board), for the operator only. Mounted only when
// ADMIN_TOKEN is set, behind it (HTTP Basic with the token as the password, or Bearer). Read-only:
// deleting goes through DELETE /jobs/:id, which removes the upload and result bytes too. What it
// shows of a job is a whitelist: options, image sizes, timings and counts, never the callback URL's
// path or query (a receiver's secret often sits there), the owning API key's id, or face positions.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router } from 'express';
import helmet from 'helmet';
import type { TurdifyJobData, TurdifyJobResult } from '../../shared/jobs.js';
import type { WebhookJobData } from '../../shared/webhooks.js';
import { adminAuth } from '../auth.js';
import type { ApiDeps } from '../deps.js';

export const DASHBOARD_PATH = '/admin/queues';

/** scheme://host of a URL, for showing where a callback goes without its path or query. */
function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

/** The job data the dashboard may show: no callback path, no API key id. */
export function dashboardJobData(d: Partial<TurdifyJobData> | undefined): Record<string, unknown> {
  if (!d) return {};
  return {
    v: d.v,
    options: d.options,
    input: d.input,
    submittedAt: d.submittedAt,
    ...(d.callbackUrl ? { callback: originOf(d.callbackUrl) } : {}),
    ...(d.owner ? { owner: '(an API key)' } : {}),
  };
}

/** A result, less where the faces are: how many is enough to see it worked. */
export function dashboardJobResult(r: Partial<TurdifyJobResult> | undefined | null): unknown {
  if (!r) return r;
  const { format, bytes, width, height } = r.result ?? {};
  return {
    faces: r.faces?.length,
    result: { format, bytes, width, height },
    timings: r.timings,
    backend: r.backend,
    detector: r.detector,
    worker: r.worker,
  };
}

export function dashboardWebhookData(d: Partial<WebhookJobData> | undefined): Record<string, unknown> {
  if (!d) return {};
  const e = d.event;
  return {
    jobId: d.jobId,
    callback: originOf(d.url),
    ...(e
      ? {
          event: {
            type: e.type,
            timestamp: e.timestamp,
            status: e.data?.status,
            faces: e.data?.faces?.count,
            error: e.data?.error?.code ?? null,
          },
        }
      : {}),
  };
}

/**
 * bull-board's page styles its loading screen inline and its UI injects styles: 'unsafe-inline'
 * for styles here only (`directives` are the app's policy). Scripts stay 'self'. Its page also links
 * a Google Fonts stylesheet, which this policy refuses, so the browser never asks the network for it
 * (system fonts are used).
 */
const dashboardCsp = (directives: Record<string, string[]>) =>
  helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: { ...directives, styleSrc: ["'self'", "'unsafe-inline'"] },
  });

/** bull-board's adapter runs an Express app of its own: without the header ours does not send. */
class DashboardAdapter extends ExpressAdapter {
  constructor() {
    super();
    this.app.disable('x-powered-by');
  }
}

/** The dashboard's router, or undefined when ADMIN_TOKEN is not set (the path is then a 404). */
export function adminRouter(
  deps: Pick<ApiDeps, 'config' | 'queue' | 'webhooks'>,
  csp: { directives: Record<string, string[]> },
): Router | undefined {
  if (!deps.config.ADMIN_TOKEN) return undefined;
  const jobs = new BullMQAdapter(deps.queue as unknown as Queue, { readOnlyMode: true });
  jobs.setFormatter('data', (d: Partial<TurdifyJobData>) => dashboardJobData(d));
  jobs.setFormatter('returnValue', (r: Partial<TurdifyJobResult>) => dashboardJobResult(r));
  const webhooks = new BullMQAdapter(deps.webhooks as unknown as Queue, { readOnlyMode: true });
  webhooks.setFormatter('data', (d: Partial<WebhookJobData>) => dashboardWebhookData(d));

  const board = new DashboardAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: [jobs, webhooks],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Turdify queues' } },
  });
  const router = Router();
  router.use(
    DASHBOARD_PATH,
    adminAuth(deps.config, { basic: true }),
    dashboardCsp(csp.directives),
    board.getRouter() as Router,
  );
  return router;
}
