// Room roles as people read them: every role of the three presets has a word, unknown ones are
// made readable the same way, and the tooltip names the room state's identifier.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMINISTERED_ROOM_POLICY, COOPERATIVE_ROOM_POLICY, MODERATED_ROOM_POLICY } from '../../src-shared/room-policy.js';
import { roleLabel, roleTitle } from '../../src-renderer/src/lib/role-names.js';

test('the presets’ roles read as words', () => {
  assert.equal(roleLabel('group_admin'), 'Admin');
  assert.equal(roleLabel('ordinary_user'), 'Member');
  assert.equal(roleLabel('super_admin'), 'Owner');
  assert.equal(roleLabel('moderator'), 'Moderator');
  assert.equal(roleLabel('banned'), 'Banned');
  assert.equal(roleLabel('policy_enforcer'), 'Policy enforcer');
  assert.equal(roleLabel('no_role'), 'No role');
  for (const policy of [COOPERATIVE_ROOM_POLICY, ADMINISTERED_ROOM_POLICY, MODERATED_ROOM_POLICY]) {
    for (const r of policy.roles) {
      const label = roleLabel(r.roleName);
      assert.match(label, /^[A-Z][a-z]+( [a-z]+)*$/, `${r.roleName} -> ${label}`);
      assert.ok(!label.includes('_'));
    }
  }
});

test('a role this app does not know is made readable, an empty one stays empty', () => {
  assert.equal(roleLabel('night_shift-lead'), 'Night shift lead');
  assert.equal(roleLabel('  __ '), '');
  assert.equal(roleLabel(''), '');
  assert.equal(roleLabel('Chair'), 'Chair');
});

test('the tooltip names the identifier, only where it differs from what is shown', () => {
  assert.equal(roleTitle('group_admin'), 'Role in the room state: group_admin');
  assert.equal(roleTitle('Chair'), undefined);
  assert.equal(roleTitle(''), undefined);
});
