import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IdentifierError,
  deviceUri,
  displayHandle,
  domainOf,
  isValidDomain,
  isValidHandle,
  newPseudonymUri,
  newRoomUri,
  parseMimiUri,
  parseMimiUriAs,
  pseudonymUri,
  parseUserAddress,
  roomUri,
  userOfDevice,
  userUri,
} from '../../src-shared/identifiers.js';
import { fromB64 } from '../../src-shared/bytes.js';

const isIdError = (e: unknown) => e instanceof IdentifierError;

test('builders produce the three URI forms', () => {
  assert.equal(userUri('b.example', 'bob'), 'mimi://b.example/u/bob');
  assert.equal(deviceUri('b.example', 'bob', 'Xy_9-z'), 'mimi://b.example/d/bob/Xy_9-z');
  assert.equal(roomUri('a.example', 'engineering_team'), 'mimi://a.example/r/engineering_team');
  assert.equal(userUri('localhost', 'a.b_c-d'), 'mimi://localhost/u/a.b_c-d');
});

test('builders reject bad domains, handles and ids', () => {
  for (const d of ['', 'A.example', 'a.example:8443', 'a..example', '-a.example', 'a-.example', 'a.example.', '127.0.0.1', 'a_b.example', 'a/b', 'x'.repeat(64) + '.example']) {
    assert.equal(isValidDomain(d), false, d);
    assert.throws(() => userUri(d, 'bob'), isIdError, d);
  }
  for (const h of ['', 'Bob', '.bob', '-bob', 'bo b', 'bob@x', 'b/ob', 'a'.repeat(33), 'bób']) {
    assert.equal(isValidHandle(h), false, h);
    assert.throws(() => userUri('b.example', h), isIdError, h);
  }
  assert.equal(isValidHandle('a'.repeat(32)), true);
  assert.equal(isValidDomain('xn--bcher-kva.example'), true);
  for (const id of ['', 'a/b', 'a b', 'a%20b', 'a?b', 'x'.repeat(129)]) {
    assert.throws(() => roomUri('a.example', id), isIdError, id);
    assert.throws(() => deviceUri('a.example', 'bob', id), isIdError, id);
  }
});

test('parseMimiUri parses what the builders produce', () => {
  assert.deepStrictEqual(parseMimiUri('mimi://b.example/u/bob'), { kind: 'user', domain: 'b.example', handle: 'bob' });
  assert.deepStrictEqual(parseMimiUri('mimi://b.example/d/bob/dev1'), {
    kind: 'device',
    domain: 'b.example',
    handle: 'bob',
    deviceId: 'dev1',
  });
  assert.deepStrictEqual(parseMimiUri('mimi://example.com/r/engineering_team'), {
    kind: 'room',
    domain: 'example.com',
    roomId: 'engineering_team',
  });
  // the sender URIs of the content examples are valid user URIs
  for (const u of ['mimi://example.com/u/alice-smith', 'mimi://example.com/u/bob-jones', 'mimi://example.com/u/cathy-washington']) {
    assert.equal(parseMimiUri(u).kind, 'user');
  }
});

test('parseMimiUri is strict about the spelling', () => {
  const bad = [
    'mimi://b.example',
    'mimi://b.example/',
    'mimi://b.example/u/',
    'mimi://b.example/u/bob/',
    'mimi://b.example/u/bob/extra',
    'mimi://b.example/d/bob',
    'mimi://b.example/d/bob/dev/x',
    'mimi://b.example/r/',
    'mimi://b.example/x/koala', // no such form (/p/ is a pseudonym now)
    'mimi://b.example/x/bob',
    'mimi://B.example/u/bob',
    'MIMI://b.example/u/bob',
    'mimi://b.example:443/u/bob',
    'mimi://user@b.example/u/bob',
    'mimi://b.example/u/Bob',
    'mimi://b.example/u/bob?x=1',
    'mimi://b.example/u/bob#f',
    'mimi://b.example/r/a%2Fb',
    'https://b.example/u/bob',
    'bob@b.example',
    '',
  ];
  for (const s of bad) assert.throws(() => parseMimiUri(s), isIdError, s);
  assert.throws(() => parseMimiUri(42 as unknown as string), isIdError);
});

test('parseUserAddress accepts handle@domain, user URIs and bare handles with a default domain', () => {
  assert.equal(parseUserAddress('bob@b.example'), 'mimi://b.example/u/bob');
  assert.equal(parseUserAddress('  Bob@B.Example '), 'mimi://b.example/u/bob');
  assert.equal(parseUserAddress('mimi://b.example/u/bob'), 'mimi://b.example/u/bob');
  assert.equal(parseUserAddress('bob', 'a.example'), 'mimi://a.example/u/bob');
  assert.equal(parseUserAddress('bob@b.example', 'a.example'), 'mimi://b.example/u/bob');
  for (const s of ['bob', '@b.example', 'bob@', 'bob@b@c', 'mimi://b.example/r/room', 'mimi://b.example/d/bob/x', 'bob@b.example:80', '']) {
    assert.throws(() => parseUserAddress(s), isIdError, s);
  }
  assert.throws(() => parseUserAddress('b o b', 'a.example'), isIdError);
  assert.throws(() => parseUserAddress('bob', 'Bad_Domain'), isIdError);
});

test('displayHandle, userOfDevice and domainOf', () => {
  assert.equal(displayHandle('mimi://b.example/u/bob'), 'bob@b.example');
  assert.throws(() => displayHandle('mimi://b.example/r/bob'), isIdError);
  assert.equal(userOfDevice('mimi://b.example/d/bob/d1'), 'mimi://b.example/u/bob');
  assert.throws(() => userOfDevice('mimi://b.example/u/bob'), isIdError);
  assert.equal(domainOf('mimi://localhost/r/x'), 'localhost');
  // round trip through the human form
  const u = userUri('c.example', 'carol_1');
  assert.equal(parseUserAddress(displayHandle(u)), u);
});

test('newRoomUri makes distinct rooms with a 16-byte base64url id', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const uri = newRoomUri('a.example');
    const p = parseMimiUri(uri);
    assert.equal(p.kind, 'room');
    assert.equal(p.domain, 'a.example');
    assert.match(p.roomId!, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(fromB64(p.roomId!).length, 16);
    seen.add(uri);
  }
  assert.equal(seen.size, 50);
  assert.throws(() => newRoomUri('bad domain'), isIdError);
});

test('pseudonym URIs: mimi://domain/p/id, random ids that name no account, strict parsing', () => {
  assert.equal(pseudonymUri('a.example', 'Zx9-_'), 'mimi://a.example/p/Zx9-_');
  assert.deepEqual(parseMimiUri('mimi://a.example/p/Zx9-_'), { kind: 'pseudonym', domain: 'a.example', pseudonymId: 'Zx9-_' });
  const p1 = newPseudonymUri('a.example');
  const p2 = newPseudonymUri('a.example');
  assert.notEqual(p1, p2);
  const id = parseMimiUri(p1).pseudonymId!;
  assert.equal(fromB64(id).length, 16);
  assert.equal(parseMimiUriAs('user', p1), undefined, 'a pseudonym is not a user URI');
  assert.throws(() => userOfDevice(p1), isIdError);
  for (const bad of ['mimi://a.example/p/', 'mimi://a.example/p/a/b', 'mimi://a.example/p/a%20b', 'mimi://A.example/p/x']) {
    assert.throws(() => parseMimiUri(bad), isIdError, bad);
  }
  assert.throws(() => pseudonymUri('a.example', 'has space'), isIdError);
});
