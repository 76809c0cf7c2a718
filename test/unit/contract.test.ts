// validateCall is the one gate between an untrusted renderer and the core (IPC and bridge both
// call it), so it must refuse anything the contract does not describe, with a typed error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, METHODS, apiFromTransport, resolveMethod, toWireError, validateCall, type MethodName } from '../../src-shared/contract.js';
import { dispatchCall, type CallableCore } from '../../src-main/bridge/rpc-dispatch.js';

const ROOM = 'mimi://a.example/r/lunch';
const PSEUDONYM = 'mimi://a.example/p/q3Jx8Lw0R2mYbT1vKc9aZg';

function rejects(method: unknown, args: unknown, label = `${String(method)} ${safeJson(args)}`): CoreError {
  let thrown: unknown;
  try {
    validateCall(method as string, args);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof CoreError, `${label}: expected a CoreError, got ${String(thrown)}`);
  assert.equal(thrown.code, 'invalidArgument', label);
  return thrown;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 80) ?? String(v);
  } catch {
    return String(v);
  }
}

const GOOD: Record<MethodName, unknown[]> = {
  'app.info': [],
  'accounts.list': [],
  'accounts.register': [{ handle: 'alice', password: 'correct horse', deviceName: 'laptop' }],
  'accounts.login': [{ providerUrl: 'https://b.example:8443', handle: 'alice', password: 'correct horse' }],
  'accounts.switchTo': ['acct-1'],
  'accounts.signOut': ['acct-1'],
  'accounts.secretStorage': [],
  'accounts.locked': [],
  'accounts.unlock': ['acct-1', 'my long passphrase'],
  'accounts.secretMode': ['acct-1'],
  'accounts.changePassword': ['acct-1', 'old password', 'new password 2'],
  'accounts.deleteAccount': ['acct-1'],
  'accounts.changePassphrase': ['acct-1', 'old passphrase', 'a new passphrase'],
  'accounts.privacy': ['acct-1'],
  'accounts.setPrivacy': ['acct-1', { readReceipts: false }],
  'accounts.devices': ['acct-1'],
  'accounts.renameDevice': ['acct-1', 'Zm9vYmFyYmF6cXV4MTIzNA', 'Work laptop'],
  'accounts.removeDevice': ['acct-1', 'Zm9vYmFyYmF6cXV4MTIzNA'],
  'accounts.removeThisDevice': ['acct-1'],
  'accounts.verifyDevice': ['acct-1', 'Zm9vYmFyYmF6cXV4MTIzNA'],
  'accounts.answerDeviceVerification': ['acct-1', '0123456789abcdef0123456789abcdef', 'match'],
  'accounts.requestHistory': ['acct-1', 'Zm9vYmFyYmF6cXV4MTIzNA'],
  'accounts.answerHistoryRequest': ['acct-1', '0123456789abcdef0123456789abcdef', true],
  'rooms.list': ['acct-1'],
  'rooms.create': ['acct-1', 'Lunch plans', null],
  'rooms.createMinimalMetadata': ['acct-1', 'Quiet corner', 'moderated'],
  'rooms.addMember': ['acct-1', ROOM, 'mimi://b.example/u/bob'],
  'rooms.join': ['acct-1', ROOM],
  'rooms.leave': ['acct-1', ROOM],
  'rooms.markRead': ['acct-1', ROOM],
  'rooms.direct': ['acct-1', 'bob@b.example'],
  'rooms.setMuted': ['acct-1', 'mimi://a.example/r/lunch', true],
  'rooms.profiles': ['acct-1', 'mimi://a.example/r/lunch'],
  'rooms.setReceiptPolicy': ['acct-1', 'mimi://a.example/r/lunch', { delivery: 'optional', read: 'forbidden' }],
  'rooms.settings': ['acct-1', ROOM],
  'rooms.setMetadata': ['acct-1', ROOM, { name: 'Lunch', avatar: 'https://a.example/lunch.png', description: '' }],
  'rooms.setRole': ['acct-1', ROOM, 'bob@b.example', 3],
  'rooms.kick': ['acct-1', ROOM, 'bob@b.example'],
  'rooms.removeMember': ['acct-1', ROOM, 'bob@b.example'],
  'rooms.reportAbuse': ['acct-1', ROOM, 'bob@b.example', 'spam links, over and over'],
  'providerKeys.list': ['acct-1'],
  'providerKeys.forget': ['acct-1', 'b.example'],
  'backup.status': ['acct-1'],
  'backup.create': ['acct-1', { full: true }],
  'backup.pendingRecoveryKey': ['acct-1'],
  'backup.confirmRecoveryKeySaved': ['acct-1'],
  'backup.restore': ['acct-1', 'ABCD-EFGH'],
  'backup.exportHistory': ['acct-1', ROOM],
  'rooms.ban': ['acct-1', ROOM, 'mimi://b.example/u/bob'],
  'rooms.unban': ['acct-1', ROOM, 'bob@b.example'],
  'messages.page': ['acct-1', ROOM, null, 50],
  'messages.send': ['acct-1', ROOM, 'hello\nworld\t🙂'],
  'messages.report': ['acct-1', ROOM, ['a'.repeat(64)], 0xf1, 'scam links'],
  'messages.search': ['acct-1', 'pumpkin soup', null, 50],
  'messages.reply': ['acct-1', ROOM, 'b'.repeat(64), 'yes, **noon**'],
  'messages.react': ['acct-1', ROOM, 'b'.repeat(64), '👍🏽', false],
  'messages.edit': ['acct-1', ROOM, 'b'.repeat(64), 'fixed'],
  'messages.delete': ['acct-1', ROOM, 'b'.repeat(64)],
  'messages.history': ['acct-1', ROOM, 'b'.repeat(64)],
  'messages.sendFile': ['acct-1', ROOM, { name: 'cat.png', type: 'image/png', data: 'iVBORw0KGgo=' }],
  'messages.openAttachment': ['acct-1', ROOM, 'c'.repeat(64)],
  'messages.typing': ['acct-1', ROOM, true],
  'consent.list': ['acct-1'],
  'consent.request': ['acct-1', 'bob@b.example', ROOM],
  'consent.cancel': ['acct-1', 'mimi://b.example/u/bob', null],
  'consent.grant': ['acct-1', 'bob@b.example', null],
  'consent.decline': ['acct-1', 'bob@b.example'],
  'consent.revoke': ['acct-1', 'bob@b.example', ROOM],
  'consent.block': ['acct-1', 'bob@b.example'],
  'consent.unblock': ['acct-1', 'bob@b.example'],
  'pseudonyms.list': ['acct-1'],
  'pseudonyms.refill': ['acct-1', 5],
  'pseudonyms.retire': ['acct-1', PSEUDONYM],
  'connections.list': ['acct-1'],
  'connections.connect': ['acct-1', 'bob@b.example'],
  'connections.accept': ['acct-1', ROOM],
  'connections.decline': ['acct-1', ROOM],
  'connections.policy': ['acct-1'],
  'connections.setPolicy': ['acct-1', { mode: 'domains', domains: ['b.example', 'c.example'] }],
  'links.create': ['acct-1', ROOM, { uses: 1, expiresInSeconds: 3600, passphrase: 'open sesame', roleIndex: 3 }],
  'links.list': ['acct-1', ROOM],
  'links.revoke': ['acct-1', ROOM, '0123456789abcdef'],
  'links.join': ['acct-1', `${ROOM}?code=AAAAAAAAAAAAAAAAAAAAAA&passphrase=1`, 'open sesame', false],
  'knocks.list': ['acct-1'],
  'knocks.knockRoom': ['acct-1', ROOM],
  'knocks.knock': ['acct-1', `${ROOM}?code=AAAAAAAAAAAAAAAAAAAAAA&knock=1`, 'hi, I am carol from the meetup', true],
  'knocks.admit': ['acct-1', 'k1'],
  'knocks.decline': ['acct-1', 'k1'],
  'people.find': ['acct-1', { domain: 'b.example', handle: 'bob', limit: 20 }],
  'people.myProfile': ['acct-1'],
  'people.setProfileFields': ['acct-1', { nick: 'bobby', email: 'bob@mail.example', phone: '+12125551212', displayName: null }],
  'people.setSearchable': ['acct-1', 'email', true],
  'people.avatar': ['acct-1'],
  'people.setAvatar': ['acct-1', 'data:image/png;base64,iVBORw0KGgo='],
  'people.safetyNumber': ['acct-1', 'bob@b.example'],
  'people.setVerified': ['acct-1', 'mimi://b.example/u/bob', false],
  'people.compareSafetyNumberQr': ['acct-1', 'bob@b.example', 'gwGCeBhtaW1p'],
};

