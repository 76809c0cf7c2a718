// The pure rules behind notifications, the window title, keyboard shortcuts and the Electron
// desktop calls (what main accepts from the page, the tray's menu).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, validateCall, type MessageView, type RoomView } from '../../src-shared/contract.js';
import { notificationContent, notifyDecision, ROOM_QUIET_MS, shorten, unreadForBadge, windowTitle, type NotifyInputs } from '../../src-renderer/src/lib/notify.js';
import { adjacentRoom, filterRooms, isTypingTarget, matchShortcut, shortcutList, type KeyLike } from '../../src-renderer/src/lib/shortcuts.js';
import { checkLoginItem, checkNotification, checkUnread, DesktopArgError, trayMenu, trayTooltip } from '../../src-main/electron/desktop-ipc.js';

const ROOM = 'mimi://a.example/r/lunch';
const message = (over: Partial<MessageView> = {}): MessageView => ({
  seq: 1,
  messageId: 'ab'.repeat(32),
  roomUri: ROOM,
  sender: 'mimi://a.example/u/bob',
  text: 'noon?',
  contentType: 'text/plain',
  timestamp: 1000,
  status: 'received',
  ...over,
});
const room = (over: Partial<RoomView> = {}): RoomView => ({ roomUri: ROOM, name: 'Lunch', hubDomain: 'a.example', members: [], unread: 1, epoch: '1', ...over });
const inputs = (over: Partial<NotifyInputs> = {}): NotifyInputs => ({ message: message(), room: room(), mine: false, enabled: true, roomInView: false, now: 10_000, ...over });

test('notify: a new message from someone else in a room not in view', () => {
  assert.deepEqual(notifyDecision(inputs()), { notify: true });
  assert.deepEqual(notifyDecision(inputs({ room: undefined })), { notify: true }, 'a room not listed yet still notifies');
});

test('notify: not when off, mine, not received, a reaction, edit or deletion, muted, in view, or in a burst', () => {
  const why = (over: Partial<NotifyInputs>) => {
    const d = notifyDecision(inputs(over));
    return d.notify ? 'notify' : d.why;
  };
  assert.equal(why({ enabled: false }), 'off');
  assert.equal(why({ mine: true }), 'mine');
  assert.equal(why({ message: message({ status: 'sent' }) }), 'notNew');
  assert.equal(why({ message: message({ status: 'pending' }) }), 'notNew');
  assert.equal(why({ message: message({ reaction: '👍' }) }), 'notAMessage');
  assert.equal(why({ message: message({ replaces: 'cd'.repeat(32) }) }), 'notAMessage');
  assert.equal(why({ message: message({ deleted: true }) }), 'notAMessage');
  assert.equal(why({ room: room({ muted: true }) }), 'muted');
  assert.equal(why({ roomInView: true }), 'inView');
  assert.equal(why({ lastNotifiedAt: 10_000 - ROOM_QUIET_MS + 1 }), 'burst');
  assert.equal(why({ lastNotifiedAt: 10_000 - ROOM_QUIET_MS }), 'notify', 'after the quiet time the room notifies again');
  assert.equal(why({ room: room({ muted: false }) }), 'notify');
});

test('notification content follows the privacy setting', () => {
  const m = { sender: 'Bob', roomName: 'Lunch', text: 'meet at noon\nby the fountain' };
  assert.deepEqual(notificationContent('full', m), { title: 'Bob in Lunch', body: 'meet at noon by the fountain' });
  assert.deepEqual(notificationContent('sender', m), { title: 'Bob', body: 'New message' });
  assert.deepEqual(notificationContent('none', m), { title: 'mimi', body: 'New message' });
  for (const p of ['sender', 'none'] as const) {
    const c = notificationContent(p, m);
    assert.ok(!`${c.title} ${c.body}`.includes('noon') && !`${c.title} ${c.body}`.includes('Lunch'), `${p} leaks neither text nor room`);
  }
  assert.equal(notificationContent('full', { ...m, text: '   ' }).body, 'New message');
  const long = shorten('word '.repeat(100));
  assert.ok(long.length <= 140 && long.endsWith('…') && !long.endsWith(' …'));
});

