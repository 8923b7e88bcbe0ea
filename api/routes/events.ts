// GET /jobs/:id/events: a job's life as Server-Sent Events. First "state" (the job as GET /jobs/:id
// shows it now), then only forward: "active" (if it was queued), "progress" (each above the last)
// and finally "completed" or "failed" (or "removed" if the job is deleted), after which the stream
// ends. Events come from the queue's Redis event stream, so any API process can serve any job.
import { Router, type Response } from 'express';
import { clientOf } from '../auth.js';
import { baseUrl, type ApiDeps } from '../deps.js';
import { lookupJob } from '../jobLookup.js';
import { isEndState, type JobEvent } from '../jobWatch.js';
import { jobView, progressOf } from '../jobView.js';
import { HttpProblem } from '../problem.js';

const KEEPALIVE_MS = 15_000;
/** Re-read the job now and then, in case an event was missed (e.g. across a Redis reconnect). */
const RECHECK_MS = 5_000;

export function eventsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/jobs/:id/events', async (req, res) => {
    const { owner } = clientOf(req);
    const { id } = await lookupJob(deps, String(req.params.id), owner); // 404 as problem+json, before streaming
    const base = baseUrl(deps.config, req);
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx: do not buffer the stream
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n');

    const stream = openStream(res);
    // Events are handled one after another, so they reach the client in the order they happened.
    let chain = Promise.resolve();
    const then = (step: () => Promise<void> | void) => {
      chain = chain.then(step).catch((err: unknown) => {
        req.log?.warn({ jobId: id, err: String(err) }, 'event stream aborted');
        stream.end();
      });
    };
    const sendView = async (initial: boolean) => {
      let found;
      try {
        found = await lookupJob(deps, id, owner);
      } catch (err) {
        if (err instanceof HttpProblem && err.status === 404) {
          stream.send('removed', { id });
          return stream.end();
        }
        throw err;
      }
      const view = jobView(found.job, found.state, base);
      if (initial) {
        stream.send('state', view);
        seen.started = view.status !== 'queued';
        seen.progress = Number(view.progress);
      }
      if (isEndState(found.state)) {
        stream.send(String(view.status), view);
        stream.end();
      }
    };
    // The subscription starts before the first read, so events from in between arrive after the
    // state that already includes them: only what moves the job forward is passed on.
    const seen = { started: false, progress: -1 };
    const onEvent = (e: JobEvent) => {
      switch (e.type) {
        case 'active':
          return then(() => {
            if (seen.started) return;
            seen.started = true;
            stream.send('active', { id, status: 'active' });
          });
        case 'progress':
          return then(() => {
            const progress = progressOf(e.progress, 'active');
            if (progress <= seen.progress) return;
            seen.started = true;
            seen.progress = progress;
            stream.send('progress', { id, progress });
          });
        case 'completed':
        case 'failed':
          return then(() => sendView(false));
        case 'removed':
          return then(() => {
            stream.send('removed', { id });
            stream.end();
          });
        case 'closing':
          return then(() => stream.end());
      }
    };

    const unsubscribe = deps.watcher.subscribe(id, onEvent); // before the first read: nothing is missed
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const recheck = setInterval(() => then(() => sendView(false)), RECHECK_MS);
    stream.onEnd(() => {
      unsubscribe();
      clearInterval(keepalive);
      clearInterval(recheck);
    });
    res.on('close', () => stream.end());
    then(() => sendView(true));
    if (deps.watcher.closing.aborted) then(() => stream.end()); // opened during shutdown
  });
  return router;
}

/** Writes numbered SSE events until ended (by us or by the client going away). */
function openStream(res: Response) {
  let seq = 0;
  let ended = false;
  const onEnd: (() => void)[] = [];
  return {
    send(event: string, data: unknown) {
      if (ended) return;
      res.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      if (ended) return;
      ended = true;
      for (const f of onEnd) f();
      res.end();
    },
    onEnd(f: () => void) {
      onEnd.push(f);
    },
  };
}