test('every method accepts well-formed arguments', () => {
  assert.deepEqual(Object.keys(GOOD).sort(), Object.keys(METHODS).sort());
  for (const [m, args] of Object.entries(GOOD)) assert.doesNotThrow(() => validateCall(m, args), m);
  assert.doesNotThrow(() => validateCall('messages.page', ['acct-1', ROOM, 1234, 500]));
  assert.doesNotThrow(() => validateCall('rooms.addMember', ['acct-1', ROOM, 'bob']));
  assert.doesNotThrow(() => validateCall('rooms.addMember', ['acct-1', ROOM, 'bob@b.example']));
});

test('unknown method names, including prototype keys, are refused', () => {
  for (const m of ['nope', 'accounts', 'accounts.delete', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__', 'onEvent', '', 'accounts.list ', 'x'.repeat(10_000)]) {
    const e = rejects(m, []);
    assert.ok(e.message.length < 120, 'the error message does not echo a huge name');
  }
  for (const m of [undefined, null, 42, {}]) rejects(m, []);
});

test('arguments must be an array of the exact length', () => {
  rejects('accounts.list', undefined);
  rejects('accounts.list', null);
  rejects('accounts.list', {});
  rejects('accounts.list', { length: 0 });
  rejects('accounts.list', 'x');
  rejects('accounts.list', [1]);
  rejects('rooms.list', []);
  rejects('rooms.list', ['a', 'b']);
  rejects('messages.page', ['acct-1', ROOM, null]);
});

test('join link arguments: malformed links, arguments out of range and unknown fields are refused', () => {
  rejects('links.join', ['acct-1', ROOM, null, false]); // no code
  rejects('links.join', ['acct-1', `${ROOM}?code=short`, null, false]);
  rejects('links.join', ['acct-1', `${ROOM}?code=AAAAAAAAAAAAAAAAAAAAAA&admin=1`, null, false]);
  rejects('links.join', ['acct-1', 'mimi://a.example/u/bob?code=AAAAAAAAAAAAAAAAAAAAAA', null, false]);
  rejects('links.join', ['acct-1', `${ROOM}?code=AAAAAAAAAAAAAAAAAAAAAA`, '', false]);
  rejects('links.create', ['acct-1', ROOM, { uses: 0, expiresInSeconds: null, passphrase: null, roleIndex: null }]);
  rejects('links.create', ['acct-1', ROOM, { uses: null, expiresInSeconds: 5, passphrase: null, roleIndex: null }]);
  rejects('links.create', ['acct-1', ROOM, { uses: null, expiresInSeconds: null, passphrase: 'abc', roleIndex: null }]);
  rejects('links.create', ['acct-1', ROOM, { uses: null, expiresInSeconds: null, passphrase: null, roleIndex: 1 }]);
  rejects('links.create', ['acct-1', ROOM, { uses: null, role: 'admin' }]);
  rejects('links.revoke', ['acct-1', ROOM, 'not-hex']);
});

test('wrong types are refused', () => {
  rejects('rooms.list', [42]);
  rejects('rooms.list', [null]);
  rejects('rooms.list', [{ toString: () => 'acct' }]);
  rejects('rooms.list', [['acct']]);
  rejects('rooms.create', ['acct-1', 7, null]);
  rejects('messages.page', ['acct-1', ROOM, '10', 50]);
  rejects('messages.page', ['acct-1', ROOM, 1.5, 50]);
  rejects('messages.page', ['acct-1', ROOM, -1, 50]);
  rejects('messages.page', ['acct-1', ROOM, null, 0]);
  rejects('messages.page', ['acct-1', ROOM, null, 501]);
  rejects('messages.page', ['acct-1', ROOM, null, Number.NaN]);
  rejects('messages.page', ['acct-1', ROOM, Number.POSITIVE_INFINITY, 10]);
  rejects('accounts.register', ['alice']);
  rejects('accounts.register', [null]);
  rejects('accounts.register', [[]]);
  rejects('accounts.register', [{ handle: 'alice' }]);
  rejects('accounts.register', [{ handle: 'alice', password: 12345678 }]);
});

test('the secret storage choice at sign-in: passphrase (8+ characters) or plaintext, nothing else', () => {
  const args = (secrets: unknown) => [{ handle: 'alice', password: 'correct horse', secrets }];
  assert.doesNotThrow(() => validateCall('accounts.register', args({ mode: 'passphrase', passphrase: 'eight ch' })));
  assert.doesNotThrow(() => validateCall('accounts.login', args({ mode: 'plaintext' })));
  rejects('accounts.register', args({ mode: 'passphrase', passphrase: 'seven c' }));
  rejects('accounts.register', args({ mode: 'passphrase' }));
  rejects('accounts.register', args({ mode: 'passphrase', passphrase: 'p'.repeat(1025) }));
  rejects('accounts.register', args({ mode: 'plaintext', passphrase: 'not for plaintext' }));
  rejects('accounts.register', args({ mode: 'keychain' }));
  rejects('accounts.register', args({ mode: 'passphrase', passphrase: 'long enough', keep: true }));
  rejects('accounts.register', args('plaintext'));
  rejects('accounts.unlock', ['acct-1', '']);
  rejects('accounts.unlock', ['acct-1', 'p'.repeat(1025)]);
  rejects('accounts.unlock', ['acct-1']);
});

test('provider keys: forget takes one lowercase domain, nothing else', () => {
  assert.doesNotThrow(() => validateCall('providerKeys.forget', ['acct-1', 'b.example']));
  rejects('providerKeys.forget', ['acct-1', 'B.Example']);
  rejects('providerKeys.forget', ['acct-1', 'b.example/../x']);
  rejects('providerKeys.forget', ['acct-1', '']);
  rejects('providerKeys.forget', ['acct-1', 42]);
  rejects('providerKeys.forget', ['acct-1']);
});

test('backup arguments: create takes only { full?: boolean }, a recovery key is a bounded string, an export names a room URI', () => {
  assert.doesNotThrow(() => validateCall('backup.create', ['acct-1', {}]));
  rejects('backup.create', ['acct-1', { full: 'yes' }]);
  rejects('backup.create', ['acct-1', { full: true, dir: '/etc' }]);
  rejects('backup.create', ['acct-1', null]);
  rejects('backup.restore', ['acct-1', '']);
  rejects('backup.restore', ['acct-1', 'K'.repeat(301)]);
  rejects('backup.exportHistory', ['acct-1', '/home/someone']);
  rejects('backup.exportHistory', ['acct-1', ROOM, '/tmp/elsewhere']);
});

test('extra fields on objects are refused, including prototype-pollution keys', () => {
  rejects('accounts.register', [{ handle: 'alice', password: 'correct horse', admin: true }]);
  rejects('accounts.login', [JSON.parse('{"handle":"alice","password":"correct horse","__proto__":{"polluted":true}}')]);
  rejects('accounts.login', [{ handle: 'alice', password: 'correct horse', constructor: { prototype: { polluted: true } } }]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('oversized and empty strings are refused', () => {
  rejects('rooms.list', ['']);
  rejects('rooms.list', ['a'.repeat(65)]);
  rejects('rooms.create', ['acct-1', 'n'.repeat(101), null]);
  rejects('messages.send', ['acct-1', ROOM, 'm'.repeat(16_001)]);
  rejects('messages.send', ['acct-1', ROOM, '']);
  rejects('rooms.addMember', ['acct-1', ROOM, 'u'.repeat(301)]);
  rejects('rooms.markRead', ['acct-1', `mimi://${'r'.repeat(600)}`]);
  rejects('accounts.register', [{ handle: 'h'.repeat(33), password: 'correct horse' }]);
  rejects('accounts.register', [{ handle: 'alice', password: 'p'.repeat(1025) }]);
  assert.doesNotThrow(() => validateCall('messages.send', ['acct-1', ROOM, 'm'.repeat(16_000)]));
});

test('room state arguments: presets, roles, metadata and avatars are checked', () => {
  rejects('rooms.create', ['acct-1', 'x', 'anarchy']);
  rejects('rooms.create', ['acct-1', 'x']);
  rejects('rooms.setRole', ['acct-1', ROOM, 'bob@b.example', 1]); // banning is rooms.ban
  rejects('rooms.setRole', ['acct-1', ROOM, 'bob@b.example', 0]);
  rejects('rooms.setRole', ['acct-1', ROOM, 'bob@b.example', 2.5]);
  rejects('rooms.setRole', ['acct-1', ROOM, 'bob@b.example', '3']);
  rejects('rooms.setRole', ['acct-1', ROOM, 'bob b.example', 3]);
  rejects('rooms.ban', ['acct-1', ROOM, '']);
  rejects('rooms.kick', ['acct-1', 'https://a.example/r/x', 'bob@b.example']);
  rejects('rooms.setMetadata', ['acct-1', ROOM, {}]);
  rejects('rooms.setMetadata', ['acct-1', ROOM, { name: 'x', mood: 'happy' }]);
  rejects('rooms.setMetadata', ['acct-1', ROOM, { avatar: 'http://a.example/x.png' }]);
  rejects('rooms.setMetadata', ['acct-1', ROOM, { avatar: 'javascript:alert(1)' }]);
  rejects('rooms.setMetadata', ['acct-1', ROOM, { name: 'n'.repeat(101) }]);
  rejects('rooms.setMetadata', ['acct-1', ROOM, { subject: 'bell\u0007' }]);
  rejects('rooms.setMetadata', ['acct-1', ROOM, JSON.parse('{"name":"x","__proto__":{"polluted":true}}')]);
  assert.doesNotThrow(() => validateCall('rooms.setMetadata', ['acct-1', ROOM, { avatar: '' }]));
});

test('control characters are refused (newline and tab in messages are fine)', () => {
  rejects('rooms.create', ['acct-1', 'a\u0000b', null]);
  rejects('rooms.create', ['acct-1', 'bell\u0007', null]);
  rejects('messages.send', ['acct-1', ROOM, 'escape \u001b[31m red']);
  rejects('rooms.list', ['acct\u0008']);
  rejects('accounts.register', [{ handle: 'ali\u0000ce', password: 'correct horse' }]);
});

test('message reports: 1-16 distinct message ids, a known reason, a note of at most 2000 characters', () => {
  const id = (n: number) => n.toString(16).padStart(64, '0');
  const ids = (n: number) => Array.from({ length: n }, (_, i) => id(i + 1));
  assert.doesNotThrow(() => validateCall('messages.report', ['acct-1', ROOM, ids(16), 0, '']));
  assert.doesNotThrow(() => validateCall('messages.report', ['acct-1', ROOM, [id(1)], 0xf5, 'n'.repeat(2000)]));
  rejects('messages.report', ['acct-1', ROOM, [], 0xf1, '']); // nothing to report
  rejects('messages.report', ['acct-1', ROOM, ids(17), 0xf1, '']);
  rejects('messages.report', ['acct-1', ROOM, ['A'.repeat(64)], 0xf1, '']); // upper-case hex
  rejects('messages.report', ['acct-1', ROOM, ['a'.repeat(63)], 0xf1, '']);
  rejects('messages.report', ['acct-1', ROOM, ['not-a-message-id'], 0xf1, '']);
  rejects('messages.report', ['acct-1', ROOM, [42], 0xf1, '']);
  rejects('messages.report', ['acct-1', ROOM, id(1), 0xf1, '']); // one id, not a list
  rejects('messages.report', ['acct-1', ROOM, [id(1), id(2), id(1)], 0xf1, '']);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], 0xf6, '']);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], 1, '']);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], '241', '']);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], null, '']);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], 0xf1, 'n'.repeat(2001)]);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], 0xf1, 'bell\u0007']);
  rejects('messages.report', ['acct-1', 'https://a.example/r/lunch', [id(1)], 0xf1, '']);
  rejects('messages.report', ['acct-1', ROOM, [id(1)], 0xf1]);
  assert.doesNotThrow(() => validateCall('messages.search', ['acct-1', 'pump', ROOM, 200]));
  rejects('messages.search', ['acct-1', '', null, 50]); // nothing to find
  rejects('messages.search', ['acct-1', 'x'.repeat(201), null, 50]);
  rejects('messages.search', ['acct-1', 'pump', null, 201]);
  rejects('messages.search', ['acct-1', 'pump', 'https://a.example/r/lunch', 50]);
  rejects('messages.search', ['acct-1', 'bell\u0007', null, 50]);
});

