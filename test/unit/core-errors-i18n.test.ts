// Every error the core reports comes from the message catalogue: the keys the main process uses
// exist, failures from below (provider, MLS) name what failed in the catalogue's words too, errors
// that cross the bridge carry key and parameters so the window shows them in its language (German
// here, through vue-i18n as the window does), and the `mimi` command keeps printing English.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createI18n } from 'vue-i18n';
import { CoreError, toWireError, type WireError } from '../../src-shared/contract.js';
import { CATALOGUES, keysOf, lookup, translate } from '../../src-shared/i18n/index.js';
import { dispatchCall } from '../../src-main/bridge/rpc-dispatch.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { toCoreError } from '../../src-main/core/errors.js';
import { MlsError } from '../../src-main/mls/engine.js';
import { ProviderError } from '../../src-main/net/provider-client.js';
import { mimi } from '../helpers/mimi-cli.js';
import { PASSWORD, startTestProvider, uniqueHandle, type TestProvider } from '../helpers/provider-fixture.js';
import { ROOT } from '../helpers/provider-process.js';

const en = CATALOGUES.en;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every 'errors.…' literal in the main process and the contract (coreError keys, toCoreError phrases). */
function errorKeysInCode(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of [...sources(path.join(ROOT, 'src-main')), path.join(ROOT, 'src-shared/contract.ts')]) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/['"`](errors\.[A-Za-z0-9_.]+)['"`]/g)) found.set(m[1], path.relative(ROOT, file));
  }
  return found;
}

// The window's own translator: vue-i18n over the same catalogue.
const windowI18n = createI18n({ legacy: false, locale: 'de', fallbackLocale: 'en', messages: CATALOGUES, missingWarn: false, fallbackWarn: false });
const windowText = (key: string, params: Record<string, string | number>): string => windowI18n.global.t(key, params);

/** A sentence with nothing left to fill in: no `{name}`, no `@:` link. */
function assertFilledIn(text: string, what: string): void {
  assert.doesNotMatch(text, /\{\s*\w+\s*\}|@:/, `${what}: "${text}" has something left to fill in`);
}

/** The key names its message, English in `message`, German from both translators, all filled in. */
function assertTranslated(w: { message: string; key?: string; params?: Record<string, string | number> }): string {
  assert.ok(w.key?.startsWith('errors.'), `"${w.message}" carries a catalogue key (got ${w.key})`);
  assert.ok(w.params, `${w.key} carries its parameters`);
  assert.equal(w.message, translate(w.key!, w.params), `${w.key}: the English message is the catalogue's`);
  assertFilledIn(w.message, `${w.key} (en)`);
  const de = translate(w.key!, w.params, 'de');
  assertFilledIn(de, `${w.key} (de)`);
  assert.notEqual(de, w.message, `${w.key}: German differs from English`);
  assert.equal(windowText(w.key!, w.params!), de, `${w.key}: the window (vue-i18n) shows the same German`);
  return de;
}

test('every errors.… key the main process uses is in the English catalogue, and every one there is used', () => {
  const used = errorKeysInCode();
  assert.ok(used.size > 100, `found ${used.size} keys; the scan is broken`);
  const missing = [...used].filter(([k]) => lookup(en, k) === undefined).map(([k, f]) => `${k} (${f})`);
  assert.deepEqual(missing, [], 'keys used but missing from src-shared/i18n/en/errors.ts');
  const unused = keysOf(en)
    .filter((k) => k.startsWith('errors.'))
    .filter((k) => !used.has(k));
  assert.deepEqual(unused, [], 'catalogue errors no code uses');
});

