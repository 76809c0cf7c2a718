// An in-memory core that has something on every screen, for the accessibility and layout tests:
// the join-link and knock fixture (two accounts, rooms with roles, links, knocks) with, on top,
// messages in Lunch that alice may report, room settings where alice's role offers every action
// (role picker, kick, remove, ban, unban, report), a banned participant, consent requests in every
// state and a pseudonym pool. Room names and hub domains are long on purpose: a narrow window has
// to cope with them. `signedOut()` is a core with no account, for the sign-in screen.

import {
  CoreError,
  type AccountView,
  type RoomView,
  type ConsentListView,
  type MessageView,
  type MimiApi,
  type PseudonymPoolView,
  type RoomSettingsView,
} from '../../src-shared/contract.js';
import { A, B, BOOKS, CAROL, DAVE, LUNCH, ME_A, linksKnocksCore } from './links-knocks-fixture.js';
import { messageReports, signedInAs } from './stub-domains.js';

export { A, B, BOOKS, CAROL, DAVE, LUNCH, ME_A };
/** Book club's name here: longer than any header or room list has room for. */
export const LONG_NAME = 'Book club: the long-running Thursday evening reading circle of the third floor, est. 2009';
export const ERIN = 'mimi://localhost/u/erin';
export const CONSENT_ASKER = 'mimi://faraway.example/u/frank';

const id = (seq: number) => seq.toString(16).padStart(64, '0');

export function everyScreenCore() {
  const base = linksKnocksCore();
  const start = Date.now() - 3 * 60 * 60_000;
  const lunch: MessageView[] = [];
  const said = (sender: string, text: string): void => {
    const seq = lunch.length + 1;
    lunch.push({ seq, messageId: id(seq), roomUri: LUNCH, sender, text, contentType: 'text/plain', timestamp: start + seq * 60_000, status: sender === ME_A ? 'sent' : 'received' });
  };
  said(DAVE, 'Lunch at noon? The place on the corner has a new menu.');
  said(ME_A, 'Noon works for me.');
  said(CAROL, 'I can only make it at half past twelve, is that fine for everyone?');
  said(DAVE, 'Sure, half past it is.');
  said(CAROL, 'https://example.com/a/very/long/link/that/does/not/break/anywhere/on/its/own/because/it/is/one/word');

  const settings = base.core.rooms.settings;
  const named = (r: RoomView): RoomView => (r.roomUri === BOOKS ? { ...r, name: LONG_NAME } : r);
  /** Added here: the room's members, as the core's answer to addMember would list them. */
  const added: string[] = [];
  const withAdded = (r: RoomView): RoomView => (r.roomUri === LUNCH ? { ...r, members: [...r.members, ...added] } : r);
  const core: MimiApi = {
    ...base.core,
    rooms: {
      ...base.core.rooms,
      list: async (acct) => (await base.core.rooms.list(acct)).map(named).map(withAdded),
      // Adding someone to Lunch works (they have consented, their devices are ready); nothing else does.
      addMember: async (acct, uri, user) => {
        const room = (await base.core.rooms.list(acct)).find((r) => r.roomUri === uri);
        if (!room || uri !== LUNCH) throw new CoreError('roomUnknown', `Unknown room ${uri}.`);
        const userUri = user.includes('://') ? user : `mimi://${user.includes('@') ? user.split('@')[1] : 'localhost'}/u/${user.split('@')[0]}`;
        added.push(userUri);
        return withAdded(room);
      },
      // alice holds every capability in Lunch here, so each control of a member row is on screen.
      settings: async (acct, uri) => {
        const view: RoomSettingsView = await settings(acct, uri);
        if (uri !== LUNCH || acct !== A) return view;
        const participants = [...view.participants, { user: ERIN, roleIndex: 1, roleName: 'banned', active: false, can: { kick: false, remove: true, ban: false, unban: true, roles: [] } }];
        return {
          ...view,
          participants: participants.map((p) =>
            p.user === ME_A || p.roleIndex === 1 ? p : { ...p, can: { kick: true, remove: true, ban: true, unban: false, roles: [2, 3, 4] } },
          ),
          canEdit: { name: true, description: true, avatar: true, subject: true },
          metadata: { ...view.metadata, description: 'Where and when we eat', subject: 'Tacos on Friday?' },
          canReportAbuse: true,
        };
      },
    },
    messages: {
      ...base.core.messages,
      page: async (_acct, uri, beforeSeq, limit) => {
        if (uri !== LUNCH) return [];
        return lunch
          .filter((m) => beforeSeq === null || m.seq < beforeSeq)
          .reverse()
          .slice(0, limit);
      },
      ...messageReports({ messagesOf: (uri) => (uri === LUNCH ? lunch : []), mayReport: () => true }),
    },
    consent: {
      ...base.core.consent,
      list: async (): Promise<ConsentListView> => {
        const at = Date.now() - 30 * 60_000;
        return {
          incoming: [{ user: CONSENT_ASKER, at }],
          granted: [{ user: CAROL, at }],
          blocked: [],
          outgoing: [
            { user: 'mimi://faraway.example/u/gina', status: 'pending', at },
            { user: 'mimi://faraway.example/u/hugo', status: 'revoked', at },
          ],
        };
      },
    },
    pseudonyms: {
      ...base.core.pseudonyms,
      list: async (accountId): Promise<PseudonymPoolView> => ({
        accountId,
        pseudonyms: [
          { userPseudonym: 'mimi://localhost/p/Qm7xK2aLp9rT4vWz1cYbNg', clientPseudonym: 'mimi://localhost/p/Qm7xK2aLp9rT4vWz1cYbNg-c', state: 'unused', rooms: [], issuedAt: start, keyPackages: 3 },
          {
            userPseudonym: 'mimi://localhost/p/Zk3Jx8Lw0R2mYbT1vKc9aZ',
            clientPseudonym: 'mimi://localhost/p/Zk3Jx8Lw0R2mYbT1vKc9aZ-c',
            state: 'inUse',
            rooms: [{ roomUri: 'mimi://localhost/r/quiet', name: 'Quiet corner' }],
            issuedAt: start,
            keyPackages: 2,
          },
          { userPseudonym: 'mimi://localhost/p/Hs5dPq8WnE2rTy6uIo0pLk', clientPseudonym: 'mimi://localhost/p/Hs5dPq8WnE2rTy6uIo0pLk-c', state: 'retired', rooms: [], issuedAt: start, keyPackages: 0 },
        ],
        unused: 1,
        threshold: 0,
        batch: 0,
        refilling: false,
      }),
    },
  };
  return { ...base, core };
}

/** No account yet: the app opens on the sign-in screen. */
export function signedOutCore(): MimiApi {
  const { core } = everyScreenCore();
  const none = signedInAs(() => ({}) as AccountView);
  return { ...core, accounts: { ...none.accounts, list: async () => [] } };
}
