// A minimal client of the service for load generation: submit, and wait with long polls.
export interface JobDone {
  id: string;
  status: string;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  /** Client clock: when the submit was sent, answered 202, and when the long poll answered "ended". */
  sentAt: number;
  acceptedAt: number;
  seenAt: number;
  /** decode + resize + detect + composite + encode, as the worker timed them. */
  processingMs: number;
  timings: Record<string, number>;
  backend: string;
}

export interface Submitted {
  id: string;
  sentAt: number;
  acceptedAt: number;
}

export async function submit(apiUrl: string, bytes: Buffer, name: string): Promise<Submitted> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)]), name);
  const sentAt = Date.now();
  const res = await fetch(`${apiUrl}/jobs`, { method: 'POST', body: form });
  if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { id: string };
  return { id: body.id, sentAt, acceptedAt: Date.now() };
}

/** Long-polls until the job ends. */
export async function awaitJob(apiUrl: string, { id, sentAt, acceptedAt }: Submitted): Promise<JobDone> {
  for (;;) {
    const res = await fetch(`${apiUrl}/jobs/${id}?wait=60`);
    const v = (await res.json()) as Record<string, unknown>;
    if (v.status === 'completed' || v.status === 'failed') {
      const timings = (v.timings as Record<string, number> | undefined) ?? {};
      return {
        id,
        status: String(v.status),
        createdAt: Date.parse(String(v.created_at)),
        startedAt: Date.parse(String(v.started_at)),
        finishedAt: Date.parse(String(v.finished_at)),
        sentAt,
        acceptedAt,
        seenAt: Date.now(),
        // The pipeline's own stages; everything else (upload, Redis, queue, events) is the service's.
        processingMs: Object.entries(timings)
          .filter(([k]) => k !== 'total')
          .reduce((a, [, v]) => a + v, 0),
        timings,
        backend: String(v.backend ?? ''),
      };
    }
  }
}
