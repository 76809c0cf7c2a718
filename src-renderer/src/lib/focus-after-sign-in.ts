// After signing in or unlocking, the form that had focus is gone and focus would fall to <body>:
// keyboard and screen reader users would have to find their way back from the top. Put it on the
// next step instead: the first room, or "Create a room" for an account without rooms.

import { nextTick } from 'vue';

/** Selectors tried in order; the room list marks both with test ids (its stable hooks). */
const TARGETS = ['[data-testid=room-item]', '[data-testid=new-room]'];

export async function focusWorkspace(): Promise<void> {
  await nextTick();
  // The workspace appears with the account list; one frame later it is laid out and focusable.
  await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
  for (const selector of TARGETS) {
    const el = document.querySelector<HTMLElement>(selector);
    if (el) {
      el.focus();
      return;
    }
  }
}
