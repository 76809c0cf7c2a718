// Attachments as pure logic: the AES-128-GCM sealing round trip and every check a receiver makes,
// the ExternalPart against the official attachment vector (content-08), our attachment message
// through the strict codec, the asset_policy codec (room-policy) byte for byte and strictly, the
// policy check, and the room state carrying asset_policy (fixed after creation).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  AttachmentError,
  attachmentMessage,
  checkExternalPart,
  contentTypeFromName,
  externalPart,
  findAttachment,
  openFile,
  safeContentType,
  safeFilename,
  sealFile,
} from '../../src-shared/attachment.js';
import {
  ASSET_POLICY_COMPONENT_ID,
  AssetUploadLocation,
  checkAssetAgainstPolicy,
  decodeAssetPolicy,
  encodeAssetPolicy,
  localProviderAssetPolicy,
  type AssetPolicy,
} from '../../src-shared/asset-policy.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';
import { decodeContent, encodeContent, messageId, summarize } from '../../src-shared/content.js';
import { checkCommit } from '../../src-shared/room-commit.js';
import { validateCall } from '../../src-shared/contract.js';
import { decodeRoomStateExtension, encodeRoomStateExtension, initialRoomState } from '../../src-shared/room-state.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mimi-content');

test('seal and open: round trip, fresh key and nonce per file, the hash is of the ciphertext', async () => {
  const plain = new Uint8Array(100_000).map((_, i) => i * 7);
  const a = await sealFile(plain);
  const b = await sealFile(plain);
  assert.equal(a.key.length, 16);
  assert.equal(a.nonce.length, 12);
  assert.equal(a.ciphertext.length, plain.length + 16);
  assert.notDeepEqual(a.key, b.key);
  assert.notDeepEqual(a.nonce, b.nonce);
  assert.notDeepEqual(a.ciphertext, b.ciphertext);
  assert.deepEqual(a.hash, sha256(a.ciphertext));
  const part = externalPart({ url: 'https://a.example/assets/x', sealed: a, size: plain.length, contentType: 'image/png', filename: 'p.png' });
  assert.deepEqual(await openFile(part, a.ciphertext), plain);

  // A flipped bit: the hash says so before decryption is tried.
  const bad = a.ciphertext.slice();
  bad[5] ^= 1;
  await assert.rejects(openFile(part, bad), /does not match the hash/);
  // Without a hash, the AEAD tag catches it.
  await assert.rejects(openFile({ ...part, hashAlg: 0, contentHash: new Uint8Array(0) }, bad), /could not be decrypted/);
  // Another file's key.
  await assert.rejects(openFile({ ...part, key: b.key, hashAlg: 0, contentHash: new Uint8Array(0) }, a.ciphertext), AttachmentError);
  // A size that does not match.
  await assert.rejects(openFile({ ...part, size: 5 }, a.ciphertext), /the message said 5/);
});

test('known answer: AES-128-GCM with a fixed key and nonce (WebCrypto, empty AAD)', async () => {
  // NIST GCM test case 2 (key 0^128, IV 0^96, P 0^128): C = 0388dace60b6a392f328c2b971b2fe78, T = ab6e47d42cec13bdf53a67b21257bddf.
  const s = await sealFile(new Uint8Array(16), { key: new Uint8Array(16), nonce: new Uint8Array(12) });
  assert.equal(toHex(s.ciphertext), '0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf');
});

