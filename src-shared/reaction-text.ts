// A reaction as the app takes it from the user (the IPC validator, the core and the `mimi` command
// share it; kept apart from the content codec so the renderer's contract import stays small).

/** Longest reaction we take (a few emoji with modifiers; the draft says "usually one emoji"). */
export const MAX_REACTION_LENGTH = 32;

/** What is wrong with `emoji` as a reaction, or undefined: trimmed, non-empty, short, one line. */
export function reactionProblem(emoji: string): string | undefined {
  const t = emoji.trim();
  if (t === '') return 'The reaction is empty: pick an emoji or type one.';
  if ([...t].length > MAX_REACTION_LENGTH) return `A reaction is at most ${MAX_REACTION_LENGTH} characters: pick an emoji or type a shorter one.`;
  if (/[\r\n]/.test(t)) return 'A reaction is one line: type it without line breaks.';
  return undefined;
}
