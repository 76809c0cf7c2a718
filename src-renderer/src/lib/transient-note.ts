// Success notes ("Added bob.", "Saved.") that go away by themselves. A note that stays forever
// reads as the state of the screen long after it stopped being news; errors are not made with
// this: they stay until dismissed or replaced by the next attempt.
//
// The note is rendered in a role="status" element (an aria-live region), so it is read out when it
// appears; disappearing is silent.

import { getCurrentScope, onScopeDispose, ref, watch, type Ref } from 'vue';

/** Long enough to read a sentence twice, short enough not to be mistaken for the screen's state. */
export const NOTE_MS = 7000;

export interface TransientNote {
  /** The note now, '' when none. */
  text: Ref<string>;
  /** Shows `text` and restarts the countdown (a second success is news again). */
  show(text: string): void;
  /** Takes it away now (e.g. the user starts something new). */
  clear(): void;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  cancel: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * A note that clears itself `ms` after it was shown. In a component (or any effect scope) its
 * timer goes with the component, so a closed panel leaves nothing running.
 */
export function useTransientNote(ms = NOTE_MS, timers: Timers = realTimers): TransientNote {
  const text = ref('');
  let handle: unknown;
  const stop = () => {
    if (handle !== undefined) timers.cancel(handle);
    handle = undefined;
  };
  const start = () => {
    stop();
    if (text.value)
      handle = timers.set(() => {
        handle = undefined;
        text.value = '';
      }, ms);
  };
  // Code that sets `text` directly (`done.value = …`) gets the countdown too.
  watch(text, start, { flush: 'sync' });
  function clear(): void {
    stop();
    text.value = '';
  }
  function show(t: string): void {
    if (text.value === t) start();
    else text.value = t;
  }
  if (getCurrentScope()) onScopeDispose(stop);
  return { text, show, clear };
}