test('window title and badge count: muted rooms do not count', () => {
  assert.equal(windowTitle(0), 'mimi');
  assert.equal(windowTitle(3), '(3) mimi');
  assert.equal(windowTitle(5000), '(999+) mimi');
  assert.equal(windowTitle(-1), 'mimi');
  assert.equal(windowTitle(Number.NaN), 'mimi');
  assert.equal(unreadForBadge({ a: [room({ unread: 2 }), room({ roomUri: 'x', unread: 5, muted: true })], b: [room({ unread: 1 })] }), 3);
});

const key = (k: string, mods: Partial<KeyLike> = {}): KeyLike => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });

test('shortcuts: Ctrl+K and Escape even while typing; the others only outside text fields', () => {
  assert.equal(matchShortcut(key('k', { ctrlKey: true }), false, false), 'roomSwitcher');
  assert.equal(matchShortcut(key('K', { ctrlKey: true }), true, false), 'roomSwitcher', 'caps lock, in a field');
  assert.equal(matchShortcut(key('k', { metaKey: true }), true, true), 'roomSwitcher', '⌘K on a Mac');
  assert.equal(matchShortcut(key('k', { metaKey: true }), false, false), null, 'Meta+K is not Ctrl+K elsewhere');
  assert.equal(matchShortcut(key('k', { ctrlKey: true, shiftKey: true }), false, false), null);
  assert.equal(matchShortcut(key('Escape'), true, false), 'close');
  assert.equal(matchShortcut(key('ArrowUp', { altKey: true }), false, false), 'previousRoom');
  assert.equal(matchShortcut(key('ArrowDown', { altKey: true }), false, false), 'nextRoom');
  assert.equal(matchShortcut(key('ArrowDown', { altKey: true }), true, false), null, 'not while typing');
  assert.equal(matchShortcut(key('ArrowDown', { altKey: true }), true, false, true), 'nextRoom', 'in an empty field (the composer after opening a room)');
  assert.equal(matchShortcut(key('?', { shiftKey: true }), true, false, true), null, '? is text even in an empty field');
  assert.equal(matchShortcut(key('ArrowUp'), false, false), null, 'Up alone is the composer’s (edit last)');
  assert.equal(matchShortcut(key('/', { ctrlKey: true }), false, false), 'help');
  assert.equal(matchShortcut(key('?', { shiftKey: true }), false, false), 'help');
  assert.equal(matchShortcut(key('?', { shiftKey: true }), true, false), null, '? is text in a field');
  assert.equal(matchShortcut(key('/', { ctrlKey: true }), true, false), null);
  assert.equal(matchShortcut(key('a'), false, false), null);
});

test('shortcuts: what counts as typing', () => {
  assert.equal(isTypingTarget({ tagName: 'TEXTAREA' }), true);
  assert.equal(isTypingTarget({ tagName: 'INPUT', type: 'text' }), true);
  assert.equal(isTypingTarget({ tagName: 'INPUT', type: 'password' }), true);
  assert.equal(isTypingTarget({ tagName: 'INPUT', type: 'checkbox' }), false);
  assert.equal(isTypingTarget({ tagName: 'INPUT', type: 'radio' }), false);
  assert.equal(isTypingTarget({ tagName: 'SELECT' }), true);
  assert.equal(isTypingTarget({ tagName: 'DIV', isContentEditable: true }), true);
  assert.equal(isTypingTarget({ tagName: 'BUTTON' }), false);
  assert.equal(isTypingTarget(null), false);
});

test('shortcuts: the help sheet lists every shortcut, the composer’s too', () => {
  const text = shortcutList(false)
    .map((s) => `${s.keys.join(' ')} ${s.what}`)
    .join('\n');
  for (const k of ['Ctrl+K', 'Alt+↑', 'Alt+↓', 'Ctrl+/', '?', 'Esc']) assert.ok(text.includes(k), k);
  assert.match(text, /Edit your last message/);
  assert.match(text, /Cancel the reply/);
  assert.ok(shortcutList(true).some((s) => s.keys.includes('⌘+K')));
});

