// A large upload made from a fixture photo (in memory, never written into the repository): a real
// group photo enlarged to 2400×1800 and saved at JPEG quality 100, ≈ 3.6 MB — a phone photo's size.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { fixturesDir } from './fixtures.js';

export async function largePhoto(width = 2400, height = 1800): Promise<Buffer> {
  const source = readFileSync(join(fixturesDir, 'wider_val_12_Group_Group_12_Group_Group_12_728.jpg'));
  return sharp(source)
    .resize(width, height, { fit: 'fill' })
    .sharpen({ sigma: 2 })
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .toBuffer();
}