test('a provider CA must be a PEM certificate', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';
  const args = { providerUrl: 'https://127.0.0.1:8443', handle: 'bob', password: 'correct horse' };
  assert.doesNotThrow(() => validateCall('accounts.register', [{ ...args, caPem: pem }]));
  rejects('accounts.register', [{ ...args, caPem: 'hello' }]);
  rejects('accounts.register', [{ ...args, caPem: 42 }]);
  rejects('accounts.register', [{ ...args, caPem: `${pem}${'A'.repeat(20_000)}` }]);
  rejects('accounts.register', [{ ...args, caPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }]);
});

test('room URIs and provider URLs must have the right scheme', () => {
  rejects('rooms.markRead', ['acct-1', 'https://a.example/r/lunch']);
  rejects('messages.page', ['acct-1', 'javascript:alert(1)', null, 10]);
  rejects('accounts.login', [{ providerUrl: 'file:///etc/passwd', handle: 'alice', password: 'correct horse' }]);
  rejects('accounts.login', [{ providerUrl: 'javascript:alert(1)', handle: 'alice', password: 'correct horse' }]);
  rejects('accounts.login', [{ providerUrl: 'not a url', handle: 'alice', password: 'correct horse' }]);
});

test('resolveMethod finds the implementation for every method', async () => {
  const seen: string[] = [];
  const core = {} as Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>>;
  for (const m of Object.keys(METHODS)) {
    const [d, n] = m.split('.');
    core[d] ??= {};
    core[d][n] = async () => {
      seen.push(m);
      return m;
    };
  }
  for (const m of Object.keys(METHODS) as MethodName[]) assert.equal(await resolveMethod(core as unknown as CallableCore, m)(), m);
  assert.deepEqual(seen, Object.keys(METHODS));
});

