// An in-memory core with two accounts on two providers, for the pseudonym manager, connection
// requests and minimal-metadata rooms. It answers the way the core is specified to (contract.ts):
// a refill first reports `refilling` and the new pseudonyms arrive later by event (the test says
// when), retiring leaves the pseudonym's rooms, accepting a request creates a minimal-metadata room.

import { randomBytes } from 'node:crypto';
import {
  CoreError,
  type AccountView,
  type ConnectionRequestPolicyView,
  type ConnectionView,
  type ConnectionsView,
  type MessageView,
  type MimiApi,
  type PseudonymPoolView,
  type PseudonymView,
  type RoomMemberView,
  type RoomSettingsView,
  type RoomView,
} from '../../src-shared/contract.js';
import { parseUserAddress } from '../../src-shared/identifiers.js';
import { eventHub, keychainNothingLocked, localAccount, messageReports, noBackup, noProviderKeys, quietConsentAndPeople, quietLinksAndKnocks, muteNotInFixture, messageActionsNotInFixture } from './stub-domains.js';

export const A = 'acct-alice';
export const B = 'acct-ally';
export const ME_A = 'mimi://localhost/u/alice';
export const ME_B = 'mimi://b.example/u/ally';
export const BOB = 'mimi://b.example/u/bob';
export const CAROL = 'mimi://c.example/u/carol';
export const DAVE = 'mimi://b.example/u/dave';
export const QUIET = 'mimi://localhost/r/quiet';
export const LUNCH = 'mimi://localhost/r/lunch';
/** Pseudonyms: alice's own (in Quiet corner and Book club), bob's and an unverified one in Quiet corner. */
export const P_MINE = 'mimi://localhost/p/Qm7xK2aLp9rT4vWz1cYbNg';
export const P_SPARE = 'mimi://localhost/p/Zk3Jx8Lw0R2mYbT1vKc9aZ';
export const P_BOB = 'mimi://b.example/p/Hs5dPq8WnE2rTy6uIo0pLk';
export const P_ODD = 'mimi://c.example/p/Mn4bVc7XzA1sDf3gHj5kLq';
export const CAROL_PROBLEM = 'the identity link is signed by a key that is not one of carol@c.example’s devices';
export const ODD_PROBLEM = 'no identity link received from this member yet';
export const B_PROBLEM = 'b.example refused more pseudonyms for now (rate limited). mimi tries again in 10 minutes.';

const DAY = 86_400_000;

