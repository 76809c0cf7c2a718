// Join links per room (the ones its hub knows, made on any member's device), the link this
// device made last for each room (the hub keeps only a hash of the code, so the link's text exists
// only where it was made), and the "Join with a link" dialog, which a pasted link or a mimi: link
// the OS hands the app opens.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { JoinLinkArgs, JoinLinkView, RoomView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { isKeyOfAccount, roomKey } from '../lib/room-key.js';
import { useRoomsStore } from './rooms.js';

export interface JoinDialog {
  /** What the link box starts with ('' for an empty one to paste into). */
  link: string;
  /** Bumped each time the dialog is asked for, so a second link opened from outside refills it. */
  seq: number;
}

export const useLinksStore = defineStore('links', () => {
  const byRoom = ref<Record<string, JoinLinkView[] | undefined>>({});
  /** The link just made here, per room, shown with its text and QR code until another is made. */
  const made = ref<Record<string, JoinLinkView | undefined>>({});
  const dialog = ref<JoinDialog | null>(null);
  let dialogSeq = 0;

  /**
   * A list load can come back after a create or revoke that started later (a slow hub): each
   * request is numbered and an answer is applied only if no later-started one was applied already.
   */
  let nextSeq = 1;
  const appliedSeq = new Map<string, number>();
  function accept(key: string, seq: number, list: JoinLinkView[]): void {
    if (seq < (appliedSeq.get(key) ?? 0)) return;
    appliedSeq.set(key, seq);
    byRoom.value[key] = list;
  }

  function of(accountId: string, roomUri: string): JoinLinkView[] | undefined {
    return byRoom.value[roomKey(accountId, roomUri)];
  }

  function madeFor(accountId: string, roomUri: string): JoinLinkView | undefined {
    return made.value[roomKey(accountId, roomUri)];
  }

  async function load(accountId: string, roomUri: string): Promise<void> {
    const seq = nextSeq++;
    accept(roomKey(accountId, roomUri), seq, await api().links.list(accountId, roomUri));
  }

  async function create(accountId: string, roomUri: string, args: JoinLinkArgs): Promise<JoinLinkView> {
    const link = await api().links.create(accountId, roomUri, args);
    const key = roomKey(accountId, roomUri);
    made.value[key] = link;
    // The list gains the new link; reload it rather than guess where the hub puts it.
    await load(accountId, roomUri).catch(() => {
      const seq = nextSeq++;
      accept(key, seq, [link, ...(byRoom.value[key] ?? []).filter((l) => l.id !== link.id)]);
    });
    return link;
  }

  async function revoke(accountId: string, roomUri: string, id: string): Promise<void> {
    const seq = nextSeq++;
    const key = roomKey(accountId, roomUri);
    accept(key, seq, await api().links.revoke(accountId, roomUri, id));
    const shown = made.value[key];
    if (shown?.id === id) made.value[key] = { ...shown, state: 'revoked' };
  }

  /** Join by a link; the room joins this account's list (opening it is the caller's choice). */
  async function join(accountId: string, link: string, passphrase: string | null, asPseudonym: boolean): Promise<RoomView> {
    const room = await api().links.join(accountId, link, passphrase, asPseudonym);
    useRoomsStore().upsert(accountId, room);
    return room;
  }

  function openDialog(link = ''): void {
    dialog.value = { link, seq: ++dialogSeq };
  }

  function closeDialog(): void {
    dialog.value = null;
  }

  /** After missing events (the bridge reconnected): reload every room's list on screen or seen. */
  async function resync(): Promise<void> {
    await Promise.all(
      Object.keys(byRoom.value).map((key) => {
        const [accountId, roomUri] = key.split('\n');
        return load(accountId, roomUri).catch(() => undefined);
      }),
    );
  }

  function forget(accountId: string): void {
    for (const key of Object.keys(byRoom.value)) if (isKeyOfAccount(key, accountId)) delete byRoom.value[key];
    for (const key of Object.keys(made.value)) if (isKeyOfAccount(key, accountId)) delete made.value[key];
    for (const key of [...appliedSeq.keys()]) if (isKeyOfAccount(key, accountId)) appliedSeq.delete(key);
  }

  return { byRoom, made, dialog, of, madeFor, load, create, revoke, join, openDialog, closeDialog, resync, forget };
});
