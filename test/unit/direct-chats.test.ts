// Direct chats as pure logic: which rooms are one (room-view.ts directPeerOf), the name the room
// list gives them (roomDisplayName), and how the app titles them (lib/direct-chats.ts roomTitle).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialRoomState } from '../../src-shared/room-state.js';
import { displayUser } from '../../src-shared/identifiers.js';
import { directPeerOf, roomDisplayName, withMetadata, withParticipant, withRole } from '../../src-main/core/room-view.js';
import { roomTitle } from '../../src-renderer/src/lib/direct-chats.js';

const ROOM = 'mimi://a.example/r/dm';
const A = 'mimi://a.example/u/alice';
const B = 'mimi://b.example/u/bob';
const C = 'mimi://a.example/u/carol';
const unnamed = initialRoomState({ roomUri: ROOM, creator: A, roomName: '' });

test('a room with no name and the two of you is the direct chat with the other; nothing else is', () => {
  const dm = withParticipant(unnamed, B, 2);
  assert.equal(directPeerOf(dm, A), B);
  assert.equal(directPeerOf(dm, B), A, 'the same room, seen from the other side');
  // Still theirs when banned: it stays the chat with them.
  assert.equal(directPeerOf(withRole(dm, B, 1), A), B);
  assert.equal(directPeerOf(withMetadata(dm, { name: 'Us' }), A), undefined, 'a named room');
  assert.equal(directPeerOf(withParticipant(dm, C, 2), A), undefined, 'three people');
  assert.equal(directPeerOf(undefined, A), undefined, 'a room without room state');
  assert.equal(directPeerOf(dm, C), undefined, 'not one of the two');
  // While the other is not on the list yet, the person this device made it for names it.
  assert.equal(directPeerOf(unnamed, A, B), B);
  assert.equal(directPeerOf(unnamed, A), undefined);
});

test('the name a room is listed under', () => {
  assert.equal(roomDisplayName({ shared: 'Lunch', localName: 'x', direct: B, others: [B] }, displayUser), 'Lunch');
  assert.equal(roomDisplayName({ shared: '', localName: 'Mine', others: [] }, displayUser), 'Mine');
  assert.equal(roomDisplayName({ shared: '', localName: '', direct: B, others: [] }, displayUser), 'bob@b.example');
  assert.equal(roomDisplayName({ localName: '', others: [B, C] }, displayUser), 'bob@b.example, carol@a.example');
  assert.equal(roomDisplayName({ localName: '', others: [] }, displayUser), 'Empty room');
});

test('the app titles a direct chat as the person: a handle on its own provider, else handle@domain; a pseudonym by the core’s name', () => {
  assert.equal(roomTitle({ name: 'bob@b.example', direct: B }, 'a.example'), 'bob@b.example');
  assert.equal(roomTitle({ name: 'carol@a.example', direct: C }, 'a.example'), 'carol');
  assert.equal(roomTitle({ name: 'Lunch' }, 'a.example'), 'Lunch');
  // A connection's room (a pseudonym): the core's name, whom this device connected with.
  const p = 'mimi://b.example/p/Zq3Jx8Lw0abc';
  assert.equal(roomTitle({ name: 'bob@b.example', direct: p }, 'a.example'), 'bob@b.example');
  assert.equal(roomTitle({ name: 'bob@b.example', direct: p }, 'a.example', { user: B, verified: true }), 'bob@b.example');
});
