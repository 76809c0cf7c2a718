// The line above the composer while others type: "bob is typing…", "bob and carol are typing…",
// and past two, "Several people are typing…" (a list of names would not fit the one line kept for it).
import { t } from '../i18n.js';

export function typingText(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return t('chat.typing.one', { name: names[0] });
  if (names.length === 2) return t('chat.typing.two', { first: names[0], second: names[1] });
  return t('chat.typing.many');
}
