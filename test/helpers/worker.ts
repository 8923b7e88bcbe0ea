// One real face detector and emoji renderer per test process (model load ≈ 0.5–2 s).
import { createEmojiRenderer } from '../../shared/emojiRenderer.js';
import { createLogger } from '../../shared/logger.js';
import { createDetector, type DetectorSpec, type FaceDetector } from '../../worker/detectors/index.js';
import type { RenderEmoji } from '../../worker/covers/index.js';

const detectors = new Map<string, Promise<FaceDetector>>();

/** The default detector (as a worker with the default configuration builds it), built once. */
export function sharedDetector(spec: Partial<DetectorSpec> = {}): Promise<FaceDetector> {
  const full: DetectorSpec = { detector: 'retinaface', backend: 'auto', tinyInputSize: 416, ...spec };
  const key = JSON.stringify(full);
  let detector = detectors.get(key);
  if (!detector) detectors.set(key, (detector = createDetector(full, createLogger('test', 'warn'))));
  return detector;
}

const renderer = createEmojiRenderer();
export const renderEmoji: RenderEmoji = (name, size, angle) => renderer.render(name, size, angle);
