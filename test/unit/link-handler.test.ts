// mimi: links handed to the Electron app by the OS (src-main/electron/link-handler.ts): which
// argument of a command line is the link, that nothing but a room link gets through, that a link
// waits for the window's page, and that the app's own option parsing leaves links alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkInbox, joinLinkFrom, joinLinkFromArgv, protocolClient } from '../../src-main/electron/link-handler.js';
import { parseLaunchOptions } from '../../src-main/electron/launch-options.js';

const ROOM = 'mimi://a.example/r/VfoG-onrOg4mY9FTh7_PEA';
const CODE = 'ABCDEFGHIJKLMNOPQRSTUV';
const LINK = `${ROOM}?code=${CODE}`;
const OTHER = `mimi://b.example/r/AAAAAAAAAAAAAAAAAAAAAA?code=${'x'.repeat(22)}&passphrase=1`;

test('the link is picked out of the command line of a first or second launch', () => {
  assert.equal(joinLinkFromArgv(['/opt/mimi/mimi', LINK]), LINK);
  // Unpackaged: the Electron binary, then the app's folder.
  assert.equal(joinLinkFromArgv(['/path/electron', '.', LINK]), LINK);
  assert.equal(joinLinkFromArgv(['/path/electron', '/home/u/mimi', '--profile=x', LINK]), LINK);
  assert.equal(joinLinkFromArgv(['/path/electron', '.', '--profile', '/tmp/bob', LINK, '--no-sandbox']), LINK);
  // Chromium adds switches of its own to a second instance's argv, before or after.
  assert.equal(joinLinkFromArgv(['/path/electron', '--allow-file-access-from-files', LINK, '--original-process-start-time=13350000000000000']), LINK);
  assert.equal(joinLinkFromArgv([]), undefined);
  assert.equal(joinLinkFromArgv(['/path/electron', '.']), undefined);
});

test('several links: the last valid one wins', () => {
  assert.equal(joinLinkFromArgv(['/path/electron', LINK, OTHER]), OTHER);
  assert.equal(joinLinkFromArgv(['/path/electron', OTHER, LINK]), LINK);
  assert.equal(joinLinkFromArgv(['/path/electron', LINK, `${ROOM}?code=short`]), LINK);
  assert.equal(joinLinkFromArgv(['/path/electron', LINK, 'mimi://a.example/u/bob']), LINK);
});

test('nothing but a room link gets through', () => {
  for (const garbage of [
    'garbage',
    '',
    '--profile=x',
    'mimi:',
    'mimi://a.example/u/bob', // a user, not a room
    'mimi://a.example/u/bob?code=ABCDEFGHIJKLMNOPQRSTUV',
    'mimi://a.example/p/AAAAAAAAAAAAAAAAAAAAAA?code=ABCDEFGHIJKLMNOPQRSTUV', // a pseudonym
    ROOM, // a room without a code is not a link
    `${ROOM}?code=short`,
    `${ROOM}?code=${CODE}&evil=1`,
    `https://a.example/r/x?code=${CODE}`,
    `javascript:alert(1)//${LINK}`,
    `mimi://a.example/r/../../etc?code=${CODE}`,
    `${LINK}${'&knock=1'.repeat(400)}`, // longer than any link the contract takes
  ]) {
    assert.equal(joinLinkFrom(garbage), undefined, garbage);
    assert.equal(joinLinkFromArgv(['/path/electron', '.', garbage]), undefined, garbage);
  }
  assert.equal(joinLinkFrom(undefined), undefined);
  assert.equal(joinLinkFrom(42), undefined);
});

test('a link is passed on in its canonical form, rebuilt from what was parsed', () => {
  assert.equal(joinLinkFrom(`  <${LINK}>  `), LINK);
  assert.equal(joinLinkFrom(`${ROOM}?knock=1&code=${CODE}`), `${LINK}&knock=1`);
  assert.equal(joinLinkFrom(`${ROOM}?passphrase=1&code=${CODE}&knock=1`), `${LINK}&passphrase=1&knock=1`);
  // Flags that are not "1" are dropped rather than passed on.
  assert.equal(joinLinkFrom(`${LINK}&passphrase=yes`), LINK);
  assert.equal(joinLinkFrom(`MIMI://a.example/r/VfoG-onrOg4mY9FTh7_PEA?code=${CODE}`), undefined, 'room URIs are lowercase mimi://');
});

