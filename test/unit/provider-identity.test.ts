// The provider's MLS signing identity (federation/provider-identity.ts): created once, 0600, reused,
// and never silently replaced.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytesEqual, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { signWithLabel, verifyWithLabel } from '../../src-shared/mls-crypto.js';
import { decodeExternalSender } from '../../src-shared/mls-structs.js';
import {
  ensureProviderIdentity,
  PROVIDER_IDENTITY_FILE,
  ProviderIdentityError,
} from '../../src-provider/federation/provider-identity.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-provider-identity-'));
}

test('created 0600 in the data dir, reused on the next start, usable for SignWithLabel', () => {
  const dir = tmp();
  try {
    const first = ensureProviderIdentity(dir, 'a.example');
    const file = path.join(dir, PROVIDER_IDENTITY_FILE);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), [PROVIDER_IDENTITY_FILE], 'no temp file left behind');
    assert.equal(first.cipherSuite, 1);
    assert.equal(first.credential.credentialType, 'basic');
    assert.equal(first.credential.credentialType === 'basic' && fromUtf8(first.credential.identity), 'mimi://a.example');
    // externalSender is a real RFC 9420 ExternalSender of the same key and credential.
    const es = decodeExternalSender(first.externalSender.raw);
    assert.ok(bytesEqual(es.signatureKey, first.signaturePublicKey));
    assert.ok(bytesEqual(es.credential.raw, first.credential.raw));

    const again = ensureProviderIdentity(dir, 'a.example');
    assert.ok(bytesEqual(again.signaturePublicKey, first.signaturePublicKey), 'same key after a restart');
    assert.ok(bytesEqual(again.signaturePrivateKey, first.signaturePrivateKey));
    const sig = signWithLabel(again.signaturePrivateKey, 'KeyMaterialRequestTBS', utf8('tbs'));
    assert.ok(verifyWithLabel(first.signaturePublicKey, 'KeyMaterialRequestTBS', utf8('tbs'), sig));

    // A loosened mode is tightened again.
    fs.chmodSync(file, 0o644);
    ensureProviderIdentity(dir, 'a.example');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const other = tmp();
    try {
      assert.ok(!bytesEqual(ensureProviderIdentity(other, 'a.example').signaturePublicKey, first.signaturePublicKey), 'fresh per data dir');
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a file for another domain, a mismatched key pair or garbage is an error, not replaced', () => {
  const dir = tmp();
  try {
    ensureProviderIdentity(dir, 'a.example');
    const file = path.join(dir, PROVIDER_IDENTITY_FILE);
    const original = fs.readFileSync(file, 'utf8');
    assert.throws(() => ensureProviderIdentity(dir, 'b.example'), ProviderIdentityError);

    const stored = JSON.parse(original) as Record<string, unknown>;
    const swapped = { ...stored, signaturePublicKey: 'A'.repeat(43) };
    fs.writeFileSync(file, JSON.stringify(swapped));
    assert.throws(() => ensureProviderIdentity(dir, 'a.example'), /does not belong/);
    fs.writeFileSync(file, 'not json');
    assert.throws(() => ensureProviderIdentity(dir, 'a.example'), ProviderIdentityError);
    assert.equal(fs.readFileSync(file, 'utf8'), 'not json', 'never overwritten');
    assert.throws(() => ensureProviderIdentity(dir, 'Not A Domain'), ProviderIdentityError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