test('checkExternalPart refuses what the app cannot open safely', () => {
  const ok = externalPart({ url: 'https://a.example/assets/x', sealed: { ciphertext: new Uint8Array(0), key: new Uint8Array(16), nonce: new Uint8Array(12), hash: new Uint8Array(32) }, size: 1, contentType: 'text/plain', filename: 'a' });
  checkExternalPart(ok);
  assert.throws(() => checkExternalPart({ ...ok, encAlg: 0 }), /AEAD algorithm 0/);
  assert.throws(() => checkExternalPart({ ...ok, encAlg: 2 }), /AEAD algorithm 2/);
  assert.throws(() => checkExternalPart({ ...ok, key: new Uint8Array(32) }), /wrong length/);
  assert.throws(() => checkExternalPart({ ...ok, nonce: new Uint8Array(8) }), /wrong length/);
  assert.throws(() => checkExternalPart({ ...ok, hashAlg: 7 }), /hash algorithm 7/);
  assert.throws(() => checkExternalPart({ ...ok, url: 'http://a.example/x' }), /https/);
  assert.throws(() => checkExternalPart({ ...ok, url: 'file:///etc/passwd' }), /https/);
  assert.throws(() => checkExternalPart({ ...ok, size: 2 ** 40 }), /larger/);
});

test('names and media types from others are made harmless', () => {
  assert.equal(safeFilename('../../etc/passwd'), 'passwd');
  assert.equal(safeFilename('C:\\Users\\x\\a.png'), 'a.png');
  assert.equal(safeFilename('..'), 'attachment');
  assert.equal(safeFilename('a\u0000b\nc.txt'), 'abc.txt');
  assert.equal(safeContentType('Image/PNG'), 'image/png');
  assert.equal(safeContentType('text/html\r\nX-Evil: 1'), 'application/octet-stream');
  assert.equal(safeContentType(''), 'application/octet-stream');
  assert.equal(contentTypeFromName('x.JPG'), 'image/jpeg');
  assert.equal(contentTypeFromName('x'), 'application/octet-stream');
});

test('the official attachment vector: its ExternalPart decodes, re-encodes byte for byte and is found', () => {
  const cbor = new Uint8Array(readFileSync(path.join(VECTORS, 'attachment.cbor')));
  const c = decodeContent(cbor);
  assert.deepEqual(encodeContent(c), cbor);
  assert.equal(toHex(messageId(cbor)), '0176180c7d19a925021fe446d241134d05c38e0d999cdc0f39c391d2377ed9d1');
  const part = findAttachment(c)!;
  assert.ok(part);
  assert.equal(part.url, 'https://example.com/storage/8ksB4bSrrRE.mp4');
  assert.equal(part.encAlg, 1);
  assert.equal(toHex(part.key), '21399320958a6f4c745dde670d95e0d8');
  assert.equal(toHex(part.nonce), 'c86cf2c33f21527d1dd76f5b');
  assert.equal(part.hashAlg, 1);
  assert.equal(toHex(part.contentHash), '9ab17a8cf0890baaae7ee016c7312fcc080ba46498389458ee44f0276e783163');
  assert.equal(part.size, 708234961);
  assert.equal(part.filename, 'bigfile.mp4');
  assert.equal(part.description, '2 hours of key signing video');
  // Our checks accept its shape (AES-128-GCM, SHA-256) but not its size (over our limit).
  assert.throws(() => checkExternalPart(part), /larger/);
  checkExternalPart({ ...part, size: 1000 });
  // Rebuilt with our constructor from the same fields and envelope: the same bytes and message ID.
  const rebuilt = attachmentMessage({ senderUri: 'mimi://example.com/u/bob-jones', roomUri: 'mimi://example.com/r/engineering_team', salt: c.salt, part });
  rebuilt.topicId = c.topicId;
  assert.deepEqual(encodeContent({ ...rebuilt, body: { ...part, language: 'en' } }), cbor);
  const s = summarize(c);
  assert.equal(s.kind, 'attachment');
  assert.equal(s.text, 'bigfile.mp4');
});

test('our attachment message goes through the strict codec and keeps every field', async () => {
  const sealed = await sealFile(new Uint8Array([1, 2, 3]));
  const part = externalPart({ url: 'https://127.0.0.1:8443/assets/abc', sealed, size: 3, contentType: 'image/png', filename: 'dir/x.png', description: 'a dot' });
  assert.equal(part.filename, 'x.png');
  const bytes = encodeContent(attachmentMessage({ senderUri: 'mimi://a.example/u/alice', roomUri: 'mimi://a.example/r/r1', part }));
  const back = findAttachment(decodeContent(bytes))!;
  assert.deepEqual(back, part);
  assert.equal(back.disposition, 6);
});

