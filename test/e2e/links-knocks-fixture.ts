// An in-memory core with two accounts on one device, for join links and knocks. alice administers
// "Lunch" and "Book club" and is an ordinary user of "Announcements"; ally is in none of them yet.
// It answers the way the core is specified to (contract.ts, docs/join-links.md): a link made here
// carries its text, the hub's list shows uses left, expiry and who made it (links made on other
// devices come without text), revoking and expiry change the state, joining checks the
// passphrase (CoreError 'passphraseRequired') and refuses unknown, expired, used-up and revoked
// links ('linkRefused', saying which), and a join adds the joiner to the room for both accounts.
// Knocks go through the room's knock room: a knock is first 'sending', and reaches the admins
// when the test says (deliverKnocks), like the real hub's fan-out; admitting adds the knocker to
// the room, and the room reaches the knocker's list when its Welcome does (deliverWelcome).

import { randomBytes } from 'node:crypto';
import {
  CoreError,
  type AccountView,
  type JoinLinkArgs,
  type JoinLinkView,
  type KnockRoomView,
  type KnocksView,
  type KnockView,
  type MimiApi,
  type MyKnockView,
  type RoomRoleView,
  type RoomSettingsView,
  type RoomView,
} from '../../src-shared/contract.js';
import { formatJoinLink, parseJoinLink } from '../../src-shared/join-link.js';
import { eventHub, keychainNothingLocked, localAccount, noBackup, noProviderKeys, noMessageReports, quietConsentAndPeople, quietPseudonymsAndConnections, muteNotInFixture, messageActionsNotInFixture } from './stub-domains.js';

export const A = 'acct-alice';
export const B = 'acct-ally';
export const ME_A = 'mimi://localhost/u/alice';
export const ME_B = 'mimi://localhost/u/ally';
/** The pseudonym ally joins or knocks under when she asks for one. */
export const P_ALLY = 'mimi://localhost/p/Al1yPs3udonymXq7RtY2wZa';
export const DAVE = 'mimi://localhost/u/dave';
export const CAROL = 'mimi://c.example/u/carol';
export const P_STRANGER = 'mimi://c.example/p/Xs9tRanGer4Kd2LmQ8vNpb';
export const LUNCH = 'mimi://localhost/r/lunch';
export const BOOKS = 'mimi://localhost/r/bookclub';
export const NEWS = 'mimi://localhost/r/announcements';
export const BOOKS_KNOCK_ROOM = 'mimi://localhost/r/bookclub-knock';

/** Codes of the links already at the hub when the fixture starts (22 base64url characters). */
export const CODE_DAVE = 'DaveMadeThisOnHisPhone';
export const CODE_EXPIRED = 'ExpiredLinkFromLastWk_';
export const EXPIRED_LINK = formatJoinLink({ roomUri: LUNCH, code: CODE_EXPIRED, passphrase: false, knock: false });
export const REVOKED_PROBLEM = 'This link was revoked by the room’s admins. Ask whoever gave it to you for a new one.';
export const STRANGER_PROBLEM = 'The KeyPackages this knock came with have expired. Admit again to ask the knocker’s provider for fresh ones.';
export const GARDEN_PROBLEM = 'c.example refused the knock: that knock link was revoked. Ask the room’s admins for a new one.';
export const NEWS_REFUSAL = 'Your role in “Announcements” (ordinary_user) may not make links: it lacks canCreateJoinLink. Ask one of the room’s admins to make one.';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const ROLES: RoomRoleView[] = [
  { roleIndex: 0, roleName: 'no_role', capabilities: [] },
  { roleIndex: 1, roleName: 'banned', capabilities: [] },
  { roleIndex: 2, roleName: 'ordinary_user', capabilities: ['canSendMessage'] },
  { roleIndex: 3, roleName: 'moderator', capabilities: ['canSendMessage', 'canKick'] },
  { roleIndex: 4, roleName: 'group_admin', capabilities: ['canSendMessage', 'canKick', 'canAddParticipant', 'canCreateJoinLink'] },
];
const roleName = (i: number) => ROLES.find((r) => r.roleIndex === i)?.roleName ?? `role ${i}`;

interface FakeRoom {
  uri: string;
  name: string;
  epoch: number;
  /** Participant -> role index. */
  roles: Map<string, number>;
  /** Which accounts of this device are in it (by the URI each is in as). */
  accounts: Map<string, string>;
  /** The role people who join get when the link does not say. */
  newcomerRole: number;
}

