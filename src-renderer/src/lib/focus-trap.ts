// Keyboard focus kept inside a modal dialog: what is behind it can't be used until it closes.

const FOCUSABLE = 'textarea, input, select, button, [href]';

/** On Tab at the last (Shift+Tab at the first) focusable control of `dialog`, wrap around. */
export function trapTab(dialog: HTMLElement | null | undefined, e: KeyboardEvent): void {
  const focusable = [...(dialog?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])].filter((el) => !(el as HTMLButtonElement).disabled && el.offsetParent !== null);
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}
