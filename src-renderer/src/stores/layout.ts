// How the window is divided: whether the room list takes a column, and whether the window is
// narrow enough that the room list and the open screen cannot both have room.
//
// Wide: the room list is a column the person may hide (the rail's button), remembered across
// reloads. Narrow (a phone-sized window): the list slides over the open screen as a drawer and
// closes when something is picked from it, so the room (its composer above all) gets the width.

import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

/**
 * Below this the rail, the list (12rem at least) and a room do not fit side by side with the room
 * keeping most of the width; it matches the single-pane rules in styles.css.
 */
export const NARROW_QUERY = '(max-width: 680px)';
const COLLAPSED_KEY = 'mimi.roomListCollapsed';

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the defaults apply
  }
}

export const useLayoutStore = defineStore('layout', () => {
  const query = window.matchMedia(NARROW_QUERY);
  const narrow = ref(query.matches);
  query.addEventListener('change', (e) => {
    narrow.value = e.matches;
    drawer.value = null;
  });

  /** Wide windows: the person hid the room list. */
  const collapsed = ref(stored(COLLAPSED_KEY) === '1');
  /** Narrow windows: the drawer opened or closed by hand; null = automatic (see `roomListShown`). */
  const drawer = ref<boolean | null>(null);
  /** Whether the main area shows anything (a room or another screen); App.vue keeps it current. */
  const somethingOpen = ref(false);

  /** In a narrow window with nothing open, the list is what there is to see. */
  const roomListShown = computed(() => (narrow.value ? (drawer.value ?? !somethingOpen.value) : !collapsed.value));

  function toggleRoomList(): void {
    if (narrow.value) drawer.value = !roomListShown.value;
    else {
      collapsed.value = !collapsed.value;
      try {
        localStorage.setItem(COLLAPSED_KEY, collapsed.value ? '1' : '0');
      } catch {
        // not remembered, still applied
      }
    }
  }

  /** Something was picked in the room list (a room, People, ...): a narrow window shows it instead. */
  function picked(): void {
    if (narrow.value) drawer.value = false;
  }

  /** "Back to rooms" from a screen: a narrow window shows the list again. */
  function backToRooms(): void {
    if (narrow.value) drawer.value = true;
  }

  return { narrow, collapsed, drawer, somethingOpen, roomListShown, toggleRoomList, picked, backToRooms };
});
