// mode=emoji: an emoji over each face, turned with the face, sized from the art's own opaque shape
// so that it hides the whole face box at any angle.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { emojiList, RANDOM_EMOJI, type Cover } from '../../shared/covers.js';
import { MAX_EMOJI_SIZE, rotatedSide } from '../../shared/emojiRenderer.js';
import { EMOJIS } from '../../shared/emojis.js';
import type { FaceBox } from '../../shared/jobs.js';
import { clipRect, faceRoll, type Rect } from './geometry.js';
import type { CoverFn, Layer, RawEmoji, RenderEmoji } from './types.js';

/**
 * How far the art is opaque from its centre, per degree: radius[k] is the distance along the ray
 * at k° (clockwise from +x, as seen) to the first pixel under OPAQUE alpha, as a fraction of the
 * half side. A round emoji is ≈ 0.95 all round; poop's notches between its coils come down to 0.66,
 * which is why a fixed "1.45 × the box" square (the old rule, resting on the inscribed circle)
 * left the box's upper corners showing.
 */
export interface ArtProfile {
  radius: Float64Array;
}

/** Alpha counted as hiding what is under it: fully opaque, so not a trace of the face is mixed in. */
export const OPAQUE = 255;
/** Side of the raster the profile is measured on (one pixel is 0.4 % of the half side). */
export const PROFILE_SIDE = 512;
/** The emoji's centre may move along the face's vertical axis by this much of the box's longer side. */
export const MAX_SHIFT = 0.25;
const SHIFT_STEP = 0.01;
/** Added to every emoji's side for the anti-aliased rim of its art. */
export const RIM_PX = 2;
/** Points sampled along each side of the box while searching for the centre. */
const SAMPLES_PER_SIDE = 24;

export function artProfile(art: RawEmoji): ArtProfile {
  const s = art.width;
  const c = s / 2;
  const alpha = (x: number, y: number) => {
    const xi = Math.min(s - 1, Math.max(0, Math.floor(x)));
    const yi = Math.min(s - 1, Math.max(0, Math.floor(y)));
    return art.data[(yi * s + xi) * 4 + 3]!;
  };
  const raw = new Float64Array(360);
  for (let k = 0; k < 360; k++) {
    const a = (k * Math.PI) / 180;
    let r = 0;
    while (r < c && alpha(c + r * Math.cos(a), c + r * Math.sin(a)) >= OPAQUE) r += 0.5;
    raw[k] = r;
  }
  // Conservative between the sampled rays: the smallest of each ray and its neighbours, less a pixel.
  const radius = new Float64Array(360);
  for (let k = 0; k < 360; k++) {
    const r = Math.min(raw[(k + 359) % 360]!, raw[k]!, raw[(k + 1) % 360]!) - 1;
    // A guard for broken art (the asset check requires an opaque centre): never a zero radius.
    radius[k] = Math.max(0.2, r / c);
  }
  return { radius };
}

/** Box outline points, relative to the box's centre, for the search (the final size is exact). */
function outline(w: number, h: number): [number, number][] {
  const pts: [number, number][] = [];
  for (let i = 0; i < SAMPLES_PER_SIDE; i++) {
    const t = i / SAMPLES_PER_SIDE;
    pts.push(
      [-w / 2 + t * w, -h / 2],
      [w / 2, -h / 2 + t * h],
      [w / 2 - t * w, h / 2],
      [-w / 2, h / 2 - t * h],
    );
  }
  return pts;
}

