// A FaceDetector whose model runs in a worker thread. TensorFlow.js inference is synchronous work on
// the thread that calls it (seconds on a slow Pi); on the process's main thread it would starve
// BullMQ's lock renewal and heartbeats, and the job would be declared stalled and run twice. Here
// the main thread only posts pixels and awaits boxes.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';
import type { Detection, DetectorSpec, FaceDetector, RgbImage, WeightsInfo } from './detectors/types.js';

/** What the thread needs to build its detector (serialisable: no logger, no functions). */
export type ThreadSpec = DetectorSpec & {
  logLevel: string;
  /** Tests only: burn this much CPU synchronously in the thread before each detection. */
  busyMs?: number;
};

export type ThreadRequest = {
  type: 'detect';
  id: number;
  data: Uint8Array;
  width: number;
  height: number;
  minConfidence: number;
};

export type ThreadReply =
  | { type: 'ready'; name: string; backend: string; weights: WeightsInfo; maxSide: number; tensors: number }
  | { type: 'detected'; id: number; detections: Detection[]; tensors: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'fatal'; message: string };

export interface ThreadedDetector extends FaceDetector {
  close(): Promise<void>;
}

// Built, the thread runs detectorThreadMain.js. Under tsx (tests) the sources are .ts, and Node 20
// does not pass tsx's loader on to worker threads: a small bootstrap loads the .ts through tsx.
const underTsx = import.meta.url.endsWith('.ts');
const entry = new URL(underTsx ? './detectorThreadMain.ts' : './detectorThreadMain.js', import.meta.url);
const newThread = (workerData: ThreadSpec) =>
  underTsx
    ? new Worker(
        `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(import.meta.url)}))`,
        { eval: true, workerData },
      )
    : new Worker(entry, { workerData });

export async function startDetectorThread(spec: ThreadSpec, log: Logger): Promise<ThreadedDetector> {
  let thread: Worker;
  let ready: Promise<{ name: string; backend: string; weights: WeightsInfo; maxSide: number }>;
  let tensors = 0;
  let nextId = 1;
  /** The thread exited (crash): the next detection starts a new one, unless we are closing. */
  let dead = false;
  let closing = false;
  const pending = new Map<number, { resolve: (d: Detection[]) => void; reject: (e: Error) => void }>();

  const spawn = () => {
    thread = newThread(spec);
    ready = new Promise((resolve, reject) => {
      thread.on('message', (msg: ThreadReply) => {
        switch (msg.type) {
          case 'ready':
            tensors = msg.tensors;
            return resolve(msg);
          case 'fatal':
            return reject(new Error(msg.message));
          case 'detected': {
            tensors = msg.tensors;
            pending.get(msg.id)?.resolve(msg.detections);
            pending.delete(msg.id);
            return;
          }
          case 'failed':
            pending.get(msg.id)?.reject(new Error(msg.message));
            pending.delete(msg.id);
            return;
        }
      });
      // A crashed thread fails its in-flight detections (the jobs are retried) and is replaced on
      // the next detection.
      thread.on('error', (err) => {
        log.error({ err: String(err) }, 'detector thread crashed');
        reject(err);
      });
      thread.on('exit', (code) => {
        for (const p of pending.values()) p.reject(new Error(`detector thread exited (${code})`));
        pending.clear();
        dead = true;
      });
    });
  };

  spawn();
  const info = await ready!;

  return {
    name: info.name,
    backend: info.backend,
    weights: info.weights,
    maxSide: info.maxSide,
    async detect(img: RgbImage, minConfidence: number): Promise<Detection[]> {
      if (dead && !closing) {
        dead = false;
        spawn();
        await ready;
      }
      const id = nextId++;
      return new Promise<Detection[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const request: ThreadRequest = {
          type: 'detect',
          id,
          data: img.data,
          width: img.width,
          height: img.height,
          minConfidence,
        };
        thread.postMessage(request);
      });
    },
    liveTensors: () => tensors,
    async close() {
      closing = true;
      await thread.terminate();
    },
  };
}
