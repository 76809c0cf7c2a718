// Which screen has the main area: the open room, People (per account, on one of its tabs), the
// pseudonym manager (one screen for all accounts) or Knocks (the active account's). Opening one
// closes the others, so the room pane's links never leave two screens claiming to be open.

import { useKnocksStore } from './knocks.js';
import { usePeopleStore, type PeopleTab } from './people.js';
import { usePseudonymsStore } from './pseudonyms.js';
import { useRoomsStore } from './rooms.js';
import { useSearchStore } from './search.js';

export function showRooms(accountId: string): void {
  useSearchStore().open = false;
  usePeopleStore().close(accountId);
  usePseudonymsStore().open = false;
  useKnocksStore().open = false;
}

export function showPeople(accountId: string, tab: PeopleTab): void {
  useSearchStore().open = false;
  usePseudonymsStore().open = false;
  useKnocksStore().open = false;
  usePeopleStore().show(accountId, tab);
}

export function showPseudonyms(accountId: string): void {
  useSearchStore().open = false;
  usePeopleStore().close(accountId);
  useKnocksStore().open = false;
  usePseudonymsStore().open = true;
}

export function showKnocks(accountId: string): void {
  useSearchStore().open = false;
  usePeopleStore().close(accountId);
  usePseudonymsStore().open = false;
  useKnocksStore().open = true;
}

/** The message search screen (the active account's messages). */
export function showSearch(accountId: string): void {
  usePeopleStore().close(accountId);
  usePseudonymsStore().open = false;
  useKnocksStore().open = false;
  useSearchStore().open = true;
}

/** Open a room of `accountId` (e.g. the one a connection created) in place of whatever is shown. */
export async function openRoom(accountId: string, roomUri: string): Promise<void> {
  showRooms(accountId);
  const rooms = useRoomsStore();
  // A room the core just created may not be in this screen's list yet.
  if (!rooms.roomsOf(accountId).some((r) => r.roomUri === roomUri)) await rooms.load(accountId);
  await rooms.select(accountId, roomUri);
}
