// The emoji catalogue: names and descriptions (what GET /emojis lists and the API validates
// against). The art lives in assets/emoji/<name>.svg; rendering is in shared/emojiRenderer.ts.
export interface EmojiInfo {
  name: string;
  description: string;
}

export const DEFAULT_EMOJI = 'poop';

export const EMOJIS: readonly EmojiInfo[] = [
  { name: 'poop', description: 'The classic pile of poo, with a grin.' },
  { name: 'grin', description: 'A yellow face with a wide grin.' },
  { name: 'sunglasses', description: 'A yellow face wearing dark sunglasses.' },
  { name: 'ghost', description: 'A friendly white ghost.' },
  { name: 'alien', description: 'A grey alien head with big black eyes.' },
];

export const isEmojiName = (name: string): boolean => EMOJIS.some((e) => e.name === name);