export function pseudonymCore() {
  const { emit, onEvent } = eventHub();
  const calls: { method: string; args: unknown[] }[] = [];
  const note = (method: string, args: unknown[]) => calls.push({ method, args });
  const now = Date.now();
  let active = A;
  let serial = 0;

  const accountsList = (): AccountView[] => [
    { ...localAccount({ id: A, userUri: ME_A, handle: 'alice' }), active: active === A },
    { ...localAccount({ id: B, userUri: ME_B, handle: 'ally' }), domain: 'b.example', providerUrl: 'https://127.0.0.1:2', deviceUri: 'mimi://b.example/d/ally/dev1', active: active === B },
  ];

  const made = (uri: string, state: PseudonymView['state'], ageDays: number, rooms: PseudonymView['rooms'] = []): PseudonymView => ({
    userPseudonym: uri,
    clientPseudonym: `${uri}-c`,
    state,
    rooms,
    issuedAt: now - ageDays * DAY,
    keyPackages: state === 'retired' ? 0 : 5,
  });
  const pools: Record<string, PseudonymPoolView> = {
    [A]: {
      accountId: A,
      pseudonyms: [
        made(P_MINE, 'inUse', 9, [
          { roomUri: QUIET, name: 'Quiet corner' },
          { roomUri: 'mimi://localhost/r/books', name: 'Book club' },
        ]),
        made(P_SPARE, 'unused', 3),
        made('mimi://localhost/p/Aa1Bb2Cc3Dd4Ee5Ff6Gg7H', 'unused', 1),
        made('mimi://localhost/p/Rt0Yu9Io8Pa7Sd6Fg5Hj4K', 'retired', 30),
      ],
      unused: 2,
      threshold: 4,
      batch: 3,
      refilling: false,
    },
    [B]: { accountId: B, pseudonyms: [made('mimi://b.example/p/Wq2Er4Ty6Ui8Op0As1Df3G', 'unused', 2)], unused: 1, threshold: 3, batch: 3, refilling: false, problem: B_PROBLEM },
  };
  const poolChanged = (acct: string) => {
    const p = pools[acct];
    p.unused = p.pseudonyms.filter((x) => x.state === 'unused').length;
    emit({ type: 'pseudonyms', accountId: acct, pool: structuredClone(p) });
  };
  const pseudonymOf = (acct: string, uri: string) => {
    const p = pools[acct].pseudonyms.find((x) => x.userPseudonym === uri);
    if (!p) throw new CoreError('invalidArgument', `${uri} is not one of this account’s pseudonyms.`);
    return p;
  };
  const issue = (acct: string, count: number) => {
    const domain = acct === A ? 'localhost' : 'b.example';
    for (let i = 0; i < count; i++) pools[acct].pseudonyms.push(made(`mimi://${domain}/p/${randomBytes(16).toString('base64url')}`, 'unused', 0));
  };

  const at = (minutesAgo: number) => now - minutesAgo * 60_000;
  const connections: Record<string, ConnectionsView> = {
    [A]: {
      incoming: [
        { id: 'mimi://b.example/r/boot-bob', direction: 'incoming', peer: BOB, verified: true, state: 'pending', at: at(12) },
        { id: 'mimi://c.example/r/boot-carol', direction: 'incoming', peer: CAROL, verified: false, problem: CAROL_PROBLEM, state: 'pending', at: at(8) },
        { id: 'mimi://b.example/r/boot-dave', direction: 'incoming', peer: DAVE, verified: true, state: 'pending', at: at(4) },
      ],
      outgoing: [{ id: 'mimi://localhost/r/boot-erin', direction: 'outgoing', peer: 'mimi://c.example/u/erin', verified: true, state: 'failed', problem: 'c.example did not answer. Try again later.', at: at(60 * 26) }],
    },
    [B]: { incoming: [], outgoing: [] },
  };
  // Who may send each account requests; `failPolicy` makes the next change fail as the core says it.
  const policies: Record<string, ConnectionRequestPolicyView> = { [A]: { mode: 'anyone', domains: [] }, [B]: { mode: 'nobody', domains: [] } };
  let failPolicy: CoreError | undefined;
  const connectionsChanged = (acct: string) => emit({ type: 'connections', accountId: acct, connections: structuredClone(connections[acct]) });
  const request = (acct: string, id: string): ConnectionView => {
    const c = connections[acct].incoming.find((x) => x.id === id);
    if (!c) throw new CoreError('invalidArgument', `No connection request ${id}.`);
    if (c.state !== 'pending') throw new CoreError('invalidArgument', 'That request was already answered.');
    return c;
  };

  // Rooms: Lunch (ordinary) and Quiet corner (minimal metadata: everyone a pseudonym).
  const rooms: Record<string, RoomView[]> = {
    [A]: [
      { roomUri: LUNCH, name: 'Lunch', hubDomain: 'localhost', members: [ME_A], unread: 0, epoch: '1' },
      {
        roomUri: QUIET,
        name: 'Quiet corner',
        hubDomain: 'localhost',
        members: [P_MINE, P_BOB, P_ODD],
        unread: 0,
        epoch: '4',
        lastMessage: { sender: P_BOB, text: 'Glad we can talk here.', timestamp: now - 7 * 60_000 },
      },
    ],
    [B]: [],
  };
  const identities: Record<string, RoomMemberView['identity']> = {
    [P_MINE]: { user: ME_A, verified: true },
    [P_BOB]: { user: BOB, verified: true },
    [P_ODD]: { verified: false, problem: ODD_PROBLEM },
  };
  const said = (seq: number, sender: string, text: string): MessageView => ({
    seq,
    messageId: seq.toString(16).padStart(64, '0'),
    roomUri: QUIET,
    sender,
    text,
    contentType: 'text/plain',
    timestamp: now - (10 - seq) * 60_000,
    status: sender === P_MINE ? 'sent' : 'received',
  });
  const quietMessages = [said(1, P_MINE, 'Hello both.'), said(2, P_ODD, 'Who am I?'), said(3, P_BOB, 'Glad we can talk here.')];
  const roomsChanged = (acct: string) => emit({ type: 'rooms', accountId: acct, rooms: structuredClone(rooms[acct]) });
  const findRoom = (acct: string, uri: string) => {
    const r = rooms[acct].find((x) => x.roomUri === uri);
    if (!r) throw new CoreError('roomUnknown', `Unknown room ${uri}.`);
    return r;
  };
  const ROLES = [
    { roleIndex: 1, roleName: 'banned', capabilities: [] },
    { roleIndex: 2, roleName: 'ordinary_user', capabilities: ['canSendMessage'] },
    { roleIndex: 3, roleName: 'group_admin', capabilities: ['canSendMessage', 'canKick', 'canAddParticipant'] },
  ];
  const settings = (acct: string, uri: string): RoomSettingsView => {
    const r = findRoom(acct, uri);
    const mine = (u: string) => u === ME_A || u === P_MINE;
    return {
      roomUri: uri,
      managed: true,
      metadata: { name: r.name, description: '', avatar: '', subject: '' },
      participants: r.members.map((user) => ({
        user,
        ...(identities[user] ? { identity: identities[user] } : {}),
        roleIndex: mine(user) ? 3 : 2,
        roleName: mine(user) ? 'group_admin' : 'ordinary_user',
        active: true,
        can: { kick: !mine(user), remove: false, ban: false, unban: false, roles: [] },
      })),
      roles: ROLES,
      myRoleIndex: 3,
      myRoleName: 'group_admin',
      canEdit: { name: false, description: false, avatar: false, subject: false },
      canAddParticipant: true,
      canSendMessage: true,
      canReportAbuse: false,
      links: { canCreate: false, roles: [] },
    };
  };
  const refuse = async (): Promise<never> => {
    throw new CoreError('notAllowed', 'Not in this fixture.');
  };
  /** A new minimal-metadata room: this account joins it under its next unused pseudonym. */
  const newMinimalRoom = (acct: string, name: string, others: string[]): RoomView => {
    const p = pools[acct].pseudonyms.find((x) => x.state === 'unused');
    if (!p) throw new CoreError('noKeyMaterial', 'No unused pseudonym left; wait for the pool to refill or use “Get more now”.');
    const r: RoomView = { roomUri: `mimi://localhost/r/new-${++serial}`, name, hubDomain: 'localhost', members: [p.userPseudonym, ...others], unread: 0, epoch: '0' };
    Object.assign(p, { state: 'inUse', rooms: [{ roomUri: r.roomUri, name }] });
    identities[p.userPseudonym] = { user: acct === A ? ME_A : ME_B, verified: true };
    rooms[acct].push(r);
    poolChanged(acct);
    return r;
  };

  const core: MimiApi = {
    ...quietLinksAndKnocks(),
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
      list: async (acct) => structuredClone(rooms[acct] ?? []),
      create: refuse,
      createMinimalMetadata: async (...args) => {
        note('createMinimalMetadata', args);
        const [acct, name] = args;
        return newMinimalRoom(acct, name, []);
      },
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
    messages: {
      ...messageActionsNotInFixture,
      page: async (_acct, uri, beforeSeq) => (uri === QUIET && beforeSeq === null ? [...quietMessages].reverse() : []),
      send: refuse,
      // Checked like the core does; here the policy never gives canReportAbuse, so a report is refused.
      ...messageReports({ messagesOf: (uri) => (uri === QUIET ? quietMessages : []), mayReport: (acct, uri) => settings(acct, uri).canReportAbuse }),
    },
    pseudonyms: {
      list: async (acct) => structuredClone(pools[acct]),
      refill: async (...args) => {
        note('refill', args);
        const [acct] = args;
        pools[acct].refilling = true;
        poolChanged(acct);
        return structuredClone(pools[acct]);
      },
      retire: async (...args) => {
        note('retire', args);
        const [acct, uri] = args;
        const p = pseudonymOf(acct, uri);
        const left = p.rooms.map((r) => r.roomUri);
        Object.assign(p, { state: 'retired', rooms: [], keyPackages: 0 });
        rooms[acct] = rooms[acct].map((r) => (left.includes(r.roomUri) ? { ...r, members: [] } : r));
        if (left.length) roomsChanged(acct);
        poolChanged(acct);
        return structuredClone(pools[acct]);
      },
    },
    connections: {
      list: async (acct) => structuredClone(connections[acct]),
      connect: async (...args) => {
        note('connect', args);
        const [acct, user] = args;
        const uri = parseUserAddress(user);
        if (uri.endsWith('/u/nobody')) throw new CoreError('userUnknown', `There is no user nobody on ${uri.split('/')[2]}. Check the address and try again.`);
        connections[acct].outgoing.push({ id: `mimi://localhost/r/boot-${++serial}`, direction: 'outgoing', peer: uri, verified: true, state: 'pending', at: Date.now() });
        connectionsChanged(acct);
        return structuredClone(connections[acct]);
      },
      accept: async (...args) => {
        note('accept', args);
        const [acct, id] = args;
        const c = request(acct, id);
        const r = newMinimalRoom(acct, `${c.peer.split('/u/')[1]} (connection)`, [P_BOB]);
        Object.assign(c, { state: 'accepted', roomUri: r.roomUri });
        roomsChanged(acct);
        connectionsChanged(acct);
        return structuredClone(connections[acct]);
      },
      decline: async (...args) => {
        note('decline', args);
        const [acct, id] = args;
        request(acct, id).state = 'declined';
        connectionsChanged(acct);
        return structuredClone(connections[acct]);
      },
      policy: async (acct) => structuredClone(policies[acct]),
      setPolicy: async (...args) => {
        note('setPolicy', args);
        const [acct, policy] = args;
        const failure = failPolicy;
        failPolicy = undefined;
        if (failure) throw failure;
        policies[acct] = structuredClone(policy);
        return structuredClone(policies[acct]);
      },
    },
    ...quietConsentAndPeople(ME_A, 'alice'),
    onEvent,
  };

  return {
    core,
    calls,
    pools,
    connections,
    policies,
    /** The next change of a connection request setting fails with `e`. */
    failNextPolicy(e: CoreError) {
      failPolicy = e;
    },
    /** The provider delivers what a refill asked for: the new pseudonyms arrive by event. */
    finishRefill(acct: string, count: number) {
      issue(acct, count);
      pools[acct].refilling = false;
      delete pools[acct].problem;
      poolChanged(acct);
    },
  };
}
