// One real face detector and emoji renderer per test process (model load ≈ 0.5–2 s).
import { createEmojiRenderer } from '../../shared/emojiRenderer.js';
import { createLogger } from '../../shared/logger.js';
import { createFaceApiDetector, type FaceDetector } from '../../worker/detector.js';
import type { RenderEmoji } from '../../worker/covers/index.js';

let detector: Promise<FaceDetector> | undefined;

export function sharedDetector(): Promise<FaceDetector> {
  detector ??= createFaceApiDetector({
    kind: 'ssd',
    tinyInputSize: 416,
    tfBackend: 'auto',
    log: createLogger('test', 'warn'),
  });
  return detector;
}

const renderer = createEmojiRenderer();
export const renderEmoji: RenderEmoji = (name, size, angle) => renderer.render(name, size, angle);
