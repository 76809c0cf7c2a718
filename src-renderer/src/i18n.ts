// The window's language: vue-i18n over the shared catalogue (src-shared/i18n), dates and numbers
// formatted for the same locale. The choice ('system' or a catalogue language) is this window's
// preference, like the theme; 'system' follows navigator.language.

import { createI18n } from 'vue-i18n';
import { computed, ref, watch } from 'vue';
import { CATALOGUES, LOCALES, isLocale, localeFor, type Locale } from '../../src-shared/i18n/index.js';
import { CoreError } from '../../src-shared/contract.js';
import { toCoreError } from './lib/coded-error.js';

export type LocaleChoice = 'system' | Locale;
const LOCALE_KEY = 'mimi.locale';

function stored(): LocaleChoice {
  try {
    const v = localStorage.getItem(LOCALE_KEY);
    return isLocale(v) ? v : 'system';
  } catch {
    return 'system';
  }
}

export function systemLocale(): Locale {
  return localeFor(typeof navigator === 'undefined' ? 'en' : navigator.language);
}

/** The person's choice (Settings → Appearance → Language). */
export const localeChoice = ref<LocaleChoice>(stored());
const effective = computed<Locale>(() => (localeChoice.value === 'system' ? systemLocale() : localeChoice.value));

export const i18n = createI18n({
  legacy: false,
  locale: effective.value,
  fallbackLocale: 'en',
  messages: CATALOGUES,
  // Missing keys are a bug the catalogue test catches; no console noise in the window.
  missingWarn: false,
  fallbackWarn: false,
});

function apply(locale: Locale): void {
  i18n.global.locale.value = locale;
  // Unit tests import the renderer's lib code in Node, where there is no document.
  if (typeof document !== 'undefined') document.documentElement.lang = locale;
}
apply(effective.value);
watch(effective, apply);
watch(localeChoice, (c) => {
  try {
    if (c === 'system') localStorage.removeItem(LOCALE_KEY);
    else localStorage.setItem(LOCALE_KEY, c);
  } catch {
    // not remembered, still applied
  }
});

export { LOCALES };

/** `t` outside components (stores, lib code): the same catalogue and current language. */
export function t(key: string, params?: Record<string, unknown>): string {
  return params ? i18n.global.t(key, params) : i18n.global.t(key);
}

/** The current language (for Intl formatters built outside vue-i18n). */
export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale;
}

const DATE_STYLES = {
  /** 14:05 */
  time: { hour: '2-digit', minute: '2-digit' },
  /** 3 Dec 2026, 14:05 */
  dateTime: { dateStyle: 'medium', timeStyle: 'short' },
  /** 3 Dec 2026 */
  date: { dateStyle: 'medium' },
  /** Thursday, 3 December 2026 at 14:05:09 */
  full: { dateStyle: 'full', timeStyle: 'medium' },
  /** Thursday, 3 December 2026 at 14:05 */
  fullShort: { dateStyle: 'full', timeStyle: 'short' },
  /** Thu, 3 Dec 2026 (a day divider in the timeline) */
  day: { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' },
} satisfies Record<string, Intl.DateTimeFormatOptions>;
export type DateStyle = keyof typeof DATE_STYLES;

const formatters = new Map<string, Intl.DateTimeFormat>();
/** A date or timestamp in the window's language. Reactive where the locale is read (templates, computed). */
export function formatDate(when: number | Date, style: DateStyle): string {
  const locale = currentLocale();
  const key = `${locale}:${style}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, DATE_STYLES[style]);
    formatters.set(key, f);
  }
  return f.format(when);
}

/** A number in the window's language (1,234 / 1.234). */
const numberFormats = new Map<string, Intl.NumberFormat>();
export function formatNumber(n: number, options?: Intl.NumberFormatOptions): string {
  // Rendered per row (counts, sizes): build each formatter once per language and options.
  const key = `${currentLocale()}:${JSON.stringify(options ?? {})}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(currentLocale(), options);
    numberFormats.set(key, f);
  }
  return f.format(n);
}

/** A size in bytes as people read it (12 KB, 3.4 MB), in the window's language. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'] as const;
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${formatNumber(v, { maximumFractionDigits: i === 0 || v >= 10 ? 0 : 1 })} ${units[i]}`;
}

/**
 * What to show for a failed call: the catalogue's text when the core named a message key (CoreError
 * `key`/`params`), otherwise the core's own English sentence.
 */
export function errorText(e: unknown): string {
  const err: CoreError = toCoreError(e);
  if (err.key && i18n.global.te(err.key)) return t(err.key, err.params);
  return err.message;
}
