// The backup's building blocks (src-shared/backup-format.ts, docs/backup.md): recovery keys that
// survive being written down and catch typos; chunks that open only with their key, in their place,
// unchanged; AES-GCM checked against node:crypto.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import {
  BackupFormatError,
  MANIFEST_INDEX,
  backupKeys,
  chunkHash,
  decodeRecoveryKey,
  encodeRecoveryKey,
  generateRecoveryKey,
  openChunk,
  sealChunk,
} from '../../src-shared/backup-format.js';
import { utf8 } from '../../src-shared/bytes.js';

const reason = (r: BackupFormatError['reason']) => (e: unknown) => e instanceof BackupFormatError && e.reason === r;

test('a recovery key reads back from its written form, forgiving case, spaces, dashes, I/L/O', () => {
  for (let i = 0; i < 50; i++) {
    const key = generateRecoveryKey();
    const written = encodeRecoveryKey(key);
    assert.match(written, /^([0-9A-HJKMNP-TV-Z]{4} ){13}[0-9A-HJKMNP-TV-Z]{3,4}$/);
    assert.deepEqual(decodeRecoveryKey(written), key);
    assert.deepEqual(decodeRecoveryKey(written.toLowerCase().replace(/ /g, '-')), key);
    assert.deepEqual(decodeRecoveryKey(written.replace(/1/g, 'l').replace(/0/g, 'o')), key);
  }
});

test('a typo or a missing group is caught, never half-used', () => {
  const written = encodeRecoveryKey(generateRecoveryKey());
  let caught = 0;
  for (let i = 0; i < written.length; i++) {
    if (written[i] === ' ') continue;
    const other = written[i] === '7' ? '8' : '7';
    const typo = written.slice(0, i) + other + written.slice(i + 1);
    try {
      decodeRecoveryKey(typo);
    } catch (e) {
      assert.ok(reason('recoveryKeyTypo')(e), String(e));
      caught++;
    }
  }
  // A 16-bit checksum misses about 1 in 65536 random changes; one character changed is always a change.
  assert.ok(caught >= written.replace(/ /g, '').length - 1, `caught ${caught}`);
  assert.throws(() => decodeRecoveryKey(written.slice(0, -5)), reason('recoveryKeyLength'));
  assert.throws(() => decodeRecoveryKey(written + ' ABCD'), reason('recoveryKeyLength'));
  assert.throws(() => decodeRecoveryKey(written.replace(/^./, 'U')), reason('recoveryKeyTypo'));
});

test('keys come from HKDF-SHA256 as documented; the backup id reveals nothing of the key', () => {
  const key = generateRecoveryKey();
  const k = backupKeys(key);
  const prkInfo = (info: string, len: number) => Buffer.from(hkdfSync('sha256', key, utf8('mimi backup v1'), utf8(info), len));
  assert.deepEqual(Buffer.from(k.encryption), prkInfo('chunk key', 32));
  assert.equal(k.backupId, prkInfo('backup id', 16).toString('hex'));
  assert.notEqual(backupKeys(generateRecoveryKey()).backupId, k.backupId);
});

test('a chunk opens with its key in its place; AES-256-GCM as node:crypto reads it', () => {
  const keys = backupKeys(generateRecoveryKey());
  const plain = utf8('{"room":"lunch","messages":["hello"]}');
  const sealed = sealChunk(keys, { generation: 3, index: 7 }, plain);
  assert.deepEqual(openChunk(keys, { generation: 3, index: 7 }, sealed), plain);
  // Independent decryption: version ‖ nonce ‖ ciphertext ‖ tag, AAD as documented.
  const aad = Buffer.concat([Buffer.from('mimi backup chunk'), Buffer.from(keys.backupId), Buffer.from([1, 0, 0, 0, 3, 0, 0, 0, 7])]);
  const d = createDecipheriv('aes-256-gcm', keys.encryption, sealed.subarray(1, 13));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  assert.deepEqual(Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()]), Buffer.from(plain));
  assert.equal(chunkHash(sealed).length, 64);
  assert.notDeepEqual(sealChunk(keys, { generation: 3, index: 7 }, plain), sealed, 'a fresh nonce each time');
});

test('moved, swapped between backups, tampered, truncated or under another key: refused', () => {
  const keys = backupKeys(generateRecoveryKey());
  const sealed = sealChunk(keys, { generation: 1, index: 0 }, utf8('chunk zero'));
  assert.throws(() => openChunk(keys, { generation: 1, index: 1 }, sealed), reason('corrupt'));
  assert.throws(() => openChunk(keys, { generation: 2, index: 0 }, sealed), reason('corrupt'));
  const other = backupKeys(generateRecoveryKey());
  assert.throws(() => openChunk(other, { generation: 1, index: 0 }, sealed), reason('corrupt'));
  const manifest = sealChunk(keys, { generation: 1, index: MANIFEST_INDEX }, utf8('{}'));
  assert.throws(() => openChunk(other, { generation: 1, index: MANIFEST_INDEX }, manifest), reason('wrongKey'));
  const flipped = sealed.slice();
  flipped[20] ^= 1;
  assert.throws(() => openChunk(keys, { generation: 1, index: 0 }, flipped), reason('corrupt'));
  assert.throws(() => openChunk(keys, { generation: 1, index: 0 }, sealed.slice(0, 20)), reason('corrupt'));
  const future = sealed.slice();
  future[0] = 9;
  assert.throws(() => openChunk(keys, { generation: 1, index: 0 }, future), /format 9/);
  assert.throws(() => sealChunk(keys, { generation: -1, index: 0 }, utf8('x')), reason('corrupt'));
});
