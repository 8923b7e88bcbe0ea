// The ways a face can be covered, their options and defaults: one table the API validates against
// and lists (GET /covers), jobs store, views and webhooks show, and the worker (worker/covers/) reads.
import { DEFAULT_EMOJI, EMOJIS, isEmojiName } from './emojis.js';
import type { JobOptions } from './jobs.js';

export const COVER_MODES = ['emoji', 'blur', 'pixelate', 'solid', 'outline'] as const;
export type CoverMode = (typeof COVER_MODES)[number];
export const DEFAULT_MODE: CoverMode = 'emoji';

export const COVER_SHAPES = ['ellipse', 'box'] as const;
export type CoverShape = (typeof COVER_SHAPES)[number];
export const DEFAULT_SHAPE: CoverShape = 'ellipse';

/** The options that tune a cover (public, snake_case names), beside format and min_confidence. */
export const COVER_OPTIONS = ['mode', 'emoji', 'shape', 'cover_scale', 'color'] as const;
export type CoverOptionName = (typeof COVER_OPTIONS)[number];

/** emoji=random: a seeded shuffle of the catalogue per job, taken in turn (see worker/covers/emoji.ts). */
export const RANDOM_EMOJI = 'random';
/** Longest emoji list accepted (a list longer than a photo's faces is pointless; this bounds the record). */
export const MAX_EMOJI_LIST = 32;

/**
 * cover_scale multiplies the smallest cover of each shape that hides the whole face box: for
 * `ellipse` the ellipse of the box's proportions through its corners, for `box` the box itself, for
 * `emoji` the smallest emoji whose opaque art contains the box at the face's angle. So 1 hides the
 * box in every mode, and values above it hide more of the head around it. Below 1 part of the box
 * would show, which is why the range starts there.
 */
export const COVER_SCALE_RANGE = { min: 1, max: 3 } as const;

/**
 * Defaults, chosen on the fixtures' detector boxes (SSD's run from the hairline to the chin and
 * between the ears) so that the hair is hidden too: past 1 the privacy shapes grow upward
 * (worker/covers/geometry.ts, HEAD_RAISE): an ellipse at 1.3 reaches 0.6 of the box's height above
 * it and 0.4 of its width beyond each side, a box at 1.5 half its height above and a quarter of its
 * width beyond each side; neither goes lower than at 1. The emoji default, 1.1, is a tenth over the smallest emoji
 * that hides the box: for the round emoji on usual boxes (width 0.8–1 × height) 1.47–1.63 × the
 * box's longer side, about the old fixed 1.45; poop and ghost, whose outlines have notches, come
 * out larger than before, where the old size left the box's upper corners showing.
 */
export const DEFAULT_COVER_SCALE = { emoji: 1.1, ellipse: 1.3, box: 1.5 } as const;

/** Colours are opaque CSS hex colours; a cover you can see through does not hide a face. */
export const DEFAULT_COLOR = { solid: '#000000', outline: '#00ff00' } as const;

export interface ModeInfo {
  description: string;
  /** The cover options (besides mode) this mode takes; any other is a 400. */
  options: readonly Exclude<CoverOptionName, 'mode'>[];
  /** For people who need privacy, not fun. */
  hides: 'yes' | 'not reliably' | 'no';
}

export const MODES: Record<CoverMode, ModeInfo> = {
  emoji: {
    description:
      'An emoji over each face, turned with the face (the line between its eyes) when the detector ' +
      'finds landmarks, upright otherwise, always large enough to hide the whole face box.',
    options: ['emoji', 'cover_scale'],
    hides: 'yes',
  },
  blur: {
    description:
      'A strong Gaussian blur of each face, its strength relative to the face size, with a feathered edge.',
    options: ['shape', 'cover_scale'],
    hides: 'not reliably',
  },
  pixelate: {
    description: 'A mosaic over each face, blocks of one eighth of the face width (at least 4 px).',
    options: ['shape', 'cover_scale'],
    hides: 'not reliably',
  },
  solid: {
    description: 'An opaque fill of one colour over each face.',
    options: ['shape', 'cover_scale', 'color'],
    hides: 'yes',
  },
  outline: {
    description:
      'Draws each face box, its landmarks and its score without hiding anything: for checking what the ' +
      'detector found.',
    options: ['color'],
    hides: 'no',
  },
};

export const SHAPES: Record<CoverShape, { description: string }> = {
  ellipse: { description: "An ellipse of the face box's proportions, centred on it." },
  box: { description: 'A rectangle centred on the face box.' },
};

/** A job's cover with every default filled in: what the worker draws. */
export type Cover =
  | { mode: 'emoji'; emoji: string; coverScale: number }
  | { mode: 'blur'; shape: CoverShape; coverScale: number }
  | { mode: 'pixelate'; shape: CoverShape; coverScale: number }
  | { mode: 'solid'; shape: CoverShape; coverScale: number; color: string }
  | { mode: 'outline'; color: string };

export const isCoverMode = (s: string): s is CoverMode => (COVER_MODES as readonly string[]).includes(s);

export const modesTaking = (option: CoverOptionName): CoverMode[] =>
  COVER_MODES.filter((m) => option === 'mode' || (MODES[m].options as readonly string[]).includes(option));