const policy = (): AssetPolicy => localProviderAssetPolicy(
  [
    { provider: 'a.example', destinations: ['a.example', '127.0.0.1:8443'] },
    { provider: 'b.example', destinations: ['assets.b.example'] },
  ],
  1_000_000,
);

test('asset_policy: exact bytes, round trip, strict decoding', () => {
  const p = policy();
  const bytes = encodeAssetPolicy(p);
  assert.deepEqual(decodeAssetPolicy(bytes), p);
  assert.equal(ASSET_POLICY_COMPONENT_ID, 0x002c);
  // Byte for byte for a small one (TLS-PL, QUIC varint vector lengths).
  const small: AssetPolicy = {
    uploadLocation: AssetUploadLocation.localProvider,
    uploadDomains: [{ provider: 'a', destinations: ['b'] }],
    download: { allowed: [1], forbidden: [], default: 1 },
    maxImage: 1n,
    maxAudio: 2n,
    maxVideo: 3n,
    maxAttachment: 4n,
    forbiddenMediaTypes: [{ mediaType: 'x/y', parameters: [] }],
  };
  assert.equal(
    toHex(encodeAssetPolicy(small)),
    '01' + '05' + '0161' + '02' + '0162' + '0101' + '00' + '01' + '0000000000000001' + '0000000000000002' + '0000000000000003' + '0000000000000004' + '05' + '03782f79' + '00' + '00',
  );
  const withPermitted = { ...small, permittedMediaTypes: [{ mediaType: 'image/png', parameters: [{ name: 'q', value: '1' }] }] };
  assert.deepEqual(decodeAssetPolicy(encodeAssetPolicy(withPermitted)), withPermitted);
  // Strict: trailing bytes, truncation, unknown enum values, bad presence octet, duplicates.
  assert.throws(() => decodeAssetPolicy(new Uint8Array([...bytes, 0])), /trailing/);
  assert.throws(() => decodeAssetPolicy(bytes.subarray(0, bytes.length - 3)), /truncated/);
  assert.throws(() => decodeAssetPolicy(new Uint8Array([3, ...bytes.subarray(1)])), /unknown value 3/);
  const sb = encodeAssetPolicy(small);
  const badPresence = sb.slice();
  badPresence[badPresence.length - 1] = 2;
  assert.throws(() => decodeAssetPolicy(badPresence), /presence octet/);
  assert.throws(() => encodeAssetPolicy({ ...p, uploadDomains: [p.uploadDomains[0], p.uploadDomains[0]] }), /listed twice/);
  assert.throws(() => encodeAssetPolicy({ ...p, download: { allowed: [0], forbidden: [0], default: 0 } }), /both allowed and forbidden/);
  assert.throws(() => encodeAssetPolicy({ ...p, maxImage: -1n }), /max_image/);
});

test('asset_policy check: the sender\'s provider entry, sizes and media types', () => {
  const p = policy();
  const ok = { senderDomain: 'a.example', url: 'https://127.0.0.1:8443/assets/x', contentType: 'image/png', size: 10 };
  assert.equal(checkAssetAgainstPolicy(p, ok), null);
  assert.match(checkAssetAgainstPolicy(p, { ...ok, senderDomain: 'b.example' })!, /does not list for b\.example/);
  assert.match(checkAssetAgainstPolicy(p, { ...ok, senderDomain: 'c.example' })!, /does not list for c\.example/);
  assert.match(checkAssetAgainstPolicy(p, { ...ok, url: 'https://evil.example/x' })!, /evil\.example/);
  assert.match(checkAssetAgainstPolicy(p, { ...ok, size: 2_000_000 })!, /larger/);
  assert.match(checkAssetAgainstPolicy({ ...p, forbiddenMediaTypes: [{ mediaType: 'image/png', parameters: [] }] }, ok)!, /does not allow image\/png/);
  assert.match(checkAssetAgainstPolicy({ ...p, permittedMediaTypes: [{ mediaType: 'text/plain', parameters: [] }] }, ok)!, /does not allow/);
  assert.equal(checkAssetAgainstPolicy({ ...p, uploadLocation: AssetUploadLocation.unspecified }, { ...ok, url: 'https://anywhere.example/x' }), null);
});

