// Reading GET /jobs/:id/events as a client does, event by event, and the contract the README gives
// a client: the first event is the current state, later events only move forward.
import assert from 'node:assert/strict';

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface SseReader {
  /** The next event, or undefined once the stream has ended. */
  next(): Promise<SseEvent | undefined>;
  /** Every event still to come, until the stream ends. */
  rest(): Promise<SseEvent[]>;
}

export function readEvents(res: Response): SseReader {
  assert.equal(res.status, 200);
  assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  const next = async (): Promise<SseEvent | undefined> => {
    for (;;) {
      const end = buffered.indexOf('\n\n');
      if (end >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) return { event, data: JSON.parse(data) as Record<string, unknown> };
        continue; // retry: or a keep-alive comment
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffered += decoder.decode(value, { stream: true });
    }
  };
  return {
    next,
    rest: async () => {
      const all: SseEvent[] = [];
      for (let e = await next(); e; e = await next()) all.push(e);
      return all;
    },
  };
}

const RANK: Record<string, number> = { queued: 0, active: 1, completed: 2, failed: 2 };
const END = ['completed', 'failed', 'removed'];

/**
 * The README's promise: `state` first (the job as GET /jobs/:id shows it); then only forward:
 * `active` only while the job was last reported queued, `progress` only above the last figure
 * reported, and last one end event (completed, failed or removed), also for a job that had ended.
 */
export function assertForwardOnly(events: SseEvent[]): void {
  const names = events.map((e) => e.event).join(' ');
  assert.equal(events[0]?.event, 'state', `the first event is the state: ${names}`);
  let rank = RANK[String(events[0]!.data.status)]!;
  let progress = Number(events[0]!.data.progress);
  for (const [i, e] of events.slice(1).entries()) {
    if (END.includes(e.event)) {
      assert.equal(i, events.length - 2, `nothing after the end: ${names}`);
    } else if (e.event === 'active') {
      assert.equal(rank, 0, `"active" only after "queued": ${names}`);
      rank = 1;
    } else if (e.event === 'progress') {
      const p = Number(e.data.progress);
      assert.ok(rank < 2 && p > progress, `progress ${p} after ${progress}: ${names}`);
      progress = p;
      rank = 1;
    } else {
      assert.fail(`unexpected event ${e.event}: ${names}`);
    }
  }
  assert.ok(END.includes(events.at(-1)!.event), `the stream ends with the job: ${names}`);
}
