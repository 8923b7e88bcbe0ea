// The detector thread's side (see detectorThread.ts): builds the model once, then answers
// detection requests one at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/logger.js';
import type { ThreadReply, ThreadRequest, ThreadSpec } from './detectorThread.js';
import { createDetector } from './detectors/index.js';

const spec = workerData as ThreadSpec;
const port = parentPort!;
const reply = (msg: ThreadReply) => port.postMessage(msg);

function busy(ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // deliberately blocking: tests simulate a very slow model
  }
}

try {
  const { logLevel, busyMs, ...options } = spec;
  const detector = await createDetector(options, createLogger('detector', logLevel));
  port.on('message', (msg: ThreadRequest) => {
    const image = {
      data: Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength),
      width: msg.width,
      height: msg.height,
    };
    if (busyMs) busy(busyMs);
    detector.detect(image, msg.minConfidence).then(
      (detections) => reply({ type: 'detected', id: msg.id, detections, tensors: detector.liveTensors() }),
      (err: unknown) =>
        reply({ type: 'failed', id: msg.id, message: err instanceof Error ? err.message : String(err) }),
    );
  });
  reply({
    type: 'ready',
    name: detector.name,
    backend: detector.backend,
    weights: detector.weights,
    maxSide: detector.maxSide,
    tensors: detector.liveTensors(),
  });
} catch (err) {
  reply({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
}