test('room state with asset_policy: carried, decoded, and fixed after creation', () => {
  const base = initialRoomState({ roomUri: 'mimi://a.example/r/r1', creator: 'mimi://a.example/u/alice' });
  const withAssets = { ...base, assetPolicy: encodeAssetPolicy(policy()) };
  const bytes = encodeRoomStateExtension(withAssets);
  const back = decodeRoomStateExtension(bytes);
  assert.deepEqual(back.assetPolicy, withAssets.assetPolicy);
  // A state without it is unchanged (existing rooms and their encodings).
  assert.equal(decodeRoomStateExtension(encodeRoomStateExtension(base)).assetPolicy, undefined);
  // A malformed policy is refused like any malformed component.
  assert.throws(() => encodeRoomStateExtension({ ...base, assetPolicy: fromHex('ff') }), /assetPolicy/);
  // Adding, changing or removing it after creation: refused.
  const me = 'mimi://a.example/u/alice';
  const devices = ['mimi://a.example/d/alice/1'];
  const facts = { committer: me, devicesBefore: devices, devicesAfter: devices };
  assert.throws(() => checkCommit({ ...facts, before: base, after: withAssets }), /asset policy cannot change/);
  assert.throws(() => checkCommit({ ...facts, before: withAssets, after: base }), /asset policy cannot change/);
  assert.deepEqual(checkCommit({ ...facts, before: withAssets, after: withAssets }), { ok: true });
});

test('messages.sendFile and messages.openAttachment: arguments validated as main does', () => {
  const ROOM = 'mimi://a.example/r/lunch';
  const ok = { name: 'cat.png', type: 'image/png', data: 'iVBORw0KGgo=' };
  validateCall('messages.sendFile', ['acct-1', ROOM, ok]);
  validateCall('messages.sendFile', ['acct-1', ROOM, { ...ok, type: '' }]);
  validateCall('messages.openAttachment', ['acct-1', ROOM, 'a'.repeat(64)]);
  const bad = (args: unknown[], re: RegExp) => assert.throws(() => validateCall('messages.sendFile', args), re);
  bad(['acct-1', ROOM, { ...ok, data: 'not base64!' }], /data must be the file in base64/);
  bad(['acct-1', ROOM, { ...ok, data: '' }], /base64/);
  bad(['acct-1', ROOM, { ...ok, data: 'abc' }], /base64/);
  bad(['acct-1', ROOM, { ...ok, data: 'A'.repeat(36 * 1024 * 1024) }], /larger than 24 MiB|larger than 25 MiB/);
  bad(['acct-1', ROOM, { ...ok, name: '' }], /name/);
  bad(['acct-1', ROOM, { ...ok, name: 'x'.repeat(256) }], /name/);
  bad(['acct-1', ROOM, { ...ok, name: 'a\u0007b' }], /control characters/);
  bad(['acct-1', ROOM, { ...ok, type: 'text/html\r\nX: y' }], /type/);
  bad(['acct-1', ROOM, { ...ok, extra: 1 }], /unknown field extra/);
  bad(['acct-1', ROOM, 'just a string'], /must be an object/);
  bad(['acct-1', 'https://a.example/r/lunch', ok], /argument 2/);
  assert.throws(() => validateCall('messages.openAttachment', ['acct-1', ROOM, 'xyz']), /message id/);
  assert.throws(() => validateCall('messages.openAttachment', ['acct-1', ROOM]), /takes 3 argument/);
});

