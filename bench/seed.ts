// 9. Against the original 2021 app (../shared/peers/seed-python): the peer (2 uvicorn workers) and
// Turdify (Redis + API + 2 worker processes) on this machine in the same run, each given the same
// photos with 4 requests in flight, PNG out on both sides. Rounds alternate between the systems (one
// at a time, the other idle) and the medians are reported. Turdify is driven both ways: the
// asynchronous API (POST /jobs with format=png, long poll, GET the result) and the synchronous
// POST /turdify/ (the peer's own interface: multipart field my_file, PNG back). A third Turdify,
// "fast", is the same service with a cheaper detector setting (FAST_PROFILE: RetinaFace at the
// photo's own size, upright only): what the service around a cheap model costs, with its accuracy
// in docs/detection.md.
import { awaitJob } from './lib/client.js';
import { startCluster, type Cluster } from './lib/cluster.js';
import type { Photo } from './lib/photos.js';
import { buildSeedPeer, startSeedPeer, type SeedPeer } from './lib/seedPeer.js';
import { median } from './lib/stats.js';

export const SEED_SYSTEMS = ['peer', 'async', 'sync', 'fast'] as const;

/** The cheap detector setting of the "fast" system (docs/detection.md scores it on the dev set). */
export const FAST_PROFILE = { DETECT_MIN_SIDE: '0', FIND_ORIENTATION: 'false' };
type System = (typeof SEED_SYSTEMS)[number];

export interface FaceAgreement {
  photos: number;
  /** Both found at least one face … and the same number. */
  bothFound: number;
  sameCount: number;
  onlyPeer: number;
  onlyTurdify: number;
  neither: number;
  /** Faces found in all, each side. */
  peerFaces: number;
  turdifyFaces: number;
}

export interface SeedMixResult {
  mix: string;
  photos: number;
  rounds: number;
  inFlight: number;
  /** Median over the rounds, photos/s. */
  rate: Record<System, number>;
  samples: Record<System, number[]>;
  failed: Record<System, number>;
  faces: FaceAgreement;
  /** The same, for the "fast" system. */
  fastFaces: FaceAgreement;
  /** Median ms per stage of Turdify's async jobs (the worker's own timings), over every round. */
  stagesMs: Record<string, number>;
  fastStagesMs: Record<string, number>;
}

export interface SeedResult {
  processes: number;
  mixes: SeedMixResult[];
}

interface Outcome {
  ok: boolean;
  faces: number;
  /** Turdify's job id, for reading its face count afterwards. */
  jobId?: string;
  /** The worker's stage timings (async jobs). */
  timings?: Record<string, number>;
}

const form = (field: string, photo: Photo, extra: Record<string, string> = {}) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(extra)) f.append(k, v);
  f.append(field, new Blob([new Uint8Array(photo.bytes)]), photo.name);
  return f;
};

interface Systems {
  peer: SeedPeer;
  cluster: Cluster;
  fast: Cluster;
}

/** One photo through one system, the whole round trip (the image comes back, read to its end). */
async function once(system: System, photo: Photo, { peer, cluster: main, fast }: Systems): Promise<Outcome> {
  const cluster = system === 'fast' ? fast : main;
  if (system === 'peer') {
    const res = await fetch(`${peer.url}/turdify/`, { method: 'POST', body: form('my_file', photo) });
    await res.arrayBuffer();
    return { ok: res.status === 200, faces: Number(res.headers.get('x-faces') ?? NaN) };
  }
  if (system === 'sync') {
    const res = await fetch(`${cluster.apiUrl}/turdify/`, { method: 'POST', body: form('my_file', photo) });
    await res.arrayBuffer();
    return { ok: res.status === 200, faces: NaN, jobId: res.headers.get('x-turdify-job-id') ?? undefined };
  }
  const sentAt = Date.now();
  const res = await fetch(`${cluster.apiUrl}/jobs`, {
    method: 'POST',
    body: form('image', photo, { format: 'png' }),
  });
  if (res.status !== 202) return { ok: false, faces: NaN };
  const { id } = (await res.json()) as { id: string };
  const done = await awaitJob(cluster.apiUrl, { id, sentAt, acceptedAt: Date.now() });
  if (done.status !== 'completed') return { ok: false, faces: NaN, jobId: id };
  const out = await fetch(`${cluster.apiUrl}/jobs/${id}/result`);
  await out.arrayBuffer();
  return { ok: out.status === 200, faces: NaN, jobId: id, timings: done.timings };
}