test('apiFromTransport exposes exactly the contract methods as functions', async () => {
  const calls: Array<[string, unknown[]]> = [];
  const api = apiFromTransport(
    async (m, args) => {
      calls.push([m, args]);
      return 'ok';
    },
    () => () => {},
  );
  assert.equal(await api.rooms.create('acct-1', 'x', 'moderated'), 'ok');
  assert.deepEqual(calls, [['rooms.create', ['acct-1', 'x', 'moderated']]]);
  assert.equal(typeof api.onEvent, 'function');
});

test('dispatchCall validates before calling and never throws', async () => {
  let called = 0;
  const core = {
    rooms: {
      create: async (_a: string, name: string) => {
        called++;
        if (name === 'boom') throw new Error('disk /secret/path failed');
        if (name === 'gone') throw new CoreError('noAccount', 'Sign in first.');
        return { name };
      },
    },
  } as unknown as CallableCore;
  const quiet = () => {};
  assert.deepEqual(await dispatchCall(core, 'rooms.create', ['acct-1', 'ok', null], quiet), { ok: true, value: { name: 'ok' } });
  assert.deepEqual(await dispatchCall(core, 'rooms.create', ['acct-1', 'gone', null], quiet), { ok: false, error: { code: 'noAccount', message: 'Sign in first.' } });
  const internal = await dispatchCall(core, 'rooms.create', ['acct-1', 'boom', null], quiet);
  assert.deepEqual(internal, { ok: false, error: toWireError(new Error('x')) });
  assert.equal(called, 3);
  const bad = await dispatchCall(core, '__proto__', [], quiet);
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error.code, 'invalidArgument');
  assert.equal((await dispatchCall(core, 7, [], quiet)).ok, false);
  // validateCall alone would coerce ['rooms.create'] to its string key; dispatchCall checks the type.
  assert.equal((await dispatchCall(core, ['rooms.create'], ['acct-1', 'ok'], quiet)).ok, false);
  assert.equal(called, 3);
});

