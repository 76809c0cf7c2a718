// Room settings as a person sees them: roles in the member list, the settings panel with the
// room's details (editable only where the role allows) and its participants with the actions the
// core says this account may take, a refusal shown next to the action that caused it, the panel
// following the room as it changes, kick (devices out, still a participant) told apart from remove
// (off the participant list), reporting someone to the room's provider (offered only where the
// role may, never on yourself; the note sent as typed; nothing reloaded), and the policy preset
// picked when creating a room; the room's receipt policy (shown in words, editable only where the
// role allows, saved like the details, absent when the core has none); members' shared display
// names and pictures (never in place of a pseudonym's wording); and the panel in German. The core
// behind the (real) bridge is an in-memory MimiApi that answers like the core would: a
// cooperative room where alice is group_admin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import {
  CoreError,
  type AccountView,
  type CoreEvent,
  type MemberProfileView,
  type MimiApi,
  type ReceiptPolicyView,
  type RoomMemberView,
  type RoomMetadataArgs,
  type RoomRoleView,
  type RoomSettingsView,
  type RoomView,
} from '../../src-shared/contract.js';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { assertAccessible, collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import { localAccount, noMessageReports, noMinimalMetadataRooms, quietConsentAndPeople, quietLinksAndKnocks, quietPseudonymsAndConnections, signedInAs, unmanagedRoomSettings, muteNotInFixture, messageActionsNotInFixture } from './stub-domains.js';

const ME = 'mimi://localhost/u/alice';
const BOB = 'mimi://localhost/u/bob';
const CARL = 'mimi://b.example/u/carl';
const DAVE = 'mimi://localhost/u/dave';
const ERIN = 'mimi://localhost/u/erin';
const LUNCH = 'mimi://localhost/r/lunch';
const ACCT = 'acct-alice';
/** A room whose other member is a pseudonym nobody has verified. */
const MASKS = 'mimi://localhost/r/masks';
const P_ZED = 'mimi://localhost/p/Zq3xK2aLp9rT4vWz1cYbNg';
/** A 4×4 PNG: what a member shares as their picture (a data URL, as the core hands them). */
const PICTURE = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGPQqjoARwzEcQA5chZBOmnm6AAAAABJRU5ErkJggg==';

const ROLES: RoomRoleView[] = [
  { roleIndex: 0, roleName: 'no_role', capabilities: [] },
  { roleIndex: 1, roleName: 'banned', capabilities: [] },
  { roleIndex: 2, roleName: 'ordinary_user', capabilities: ['canAddParticipant', 'canSendMessage', 'canChangeRoomName'] },
  // Unlike the real cooperative preset, this fixture's ordinary_user may not report abuse: a role
  // without canReportAbuse, to see Report go away.
  {
    roleIndex: 3,
    roleName: 'group_admin',
    capabilities: ['canAddParticipant', 'canSendMessage', 'canChangeRoomName', 'canBan', 'canUnBan', 'canKick', 'canRemoveParticipant', 'canChangeUserRole', 'canChangeRoomDescription', 'canReportAbuse'],
  },
  { roleIndex: 4, roleName: 'super_admin', capabilities: ['canBan', 'canKick', 'canChangeUserRole', 'canDestroyRoom'] },
];
const roleName = (i: number) => ROLES.find((r) => r.roleIndex === i)!.roleName;

function fakeCore() {
  const listeners = new Set<(e: CoreEvent) => void>();
  const emit = (e: CoreEvent) => listeners.forEach((l) => l(e));
  const calls: { method: string; args: unknown[] }[] = [];
  const note = (method: string, args: unknown[]) => calls.push({ method, args });

  let myRole = 3;
  let epoch = 7;
  const metadata = { name: 'Lunch', description: 'Where and when we eat', avatar: '', subject: 'Tacos on Friday?' };
  let participants: { user: string; roleIndex: number; active: boolean }[] = [
    { user: ME, roleIndex: 3, active: true },
    { user: BOB, roleIndex: 2, active: true },
    { user: CARL, roleIndex: 2, active: true },
    { user: DAVE, roleIndex: 4, active: true },
    { user: ERIN, roleIndex: 1, active: false },
  ];
  const others: RoomView[] = [];
  /** The room's status_notification_policy; undefined: the core reports none (the group shows nothing). */
  let receiptPolicy: ReceiptPolicyView | undefined = { delivery: 'optional', read: 'optional' };
  let failReceipts: CoreError | undefined;
  /** What members share inside each room. The pseudonym's entry must never be shown as a name. */
  const profiles: Record<string, Record<string, MemberProfileView>> = {
    [LUNCH]: { [BOB]: { displayName: 'Bob Builder', avatar: PICTURE }, [CARL]: { displayName: 'Carl C.' } },
    [MASKS]: { [P_ZED]: { displayName: 'Zed the Great', avatar: PICTURE } },
  };

  const none = { kick: false, remove: false, ban: false, unban: false, roles: [] as number[] };
  // What the cooperative policy lets a group_admin do: act on ordinary users and admins, not on a
  // super_admin; an ordinary_user here may do none of it. Removing is allowed with or without
  // clients in the room; this fixture leaves it off for a banned user, so one row offers other
  // actions but not Remove.
  const canOn = (p: { user: string; roleIndex: number; active: boolean }): RoomMemberView['can'] => {
    if (myRole !== 3 || p.user === ME || p.roleIndex === 4) return none;
    if (p.roleIndex === 1) return { ...none, unban: true };
    return { kick: p.active, remove: true, ban: true, unban: false, roles: [0, 1, 2, 3] };
  };
  /** A one-off failure for the next removeMember (the hub did not answer, say). */
  let failRemove: CoreError | undefined;
  /** A one-off failure for the next reportAbuse. */
  let failReport: CoreError | undefined;
  /** The policy took canReportAbuse from alice's role: a change this device has not seen yet. */
  let reportingRevoked = false;
  const mayReport = () => !reportingRevoked && ROLES.find((r) => r.roleIndex === myRole)!.capabilities.includes('canReportAbuse');
  const settings = (): RoomSettingsView => ({
    roomUri: LUNCH,
    managed: true,
    metadata: { ...metadata },
    participants: participants.map((p) => ({ ...p, roleName: roleName(p.roleIndex), can: canOn(p) })),
    roles: ROLES,
    myRoleIndex: myRole,
    myRoleName: roleName(myRole),
    canEdit: { name: true, description: myRole >= 3, avatar: true, subject: true },
    canAddParticipant: true,
    canSendMessage: true,
    canReportAbuse: mayReport(),
    links: { canCreate: false, roles: [] },
    ...(receiptPolicy ? { receiptPolicy: { ...receiptPolicy, canEdit: myRole >= 3 } } : {}),
  });
  const lunch = (): RoomView => ({
    roomUri: LUNCH,
    name: metadata.name,
    hubDomain: 'localhost',
    members: participants.filter((p) => p.active && p.roleIndex > 1).map((p) => p.user),
    unread: 0,
    epoch: String(epoch),
  });
  const list = () => [lunch(), ...others];
  /** A commit: the epoch moves and the core sends the new room list. */
  const commit = () => {
    epoch++;
    emit({ type: 'rooms', accountId: ACCT, rooms: list() });
  };
  const needs = (capability: string) => {
    if (!ROLES.find((r) => r.roleIndex === myRole)!.capabilities.includes(capability)) throw new CoreError('notAllowed', `Your role ${roleName(myRole)} lacks ${capability}`);
  };
  const find = (user: string) => {
    const p = participants.find((x) => x.user === user);
    if (!p) throw new CoreError('invalidArgument', `${user} is not on the participant list`);
    return p;
  };
  const room = (roomUri: string) => {
    if (roomUri !== LUNCH) throw new CoreError('invalidArgument', 'only Lunch has settings in this fixture');
  };

  const account = (): AccountView => localAccount({ id: ACCT, userUri: ME, handle: 'alice' });
  const plain = unmanagedRoomSettings((roomUri) => list().find((r) => r.roomUri === roomUri));

  const core: MimiApi = {
    ...signedInAs(account),
    rooms: {
      list: async () => list(),
      create: async (...args) => {
        note('create', args);
        const [, name] = args;
        const r: RoomView = { roomUri: `mimi://localhost/r/${name.toLowerCase()}`, name, hubDomain: 'localhost', members: [ME], unread: 0, epoch: '0' };
        others.push(r);
        return r;
      },
      addMember: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      join: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      leave: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      ...muteNotInFixture,
      profiles: async (...args) => {
        note('profiles', args);
        return profiles[args[1]] ?? {};
      },
      setReceiptPolicy: async (...args) => {
        note('setReceiptPolicy', args);
        room(args[1]);
        const failure = failReceipts;
        failReceipts = undefined;
        if (failure) throw failure;
        if (myRole < 3) throw new CoreError('notAllowed', `Your role ${roleName(myRole)} may not change the receipt policy`);
        receiptPolicy = { ...args[2] };
        commit();
        return settings();
      },
      markRead: async () => undefined,
      settings: async (...args) => {
        note('settings', args);
        if (args[1] !== LUNCH) return plain.settings(...args);
        return settings();
      },
      setMetadata: async (...args) => {
        note('setMetadata', args);
        room(args[1]);
        const m: RoomMetadataArgs = args[2];
        if (m.name !== undefined) needs('canChangeRoomName');
        if (m.description !== undefined) needs('canChangeRoomDescription');
        Object.assign(metadata, m);
        commit();
        return settings();
      },
      setRole: async (...args) => {
        note('setRole', args);
        room(args[1]);
        needs('canChangeUserRole');
        find(args[2]).roleIndex = args[3];
        commit();
        return settings();
      },
      kick: async (...args) => {
        note('kick', args);
        room(args[1]);
        needs('canKick');
        find(args[2]).active = false;
        commit();
        return settings();
      },
      removeMember: async (...args) => {
        note('removeMember', args);
        room(args[1]);
        const failure = failRemove;
        failRemove = undefined;
        if (failure) throw failure;
        needs('canRemoveParticipant');
        find(args[2]);
        participants = participants.filter((p) => p.user !== args[2]);
        commit();
        return settings();
      },
      ban: async (...args) => {
        note('ban', args);
        room(args[1]);
        needs('canBan');
        Object.assign(find(args[2]), { roleIndex: 1, active: false });
        commit();
        return settings();
      },
      unban: async (...args) => {
        note('unban', args);
        room(args[1]);
        needs('canUnBan');
        participants = participants.filter((p) => p.user !== args[2]);
        commit();
        return settings();
      },
      // A report goes to the hub and changes nothing in the room: no commit, no new settings.
      reportAbuse: async (...args) => {
        note('reportAbuse', args);
        room(args[1]);
        const failure = failReport;
        failReport = undefined;
        if (failure) throw failure;
        if (!mayReport()) throw new CoreError('notAllowed', `Cannot report ${args[2].split('/u/')[1]}: your role ${roleName(myRole)} lacks canReportAbuse.`);
        if (args[2] === ME) throw new CoreError('invalidArgument', 'You cannot report yourself.');
        find(args[2]);
      },
      ...noMinimalMetadataRooms,
    },
    messages: { page: async () => [], send: async () => Promise.reject(new CoreError('internal', 'not in this fixture')), ...noMessageReports, ...messageActionsNotInFixture },
    ...quietConsentAndPeople(ME, 'alice'),
    ...quietPseudonymsAndConnections(),
    ...quietLinksAndKnocks(),
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return {
    core,
    calls,
    callsOf: (method: string) => calls.filter((c) => c.method === method),
    /** Another member changes the subject: a commit this device only hears about. */
    remoteSubject(subject: string) {
      metadata.subject = subject;
      commit();
    },
    /** The next removeMember fails with this error. */
    failNextRemove(e: CoreError) {
      failRemove = e;
    },
    /** The next reportAbuse fails with this error. */
    failNextReport(e: CoreError) {
      failReport = e;
    },
    /** alice's role loses canReportAbuse (or gets it back) without this device hearing of it. */
    revokeReportingSilently(revoked = true) {
      reportingRevoked = revoked;
    },
    /** Another admin demoted alice, and the commit has not reached this device yet. */
    demoteSilently() {
      myRole = 2;
      find(ME).roleIndex = 2;
    },
    /** alice is made group_admin again, by a commit this device hears about. */
    promote() {
      myRole = 3;
      find(ME).roleIndex = 3;
      commit();
    },
    /** The next setReceiptPolicy fails with this error. */
    failNextReceipts(e: CoreError) {
      failReceipts = e;
    },
    /** The room's state has no receipt policy any more (a commit this device hears about). */
    dropReceiptPolicy() {
      receiptPolicy = undefined;
      commit();
    },
    /** alice is in a second room, with one member under an unverified pseudonym. */
    addMasks() {
      others.push({ roomUri: MASKS, name: 'Masks', hubDomain: 'localhost', members: [ME, P_ZED], unread: 0, epoch: '1' });
      emit({ type: 'rooms', accountId: ACCT, rooms: list() });
    },
  };
}

let browser: Browser;
let bridge: Bridge;
let page: Page;
let problems: string[];
const fixture = fakeCore();
let session: FakeCoreSession | undefined;

before(async () => {
  session = await openOnFakeCore(fixture.core, { width: 1280, height: 860 });
  ({ browser, bridge, page, problems } = session);
});

after(async () => {
  await session?.close();
});

const panel = () => page.getByTestId('room-settings');
const row = (user: string) => panel().locator(`[data-testid=room-member][data-user="${user}"]`);

test('the member list shows roles; the settings panel shows them and offers only what the core allows', async () => {
  await page.goto(bridge.url);
  await page.locator('[data-testid=room-item][data-room-name="Lunch"]').click();
  const memberList = page.getByTestId('member-list');
  await eventually('roles in the member list', async () => (await memberList.getByTestId('member-role').count()) === 4);
  const items = await memberList.getByTestId('member-item').allInnerTexts();
  // Roles read as words; the room state's identifier is in the tooltip.
  assert.match(items[0], /alice \(you\)\s+Admin/);
  assert.ok(items.some((t) => /bob\s+Member/.test(t)));
  assert.ok(items.some((t) => /dave\s+Owner/.test(t)));
  assert.equal(await memberList.getByTestId('member-role').first().getAttribute('title'), 'Role in the room state: group_admin');
  assert.ok(!items.some((t) => /erin/.test(t)), 'a banned user is not a member');

  // Shared names and pictures, loaded as the list opens: the display name first with the handle
  // beside it, the picture as the avatar; initials for whoever shares nothing.
  assert.ok(fixture.callsOf('profiles').some((c) => c.args[1] === LUNCH), 'profiles asked for when the member list opens');
  const bobItem = memberList.getByTestId('member-item').filter({ hasText: 'Bob Builder' });
  await bobItem.waitFor();
  assert.equal(await bobItem.getByTestId('member-display-name').innerText(), 'Bob Builder');
  assert.equal(await bobItem.getByTestId('member-label').innerText(), 'bob');
  assert.equal(await bobItem.getByTestId('member-avatar').getAttribute('src'), PICTURE);
  const carlItem = memberList.getByTestId('member-item').filter({ hasText: 'Carl C.' });
  assert.equal(await carlItem.getByTestId('member-label').innerText(), 'carl@b.example');
  assert.equal(await carlItem.getByTestId('member-avatar').count(), 0, 'a name without a picture keeps the initials');
  assert.equal(await carlItem.locator('.avatar').innerText(), 'CC');
  const daveItem = memberList.getByTestId('member-item').filter({ hasText: 'dave' });
  assert.equal(await daveItem.getByTestId('member-display-name').count(), 0);
  assert.equal(await daveItem.getByTestId('member-label').innerText(), 'dave');
  assert.equal(await daveItem.locator('.avatar').innerText(), 'D');

  await page.getByRole('button', { name: 'Room settings', exact: true }).click();
  await panel().waitFor();
  assert.equal(await page.getByTestId('member-list').count(), 0, 'the settings take the member panel’s place');
  assert.equal(await page.getByTestId('my-role').innerText(), 'Your role: Admin');
  assert.equal(await panel().getByLabel('Name', { exact: true }).inputValue(), 'Lunch');
  assert.equal(await panel().getByLabel('Description', { exact: true }).inputValue(), 'Where and when we eat');
  assert.equal(await panel().getByLabel('Subject', { exact: true }).inputValue(), 'Tacos on Friday?');
  assert.ok(await panel().getByRole('button', { name: 'Save', exact: true }).isDisabled(), 'nothing to save yet');

  // Roles, and the members/banned groups.
  const roleOf = async (user: string) => row(user).getByTestId('room-member-role').innerText();
  assert.deepEqual(await Promise.all([ME, BOB, CARL, DAVE].map(roleOf)), ['Admin', 'Member', 'Member', 'Owner']);
  assert.equal(await row(DAVE).getAttribute('data-role'), 'super_admin');
  assert.equal(await page.getByTestId('room-members').getByTestId('room-member').count(), 4);
  const banned = page.getByTestId('room-banned');
  assert.deepEqual(await banned.getByTestId('room-member').evaluateAll((els) => els.map((e) => e.getAttribute('data-user'))), [ERIN]);
  assert.match(await panel().getByRole('heading', { name: /Banned/ }).innerText(), /Banned \(1\)/);

  // Actions only where `can` allows them.
  assert.equal(await row(BOB).getByRole('button', { name: 'Kick bob', exact: true }).count(), 1);
  assert.equal(await row(BOB).getByRole('button', { name: 'Remove bob', exact: true }).count(), 1);
  assert.equal(await row(BOB).getByRole('button', { name: 'Ban bob', exact: true }).count(), 1);
  assert.equal(await row(BOB).getByRole('button', { name: 'Unban bob', exact: true }).count(), 0);
  assert.deepEqual(await row(BOB).getByRole('button').allInnerTexts(), ['Set', 'Kick', 'Remove', 'Ban', 'Report']);
  const options = await row(BOB).getByLabel('New role for bob', { exact: true }).locator('option').allInnerTexts();
  assert.deepEqual(options, ['Change role…', 'Admin'], 'only the roles in can.roles, not the current one, not no_role/banned');
  assert.deepEqual(await row(DAVE).getByRole('button').allInnerTexts(), ['Report'], 'a super_admin is out of a group_admin’s reach, but can be reported');
  assert.equal(await row(DAVE).getByRole('combobox').count(), 0);
  assert.equal(await row(ME).getByRole('button').count(), 0, 'nothing on yourself, not even Report');
  assert.deepEqual(await row(ERIN).getByRole('button').allInnerTexts(), ['Unban', 'Report'], 'no Remove where can.remove is false');
  // The rows show shared names and pictures too; actions keep naming the handle.
  assert.equal(await row(BOB).getByTestId('member-display-name').innerText(), 'Bob Builder');
  assert.equal(await row(BOB).getByTestId('room-member-avatar').getAttribute('src'), PICTURE);
  assert.equal(await row(DAVE).getByTestId('room-member-avatar').count(), 0);
  await screenshot(page, '30-room-settings');
});

test('editing the name sends only the name; a change made elsewhere shows without losing what is typed', async () => {
  await panel().getByLabel('Name', { exact: true }).fill('Lunch club');
  await panel().getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByTestId('room-meta-saved').filter({ hasText: 'Saved. Everyone in the room sees the change.' }).waitFor();
  assert.deepEqual(fixture.callsOf('setMetadata').at(-1)?.args, [ACCT, LUNCH, { name: 'Lunch club' }]);
  await eventually('new name in the header', async () => (await page.getByTestId('room-title').innerText()) === 'Lunch club');
  assert.ok(await panel().getByRole('button', { name: 'Save', exact: true }).isDisabled());

  // Typing a description, then someone else changes the subject: the panel reloads on the commit.
  await panel().getByLabel('Description', { exact: true }).fill('Noon, usually');
  const loads = fixture.callsOf('settings').length;
  fixture.remoteSubject('Pizza instead');
  await eventually('subject updated', async () => (await panel().getByLabel('Subject', { exact: true }).inputValue()) === 'Pizza instead');
  assert.ok(fixture.callsOf('settings').length > loads);
  assert.equal(await panel().getByLabel('Description', { exact: true }).inputValue(), 'Noon, usually', 'the draft survives the reload');
  await panel().getByLabel('Description', { exact: true }).press('Escape');
  assert.equal(await panel().count(), 1, 'Escape does not throw away unsaved edits');
  await panel().getByRole('button', { name: 'Undo changes', exact: true }).click();
  assert.equal(await panel().getByLabel('Description', { exact: true }).inputValue(), 'Where and when we eat');
  assert.equal(fixture.callsOf('setMetadata').length, 1);
});

test('role change, kick (confirmed; Escape cancels), remove (confirmed; a failure shows, a retry works) and unban', async () => {
  await row(BOB).getByLabel('New role for bob', { exact: true }).selectOption({ label: 'Admin' });
  await row(BOB).getByRole('button', { name: 'Set role of bob', exact: true }).click();
  await eventually('bob promoted', async () => (await row(BOB).getByTestId('room-member-role').innerText()) === 'Admin');
  assert.deepEqual(fixture.callsOf('setRole').at(-1)?.args, [ACCT, LUNCH, BOB, 3]);

  // A slip is caught: Kick asks first, and Escape backs out with the focus where it was.
  await row(CARL).getByRole('button', { name: 'Kick carl@b.example', exact: true }).click();
  const confirm = row(CARL).getByRole('button', { name: 'Confirm: kick carl@b.example', exact: true });
  await confirm.waitFor();
  assert.equal(
    await row(CARL).getByTestId('member-confirm-question').innerText(),
    'Take carl@b.example’s devices out of the room? They stay a participant and can come back with the room’s link.',
  );
  assert.equal(await row(CARL).getByRole('group', { name: 'Kick carl@b.example?', exact: true }).count(), 1);
  assert.ok(await confirm.evaluate((el) => el === document.activeElement), 'the confirm button has the focus');
  await page.keyboard.press('Escape');
  await eventually('confirm gone', async () => (await confirm.count()) === 0);
  assert.ok(await row(CARL).getByRole('button', { name: 'Kick carl@b.example', exact: true }).evaluate((el) => el === document.activeElement));
  assert.equal(await panel().count(), 1, 'Escape in the confirmation does not close the panel');
  assert.equal(fixture.callsOf('kick').length, 0);

  await page.keyboard.press('Enter');
  await confirm.waitFor();
  await page.keyboard.press('Enter');
  await row(CARL).getByTestId('room-member-inactive').waitFor();
  assert.ok(await row(CARL).evaluate((el) => el.contains(document.activeElement)), 'the keyboard stays in the row');
  assert.deepEqual(fixture.callsOf('kick').at(-1)?.args, [ACCT, LUNCH, CARL]);
  assert.equal(await row(CARL).getByRole('button', { name: /^Kick/ }).count(), 0, 'nobody to kick any more');
  assert.equal(await row(CARL).getByRole('button', { name: 'Ban carl@b.example', exact: true }).count(), 1);
  assert.equal(await row(CARL).getByRole('button', { name: 'Remove carl@b.example', exact: true }).count(), 1, 'a kicked participant can still be taken off the list');

  // Remove asks too, saying what it does beyond a kick; a failure shows in the row, a retry works.
  fixture.failNextRemove(new CoreError('providerUnreachable', 'The hub localhost did not answer. Try again in a moment.'));
  await row(CARL).getByRole('button', { name: 'Remove carl@b.example', exact: true }).click();
  const confirmRemove = row(CARL).getByRole('button', { name: 'Confirm: remove carl@b.example', exact: true });
  await confirmRemove.waitFor();
  assert.equal(await row(CARL).getByTestId('member-confirm-question').innerText(), 'Remove carl@b.example from the room and its participant list? They can be added again.');
  assert.equal(await confirmRemove.innerText(), 'Remove');
  assert.ok(await confirmRemove.evaluate((el) => el === document.activeElement));
  await confirmRemove.click();
  const removeAlert = row(CARL).getByRole('alert');
  await removeAlert.waitFor();
  assert.equal(await removeAlert.innerText(), 'The hub localhost did not answer. Try again in a moment.');
  assert.equal(await removeAlert.getAttribute('data-action'), 'remove');
  assert.equal(await panel().getByRole('alert').count(), 1, 'only next to the failed action');
  assert.deepEqual(fixture.callsOf('removeMember').at(-1)?.args, [ACCT, LUNCH, CARL]);
  assert.equal(await row(CARL).count(), 1, 'still on the list');

  await row(CARL).getByRole('button', { name: 'Remove carl@b.example', exact: true }).click();
  await confirmRemove.click();
  await eventually('carl off the participant list', async () => (await row(CARL).count()) === 0);
  assert.equal(fixture.callsOf('removeMember').length, 2);
  assert.deepEqual(fixture.callsOf('removeMember').at(-1)?.args, [ACCT, LUNCH, CARL]);
  assert.equal(await panel().getByRole('alert').count(), 0);

  await row(ERIN).getByRole('button', { name: 'Unban erin', exact: true }).click();
  await eventually('banned group gone', async () => (await page.getByTestId('room-banned').count()) === 0);
  assert.deepEqual(fixture.callsOf('unban').at(-1)?.args, [ACCT, LUNCH, ERIN]);
});

test('report: Escape and Cancel back out; the note reaches the core as typed, the row says it went, nothing reloads; a failure and a refusal show in the row', async () => {
  const isFocused = (l: ReturnType<Page['locator']>) => l.evaluate((el) => el === document.activeElement);
  const reportDave = row(DAVE).getByRole('button', { name: 'Report dave', exact: true });
  const daveNote = row(DAVE).getByRole('textbox', { name: 'What happened?', exact: true });
  assert.equal(await row(ME).getByRole('button', { name: /^Report/ }).count(), 0, 'never on yourself');
  assert.equal(await row(BOB).getByRole('button', { name: 'Report bob', exact: true }).count(), 1);

  // Escape cancels (the panel stays), and so does Cancel; the focus goes back to Report each time.
  await reportDave.click();
  await daveNote.waitFor();
  assert.ok(await isFocused(daveNote), 'the note has the focus');
  assert.equal(await row(DAVE).getByRole('form', { name: 'Report dave', exact: true }).count(), 1);
  await daveNote.fill('never mind');
  await page.keyboard.press('Escape');
  await eventually('report form gone', async () => (await daveNote.count()) === 0);
  assert.ok(await isFocused(reportDave));
  assert.equal(await panel().count(), 1, 'Escape in the report form does not close the panel');
  await reportDave.click();
  assert.equal(await daveNote.inputValue(), '', 'a cancelled note is not kept');
  await row(DAVE).getByRole('button', { name: 'Cancel', exact: true }).click();
  await eventually('report form gone', async () => (await daveNote.count()) === 0);
  assert.ok(await isFocused(reportDave));
  assert.equal(fixture.callsOf('reportAbuse').length, 0);

  // Sent: the note exactly as typed (lines, spacing, markup-like text), a status in the row, no reload.
  const NOTE = '  Posted the same link 40 times.\n\nThen: "buy <b>now</b>" & more…  ';
  const loads = fixture.callsOf('settings').length;
  await reportDave.click();
  await daveNote.fill(NOTE);
  await row(DAVE).getByRole('button', { name: 'Send report', exact: true }).scrollIntoViewIfNeeded();
  await screenshot(page, '34-room-settings-report');
  await row(DAVE).getByRole('button', { name: 'Send report', exact: true }).click();
  const daveStatus = row(DAVE).getByRole('status');
  await daveStatus.waitFor();
  assert.equal(await daveStatus.innerText(), 'Reported to the room’s provider.');
  assert.deepEqual(fixture.callsOf('reportAbuse').at(-1)?.args, [ACCT, LUNCH, DAVE, NOTE]);
  assert.equal(await daveNote.count(), 0, 'the form is gone');
  assert.ok(await isFocused(reportDave), 'the keyboard stays in the row');
  assert.equal(await panel().getByRole('alert').count(), 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(fixture.callsOf('settings').length, loads, 'nothing in the room changed: the settings are not reloaded');

  // A failure shows the core's message in the row and keeps the form; the retry goes through. An
  // empty note is sent as it is.
  fixture.failNextReport(new CoreError('providerUnreachable', 'The hub localhost did not answer. Try again in a moment.'));
  await row(BOB).getByRole('button', { name: 'Report bob', exact: true }).click();
  const send = row(BOB).getByRole('button', { name: 'Send report', exact: true });
  await send.click();
  const bobAlert = row(BOB).getByRole('alert');
  await bobAlert.waitFor();
  assert.equal(await bobAlert.innerText(), 'The hub localhost did not answer. Try again in a moment.');
  assert.equal(await bobAlert.getAttribute('data-action'), 'report');
  assert.equal(await panel().getByRole('alert').count(), 1, 'only next to the failed report');
  assert.equal(await row(BOB).getByRole('status').count(), 0);
  assert.equal(await row(BOB).getByRole('textbox', { name: 'What happened?', exact: true }).count(), 1, 'the form stays for a retry');
  await send.click();
  await row(BOB).getByRole('status').waitFor();
  assert.equal(await bobAlert.count(), 0);
  assert.deepEqual(
    fixture.callsOf('reportAbuse').map((c) => c.args),
    [
      [ACCT, LUNCH, DAVE, NOTE],
      [ACCT, LUNCH, BOB, ''],
      [ACCT, LUNCH, BOB, ''],
    ],
  );
  assert.equal(await daveStatus.innerText(), 'Reported to the room’s provider.', 'each row keeps its own status');

  // Refused: the role lost canReportAbuse meanwhile. The core's message shows in the row; the
  // refusal reloads the settings and Report goes, the other actions stay. (Ctrl+Enter sends too.)
  fixture.revokeReportingSilently();
  await reportDave.click();
  assert.equal(await daveStatus.count(), 0, 'a new report clears the old status');
  await daveNote.fill('and again');
  await page.keyboard.press('Control+Enter');
  const daveAlert = row(DAVE).getByRole('alert');
  await daveAlert.waitFor();
  assert.equal(await daveAlert.innerText(), 'Cannot report dave: your role group_admin lacks canReportAbuse.');
  assert.equal(await daveAlert.getAttribute('data-action'), 'report');
  assert.deepEqual(fixture.callsOf('reportAbuse').at(-1)?.args, [ACCT, LUNCH, DAVE, 'and again']);
  await eventually('Report no longer offered', async () => (await panel().getByRole('button', { name: /^Report/ }).count()) === 0);
  assert.equal(await daveNote.count(), 0, 'the form goes with it');
  assert.equal(await daveAlert.innerText(), 'Cannot report dave: your role group_admin lacks canReportAbuse.', 'the message stays after the reload');
  assert.ok(await row(DAVE).evaluate((el) => el.contains(document.activeElement)), 'the keyboard stays in the row');
  assert.equal(await row(BOB).getByRole('button', { name: 'Kick bob', exact: true }).count(), 1, 'the rest is still offered');

  // Reopened, the old refusal is gone; allowed again, Report is back with the next commit.
  await panel().getByTestId('room-settings-close').click();
  await page.getByRole('button', { name: 'Room settings', exact: true }).click();
  await row(DAVE).waitFor();
  assert.equal(await panel().getByRole('alert').count(), 0);
  // The "Saved" note's live region is always there; it says nothing now.
  assert.deepEqual((await panel().getByRole('status').allInnerTexts()).filter((t) => t.trim()), []);
  fixture.revokeReportingSilently(false);
  fixture.remoteSubject('Pizza instead');
  await reportDave.waitFor();
});

test('a refused action shows the core’s message next to it, and the panel catches up with the real role', async () => {
  fixture.demoteSilently();
  await row(BOB).getByRole('button', { name: 'Ban bob', exact: true }).click();
  await row(BOB).getByRole('button', { name: 'Confirm: ban bob', exact: true }).click();
  const alert = row(BOB).getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.innerText(), 'Your role ordinary_user lacks canBan');
  assert.equal(await alert.getAttribute('data-action'), 'ban');
  assert.equal(await panel().getByRole('alert').count(), 1, 'only next to the refused action');
  // The refusal showed the screen was stale: it reloads, and offers nothing the role cannot do.
  await eventually('role reloaded', async () => (await page.getByTestId('my-role').innerText()) === 'Your role: Member');
  assert.equal(await panel().getByRole('button', { name: /^(Kick|Remove|Ban|Unban|Set role|Report)/ }).count(), 0, 'this ordinary_user may not report either');
  assert.equal(await panel().getByRole('textbox', { name: 'Description', exact: true }).count(), 0, 'description is read-only text now');
  assert.equal(await page.getByTestId('room-meta-description-readonly').innerText(), 'Where and when we eat');
  assert.equal(await panel().getByRole('textbox', { name: 'Name', exact: true }).count(), 1, 'an ordinary_user may still rename');
  assert.equal(await alert.innerText(), 'Your role ordinary_user lacks canBan', 'the message stays after the reload');
  await screenshot(page, '31-room-settings-refused');

  // Escape closes the panel and gives the focus back to its button; the member list returns.
  await panel().getByRole('heading', { name: 'Room settings', exact: true }).focus();
  await page.keyboard.press('Escape');
  await page.getByTestId('member-list').waitFor();
  assert.ok(await page.getByRole('button', { name: 'Room settings', exact: true }).evaluate((el) => el === document.activeElement));
  // Reopened, the old refusal is gone: it was about the screen as it was then.
  await page.getByRole('button', { name: 'Room settings', exact: true }).click();
  await panel().waitFor();
  assert.equal(await panel().getByRole('alert').count(), 0);
});

test('creating a room: the policy preset is picked in the form (cooperative by default)', async () => {
  await page.getByTestId('new-room').click();
  const preset = page.getByLabel('Who can do what', { exact: true });
  assert.equal(await preset.inputValue(), 'cooperative');
  assert.deepEqual(await preset.locator('option').allInnerTexts(), ['Cooperative (default)', 'Moderated', 'Administered, with invite links']);
  await page.getByLabel('Room name', { exact: true }).fill('Board');
  await preset.selectOption({ label: 'Moderated' });
  assert.match(await page.locator('#new-room-preset-hint').innerText(), /moderators can mute, kick or ban/);
  await screenshot(page, '32-create-room-preset');
  await page.getByTestId('create-room-submit').click();
  await page.locator('[data-testid=room-item][data-room-name="Board"]').waitFor();
  assert.deepEqual(fixture.callsOf('create').at(-1)?.args, [ACCT, 'Board', 'moderated']);

  await page.getByTestId('new-room').click();
  assert.equal(await page.getByLabel('Who can do what', { exact: true }).inputValue(), 'cooperative', 'each new room starts from the default');
  await page.getByLabel('Room name', { exact: true }).fill('Cafe');
  await page.getByLabel('Room name', { exact: true }).press('Enter');
  await page.locator('[data-testid=room-item][data-room-name="Cafe"]').waitFor();
  assert.deepEqual(fixture.callsOf('create').at(-1)?.args, [ACCT, 'Cafe', 'cooperative']);
  // A room without room state: the panel says so and offers nothing.
  await page.getByRole('button', { name: 'Room settings', exact: true }).click();
  await page.getByTestId('room-unmanaged').waitFor();
  assert.equal(await panel().getByRole('textbox').count(), 0);
  assert.equal(await panel().getByRole('button', { name: /^(Kick|Remove|Ban|Unban|Set role|Save)/ }).count(), 0);
});

test('dark, narrow: the panel floats over the timeline', async () => {
  const dark = await browser.newContext({ viewport: { width: 820, height: 700 }, colorScheme: 'dark' });
  const darkPage = await dark.newPage();
  const darkProblems = collectPageProblems(darkPage);
  await darkPage.goto(bridge.url);
  await darkPage.locator('[data-testid=room-item][data-room-name="Lunch club"]').click();
  await darkPage.getByRole('button', { name: 'Room settings', exact: true }).click();
  const p = darkPage.getByTestId('room-settings');
  await p.waitFor();
  await p.locator(`[data-testid=room-member][data-user="${BOB}"]`).waitFor();
  assert.equal(await p.evaluate((el) => getComputedStyle(el).position), 'absolute');
  await screenshot(darkPage, '33-dark-narrow-room-settings');
  await dark.close();
  assert.deepEqual(darkProblems, []);
  assert.deepEqual(problems, []);
});

/** The Lunch room with its settings panel open, whatever was open before. */
async function openLunchSettings(p: Page): Promise<ReturnType<Page['getByTestId']>> {
  await p.locator(`[data-testid=room-item][data-room-uri="${LUNCH}"]`).click();
  await p.getByTestId('room-title').filter({ hasText: 'Lunch club' }).waitFor();
  const settingsPanel = p.getByTestId('room-settings');
  if ((await settingsPanel.count()) === 0) await p.getByRole('button', { name: /^(Room settings|Raumeinstellungen)$/ }).click();
  await settingsPanel.locator(`[data-testid=room-member][data-user="${BOB}"]`).waitFor();
  return settingsPanel;
}

test('receipts: the policy in words, saved like the details; a refusal shows beside it; read-only without the role; gone when the room has none', async () => {
  fixture.promote();
  const p = await openLunchSettings(page);
  await eventually('alice is an admin again', async () => (await page.getByTestId('my-role').innerText()) === 'Your role: Admin');
  const group = p.getByTestId('room-receipts');
  await group.waitFor();
  assert.equal(await group.getByRole('heading').innerText(), 'Receipts');
  const delivery = group.getByLabel('Delivery notifications', { exact: true });
  const read = group.getByLabel('Read receipts', { exact: true });
  assert.equal(await delivery.inputValue(), 'optional');
  assert.deepEqual(await read.locator('option').allInnerTexts(), ['Each member chooses', 'Everyone sends them', 'Nobody sends them']);
  const save = group.getByRole('button', { name: 'Save receipts', exact: true });
  assert.ok(await save.isDisabled(), 'nothing to save yet');

  // Changed and saved: the whole policy goes to the core, the saved note says what it means.
  await read.selectOption({ label: 'Everyone sends them' });
  assert.ok(await save.isEnabled());
  await screenshot(page, '220-room-settings-receipts');
  await save.click();
  await group.getByTestId('room-receipts-saved').filter({ hasText: 'Saved. Everyone in the room follows the new rule.' }).waitFor();
  assert.deepEqual(fixture.callsOf('setReceiptPolicy').at(-1)?.args, [ACCT, LUNCH, { delivery: 'optional', read: 'required' }]);
  assert.equal(await read.inputValue(), 'required');
  assert.ok(await save.isDisabled(), 'saved: nothing left to save');
  assert.equal(fixture.callsOf('setMetadata').length, 1, 'the details are not sent along');

  // A failure shows beside the group with the core's words, and the choice stays for a retry.
  fixture.failNextReceipts(new CoreError('providerUnreachable', 'The hub localhost did not answer. Try again in a moment.'));
  await delivery.selectOption({ label: 'Nobody sends them' });
  await save.click();
  const alert = group.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.innerText(), 'The hub localhost did not answer. Try again in a moment.');
  assert.equal(await p.getByRole('alert').count(), 1, 'only next to the receipts');
  assert.equal(await delivery.inputValue(), 'forbidden', 'the choice is kept');
  await group.getByRole('button', { name: 'Undo', exact: true }).click();
  assert.equal(await delivery.inputValue(), 'optional');
  assert.equal(fixture.callsOf('setReceiptPolicy').length, 2);
  await assertAccessible(page, 'room settings with receipts');

  // Without the role: the policy in words, nothing to change.
  fixture.demoteSilently();
  fixture.remoteSubject('Soup');
  await eventually('read-only receipts', async () => (await group.getByTestId('room-receipts-read-readonly').count()) === 1);
  assert.equal(await group.getByTestId('room-receipts-read-readonly').innerText(), 'Everyone sends them');
  assert.equal(await group.getByTestId('room-receipts-delivery-readonly').innerText(), 'Each member chooses');
  assert.equal(await group.getByRole('combobox').count(), 0);
  assert.equal(await group.getByRole('button').count(), 0);
  assert.equal(await group.getByTestId('room-receipts-locked').innerText(), 'Your role can’t change these.');

  // A room state without a policy: the group is not shown at all.
  fixture.dropReceiptPolicy();
  await eventually('receipts gone', async () => (await p.getByTestId('room-receipts').count()) === 0);
  fixture.promote();
  await eventually('admin again', async () => (await page.getByTestId('my-role').innerText()) === 'Your role: Admin');
});

test('shared profiles: none is shown for a pseudonym, whose wording stays', async () => {
  fixture.addMasks();
  await page.locator(`[data-testid=room-item][data-room-uri="${MASKS}"]`).click();
  if ((await page.getByTestId('room-settings').count()) > 0) await page.getByTestId('room-settings-close').click();
  const memberList = page.getByTestId('member-list');
  await eventually('profiles asked for', async () => fixture.callsOf('profiles').some((c) => c.args[1] === MASKS));
  const zed = memberList.getByTestId('member-item').filter({ hasNot: page.getByText('(you)') });
  await zed.getByTestId('identity-unverified').waitFor();
  // Give a late answer time to (wrongly) show up.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!(await memberList.innerText()).includes('Zed the Great'), 'the name a pseudonym shares is not shown');
  assert.equal(await zed.getByTestId('member-display-name').count(), 0);
  assert.equal(await zed.getByTestId('member-avatar').count(), 0);
  assert.match(await zed.getByTestId('member-label').innerText(), /^p\/Zq3xK2/);
});

test('German: the panel, its groups and buttons in German; axe light and dark', async () => {
  for (const colorScheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme });
    await context.addInitScript(() => localStorage.setItem('mimi.locale', 'de'));
    const de = await context.newPage();
    const deProblems = collectPageProblems(de);
    await de.goto(bridge.url);
    await de.getByRole('heading', { name: 'Räume', exact: true }).waitFor();
    assert.equal(await de.locator('html').getAttribute('lang'), 'de');
    const p = await openLunchSettings(de);
    assert.equal(await p.getByRole('heading', { level: 3 }).innerText(), 'Raumeinstellungen');
    assert.equal(await de.getByTestId('my-role').innerText(), 'Deine Rolle: Administrator');
    for (const h of ['Angaben', 'Einladungslinks']) assert.equal(await p.getByRole('heading', { name: h, exact: true }).count(), 1, h);
    assert.equal(await p.getByRole('heading', { name: /^Mitglieder \(\d+\)$/ }).count(), 1);
    assert.equal(await p.getByLabel('Beschreibung', { exact: true }).inputValue(), 'Where and when we eat');
    assert.ok(await p.getByRole('button', { name: 'Speichern', exact: true }).isDisabled());
    assert.deepEqual(await p.locator(`[data-testid=room-member][data-user="${DAVE}"]`).getByRole('button').allInnerTexts(), ['Melden']);
    assert.equal(await p.getByRole('button', { name: 'dave melden', exact: true }).count(), 1);
    assert.equal(await p.locator(`[data-testid=room-member][data-user="${DAVE}"]`).getByTestId('room-member-role').innerText(), 'Eigentümer');
    await p.locator(`[data-testid=room-member][data-user="${DAVE}"]`).getByRole('button', { name: 'dave melden', exact: true }).click();
    await p.getByRole('textbox', { name: 'Was ist passiert?', exact: true }).waitFor();
    await screenshot(de, colorScheme === 'light' ? '221-room-settings-de' : '222-room-settings-de-dark');
    await assertAccessible(de, `room settings in German, ${colorScheme}`);
    await p.getByRole('button', { name: 'Abbrechen', exact: true }).click();
    // The room list in German, with the member list beside it.
    await p.getByTestId('room-settings-close').click();
    const memberList = de.getByTestId('member-list');
    await memberList.getByRole('heading', { name: /^Mitglieder/ }).waitFor();
    assert.match(await memberList.getByTestId('member-item').first().innerText(), /alice \(du\)\s+Administrator/);
    assert.equal(await de.getByTestId('open-search').innerText(), 'Nachrichten suchen');
    await assertAccessible(de, `member list in German, ${colorScheme}`);
    await context.close();
    assert.deepEqual(deProblems, []);
  }
});
