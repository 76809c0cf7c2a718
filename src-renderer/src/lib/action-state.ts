// A panel's one-at-a-time action: busy while it runs, then what happened, or the core's message
// (which says what to do next). Shared by the forms and panels whose actions work this way.

import { ref } from 'vue';
import { toCoreError } from './coded-error.js';

export function useActionState() {
  const busy = ref(false);
  const error = ref('');
  const done = ref('');

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
      error.value = toCoreError(e).message;
      return false;
    } finally {
      busy.value = false;
    }
  }

  return { busy, error, done, run };
}