/** The ray bin (whole degrees) of a direction in the art's frame. */
const binOf = (x: number, y: number) => Math.round((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;

/** The side needed for points sampled on the box's outline ([x, y] already in the art's frame). */
function sampledNeed(pts: [number, number][], profile: ArtProfile): number {
  let side = 0;
  for (const [x, y] of pts) side = Math.max(side, (2 * Math.hypot(x, y)) / profile.radius[binOf(x, y)]!);
  return side;
}

/**
 * The exact side needed for the segment a→b (in the art's frame, not through its centre): the
 * profile is constant within each degree's bin and the distance to the centre is convex along a
 * segment, so the farthest need is at the segment's ends or where it crosses a bin's edge (there
 * the smaller of the two bins' radii counts).
 */
function segmentNeed(ax: number, ay: number, bx: number, by: number, profile: ArtProfile): number {
  const r = profile.radius;
  let side = Math.max(
    (2 * Math.hypot(ax, ay)) / r[binOf(ax, ay)]!,
    (2 * Math.hypot(bx, by)) / r[binOf(bx, by)]!,
  );
  const ex = bx - ax;
  const ey = by - ay;
  for (let k = 0; k < 360; k++) {
    const beta = ((k + 0.5) * Math.PI) / 180;
    const dx = Math.cos(beta);
    const dy = Math.sin(beta);
    const denom = ex * dy - ey * dx;
    if (denom === 0) continue;
    const t = -(ax * dy - ay * dx) / denom;
    if (t <= 0 || t >= 1) continue;
    const px = ax + t * ex;
    const py = ay + t * ey;
    if (px * dx + py * dy <= 0) continue; // the opposite ray
    side = Math.max(side, (2 * Math.hypot(px, py)) / Math.min(r[k]!, r[(k + 1) % 360]!));
  }
  return side;
}

/**
 * The smallest emoji square (side, centre) whose opaque art, turned by `angle` degrees, contains the
 * face box. The art's opaque part is star-shaped around its centre by construction (rays), so when
 * the centre lies in the box, containing the box's outline means containing the box. The centre is
 * the box's, or moved along the face's vertical axis when that lets a smaller emoji do (poop is
 * wider low down): searched on sampled outline points, then the size is computed exactly there.
 */
export function emojiFit(face: FaceBox, angle: number, profile: ArtProfile) {
  const a = (angle * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  // Into the art's own frame: relative to its centre, turned back by the angle.
  const toArt = (x: number, y: number, ox: number, oy: number): [number, number] => [
    (x - ox) * cos + (y - oy) * sin,
    -(x - ox) * sin + (y - oy) * cos,
  ];
  const pts = outline(face.width, face.height);
  const longer = Math.max(face.width, face.height);
  let best = { side: Infinity, ox: 0, oy: 0 };
  const steps = Math.round(MAX_SHIFT / SHIFT_STEP);
  // 0, +1, −1, +2, … so that ties keep the emoji centred.
  for (let n = 0; n <= 2 * steps; n++) {
    const t = (n % 2 === 0 ? -n / 2 : (n + 1) / 2) * SHIFT_STEP;
    // The face's "up", turned with it; the centre stays well inside the box.
    const ox = t * longer * sin;
    const oy = -t * longer * cos;
    if (Math.abs(ox) > 0.4 * face.width || Math.abs(oy) > 0.4 * face.height) continue;
    const side = sampledNeed(
      pts.map(([x, y]) => toArt(x, y, ox, oy)),
      profile,
    );
    if (side < best.side - 1e-9) best = { side, ox, oy };
  }
  const { ox, oy } = best;
  const w = face.width / 2;
  const h = face.height / 2;
  const c = [toArt(-w, -h, ox, oy), toArt(w, -h, ox, oy), toArt(w, h, ox, oy), toArt(-w, h, ox, oy)];
  let side = 0;
  for (let i = 0; i < 4; i++) {
    const [p, q] = [c[i]!, c[(i + 1) % 4]!];
    side = Math.max(side, segmentNeed(p[0], p[1], q[0], q[1], profile));
  }
  return { side, cx: face.x + w + ox, cy: face.y + h + oy };
}

export interface EmojiPlacement {
  /** Side of the upright emoji square, and the whole degrees it is turned by. */
  side: number;
  angle: number;
  /** Side of the turned square's raster (rotatedSide). */
  turned: number;
  /** Where the visible part goes in the image, and which part of the raster that is. */
  left: number;
  top: number;
  crop: Rect;
}

/** Where one face's emoji goes; null when it would fall entirely outside the image. */
export function emojiPlacement(
  face: FaceBox,
  profile: ArtProfile,
  scale: number,
  imageWidth: number,
  imageHeight: number,
): EmojiPlacement | null {
  // Whole degrees: the renderer caches per angle, and half a degree is invisible.
  const angle = Math.round(faceRoll(face).angle);
  const fit = emojiFit(face, angle, profile);
  // Two pixels more: the art's anti-aliased rim is under OPAQUE at any size.
  const side = Math.max(1, Math.ceil(fit.side * scale) + RIM_PX);
  const turned = rotatedSide(side, angle);
  const x0 = Math.round(fit.cx - turned / 2);
  const y0 = Math.round(fit.cy - turned / 2);
  const visible = clipRect(x0, y0, x0 + turned, y0 + turned, imageWidth, imageHeight);
  if (!visible) return null;
  return {
    side,
    angle,
    turned,
    left: visible.left,
    top: visible.top,
    crop: { ...visible, left: visible.left - x0, top: visible.top - y0 },
  };
}

/**
 * The emoji of each face: the names of a list in turn, or for `random` a shuffle of the catalogue
 * seeded by the job (a new shuffle each round when there are more faces than emoji), so neighbours
 * differ and a job retried covers the same way.
 */
export function emojiChoice(spec: string, count: number, seed: string): string[] {
  const names = spec === RANDOM_EMOJI ? [] : emojiList(spec);
  const out: string[] = [];
  for (let round = 0; out.length < count; round++) {
    out.push(
      ...(spec === RANDOM_EMOJI
        ? shuffled(
            EMOJIS.map((e) => e.name),
            `${seed}\u0000${round}`,
          )
        : names),
    );
  }
  return out.slice(0, count);
}

function shuffled(items: string[], seed: string): string[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const u = createHash('sha256').update(`${seed}\u0000${i}`).digest().readUInt32BE(0) / 2 ** 32;
    const j = Math.floor(u * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// Profiles per renderer (tests use other art) and name, measured once.
const profiles = new WeakMap<RenderEmoji, Map<string, Promise<ArtProfile>>>();
export function profileOf(render: RenderEmoji, name: string): Promise<ArtProfile> {
  let byName = profiles.get(render);
  if (!byName) profiles.set(render, (byName = new Map()));
  let p = byName.get(name);
  if (!p) {
    p = render(name, PROFILE_SIDE, 0).then(artProfile);
    byName.set(name, p);
    p.catch(() => byName.delete(name));
  }
  return p;
}

/** The turned emoji raster for a placement; past the renderer's largest size, drawn smaller and enlarged. */
async function raster(render: RenderEmoji, name: string, p: EmojiPlacement): Promise<RawEmoji> {
  if (p.turned <= MAX_EMOJI_SIZE) return render(name, p.side, p.angle);
  const side = Math.floor((p.side * MAX_EMOJI_SIZE) / p.turned);
  const small = await render(name, side, p.angle);
  const { data } = await sharp(small.data, { raw: { width: small.width, height: small.height, channels: 4 } })
    .resize(p.turned, p.turned, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: p.turned, height: p.turned, channels: 4 };
}

export const emojiCover: CoverFn<Extract<Cover, { mode: 'emoji' }>> = async (faces, cover, ctx) => {
  const { width, height } = ctx.image;
  const names = emojiChoice(cover.emoji, faces.length, ctx.seed);
  const layers = await Promise.all(
    faces.map(async (face, i): Promise<Layer | null> => {
      const name = names[i]!;
      const p = emojiPlacement(face, await profileOf(ctx.renderEmoji, name), cover.coverScale, width, height);
      if (!p) return null;
      const art = await raster(ctx.renderEmoji, name, p);
      const whole = p.crop.width === art.width && p.crop.height === art.height;
      const input = whole
        ? art.data
        : await sharp(art.data, { raw: { width: art.width, height: art.height, channels: 4 } })
            .extract(p.crop)
            .raw()
            .toBuffer();
      return {
        input,
        raw: { width: p.crop.width, height: p.crop.height, channels: 4 as const },
        left: p.left,
        top: p.top,
      };
    }),
  );
  return layers.filter((l): l is Layer => l !== null);
};