export const defaultCoverScale = (mode: CoverMode, shape: CoverShape): number =>
  mode === 'emoji' ? DEFAULT_COVER_SCALE.emoji : DEFAULT_COVER_SCALE[shape];

/**
 * The job's cover, defaults filled in. Records queued before cover modes existed have no `mode`:
 * they are the emoji mode with their one emoji name.
 */
export function resolveCover(o: JobOptions): Cover {
  const mode = o.mode ?? DEFAULT_MODE;
  const shape = o.shape ?? DEFAULT_SHAPE;
  const coverScale = o.coverScale ?? defaultCoverScale(mode, shape);
  switch (mode) {
    case 'emoji':
      return { mode, emoji: o.emoji ?? DEFAULT_EMOJI, coverScale };
    case 'blur':
    case 'pixelate':
      return { mode, shape, coverScale };
    case 'solid':
      return { mode, shape, coverScale, color: o.color ?? DEFAULT_COLOR.solid };
    case 'outline':
      return { mode, color: o.color ?? DEFAULT_COLOR.outline };
  }
}

/** The options as GET /jobs/:id and the webhook show them: the public names, defaults filled in. */
export function optionsView(o: JobOptions): Record<string, unknown> {
  const cover = resolveCover(o);
  const view: Record<string, unknown> = { mode: cover.mode };
  if ('emoji' in cover) view.emoji = cover.emoji;
  if ('shape' in cover) view.shape = cover.shape;
  if ('coverScale' in cover) view.cover_scale = cover.coverScale;
  if ('color' in cover) view.color = cover.color;
  view.format = o.format;
  view.min_confidence = o.minConfidence;
  return view;
}

/**
 * emoji option syntax: one name, a comma list, or `random`. Returns the normalised spec (trimmed,
 * no spaces), or an error message naming what is wrong and what is allowed.
 */
export function parseEmojiSpec(raw: string): { spec: string } | { error: string } {
  const allowed = `an emoji name (${EMOJIS.map((e) => e.name).join(', ')}), a comma list of them, or ${RANDOM_EMOJI}`;
  const s = raw.trim();
  if (s === RANDOM_EMOJI) return { spec: s };
  const names = s.split(',').map((n) => n.trim());
  if (names.length > MAX_EMOJI_LIST) return { error: `at most ${MAX_EMOJI_LIST} names; must be ${allowed}` };
  const bad = names.find((n) => !isEmojiName(n));
  if (bad !== undefined) {
    const what = bad === '' ? 'an empty name' : `unknown emoji ${JSON.stringify(bad.slice(0, 40))}`;
    return { error: `${what}; must be ${allowed}` };
  }
  return { spec: names.join(',') };
}

/** The emoji names of a spec, in turn order; `random` is resolved by the worker (it needs the seed). */
export const emojiList = (spec: string): string[] => spec.split(',');

export const HEX_COLOR_PATTERN = /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

/**
 * color option: `#rgb` or `#rrggbb` (the `#` may be left out: in a URL it must be written `%23`).
 * Returns `#rrggbb` in lower case, or null.
 */
export function parseHexColor(raw: string): string | null {
  const m = HEX_COLOR_PATTERN.exec(raw.trim());
  if (!m) return null;
  const hex = m[1]!.toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex}`;
}

export const COLOR_SYNTAX = '#rgb or #rrggbb (opaque; the # may be left out, or written %23 in a URL)';

/** [r, g, b] of a `#rrggbb` colour. */
export function rgbOf(color: string): [number, number, number] {
  const n = Number.parseInt(color.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** GET /covers: the modes, shapes and options with their defaults, and the emoji catalogue. */
export function coverCatalogue() {
  return {
    modes: COVER_MODES.map((name) => ({
      name,
      default: name === DEFAULT_MODE,
      description: MODES[name].description,
      options: MODES[name].options,
      hides_identity: MODES[name].hides,
    })),
    shapes: COVER_SHAPES.map((name) => ({
      name,
      default: name === DEFAULT_SHAPE,
      description: SHAPES[name].description,
    })),
    options: {
      mode: { values: COVER_MODES, default: DEFAULT_MODE },
      emoji: {
        modes: modesTaking('emoji'),
        values: `an emoji name, a comma list of names (faces take them in turn), or ${RANDOM_EMOJI}`,
        names: EMOJIS.map((e) => e.name),
        max_list: MAX_EMOJI_LIST,
        default: DEFAULT_EMOJI,
      },
      shape: { modes: modesTaking('shape'), values: COVER_SHAPES, default: DEFAULT_SHAPE },
      cover_scale: {
        modes: modesTaking('cover_scale'),
        min: COVER_SCALE_RANGE.min,
        max: COVER_SCALE_RANGE.max,
        description: 'multiple of the smallest cover of the shape that hides the whole face box',
        default: {
          emoji: DEFAULT_COVER_SCALE.emoji,
          ellipse: DEFAULT_COVER_SCALE.ellipse,
          box: DEFAULT_COVER_SCALE.box,
        },
      },
      color: { modes: modesTaking('color'), values: COLOR_SYNTAX, default: DEFAULT_COLOR },
    },
    emojis: EMOJIS.map((e) => ({
      name: e.name,
      description: e.description,
      default: e.name === DEFAULT_EMOJI,
    })),
  };
}