test('consent and people methods refuse hostile arguments', () => {
  // user addresses: not strings, empty, spaces, control characters, no domain, huge
  for (const user of [42, null, {}, ['bob@b.example'], '', 'bob', 'bob @b.example', 'bob@b.example\u0000', 'x'.repeat(301) + '@b.example'])
    for (const m of ['consent.request', 'consent.grant', 'consent.revoke', 'consent.cancel']) rejects(m, ['acct-1', user, null]);
  for (const user of [7, 'bob', 'a b@c']) for (const m of ['consent.decline', 'consent.block', 'consent.unblock']) rejects(m, ['acct-1', user]);
  // the room must be null (every room) or a mimi:// room URI; undefined is not "every room" over IPC
  for (const room of ['lunch', 'https://b.example/r/x', 5, {}, 'mimi://' + 'x'.repeat(600)]) rejects('consent.request', ['acct-1', 'bob@b.example', room]);
  rejects('consent.grant', ['acct-1', 'bob@b.example']);
  rejects('consent.decline', ['acct-1', 'bob@b.example', ROOM]);
  rejects('consent.list', [{}]);

  // find: a plain object with known fields and at least one search field
  for (const q of [null, 'bob', [], { }, { domain: 'b.example' }, { handle: 'bob', extra: 1 }, { __proto__: { handle: 'bob' } }, { handle: 42 }, { handle: 'x'.repeat(301) },
    { domain: 'B.Example', handle: 'bob' }, { domain: 'b.example/../x', handle: 'bob' }, { domain: 'a b', handle: 'bob' }, { email: 'not-an-email' }, { phone: '2125551212' },
    { phone: '+1 212 555' }, { name: 'ab' }, { handle: 'bob', limit: 0 }, { handle: 'bob', limit: 51 }, { handle: 'bob', limit: 1.5 }, { handle: 'bob', cursor: 9 }, { handle: 'bob\u0007' }])
    rejects('people.find', ['acct-1', q]);
  rejects('people.find', ['acct-1', Object.assign(Object.create({ polluted: true }), { handle: 'bob' })]);
  assert.doesNotThrow(() => validateCall('people.find', ['acct-1', { name: 'Bob', domain: 'localhost' }]));
  assert.doesNotThrow(() => validateCall('people.find', ['acct-1', { phone: '+12125551212' }]));

  // profile fields: known fields only, strings or null (clear)
  for (const f of [null, [], 'nick', { nick: 5 }, { searchable: { email: true } }, { handle: 'other' }, { email: 'nope' }, { phone: 'call me' }, { displayName: 'x'.repeat(101) }, { nick: '' }])
    rejects('people.setProfileFields', ['acct-1', f]);
  assert.doesNotThrow(() => validateCall('people.setProfileFields', ['acct-1', {}]));
  assert.doesNotThrow(() => validateCall('people.setProfileFields', ['acct-1', { email: null, phone: null }]));

  // searchable: a known field and a real boolean
  for (const [field, on] of [['password', true], ['', true], ['__proto__', true], [1, true], ['email', 'true'], ['email', 1], ['email', null]] as const)
    rejects('people.setSearchable', ['acct-1', field, on]);
});