/** Every photo once through `system`, `inFlight` at a time; photos/s over the wall time. */
async function pass(
  system: System,
  photos: Photo[],
  inFlight: number,
  systems: Systems,
): Promise<{ rate: number; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = new Array(photos.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < photos.length) {
        const i = next++;
        outcomes[i] = await once(system, photos[i]!, systems).catch(() => ({ ok: false, faces: NaN }));
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { rate: outcomes.filter((o) => o.ok).length / seconds, outcomes };
}

async function turdifyFaces(apiUrl: string, jobId: string | undefined): Promise<number> {
  if (!jobId) return NaN;
  const v = (await (await fetch(`${apiUrl}/jobs/${jobId}`)).json()) as { faces?: unknown[] };
  return v.faces?.length ?? NaN;
}

function agreement(peer: Outcome[], turdify: number[]): FaceAgreement {
  const a: FaceAgreement = {
    photos: peer.length,
    bothFound: 0,
    sameCount: 0,
    onlyPeer: 0,
    onlyTurdify: 0,
    neither: 0,
    peerFaces: 0,
    turdifyFaces: 0,
  };
  peer.forEach((p, i) => {
    const t = turdify[i]!;
    a.peerFaces += p.faces || 0;
    a.turdifyFaces += t || 0;
    if (p.faces > 0 && t > 0) {
      a.bothFound++;
      if (p.faces === t) a.sameCount++;
    } else if (p.faces > 0) a.onlyPeer++;
    else if (t > 0) a.onlyTurdify++;
    else a.neither++;
  });
  return a;
}

const medians = (m: Record<string, number[]>) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));

/** A record with one entry per system. */
const perSystem = <T>(value: (s: System) => T) =>
  Object.fromEntries(SEED_SYSTEMS.map((s) => [s, value(s)])) as Record<System, T>;

async function benchMix(
  name: string,
  photos: Photo[],
  unique: number,
  rounds: number,
  inFlight: number,
  systems: Systems,
): Promise<SeedMixResult> {
  const samples = perSystem<number[]>(() => []);
  const failed = perSystem(() => 0);
  let last: Partial<Record<System, Outcome[]>> = {};
  const stages: Record<'async' | 'fast', Record<string, number[]>> = { async: {}, fast: {} };
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round: no system always runs first (or right after the slow one).
    const order = SEED_SYSTEMS.map((_, i) => SEED_SYSTEMS[(i + r) % SEED_SYSTEMS.length]!);
    last = {};
    for (const system of order) {
      const { rate, outcomes } = await pass(system, photos, inFlight, systems);
      samples[system].push(rate);
      failed[system] += outcomes.filter((o) => !o.ok).length;
      last[system] = outcomes;
      if (system === 'async' || system === 'fast')
        for (const o of outcomes)
          for (const [k, v] of Object.entries(o.timings ?? {})) (stages[system][k] ??= []).push(v);
      process.stderr.write(`  seed ${name} round ${r + 1}: ${system} ${rate.toFixed(2)} photos/s\n`);
    }
  }
  // Each distinct photo once (a mix may be passed more than once per round).
  const sync = last.sync!.slice(0, unique);
  const faces = await Promise.all(sync.map((o) => turdifyFaces(systems.cluster.apiUrl, o.jobId)));
  const fastFaces = await Promise.all(
    last.fast!.slice(0, unique).map((o) => turdifyFaces(systems.fast.apiUrl, o.jobId)),
  );
  return {
    mix: name,
    photos: photos.length,
    rounds,
    inFlight,
    rate: perSystem((s) => median(samples[s])),
    samples,
    failed,
    faces: agreement(last.peer!.slice(0, unique), faces),
    fastFaces: agreement(last.peer!.slice(0, unique), fastFaces),
    stagesMs: medians(stages.async),
    fastStagesMs: medians(stages.fast),
  };
}

/**
 * `mixes`: each set of photos, passed through every system once per round. The peer is built first
 * (setup.sh; throws with its reason when it cannot be).
 */
export async function benchSeed(
  mixes: { name: string; photos: Photo[]; passes?: number }[],
  rounds: number,
  inFlight = 4,
  processes = 2,
): Promise<SeedResult> {
  const dir = buildSeedPeer();
  const peer = await startSeedPeer(dir, processes);
  let cluster: Cluster | undefined;
  let fast: Cluster | undefined;
  try {
    cluster = await startCluster(processes);
    fast = await startCluster(processes, FAST_PROFILE);
    const systems = { peer, cluster, fast };
    const warm = mixes[0]!.photos.slice(0, 2 * inFlight);
    for (const system of SEED_SYSTEMS) await pass(system, warm, inFlight, systems);
    const results: SeedMixResult[] = [];
    for (const m of mixes) {
      const photos = Array.from({ length: m.passes ?? 1 }, () => m.photos).flat();
      results.push(await benchMix(m.name, photos, m.photos.length, rounds, inFlight, systems));
    }
    return { processes, mixes: results };
  } finally {
    await Promise.all([peer.stop(), cluster?.close(), fast?.close()]);
  }
}
