// Every language's catalogue, and English text for a key (the main process's messages).
import { formatMessage, lookup, type Locale, type Messages, type Params } from './catalogue.js';
import { en } from './en/index.js';
import { de } from './de/index.js';

export * from './catalogue.js';

export const CATALOGUES: Record<Locale, Messages> = { en, de };

// A linked message: `@:{param}` (the key is a parameter's value) or `@:some.key`, filled in with
// the same parameters, as vue-i18n does; a core error links its "Could not add bob" phrase so.
const LINKED = /@:(?:\{\s*([A-Za-z_]\w*)\s*\}|([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*))/g;

/** The message for `key` in `locale`, filled in; the key itself when it is missing (a test forbids that). */
export function translate(key: string, params: Params = {}, locale: Locale = 'en'): string {
  return resolve(key, params, locale, 0);
}

function resolve(key: string, params: Params, locale: Locale, depth: number): string {
  const template = lookup(CATALOGUES[locale], key) ?? lookup(CATALOGUES.en, key);
  if (template === undefined) return key;
  // Linked text goes in after formatting, so its own braces and bars are not read twice.
  const linked: string[] = [];
  const marked = template.replace(LINKED, (whole, param: string | undefined, fixed: string | undefined) => {
    const target = param !== undefined ? params[param] : fixed;
    if (typeof target !== 'string' || depth > 4) return whole;
    linked.push(resolve(target, params, locale, depth + 1));
    return `\u0000${linked.length - 1}\u0000`;
  });
  return formatMessage(marked, params).replace(/\u0000(\d+)\u0000/g, (_, i: string) => linked[Number(i)]);
}
