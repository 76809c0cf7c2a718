// The app's one message catalogue: every string a person reads in the app, per language, as plain
// data (no imports of ours), so the renderer (through vue-i18n) and the main process (CoreError
// messages, tray and notification texts) read the same text. English is the reference: every
// other language must have exactly its keys (a type check, `Shape`) and the same placeholders
// (test/unit/i18n-catalogue.test.ts).
//
// Message syntax is vue-i18n's: `{name}` inserts a parameter; `a | b` are plural forms (two: one
// | other; three: zero | one | other) chosen by the `count` parameter; a literal `@`, `{`, `}`,
// `|` or `$` is written `{'@'}` etc. (an `@` starts a linked message in vue-i18n). `@:{what}`
// inserts the message whose key is the parameter `what`, filled in with the same parameters.

export type Messages = { [key: string]: string | Messages };

/** A catalogue with the same keys as T, every leaf a string: what a translation must fill. */
export type Shape<T> = { [K in keyof T]: T[K] extends string ? string : Shape<T[K]> };

export const LOCALES = ['en', 'de'] as const;
export type Locale = (typeof LOCALES)[number];
/** Each language's own name for itself (the language picker shows these, untranslated). */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', de: 'Deutsch' };

export function isLocale(v: unknown): v is Locale {
  return typeof v === 'string' && (LOCALES as readonly string[]).includes(v);
}

/** The catalogue language for a BCP 47 tag such as `de-AT` (English when we have none of it). */
export function localeFor(tag: string | undefined | null): Locale {
  const primary = (tag ?? '').toLowerCase().split(/[-_]/)[0];
  return isLocale(primary) ? primary : 'en';
}

export type Params = Record<string, string | number>;

/** The message at a dotted key, or undefined. */
export function lookup(messages: Messages, key: string): string | undefined {
  let node: string | Messages | undefined = messages;
  for (const part of key.split('.')) {
    if (node === undefined || typeof node === 'string') return undefined;
    node = node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

/** Every leaf key of a catalogue, dotted. */
export function keysOf(messages: Messages, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(messages)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.push(key);
    else out.push(...keysOf(v, key));
  }
  return out;
}

/** Split on the plural bar `|` outside `{...}`. */
function pluralForms(template: string): string[] {
  const forms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of template) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (ch === '|' && depth === 0) {
      forms.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  forms.push(cur.trim());
  return forms;
}

/**
 * The message filled in, for the main process (which has no vue-i18n): `{name}` parameters,
 * `{'x'}` literals and plural forms by `count`, as vue-i18n reads them for English and German.
 */
export function formatMessage(template: string, params: Params = {}): string {
  let text = template;
  const forms = pluralForms(template);
  if (forms.length > 1) {
    const n = Number(params.count ?? params.n ?? 0);
    const i = forms.length === 2 ? (n === 1 ? 0 : 1) : n === 0 ? 0 : n === 1 ? 1 : 2;
    text = forms[Math.min(i, forms.length - 1)];
  }
  return text.replace(/\{\s*(?:'([^']*)'|([A-Za-z_][\w]*))\s*\}/g, (whole, literal: string | undefined, name: string | undefined) => {
    if (literal !== undefined) return literal;
    const v = params[name!];
    return v === undefined ? whole : String(v);
  });
}