test('the window (vue-i18n) and the main process (translate) fill in every error message alike', () => {
  // A value for every parameter; the linking ones name a real phrase of their kind.
  const links: Record<string, string> = { what: 'errors.what.admit', action: 'errors.action.changeRole', verb: 'errors.message.delete' };
  for (const key of keysOf(en).filter((k) => k.startsWith('errors.'))) {
    const params: Record<string, string | number> = { count: 2 };
    for (const [, name] of lookup(en, key)!.matchAll(/\{\s*([A-Za-z_]\w*)\s*\}/g)) params[name] ??= links[name] ?? `<${name}>`;
    params.user ??= 'bob@b.example';
    for (const locale of ['en', 'de'] as const) {
      windowI18n.global.locale.value = locale;
      const text = translate(key, params, locale);
      assert.equal(windowText(key, params), text, `${locale}: ${key}`);
      assertFilledIn(text, `${locale}: ${key}`);
    }
  }
  windowI18n.global.locale.value = 'de';
});

test('the core and the bridge build CoreErrors only from the catalogue', () => {
  // rpc-dispatch's "method must be a string" is argument validation, English like validateCall's.
  const exempt = new Set(['rpc-dispatch.ts']);
  const offenders: string[] = [];
  for (const dir of ['src-main/core', 'src-main/bridge']) {
    for (const file of sources(path.join(ROOT, dir))) {
      if (exempt.has(path.basename(file)) || path.basename(file) === 'errors.ts') continue;
      const text = fs.readFileSync(file, 'utf8');
      if (/new CoreError\(/.test(text)) offenders.push(path.relative(ROOT, file));
    }
  }
  assert.deepEqual(offenders, [], 'use coreError(code, "errors.…", params) instead');
});

test('provider and MLS failures name what failed in the catalogue; remote text goes in untranslated', () => {
  const what = { key: 'errors.what.fetchKeyMaterial', params: { user: 'bob@b.example' } };
  const unknown = toCoreError(new ProviderError(404, 'userUnknown', 'no such user'), what) as CoreError;
  assert.equal(unknown.code, 'userUnknown');
  assert.equal(unknown.message, 'Could not fetch key material for bob@b.example: no such user on that provider.');
  assert.equal(assertTranslated(unknown), 'Das Schlüsselmaterial für bob@b.example konnte nicht abgerufen werden: Bei diesem Anbieter gibt es niemanden mit dieser Adresse.');

  // A room change links two phrases deep: "Could not @:{action}" and "kick {user}".
  const kick = { key: 'errors.what.roomAction', params: { action: 'errors.action.kick', user: 'bob@b.example' } };
  const refused = toCoreError(new ProviderError(403, 'notAllowed', 'the hub is closing this room'), kick) as CoreError;
  assert.equal(refused.code, 'notAllowed');
  assert.equal(refused.message, 'Could not kick bob@b.example: the hub is closing this room');
  assert.equal(assertTranslated(refused), 'Es ist nicht gelungen, bob@b.example hinauszuwerfen: the hub is closing this room');

  const cert = toCoreError(new ProviderError(0, 'unreachable', 'certificate has expired', undefined, { kind: 'expired', code: 'CERT_HAS_EXPIRED' }), { key: 'errors.what.signIn' }) as CoreError;
  assert.equal(cert.code, 'providerCertificate');
  assert.match(cert.message, /^Could not sign in: certificate has expired\. Nothing was changed; check this computer's date and time/);
  assert.match(assertTranslated(cert), /^Die Anmeldung ist fehlgeschlagen: certificate has expired\. Es wurde nichts geändert\. Prüfe Datum und Uhrzeit/);

  const mls = toCoreError(new MlsError('decryptFailed', 'bad tag'), { key: 'errors.what.processIncoming' }) as CoreError;
  assert.equal(mls.message, 'Could not process an incoming event: encryption layer error (decryptFailed): bad tag');
  assertTranslated(mls);

  // No what phrase for these: the provider's answer is the whole story.
  const taken = toCoreError(new ProviderError(409, 'handleTaken', 'taken'), { key: 'errors.what.createAccount' }) as CoreError;
  assert.equal(taken.message, 'That handle is taken on this provider; choose another.');
  assertTranslated(toWireError(taken));
});

test('a literal @ in a message survives both translators', () => {
  const w = toWireError(new CoreError('invalidArgument', translate('errors.member.notUserAddress', { user: 'x y' }), 'errors.member.notUserAddress', { user: 'x y' }));
  assert.equal(w.message, '"x y" is not a user address; write bob, bob@b.example or mimi://b.example/u/bob.');
  assert.match(assertTranslated(w), /bob@b\.example oder mimi:\/\/b\.example\/u\/bob\.$/);
});

describe('through the bridge, on a real core and provider', () => {
  let tp: TestProvider;
  let dataDir: string;
  let core: AppCore;
  let accountId: string;
  let roomUri: string;

  before(async () => {
    tp = await startTestProvider('a.example');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-core-errors-'));
    core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext' });
    accountId = (await core.accounts.register({ providerUrl: tp.p.url, caPem: tp.p.caPem, handle: uniqueHandle('erin'), password: PASSWORD })).id;
    roomUri = (await core.rooms.create(accountId, 'Errors', null)).roomUri;
  });
  after(async () => {
    await core?.close();
    await tp?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function wireError(method: string, args: unknown[]): Promise<WireError> {
    const r = await dispatchCall(core, method, args, () => assert.fail(`${method}: an unexpected (non-CoreError) failure`));
    assert.equal(r.ok, false, `${method} should fail`);
    return (r as { ok: false; error: WireError }).error;
  }

  test('errors from a real core reach the bridge with key and parameters, German for the window', async () => {
    const badAddress = await wireError('rooms.addMember', [accountId, roomUri, 'not an address!']);
    assert.equal(badAddress.code, 'invalidArgument');
    assert.equal(badAddress.key, 'errors.member.notUserAddress');
    assert.deepEqual(badAddress.params, { user: 'not an address!' });
    assert.match(assertTranslated(badAddress), /^„not an address!“ ist keine Adresse/);

    const nobody = await wireError('rooms.addMember', [accountId, roomUri, 'nobody-here']);
    assert.equal(nobody.code, 'userUnknown');
    assert.equal(nobody.params?.domain, 'a.example');
    assert.match(assertTranslated(nobody), /nobody-here.* gibt es bei a\.example nicht\./);

    const notListed = await wireError('rooms.removeMember', [accountId, roomUri, 'bob@a.example']);
    assert.equal(notListed.key, 'errors.member.notParticipant');
    assert.match(assertTranslated(notListed), /bob.*steht nicht auf der Teilnehmerliste dieses Raums\./);

    const gone = await wireError('messages.send', [accountId, 'mimi://a.example/r/no-such-room', 'hello']);
    assert.equal(gone.code, 'roomUnknown');
    assert.equal(gone.params?.room, 'mimi://a.example/r/no-such-room');
    assert.match(assertTranslated(gone), /^Unbekannter Raum mimi:\/\/a\.example\/r\/no-such-room/);

    // Through toCoreError: the provider is not there, so "Could not create the account" leads.
    const closed = await wireError('accounts.register', [{ providerUrl: 'https://127.0.0.1:9', caPem: tp.p.caPem, handle: uniqueHandle('nora'), password: PASSWORD }]);
    assert.equal(closed.code, 'providerUnreachable');
    assert.equal(closed.key, 'errors.provider.unreachable');
    assert.equal(closed.params?.what, 'errors.what.createAccount');
    assert.match(closed.message, /^Could not create the account: .*check that the provider is running/);
    assert.match(assertTranslated(closed), /^Das Konto konnte nicht erstellt werden: .*Prüfe, ob der Anbieter läuft/);
  });
});

test('the mimi command prints its errors in English, whatever the language of the system', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-cli-en-')), 'p');
  const r = await mimi(['--profile', dir, 'rooms'], { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', LANGUAGE: 'de' });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim(), `mimi: No account in ${dir}. Register or log in first.`);
});
