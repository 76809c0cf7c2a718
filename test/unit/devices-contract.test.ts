// The device methods' arguments are checked in main before anything reaches the core: device ids
// as the provider makes them (base64url), names that are not empty and at most 64 characters.
// And the catalogue has every message the devices screens and core errors use, in both languages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, MAX_DEVICE_NAME, validateCall } from '../../src-shared/contract.js';
import { translate } from '../../src-shared/i18n/index.js';

const refused = (method: Parameters<typeof validateCall>[0], args: unknown[], why: RegExp) =>
  assert.throws(() => validateCall(method, args), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument' && why.test(e.message), `${method} ${JSON.stringify(args)}`);

test('device ids must look like the provider’s; names must be 1-64 characters once trimmed', () => {
  validateCall('accounts.renameDevice', ['acct-1', 'Zm9vYmFyYmF6cXV4MTIzNA', '  Phone  ']);
  validateCall('accounts.renameDevice', ['acct-1', 'Zm9vYmFyYmF6cXV4MTIzNA', '📱'.repeat(MAX_DEVICE_NAME)]);
  validateCall('accounts.removeDevice', ['acct-1', 'a_b-C']);
  refused('accounts.removeDevice', ['acct-1', '../../me'], /device id/);
  refused('accounts.removeDevice', ['acct-1', 'a b'], /device id/);
  refused('accounts.removeDevice', ['acct-1', ''], /1-64/);
  refused('accounts.removeDevice', ['acct-1', 'x'.repeat(65)], /1-64/);
  refused('accounts.removeDevice', ['acct-1', 42], /string/);
  refused('accounts.renameDevice', ['acct-1', 'abc', ''], /must not be empty/);
  refused('accounts.renameDevice', ['acct-1', 'abc', ' \t '], /must not be empty/);
  refused('accounts.renameDevice', ['acct-1', 'abc', 'x'.repeat(MAX_DEVICE_NAME + 1)], /at most 64/);
  refused('accounts.renameDevice', ['acct-1', 'abc', 'a\u0001b'], /control/);
  refused('accounts.renameDevice', ['acct-1', 'abc', null], /must not be empty/);
  refused('accounts.removeThisDevice', [], /exact|argument/i);
});

test('the core’s device errors say what to do next, in English and German', () => {
  assert.equal(translate('devices.errors.removedHere'), 'This device was removed from your account on another device; sign in again to use it here.');
  assert.match(translate('devices.errors.removedHere', {}, 'de'), /melde dich erneut an/);
  assert.match(translate('devices.errors.isThisDevice'), /sign out and choose “Remove this device”/);
  assert.match(translate('devices.newDevice', { name: 'Tablet', address: 'alice@a.example' }), /^A new device signed in to your account alice@a.example: Tablet\. If this was not you, remove it/);
});