test('pseudonym and connection methods check their arguments', () => {
  // minimal-metadata rooms take the same name and preset as ordinary ones
  assert.doesNotThrow(() => validateCall('rooms.createMinimalMetadata', ['acct-1', 'x', null]));
  for (const args of [['acct-1', '', null], ['acct-1', 'n'.repeat(101), null], ['acct-1', 'x', 'anarchy'], ['acct-1', 'x'], ['acct-1', 'a\u0000b', null], [7, 'x', null]])
    rejects('rooms.createMinimalMetadata', args);

  // refill: a whole count from 1 to 50
  assert.doesNotThrow(() => validateCall('pseudonyms.refill', ['acct-1', 1]));
  assert.doesNotThrow(() => validateCall('pseudonyms.refill', ['acct-1', 50]));
  for (const n of [0, 51, -1, 2.5, '5', null, Number.NaN, Number.POSITIVE_INFINITY]) rejects('pseudonyms.refill', ['acct-1', n]);
  rejects('pseudonyms.refill', ['acct-1']);
  rejects('pseudonyms.list', []);
  rejects('pseudonyms.list', ['']);

  // retire: a pseudonym URI, not a user, room or device URI, nothing around it
  assert.doesNotThrow(() => validateCall('pseudonyms.retire', ['acct-1', 'mimi://b.example/p/abc-_.~9']));
  for (const p of [
    'mimi://a.example/u/alice',
    'mimi://a.example/r/lunch',
    'mimi://a.example/d/alice/dev1',
    'mimi://A.Example/p/abc',
    'mimi://a.example/p/',
    'mimi://a.example/p/abc/def',
    'mimi://a.example/p/ab c',
    'mimi://a.example/p/abc?x=1',
    `mimi://a.example/p/${'x'.repeat(129)}`,
    'https://a.example/p/abc',
    'p/abc',
    '',
    42,
    null,
    { toString: () => PSEUDONYM },
  ])
    rejects('pseudonyms.retire', ['acct-1', p]);

  // connect: a user address, as for consent
  assert.doesNotThrow(() => validateCall('connections.connect', ['acct-1', 'mimi://b.example/u/bob']));
  for (const user of ['bob', 'bob @b.example', '', 'x'.repeat(301) + '@b.example', 'bob@b.example\u0007', 5, null]) rejects('connections.connect', ['acct-1', user]);

  // accept / decline: the request's id is its bootstrap room's URI
  for (const m of ['connections.accept', 'connections.decline']) {
    for (const id of ['lunch', 'https://a.example/r/x', '', 'mimi://' + 'r'.repeat(600), 3, null, {}]) rejects(m, ['acct-1', id]);
    rejects(m, ['acct-1']);
    rejects(m, ['acct-1', ROOM, 'extra']);
  }
  rejects('connections.list', [null]);
});

