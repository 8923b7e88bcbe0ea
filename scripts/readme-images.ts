// Regenerates the README's pictures from the one fixture photo that may be copied
// (../shared/fixtures/faces/astronaut.png, a NASA portrait in the public domain): the before/after
// pair, and the strip of every cover mode (docs/img/covers/<mode>.jpg, the head and shoulders).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { COVER_MODES } from '../shared/covers.js';
import { createEmojiRenderer } from '../shared/emojiRenderer.js';
import { createLogger } from '../shared/logger.js';
import { createDetector } from '../worker/detectors/index.js';
import { processImage, type PipelineDeps } from '../worker/pipeline.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = resolve(root, '../shared/fixtures/faces/astronaut.png');
const outDir = join(root, 'docs/img');

const input = readFileSync(source);
const detector = await createDetector(
  { detector: 'retinaface', backend: 'auto', tinyInputSize: 416 },
  createLogger('readme-images', 'warn'),
);
const renderer = createEmojiRenderer();
const deps: PipelineDeps = {
  detector,
  renderEmoji: (name, size, angle) => renderer.render(name, size, angle),
};
const run = (mode?: (typeof COVER_MODES)[number]) =>
  processImage(input, { ...(mode ? { mode } : { emoji: 'poop' }), format: 'png', minConfidence: 0.3 }, deps);

mkdirSync(join(outDir, 'covers'), { recursive: true });
const small = (bytes: Buffer) => sharp(bytes).resize(320).jpeg({ quality: 80 }).toBuffer();
const after = await run();
writeFileSync(join(outDir, 'astronaut-before.jpg'), await small(input));
writeFileSync(join(outDir, 'astronaut-after.jpg'), await small(after.output));

// The strip: a square around the face, 2.6 × its box's longer side (the whole head and the
// covers' reach), 200 px.
const face = after.faces[0];
if (!face) throw new Error('no face found in astronaut.png');
const meta = await sharp(input).metadata();
const side = Math.min(meta.width!, meta.height!, Math.round(2.6 * Math.max(face.width, face.height)));
const clamp = (v: number, max: number) => Math.max(0, Math.min(max - side, Math.round(v)));
const square = {
  left: clamp(face.x + face.width / 2 - side / 2, meta.width!),
  top: clamp(face.y + face.height / 2 - side / 2, meta.height!),
  width: side,
  height: side,
};
const tile = (bytes: Buffer) => sharp(bytes).extract(square).resize(200).jpeg({ quality: 82 }).toBuffer();
writeFileSync(join(outDir, 'covers', 'before.jpg'), await tile(input));
for (const mode of COVER_MODES) {
  writeFileSync(join(outDir, 'covers', `${mode}.jpg`), await tile((await run(mode)).output));
}
console.log(
  `wrote docs/img/astronaut-{before,after}.jpg and docs/img/covers/{before,${COVER_MODES.join(',')}}.jpg ` +
    `(${after.faces.length} face(s) covered)`,
);
