// A panel's one-at-a-time action: busy while it runs, then what happened, or the core's message
// (which says what to do next). Shared by the forms and panels whose actions work this way. What
// happened goes away after a few seconds (transient-note.ts); the core's message stays until the
// next attempt.

import { ref } from 'vue';
import { errorText } from '../i18n.js';
import { useTransientNote } from './transient-note.js';

export function useActionState() {
  const busy = ref(false);
  const error = ref('');
  const done = useTransientNote().text;

  /** Runs `action` unless one is running; `said` is what to show once it worked. Returns whether it did. */
  async function run(action: () => Promise<unknown>, said: () => string): Promise<boolean> {
    if (busy.value) return false;
    busy.value = true;
    error.value = '';
    done.value = '';
    try {
      await action();
      done.value = said();
      return true;
    } catch (e) {
      error.value = errorText(e);
      return false;
    } finally {
      busy.value = false;
    }
  }

  return { busy, error, done, run };
}