test('the connection request setting: exactly { mode, domains }, lowercase valid domains, no duplicates, at most 100, one at least for domains', () => {
  const many = Array.from({ length: 100 }, (_, i) => `p${i}.example`);
  for (const policy of [
    { mode: 'anyone', domains: [] },
    { mode: 'nobody', domains: ['kept.example'] },
    { mode: 'anyone', domains: ['b.example'] },
    { mode: 'domains', domains: ['localhost'] },
    { mode: 'domains', domains: many },
  ])
    assert.doesNotThrow(() => validateCall('connections.setPolicy', ['acct-1', policy]), JSON.stringify(policy).slice(0, 60));
  for (const policy of [
    null,
    'anyone',
    [],
    { mode: 'anyone' },
    { domains: [] },
    { mode: 'everyone', domains: [] },
    { mode: 'ANYONE', domains: [] },
    { mode: 'domains', domains: [] },
    { mode: 'domains', domains: 'b.example' },
    { mode: 'domains', domains: ['B.example'] },
    { mode: 'domains', domains: ['b.example', 'b.example'] },
    { mode: 'domains', domains: ['b.example:8443'] },
    { mode: 'domains', domains: ['https://b.example'] },
    { mode: 'domains', domains: ['127.0.0.1'] },
    { mode: 'domains', domains: [' b.example'] },
    { mode: 'domains', domains: [''] },
    { mode: 'domains', domains: [7] },
    { mode: 'domains', domains: [...many, 'one-more.example'] },
    { mode: 'anyone', domains: [], extra: true },
    Object.assign(Object.create({ inherited: 1 }), { mode: 'anyone', domains: [] }),
  ])
    rejects('connections.setPolicy', ['acct-1', policy]);
  rejects('connections.setPolicy', ['acct-1']);
  rejects('connections.policy', []);
  rejects('connections.policy', ['acct-1', 'extra']);
});