test('profile database migration 7: uploads recorded, and those no queued message refers to listed', async () => {
  const path = await import('node:path');
  const { ProfileDb } = await import('../../src-main/db/profile-db.js');
  const { Vault } = await import('../../src-main/secrets/vault.js');
  const { tempDir } = await import('../helpers/provider-process.js');
  const m = new Map<string, Uint8Array>();
  const store = { mode: 'plaintext' as const, get: async (k: string) => m.get(k) ?? null, set: async (k: string, v: Uint8Array) => void m.set(k, v), delete: async (k: string) => void m.delete(k) };
  const file = path.join(tempDir('uploads-db'), 'mimi.db');
  const db = new ProfileDb(file, await Vault.open(store));
  db.noteUpload('https://a.example/assets/one', 'mimi://a.example/r/r1', 116);
  db.noteUpload('https://a.example/assets/two', 'mimi://a.example/r/r1', 216);
  db.noteUpload('https://a.example/assets/one', 'mimi://a.example/r/r1', 116); // a retry changes nothing
  db.uploadSent('https://a.example/assets/one', 'ab'.repeat(32));
  assert.deepEqual(db.unsentUploads(), [{ url: 'https://a.example/assets/two', roomUri: 'mimi://a.example/r/r1', size: 216 }]);
  db.close();
  // Still there after reopening (a crash between upload and send is what it is for).
  const again = new ProfileDb(file, await Vault.open(store));
  assert.equal(again.unsentUploads().length, 1);
  again.close();
});

test('a sender-made preview travels inside the message: processAll of the ExternalPart and an inline image', async () => {
  const { findPreview, previewType } = await import('../../src-shared/attachment.js');
  const sealed = await sealFile(new Uint8Array([9, 9, 9]));
  const part = externalPart({ url: 'https://a.example/assets/p', sealed, size: 3, contentType: 'image/png', filename: 'p.png' });
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
  const bytes = encodeContent(attachmentMessage({ senderUri: 'mimi://a.example/u/alice', roomUri: 'mimi://a.example/r/r1', part, preview: jpeg }));
  const c = decodeContent(bytes);
  assert.equal(c.body.cardinality, 3);
  assert.deepEqual(findAttachment(c), part);
  assert.deepEqual(findPreview(c), { contentType: 'image/jpeg', bytes: jpeg });
  const s = summarize(c);
  assert.equal(s.kind, 'attachment');
  assert.equal(s.text, 'p.png');
  // Only PNG or JPEG by their bytes, and small: anything else is left out (the message stays an attachment).
  assert.equal(previewType(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>')), null);
  const svg = attachmentMessage({ senderUri: 'mimi://a.example/u/alice', roomUri: 'mimi://a.example/r/r1', part, preview: new TextEncoder().encode('<svg/>') });
  assert.equal(svg.body.cardinality, 2);
  const big = attachmentMessage({ senderUri: 'mimi://a.example/u/alice', roomUri: 'mimi://a.example/r/r1', part, preview: new Uint8Array(20_000).fill(0xff) });
  assert.equal(big.body.cardinality, 2);
  // A received preview part of another type is not taken for one.
  const forged = decodeContent(bytes);
  if (forged.body.cardinality === 3 && forged.body.parts[1].cardinality === 1) forged.body.parts[1].content = new TextEncoder().encode('<html>');
  assert.equal(findPreview(forged), null);
});

test('messages.sendFile: an optional thumbnail, base64 and small', () => {
  const ROOM = 'mimi://a.example/r/lunch';
  const ok = { name: 'cat.png', type: 'image/png', data: 'iVBORw0KGgo=' };
  validateCall('messages.sendFile', ['acct-1', ROOM, { ...ok, thumbnail: '/9j/4AAQ' }]);
  assert.throws(() => validateCall('messages.sendFile', ['acct-1', ROOM, { ...ok, thumbnail: 'no!' }]), /thumbnail must be a preview image in base64/);
  assert.throws(() => validateCall('messages.sendFile', ['acct-1', ROOM, { ...ok, thumbnail: 'A'.repeat(40_000) }]), /thumbnail is larger than 16 KiB/);
});
