// The cover options form, built from GET /covers, remembered in localStorage, and turned into the
// form fields of a submission: only the options the chosen mode takes (the API refuses the others).

const STORE = 'turdify.options';
const KEY_STORE = 'turdify.apiKey';
const RANDOM = 'random';

export const savedKey = () => localStorage.getItem(KEY_STORE) ?? '';
export const saveKey = (key) => localStorage.setItem(KEY_STORE, key);
export const forgetKey = () => localStorage.removeItem(KEY_STORE);

function remembered() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE) ?? '{}');
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** A radio button with its label (and an optional picture) inside a fieldset. */
function radio(fieldset, name, value, text, { checked, hint, image } = {}) {
  const label = document.createElement('label');
  label.className = 'choice';
  const input = document.createElement('input');
  input.type = 'radio';
  input.name = name;
  input.value = value;
  input.checked = Boolean(checked);
  label.append(input);
  if (image) {
    const img = document.createElement('img');
    img.src = image;
    img.alt = '';
    img.width = 32;
    img.height = 32;
    label.append(img);
  }
  const span = document.createElement('span');
  span.textContent = text;
  label.append(span);
  if (hint) label.title = hint;
  fieldset.append(label);
  return input;
}

const modeLabel = (m) =>
  ({ emoji: 'Emoji', blur: 'Blur', pixelate: 'Mosaic', solid: 'Solid', outline: 'Outline only' })[m.name] ??
  capital(m.name);

/**
 * Fills the form from the catalogue and the remembered choice; returns fields(), the options to
 * send for the current choice.
 */
export function setUpChoices(form, catalogue) {
  const saved = remembered();
  const modes = new Map(catalogue.modes.map((m) => [m.name, m]));
  const pick = (value, allowed, fallback) => (allowed.includes(value) ? value : fallback);
  const modeNames = [...modes.keys()];
  const emojiNames = [...catalogue.emojis.map((e) => e.name), RANDOM];
  const shapeNames = catalogue.shapes.map((s) => s.name);
  const defaultOf = (list) => list.find((x) => x.default)?.name ?? list[0]?.name;

  const modeSet = form.querySelector('#modes');
  const mode = pick(saved.mode, modeNames, defaultOf(catalogue.modes));
  for (const m of catalogue.modes) {
    const hides =
      m.hides_identity === 'yes'
        ? ''
        : ` (${m.hides_identity === 'no' ? 'hides nothing' : 'may not hide who it is'})`;
    radio(modeSet, 'mode', m.name, modeLabel(m) + hides, { checked: m.name === mode, hint: m.description });
  }

  const emojiSet = form.querySelector('#emojis');
  const emoji = pick(saved.emoji, emojiNames, defaultOf(catalogue.emojis));
  for (const e of catalogue.emojis) {
    radio(emojiSet, 'emoji', e.name, capital(e.name), {
      checked: e.name === emoji,
      hint: e.description,
      image: `/emojis/${encodeURIComponent(e.name)}.svg`,
    });
  }
  radio(emojiSet, 'emoji', RANDOM, 'A mix', {
    checked: emoji === RANDOM,
    hint: 'A different emoji on each face',
  });

  const shapeSet = form.querySelector('#shapes');
  const shape = pick(saved.shape, shapeNames, defaultOf(catalogue.shapes));
  for (const s of catalogue.shapes) {
    radio(shapeSet, 'shape', s.name, s.name === 'box' ? 'Rectangle' : capital(s.name), {
      checked: s.name === shape,
      hint: s.description,
    });
  }

  const color = form.querySelector('#color');
  const format = form.querySelector('#format');
  const colorDefaults = catalogue.options?.color?.default ?? {};
  if (saved.colorChosen === true && /^#[0-9a-f]{6}$/i.test(saved.color ?? '')) color.value = saved.color;
  else if (colorDefaults[mode]) color.value = colorDefaults[mode];
  format.value = pick(saved.format, ['', 'jpeg', 'png', 'webp'], '');

  const value = (name) => form.querySelector(`input[name="${name}"]:checked`)?.value;
  const current = () => modes.get(value('mode')) ?? modes.get(mode);

  // Show only the options the chosen mode takes.
  const update = () => {
    const taken = new Set(current().options);
    for (const el of form.querySelectorAll('[data-option]')) el.hidden = !taken.has(el.dataset.option);
  };
  // Until a colour is picked, each mode shows its own default (black fill, green outline).
  let colorChosen = saved.colorChosen === true;
  color.addEventListener('input', () => {
    colorChosen = true;
  });
  form.addEventListener('change', () => {
    const now = current().name;
    if (!colorChosen && colorDefaults[now]) color.value = colorDefaults[now];
    update();
    localStorage.setItem(
      STORE,
      JSON.stringify({
        mode: now,
        emoji: value('emoji'),
        shape: value('shape'),
        color: color.value,
        colorChosen,
        format: format.value,
      }),
    );
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  update();

  return function fields() {
    const m = current();
    const out = new Map([['mode', m.name]]);
    if (m.options.includes('emoji')) out.set('emoji', value('emoji'));
    if (m.options.includes('shape')) out.set('shape', value('shape'));
    if (m.options.includes('color')) out.set('color', color.value);
    if (format.value) out.set('format', format.value);
    return out;
  };
}
