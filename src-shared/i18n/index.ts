// Every language's catalogue, and English text for a key (the main process's messages).
import { formatMessage, lookup, type Locale, type Messages, type Params } from './catalogue.js';
import { en } from './en/index.js';
import { de } from './de/index.js';

export * from './catalogue.js';

export const CATALOGUES: Record<Locale, Messages> = { en, de };

/** The message for `key` in `locale`, filled in; the key itself when it is missing (a test forbids that). */
export function translate(key: string, params?: Params, locale: Locale = 'en'): string {
  const template = lookup(CATALOGUES[locale], key) ?? lookup(CATALOGUES.en, key);
  return template === undefined ? key : formatMessage(template, params);
}