interface FakeLink {
  id: string;
  code: string;
  roomUri: string;
  /** The room a knock link lets people knock on (its roomUri is the knock room). */
  knockFor?: string;
  passphrase: string | null;
  roleIndex: number;
  maxUses: number | null;
  usesLeft: number | null;
  expiresAt: number | null;
  revoked: boolean;
  createdBy: string;
  createdAt: number;
  /** The account of this device that made it, if one did: only it sees the link's text. */
  madeHere?: string;
}

export function linksKnocksCore() {
  const { emit, onEvent } = eventHub();
  const calls: { method: string; args: unknown[] }[] = [];
  const note = (method: string, args: unknown[]) => calls.push({ method, args });
  const now = Date.now();
  let active = A;
  let serial = 0;

  const accountsList = (): AccountView[] => [
    { ...localAccount({ id: A, userUri: ME_A, handle: 'alice' }), active: active === A },
    { ...localAccount({ id: B, userUri: ME_B, handle: 'ally' }), deviceUri: 'mimi://localhost/d/ally/dev1', active: active === B },
  ];
  const userOf = (acct: string) => (acct === A ? ME_A : ME_B);

  const room = (uri: string, name: string, roles: [string, number][], accounts: [string, string][]): FakeRoom => ({
    uri,
    name,
    epoch: 3,
    roles: new Map(roles),
    accounts: new Map(accounts),
    newcomerRole: 2,
  });
  const rooms = new Map<string, FakeRoom>(
    [
      room(LUNCH, 'Lunch', [[ME_A, 4], [DAVE, 4], [CAROL, 2]], [[A, ME_A]]),
      room(BOOKS, 'Book club', [[ME_A, 4], [DAVE, 2]], [[A, ME_A]]),
      room(NEWS, 'Announcements', [[DAVE, 4], [ME_A, 2]], [[A, ME_A]]),
    ].map((r) => [r.uri, r]),
  );
  const roomView = (r: FakeRoom): RoomView => ({
    roomUri: r.uri,
    name: r.name,
    hubDomain: 'localhost',
    members: [...r.roles].filter(([, i]) => i > 1).map(([u]) => u),
    unread: 0,
    epoch: String(r.epoch),
  });
  /** Rooms whose Welcome has reached this device for each account (a knock's admission waits for it). */
  const listed = (acct: string) => [...rooms.values()].filter((r) => r.accounts.has(acct) && !pendingWelcome.has(`${acct}\n${r.uri}`));
  const pendingWelcome = new Set<string>();
  const roomsChanged = (acct: string) => emit({ type: 'rooms', accountId: acct, rooms: listed(acct).map((r) => roomView(r)) });
  const commit = (r: FakeRoom) => {
    r.epoch++;
    for (const acct of r.accounts.keys()) roomsChanged(acct);
  };
  const findRoom = (acct: string, uri: string) => {
    const r = rooms.get(uri);
    if (!r || !r.accounts.has(acct)) throw new CoreError('roomUnknown', `Unknown room ${uri}.`);
    return r;
  };
  const settings = (acct: string, uri: string): RoomSettingsView => {
    const r = findRoom(acct, uri);
    const me = r.accounts.get(acct)!;
    const mine = r.roles.get(me) ?? 0;
    const admin = mine === 4;
    return {
      roomUri: uri,
      managed: true,
      metadata: { name: r.name, description: '', avatar: '', subject: '' },
      participants: [...r.roles].map(([user, roleIndex]) => ({
        user,
        roleIndex,
        roleName: roleName(roleIndex),
        active: roleIndex > 1,
        can: { kick: admin && user !== me, remove: false, ban: false, unban: false, roles: [] },
      })),
      roles: ROLES,
      myRoleIndex: mine,
      myRoleName: roleName(mine),
      canEdit: { name: false, description: false, avatar: false, subject: false },
      canAddParticipant: admin,
      canSendMessage: true,
      canReportAbuse: false,
      // The fake core lets every member try (it refuses in Announcements itself): the UI shows the core's word.
      links: { canCreate: true, roles: [2, 3, 4] },
    };
  };

  // ---- links ----
  const code = () => randomBytes(16).toString('base64url');
  const linkId = () => randomBytes(8).toString('hex');
  const links: FakeLink[] = [
    { id: 'da7e0000aaaa1111', code: CODE_DAVE, roomUri: LUNCH, passphrase: null, roleIndex: 2, maxUses: null, usesLeft: null, expiresAt: null, revoked: false, createdBy: DAVE, createdAt: now - 3 * DAY },
    { id: 'e0e0e0e0bbbb2222', code: CODE_EXPIRED, roomUri: LUNCH, passphrase: null, roleIndex: 2, maxUses: 10, usesLeft: 7, expiresAt: now - 2 * DAY, revoked: false, createdBy: ME_A, createdAt: now - 9 * DAY },
  ];
  const stateOf = (l: FakeLink): JoinLinkView['state'] => (l.revoked ? 'revoked' : l.expiresAt !== null && l.expiresAt <= Date.now() ? 'expired' : l.usesLeft === 0 ? 'usedUp' : 'active');
  const textOf = (l: FakeLink) => formatJoinLink({ roomUri: l.roomUri, code: l.code, passphrase: l.passphrase !== null, knock: !!l.knockFor });
  const linkView = (l: FakeLink, acct: string): JoinLinkView => ({
    id: l.id,
    roomUri: l.knockFor ?? l.roomUri,
    ...(l.madeHere === acct ? { link: textOf(l) } : {}),
    roleIndex: l.roleIndex,
    roleName: roleName(l.roleIndex),
    maxUses: l.maxUses,
    usesLeft: l.usesLeft,
    expiresAt: l.expiresAt,
    passphrase: l.passphrase !== null,
    knock: !!l.knockFor,
    createdBy: l.createdBy,
    createdAt: l.createdAt,
    state: stateOf(l),
  });
  /** A room's links as its hub lists them: its join links and its knock room's link. */
  const linksOf = (acct: string, uri: string) => links.filter((l) => l.roomUri === uri || l.knockFor === uri).map((l) => linkView(l, acct));
  const mayMakeLinks = (acct: string, r: FakeRoom) => {
    const mine = r.roles.get(r.accounts.get(acct)!) ?? 0;
    if (!ROLES.find((x) => x.roleIndex === mine)!.capabilities.includes('canCreateJoinLink')) throw new CoreError('notAllowed', NEWS_REFUSAL);
  };
  const linkByText = (text: string) => {
    const parsed = parseJoinLink(text);
    const l = links.find((x) => x.code === parsed.code && x.roomUri === parsed.roomUri);
    if (!l) throw new CoreError('linkRefused', 'localhost does not know this link: it may have been cut short when it was copied. Copy the whole link again from where you got it.');
    const state = stateOf(l);
    if (state === 'revoked') throw new CoreError('linkRefused', REVOKED_PROBLEM);
    if (state === 'expired') throw new CoreError('linkRefused', `This link expired on ${new Date(l.expiresAt!).toISOString().slice(0, 10)}. Ask whoever gave it to you for a new one.`);
    if (state === 'usedUp') throw new CoreError('linkRefused', 'This link has been used as many times as it allows. Ask whoever gave it to you for a new one.');
    return l;
  };

  // ---- knocks ----
  const knocks: Record<string, KnocksView> = {
    [A]: {
      incoming: [
        { id: 'k-stranger', roomUri: LUNCH, roomName: 'Lunch', from: P_STRANGER, note: '', at: now - 50 * 60_000, state: 'pending', problem: STRANGER_PROBLEM },
        { id: 'k-carol', roomUri: BOOKS, roomName: 'Book club', from: CAROL, note: 'Hi! Dave said I could ask.\nI have read all of them twice.', at: now - 20 * 60_000, state: 'pending' },
      ],
      outgoing: [],
    },
    [B]: {
      incoming: [],
      outgoing: [{ id: 'k-garden', roomUri: 'mimi://c.example/r/garden', roomName: 'Garden', as: ME_B, at: now - 2 * DAY, state: 'failed', problem: GARDEN_PROBLEM }],
    },
  };
  const knockRooms = new Map<string, KnockRoomView>();
  /** Which account sent each knock, and from whom, while it travels. */
  const sent: { acct: string; knock: MyKnockView; note: string }[] = [];
  const knocksChanged = (acct: string) => emit({ type: 'knocks', accountId: acct, knocks: structuredClone(knocks[acct]) });
  const incomingOf = (acct: string, id: string): KnockView => {
    const k = knocks[acct].incoming.find((x) => x.id === id);
    if (!k) throw new CoreError('invalidArgument', `No knock ${id}.`);
    if (k.state !== 'pending') throw new CoreError('invalidArgument', 'That knock was already answered.');
    return k;
  };
  let failAdmit: string | undefined;
  /** The next join or knock takes this long (a hub far away), so its progress can be seen. */
  let slowNext = 0;
  const maybeSlow = async () => {
    const ms = slowNext;
    slowNext = 0;
    if (ms) await new Promise((r) => setTimeout(r, ms));
  };

  const refuse = async (): Promise<never> => {
    throw new CoreError('notAllowed', 'Not in this fixture.');
  };

  const core: MimiApi = {
    ...noBackup,
    ...noProviderKeys,
    app: { info: async () => ({ mode: 'browser', version: 'test' }) },
    accounts: {
      ...keychainNothingLocked,
      list: async () => accountsList(),
      register: refuse,
      login: refuse,
      switchTo: async (id) => {
        active = id;
        return accountsList();
      },
      signOut: refuse,
    },
    rooms: {
      list: async (acct) => listed(acct).map((r) => roomView(r)),
      create: refuse,
      createMinimalMetadata: refuse,
      addMember: refuse,
      leave: refuse,
      join: refuse,
      ...muteNotInFixture,
      markRead: async () => undefined,
      settings: async (acct, uri) => settings(acct, uri),
      setMetadata: refuse,
      setRole: refuse,
      kick: refuse,
      removeMember: refuse,
      ban: refuse,
      unban: refuse,
      reportAbuse: refuse,
    },
    messages: { page: async () => [], send: refuse, ...noMessageReports, ...messageActionsNotInFixture },
    links: {
      create: async (...args) => {
        note('links.create', args);
        const [acct, uri, a] = args as [string, string, JoinLinkArgs];
        const r = findRoom(acct, uri);
        mayMakeLinks(acct, r);
        const l: FakeLink = {
          id: linkId(),
          code: code(),
          roomUri: uri,
          passphrase: a.passphrase,
          roleIndex: a.roleIndex ?? r.newcomerRole,
          maxUses: a.uses,
          usesLeft: a.uses,
          expiresAt: a.expiresInSeconds === null ? null : Date.now() + a.expiresInSeconds * 1000,
          revoked: false,
          createdBy: r.accounts.get(acct)!,
          createdAt: Date.now(),
          madeHere: acct,
        };
        links.push(l);
        return linkView(l, acct);
      },
      list: async (...args) => {
        note('links.list', args);
        const [acct, uri] = args;
        findRoom(acct, uri);
        return linksOf(acct, uri);
      },
      revoke: async (...args) => {
        note('links.revoke', args);
        const [acct, uri, id] = args;
        const r = findRoom(acct, uri);
        mayMakeLinks(acct, r);
        const l = links.find((x) => x.id === id && (x.roomUri === uri || x.knockFor === uri));
        if (!l) throw new CoreError('invalidArgument', `No link ${id} in this room.`);
        l.revoked = true;
        return linksOf(acct, uri);
      },
      join: async (...args) => {
        note('links.join', args);
        const [acct, text, passphrase, asPseudonym] = args;
        await maybeSlow();
        const l = linkByText(text);
        if (l.knockFor) throw new CoreError('invalidArgument', 'That is a knock link: knock with it instead of joining.');
        if (l.passphrase !== null && passphrase === null) throw new CoreError('passphraseRequired', 'This link needs a passphrase. Type the one that came with it and join again.');
        if (l.passphrase !== null && passphrase !== l.passphrase)
          throw new CoreError('passphraseRequired', 'That passphrase is not the one for this link. Check it with whoever gave you the link, then try again.');
        const r = rooms.get(l.roomUri)!;
        if (!r.accounts.has(acct)) {
          const as = asPseudonym ? P_ALLY : userOf(acct);
          r.accounts.set(acct, as);
          r.roles.set(as, l.roleIndex);
          if (l.usesLeft !== null) l.usesLeft--;
          commit(r);
        }
        return roomView(r);
      },
    },
    knocks: {
      list: async (acct) => structuredClone(knocks[acct] ?? { incoming: [], outgoing: [] }),
      knockRoom: async (...args) => {
        note('knocks.knockRoom', args);
        const [acct, uri] = args;
        const r = findRoom(acct, uri);
        mayMakeLinks(acct, r);
        let kr = knockRooms.get(uri);
        if (!kr) {
          const l: FakeLink = {
            id: linkId(),
            code: code(),
            roomUri: uri === BOOKS ? BOOKS_KNOCK_ROOM : `${uri}-knock`,
            knockFor: uri,
            passphrase: null,
            roleIndex: r.newcomerRole,
            maxUses: null,
            usesLeft: null,
            expiresAt: null,
            revoked: false,
            createdBy: r.accounts.get(acct)!,
            createdAt: Date.now(),
            madeHere: acct,
          };
          links.push(l);
          kr = { roomUri: uri, knockRoomUri: l.roomUri, link: textOf(l) };
          knockRooms.set(uri, kr);
        }
        return structuredClone(kr);
      },
      knock: async (...args) => {
        note('knocks.knock', args);
        const [acct, text, noteText, asPseudonym] = args;
        await maybeSlow();
        const l = linkByText(text);
        if (!l.knockFor) throw new CoreError('invalidArgument', 'That link lets you join without knocking: join with it instead.');
        const mine: MyKnockView = { id: `k-${++serial}`, roomUri: l.knockFor, roomName: '', as: asPseudonym ? P_ALLY : userOf(acct), at: Date.now(), state: 'sending' };
        knocks[acct].outgoing.push(mine);
        sent.push({ acct, knock: mine, note: noteText });
        knocksChanged(acct);
        return structuredClone(knocks[acct]);
      },
      admit: async (...args) => {
        note('knocks.admit', args);
        const [acct, id] = args;
        const k = incomingOf(acct, id);
        if (failAdmit === id) {
          failAdmit = undefined;
          k.problem = 'The knocker’s provider did not answer. Admit again in a moment.';
          knocksChanged(acct);
          return structuredClone(knocks[acct]);
        }
        k.state = 'admitted';
        delete k.problem;
        const r = rooms.get(k.roomUri)!;
        r.roles.set(k.from, r.newcomerRole);
        // The knocker is on this device: their room arrives with the Welcome, later.
        const s = sent.find((x) => x.knock.id === id);
        if (s) {
          s.knock.state = 'admitted';
          r.accounts.set(s.acct, k.from);
          pendingWelcome.add(`${s.acct}\n${r.uri}`);
          knocksChanged(s.acct);
        }
        commit(r);
        knocksChanged(acct);
        return structuredClone(knocks[acct]);
      },
      decline: async (...args) => {
        note('knocks.decline', args);
        const [acct, id] = args;
        incomingOf(acct, id).state = 'declined';
        const s = sent.find((x) => x.knock.id === id);
        if (s) {
          Object.assign(s.knock, { state: 'failed', problem: 'The room’s admins declined your knock.' });
          knocksChanged(s.acct);
        }
        knocksChanged(acct);
        return structuredClone(knocks[acct]);
      },
    },
    ...quietPseudonymsAndConnections(),
    ...quietConsentAndPeople(ME_A, 'alice'),
    onEvent,
  };

  return {
    core,
    calls,
    links,
    knocks,
    emit,
    /** Knocks on their way reach the room's admins (alice): the knocker sees them waiting. */
    deliverKnocks() {
      for (const s of sent.filter((x) => x.knock.state === 'sending')) {
        const r = rooms.get(s.knock.roomUri)!;
        Object.assign(s.knock, { state: 'waiting', roomName: r.name });
        // The knock's id is shared by both sides here: one device, one knock.
        knocks[A].incoming.push({ id: s.knock.id, roomUri: r.uri, roomName: r.name, from: s.knock.as, note: s.note, at: s.knock.at, state: 'pending' });
        knocksChanged(s.acct);
        knocksChanged(A);
      }
    },
    /** The Welcome of an admitted knock arrives: the room joins the knocker's list. */
    deliverWelcome(acct: string, uri: string) {
      pendingWelcome.delete(`${acct}\n${uri}`);
      roomsChanged(acct);
    },
    /** The next join or knock takes `ms` before it answers. */
    slowDown(ms: number) {
      slowNext = ms;
    },
    /** The next admit of knock `id` fails, as the core reports it (the knock stays, with a problem). */
    failNextAdmit(id: string) {
      failAdmit = id;
    },
  };
}