test('a link waits for the window, and only the newest one is kept', () => {
  const delivered: string[] = [];
  const inbox = new LinkInbox((l) => delivered.push(l));
  inbox.offer('one');
  inbox.offer('two');
  assert.deepEqual(delivered, []);
  assert.equal(inbox.waiting, 'two');
  inbox.windowReady();
  assert.deepEqual(delivered, ['two']);
  assert.equal(inbox.waiting, undefined);
  // Subscribing again (a second listener) delivers nothing twice.
  inbox.windowReady();
  assert.deepEqual(delivered, ['two']);
  // Ready: straight through.
  inbox.offer('three');
  assert.deepEqual(delivered, ['two', 'three']);
  // A reload or a closed window: wait again until the new page listens.
  inbox.windowGone();
  inbox.offer('four');
  assert.deepEqual(delivered, ['two', 'three']);
  inbox.windowReady();
  assert.deepEqual(delivered, ['two', 'three', 'four']);
});

test('a delivery that finds the window gone can put the link back', () => {
  const delivered: string[] = [];
  let windowUp = false;
  const inbox: LinkInbox = new LinkInbox((l) => {
    if (!windowUp) {
      inbox.windowGone();
      inbox.offer(l);
      return;
    }
    delivered.push(l);
  });
  inbox.windowReady();
  inbox.offer(LINK);
  assert.deepEqual(delivered, []);
  assert.equal(inbox.waiting, LINK);
  windowUp = true;
  inbox.windowReady();
  assert.deepEqual(delivered, [LINK]);
});

test('the OS handler registration: a packaged app registers itself, an unpackaged one names its folder (not on Linux)', () => {
  const resolve = (p: string) => (p.startsWith('/') ? p : `/home/u/${p}`);
  assert.deepEqual(protocolClient({ platform: 'win32', defaultApp: false, execPath: '/opt/mimi/mimi', argv: ['/opt/mimi/mimi', LINK], resolve }), { scheme: 'mimi' });
  assert.deepEqual(protocolClient({ platform: 'win32', defaultApp: true, execPath: '/usr/lib/electron', argv: ['/usr/lib/electron', '.'], resolve }), {
    scheme: 'mimi',
    path: '/usr/lib/electron',
    args: ['/home/u/.'],
  });
  assert.equal(protocolClient({ platform: 'win32', defaultApp: true, execPath: '/usr/lib/electron', argv: ['/usr/lib/electron'], resolve }), undefined);
  assert.equal(protocolClient({ platform: 'win32', defaultApp: true, execPath: '/usr/lib/electron', argv: ['/usr/lib/electron', '--inspect'], resolve }), undefined);
  assert.equal(protocolClient({ platform: 'win32', defaultApp: true, execPath: '/usr/lib/electron', argv: ['/usr/lib/electron', LINK], resolve }), undefined);
  // Linux: only a packaged app (with its desktop entry) registers.
  assert.deepEqual(protocolClient({ platform: 'linux', defaultApp: false, execPath: '/opt/mimi/mimi', argv: ['/opt/mimi/mimi'], resolve }), { scheme: 'mimi' });
  assert.equal(protocolClient({ platform: 'linux', defaultApp: true, execPath: '/usr/lib/electron', argv: ['/usr/lib/electron', '.'], resolve }), undefined);
});

test('the app\'s own options leave a link argument alone', () => {
  assert.deepEqual(parseLaunchOptions([LINK], '/x'), {});
  assert.deepEqual(parseLaunchOptions(['.', LINK], '/x'), {});
  assert.deepEqual(parseLaunchOptions(['.', '--profile', 'bob', LINK], '/home/u'), { profileDir: '/home/u/bob' });
  assert.deepEqual(parseLaunchOptions(['.', LINK, '--profile=/tmp/p'], '/x'), { profileDir: '/tmp/p' });
  // A link where the folder should be is refused, not made into a folder named after it.
  assert.throws(() => parseLaunchOptions(['.', '--profile', LINK], '/x'), /needs a directory, not a mimi: link/);
  assert.throws(() => parseLaunchOptions([`--user-data-dir=${LINK}`], '/x'), /needs a directory, not a mimi: link/);
});