test('adjacent room and the switcher filter', () => {
  const order = ['a', 'b', 'c'];
  assert.equal(adjacentRoom(order, 'b', 1), 'c');
  assert.equal(adjacentRoom(order, 'b', -1), 'a');
  assert.equal(adjacentRoom(order, 'c', 1), undefined, 'stays at the end');
  assert.equal(adjacentRoom(order, 'a', -1), undefined);
  assert.equal(adjacentRoom(order, undefined, 1), 'a');
  assert.equal(adjacentRoom(order, undefined, -1), 'c');
  assert.equal(adjacentRoom([], undefined, 1), undefined);
  const rooms = [{ name: 'Team lunch' }, { name: 'Lunch crew' }, { name: 'Café' }, { name: 'Design' }];
  assert.deepEqual(filterRooms(rooms, 'lunch').map((r) => r.name), ['Lunch crew', 'Team lunch'], 'prefix first');
  assert.deepEqual(filterRooms(rooms, 'cafe').map((r) => r.name), ['Café'], 'accents ignored');
  assert.deepEqual(filterRooms(rooms, 'team lu').map((r) => r.name), ['Team lunch'], 'every word');
  assert.deepEqual(filterRooms(rooms, '  '), rooms);
  assert.deepEqual(filterRooms(rooms, 'zzz'), []);
});

test('desktop calls: main accepts only well-formed arguments from the page', () => {
  assert.equal(checkUnread(3), 3);
  for (const bad of [-1, 1.5, '3', null, Number.NaN, 2_000_000]) assert.throws(() => checkUnread(bad), DesktopArgError);
  const good = { title: 'Bob in Lunch', body: 'noon?', accountId: 'acct-1', roomUri: ROOM };
  assert.deepEqual(checkNotification(good), good);
  assert.throws(() => checkNotification({ ...good, icon: 'file:///etc/passwd' }), /unknown field icon/);
  assert.throws(() => checkNotification({ ...good, roomUri: 'https://evil.example' }), /mimi:\/\//);
  assert.throws(() => checkNotification({ ...good, title: '' }), DesktopArgError);
  assert.throws(() => checkNotification({ ...good, body: 'x'.repeat(301) }), DesktopArgError);
  assert.throws(() => checkNotification({ ...good, title: 'a\u0007b' }), /control characters/);
  assert.throws(() => checkNotification([good]), DesktopArgError);
  assert.throws(() => checkNotification(null), DesktopArgError);
  assert.equal(checkLoginItem(true), true);
  assert.throws(() => checkLoginItem('yes'), DesktopArgError);
});

test('tray: tooltip and menu', () => {
  assert.equal(trayTooltip(0), 'mimi');
  assert.equal(trayTooltip(4), 'mimi: 4 unread');
  assert.deepEqual(
    trayMenu(0).map((i) => i.id),
    ['open', 'quit'],
  );
  assert.deepEqual(trayMenu(2)[0], { id: 'unread', label: '2 unread', enabled: false });
});

test('the new contract methods validate their arguments in main', () => {
  const refused = (method: string, args: unknown[]) =>
    assert.throws(() => validateCall(method, args), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument', `${method} ${JSON.stringify(args)}`);
  validateCall('rooms.setMuted', ['acct-1', ROOM, true]);
  refused('rooms.setMuted', ['acct-1', ROOM, 'yes']);
  refused('rooms.setMuted', ['acct-1', 'https://a.example/r/x', false]);
  refused('rooms.setMuted', ['acct-1', ROOM]);
  validateCall('accounts.changePassword', ['acct-1', 'old', 'long enough']);
  refused('accounts.changePassword', ['acct-1', 'old', 'short']);
  refused('accounts.changePassword', ['acct-1', '', 'long enough']);
  refused('accounts.changePassword', ['acct-1', 'old', 'x'.repeat(1025)]);
  refused('accounts.deleteAccount', [42]);
  refused('accounts.secretMode', []);
});
