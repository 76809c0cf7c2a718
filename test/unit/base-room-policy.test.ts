// The base_room_policy component (draft-ietf-mimi-room-policy-03) and our minimal_metadata
// component in the room state: exact encoding, round trips, strict decoding, and the rules a
// minimal-metadata room's state must keep.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../../src-shared/bytes.js';
import {
  decodeAppDataDictionary,
  decodeBaseRoomPolicy,
  decodeRoomStateExtension,
  encodeAppDataDictionary,
  MINIMAL_METADATA_COMPONENT_ID,
  defaultBasePolicy,
  encodeBaseRoomPolicy,
  encodeRoomStateExtension,
  initialRoomState,
  pseudonymsAllowed,
  type RoomState,
} from '../../src-shared/room-state.js';
import { MimiWireError } from '../../src-shared/tls-struct.js';

const ROOM = 'mimi://a.example/r/quiet';
const P1 = 'mimi://a.example/p/AAAAAAAAAAAAAAAAAAAAAA';

test('BaseRoomPolicy: the exact bytes of the draft struct, and back', () => {
  const policy = { ...defaultBasePolicy(true), maxUsers: 5, parentRoom: ['mimi://a.example/r/p'] };
  const bytes = encodeBaseRoomPolicy(policy);
  // fixed_membership 0, parent_dependant 0, parent_room<V> = [Uri], multi_device 1,
  // max_clients absent (0), max_users present (1) 5, pseudonyms_allowed 1, persistent_room 1,
  // discoverable 0, policy_component_ids<V> = [0x0025]
  const uri = Buffer.from('mimi://a.example/r/p');
  const expected = Buffer.concat([
    Buffer.from([0, 0]),
    Buffer.from([uri.length + 1, uri.length]),
    uri,
    Buffer.from([1, 0, 1, 0, 0, 0, 5, 1, 1, 0, 2, 0x00, 0x25]),
  ]);
  assert.equal(toHex(bytes), expected.toString('hex'));
  assert.deepEqual(decodeBaseRoomPolicy(bytes), policy);
});

test('BaseRoomPolicy: a bool other than 0/1, truncation and trailing bytes are refused', () => {
  const good = encodeBaseRoomPolicy(defaultBasePolicy(false));
  const bad = good.slice();
  bad[0] = 2;
  assert.throws(() => decodeBaseRoomPolicy(bad), (e) => e instanceof MimiWireError && /fixed_membership/.test(e.message));
  for (let n = 0; n < good.length; n++) assert.throws(() => decodeBaseRoomPolicy(good.subarray(0, n)), MimiWireError, `cut at ${n}`);
  assert.throws(() => decodeBaseRoomPolicy(new Uint8Array([...good, 0])), MimiWireError);
});

test('room state: new rooms carry the base policy; a minimal-metadata room also its marker; both survive the extension', () => {
  const plain = initialRoomState({ roomUri: ROOM, creator: 'mimi://a.example/u/alice' });
  assert.equal(plain.base?.pseudonymsAllowed, true);
  assert.equal(plain.minimalMetadata, undefined);
  assert.deepEqual(decodeRoomStateExtension(encodeRoomStateExtension(plain)), plain);
  const mmr = initialRoomState({ roomUri: ROOM, creator: P1, minimalMetadata: true });
  assert.equal(mmr.minimalMetadata, true);
  assert.equal(pseudonymsAllowed(mmr), true);
  assert.deepEqual(decodeRoomStateExtension(encodeRoomStateExtension(mmr)), mmr);
  const noPseudonyms = initialRoomState({ roomUri: ROOM, creator: 'mimi://a.example/u/alice', pseudonymsAllowed: false });
  assert.equal(pseudonymsAllowed(noPseudonyms), false);
});

test('room state without a base policy (older rooms) still decodes; pseudonyms then count as allowed', () => {
  const { base: _base, ...old } = initialRoomState({ roomUri: ROOM, creator: 'mimi://a.example/u/alice' });
  const decoded = decodeRoomStateExtension(encodeRoomStateExtension(old as RoomState));
  assert.equal(decoded.base, undefined);
  assert.equal(pseudonymsAllowed(decoded), true);
});

test('minimal-metadata rules: only pseudonyms on the list, pseudonyms allowed, an empty marker', () => {
  const mmr = initialRoomState({ roomUri: ROOM, creator: P1, minimalMetadata: true });
  assert.throws(() => encodeRoomStateExtension({ ...mmr, participants: [...mmr.participants, { user: 'mimi://b.example/u/bob', roleIndex: 3 }] }), /not a pseudonym/);
  assert.throws(() => encodeRoomStateExtension({ ...mmr, base: defaultBasePolicy(false) }), /must allow pseudonyms/);
  assert.throws(() => initialRoomState({ roomUri: ROOM, creator: 'mimi://a.example/u/alice', minimalMetadata: true }), /not a pseudonym/);
  // The marker's component_data must be empty.
  const entries = decodeAppDataDictionary(encodeRoomStateExtension(mmr));
  const marker = entries.find((e) => e.componentId === MINIMAL_METADATA_COMPONENT_ID)!;
  assert.equal(marker.data.length, 0);
  marker.data = new Uint8Array([1]);
  assert.throws(() => decodeRoomStateExtension(encodeAppDataDictionary(entries)), /minimal_metadata.*must be empty/);
});
