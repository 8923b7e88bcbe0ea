// Regenerates the README's before/after picture from the one fixture photo that may be copied
// (../shared/fixtures/faces/astronaut.png, a NASA portrait in the public domain).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createEmojiRenderer } from '../shared/emojiRenderer.js';
import { createLogger } from '../shared/logger.js';
import { createDetector } from '../worker/detectors/index.js';
import { processImage } from '../worker/pipeline.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = resolve(root, '../shared/fixtures/faces/astronaut.png');
const outDir = join(root, 'docs/img');

const input = readFileSync(source);
const detector = await createDetector(
  { detector: 'retinaface', backend: 'auto', tinyInputSize: 416 },
  createLogger('readme-images', 'warn'),
);
const renderer = createEmojiRenderer();
const out = await processImage(
  input,
  { emoji: 'poop', format: 'png', minConfidence: 0.5 },
  { detector, renderEmoji: (name, size) => renderer.render(name, size) },
);
mkdirSync(outDir, { recursive: true });
const small = (bytes: Buffer) => sharp(bytes).resize(320).jpeg({ quality: 80 }).toBuffer();
writeFileSync(join(outDir, 'astronaut-before.jpg'), await small(input));
writeFileSync(join(outDir, 'astronaut-after.jpg'), await small(out.output));
console.log(`wrote docs/img/astronaut-{before,after}.jpg (${out.faces.length} face(s) covered)`);
