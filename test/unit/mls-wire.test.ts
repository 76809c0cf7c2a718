import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPub,
  createProposal,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroupExternal,
  proposeAddExternal,
  type MLSMessage,
} from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { MlsWireError, peekMlsMessage, welcomeRecipients } from '../../src-shared/mls-wire.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

// ---------------------------------------------------------------------------------------------------
// Hand-built fixtures (RFC 9420 §6 layouts)

const GROUP = utf8('mimi://a.example/r/abc');

function mlsMessage(wireFormat: number, body: (w: TlsWriter) => void, version = 1): Uint8Array {
  const w = new TlsWriter().u16(version).u16(wireFormat);
  body(w);
  return w.finish();
}

function publicMessage(sender: (w: TlsWriter) => void, contentType = 1, epoch = 7n): Uint8Array {
  return mlsMessage(1, (w) => {
    w.opaqueV(GROUP).u64(epoch);
    sender(w);
    w.opaqueV(fromHex('aad0')).u8(contentType);
    w.opaqueV(utf8('application data')); // body: not parsed by peek
    w.bytes(fromHex('deadbeef')); // stand-in for auth data
  });
}

function privateMessage(contentType = 1): Uint8Array {
  return mlsMessage(2, (w) => {
    w.opaqueV(GROUP).u64(2n ** 40n).u8(contentType).opaqueV(new Uint8Array(0)).opaqueV(fromHex('5e5e')).opaqueV(new Uint8Array(100));
  });
}

function welcome(refs: Uint8Array[]): Uint8Array {
  return mlsMessage(3, (w) => {
    w.u16(1)
      .vector(refs, (x, ref) => x.opaqueV(ref).opaqueV(new Uint8Array(32).fill(1)).opaqueV(new Uint8Array(80).fill(2)))
      .opaqueV(new Uint8Array(200));
  });
}

test('PublicMessage from a member: group, epoch, sender leaf, content type', () => {
  const info = peekMlsMessage(publicMessage((w) => w.u8(1).u32(5), 3));
  assert.deepStrictEqual(info, {
    version: 1,
    wireFormat: 'public',
    groupId: GROUP,
    epoch: 7n,
    senderType: 'member',
    senderLeafIndex: 5,
    authenticatedData: fromHex('aad0'),
    contentType: 'commit',
  });
});

test('PublicMessage from external senders and new members', () => {
  const ext = peekMlsMessage(publicMessage((w) => w.u8(2).u32(1), 2));
  assert.equal(ext.senderType, 'external');
  assert.equal(ext.externalSenderIndex, 1);
  assert.equal(ext.senderLeafIndex, undefined);
  assert.equal(ext.contentType, 'proposal');
  const nmp = peekMlsMessage(publicMessage((w) => w.u8(3), 2));
  assert.equal(nmp.senderType, 'new_member_proposal');
  assert.equal(nmp.senderLeafIndex, undefined);
  const nmc = peekMlsMessage(publicMessage((w) => w.u8(4), 3));
  assert.equal(nmc.senderType, 'new_member_commit');
  assert.equal(nmc.contentType, 'commit');
  assert.deepStrictEqual(nmc.authenticatedData, fromHex('aad0'));
});

test('PrivateMessage: group, epoch and content type; sender stays hidden', () => {
  const info = peekMlsMessage(privateMessage(1));
  assert.deepStrictEqual(info, {
    version: 1,
    wireFormat: 'private',
    groupId: GROUP,
    epoch: 2n ** 40n,
    contentType: 'application',
    authenticatedData: new Uint8Array(0),
  });
});

test('Welcome: recipients are the KeyPackageRefs in order', () => {
  const refs = [new Uint8Array(32).fill(0xaa), new Uint8Array(32).fill(0xbb)];
  const bytes = welcome(refs);
  assert.deepStrictEqual(welcomeRecipients(bytes), refs);
  assert.deepStrictEqual(peekMlsMessage(bytes), { version: 1, wireFormat: 'welcome', cipherSuite: 1 });
  assert.deepStrictEqual(welcomeRecipients(welcome([])), []);
});

test('GroupInfo and KeyPackage headers', () => {
  const gi = mlsMessage(4, (w) => w.u16(1).u16(3).opaqueV(GROUP).u64(9n).bytes(new Uint8Array(50)));
  assert.deepStrictEqual(peekMlsMessage(gi), { version: 1, wireFormat: 'groupInfo', cipherSuite: 3, groupId: GROUP, epoch: 9n });
  const kp = mlsMessage(5, (w) => w.u16(1).u16(2).bytes(new Uint8Array(50)));
  assert.deepStrictEqual(peekMlsMessage(kp), { version: 1, wireFormat: 'keyPackage', cipherSuite: 2 });
});

const isWireError = (pattern?: RegExp) => (e: unknown) => e instanceof MlsWireError && (!pattern || pattern.test(e.message));

test('rejects unknown versions, wire formats, sender and content types', () => {
  assert.throws(() => peekMlsMessage(mlsMessage(2, () => {}, 2)), isWireError(/version/));
  assert.throws(() => peekMlsMessage(mlsMessage(6, () => {})), isWireError(/wire_format/));
  assert.throws(() => peekMlsMessage(mlsMessage(0, () => {})), isWireError(/wire_format/));
  assert.throws(() => peekMlsMessage(publicMessage((w) => w.u8(5))), isWireError(/sender_type/));
  assert.throws(() => peekMlsMessage(publicMessage((w) => w.u8(0))), isWireError(/sender_type/));
  assert.throws(() => peekMlsMessage(publicMessage((w) => w.u8(1).u32(0), 4)), isWireError(/content_type/));
  assert.throws(() => peekMlsMessage(privateMessage(0)), isWireError(/content_type/));
  assert.throws(() => peekMlsMessage(mlsMessage(4, (w) => w.u16(2).u16(1))), isWireError(/version/));
});

test('rejects truncation anywhere, and trailing bytes where the whole message is parsed', () => {
  for (const bytes of [privateMessage(), welcome([new Uint8Array(32).fill(7)])]) {
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => peekMlsMessage(bytes.subarray(0, cut)), isWireError(), `cut at ${cut}`);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => peekMlsMessage(longer), isWireError(/trailing/));
  }
  const pub = publicMessage((w) => w.u8(1).u32(5));
  const headerEnd = 4 + 1 + GROUP.length + 8 + 1 + 4 + 1 + 2 + 1;
  for (let cut = 0; cut < headerEnd; cut++) assert.throws(() => peekMlsMessage(pub.subarray(0, cut)), isWireError(), `cut at ${cut}`);
  assert.doesNotThrow(() => peekMlsMessage(pub.subarray(0, headerEnd)));
});

test('rejects a non-minimal group_id length and non-welcome input to welcomeRecipients', () => {
  // group_id of 3 bytes with its length written in 2 bytes (0x4003).
  const bad = fromHex('0001' + '0002' + '4003616263' + '0000000000000001' + '01' + '00' + '00' + '00');
  assert.throws(() => peekMlsMessage(bad), isWireError(/non-minimal/));
  assert.throws(() => welcomeRecipients(privateMessage()), isWireError(/expected a welcome/));
  // A Welcome whose secrets vector length cuts an entry in half.
  const broken = mlsMessage(3, (w) => w.u16(1).opaqueV(fromHex('20' + 'aa'.repeat(10))).opaqueV(new Uint8Array(0)));
  assert.throws(() => welcomeRecipients(broken), isWireError(/truncated/));
});

// ---------------------------------------------------------------------------------------------------
// Real messages from ts-mls

const impl = await getCiphersuiteImpl(getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'));
const keyPackage = (name: string) =>
  generateKeyPackage({ credentialType: 'basic', identity: utf8(name) }, defaultCapabilities(), defaultLifetime, [], impl);

function agree(bytes: Uint8Array): { info: ReturnType<typeof peekMlsMessage>; decoded: MLSMessage } {
  const decoded = decodeMlsMessage(bytes, 0);
  assert.ok(decoded, 'ts-mls decodes it');
  assert.equal(decoded[1], bytes.length, 'ts-mls consumed all bytes');
  return { info: peekMlsMessage(bytes), decoded: decoded[0] };
}

test('agrees with ts-mls on real commits, proposals, application messages, welcomes, group infos', async () => {
  const [alice, bob, carol, dave, erin] = await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin'].map(keyPackage));
  const groupId = utf8('mimi://a.example/r/real');
  let state = await createGroup(groupId, alice.publicPackage, alice.privatePackage, [], impl);

  // Key package
  const kpBytes = encodeMlsMessage({ keyPackage: bob.publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
  assert.deepStrictEqual(peekMlsMessage(kpBytes), { version: 1, wireFormat: 'keyPackage', cipherSuite: 1 });

  // Commit adding bob and carol, sent as a PublicMessage
  const commit = await createCommit(
    { state, cipherSuite: impl },
    {
      wireAsPublicMessage: true,
      extraProposals: [
        { proposalType: 'add', add: { keyPackage: bob.publicPackage } },
        { proposalType: 'add', add: { keyPackage: carol.publicPackage } },
      ],
    },
  );
  state = commit.newState;
  const c = agree(encodeMlsMessage(commit.commit));
  assert.equal(c.decoded.wireformat, 'mls_public_message');
  if (c.decoded.wireformat !== 'mls_public_message') return;
  const fc = c.decoded.publicMessage.content;
  assert.equal(c.info.wireFormat, 'public');
  assert.equal(toHex(c.info.groupId!), toHex(fc.groupId));
  assert.equal(toHex(c.info.groupId!), toHex(groupId));
  assert.equal(c.info.epoch, fc.epoch);
  assert.equal(c.info.epoch, 0n);
  assert.equal(c.info.contentType, fc.contentType);
  assert.equal(c.info.contentType, 'commit');
  assert.equal(c.info.senderType, fc.sender.senderType);
  assert.equal(c.info.senderType, 'member');
  assert.equal(c.info.senderLeafIndex, fc.sender.senderType === 'member' ? fc.sender.leafIndex : -1);
  assert.equal(c.info.senderLeafIndex, 0);

  // Welcome: recipients match ts-mls's decoding and independently computed KeyPackageRefs
  assert.ok(commit.welcome);
  const welcomeBytes = encodeMlsMessage({ welcome: commit.welcome, wireformat: 'mls_welcome', version: 'mls10' });
  const w = agree(welcomeBytes);
  assert.equal(w.decoded.wireformat, 'mls_welcome');
  if (w.decoded.wireformat !== 'mls_welcome') return;
  const recipients = welcomeRecipients(welcomeBytes).map(toHex);
  assert.deepStrictEqual(recipients, w.decoded.welcome.secrets.map((s) => toHex(s.newMember)));
  const expectedRefs = await Promise.all([bob, carol].map((k) => makeKeyPackageRef(k.publicPackage, impl.hash)));
  assert.deepStrictEqual([...recipients].sort(), expectedRefs.map(toHex).sort());
  assert.equal(w.info.cipherSuite, 1);

  // Application message (PrivateMessage) in epoch 1
  const app = await createApplicationMessage(state, utf8('hello'), impl, utf8('aad!'));
  state = app.newState;
  const a = agree(encodeMlsMessage({ privateMessage: app.privateMessage, wireformat: 'mls_private_message', version: 'mls10' }));
  assert.equal(a.decoded.wireformat, 'mls_private_message');
  if (a.decoded.wireformat !== 'mls_private_message') return;
  assert.equal(a.info.wireFormat, 'private');
  assert.equal(toHex(a.info.groupId!), toHex(a.decoded.privateMessage.groupId));
  assert.equal(a.info.epoch, a.decoded.privateMessage.epoch);
  assert.equal(a.info.epoch, 1n);
  assert.equal(a.info.contentType, 'application');
  assert.equal(a.info.senderType, undefined);
  assert.deepStrictEqual(a.info.authenticatedData, utf8('aad!'));

  // Proposal sent as a PublicMessage
  const prop = await createProposal(state, true, { proposalType: 'add', add: { keyPackage: dave.publicPackage } }, impl);
  state = prop.newState;
  const p = agree(encodeMlsMessage(prop.message));
  assert.equal(p.info.wireFormat, 'public');
  assert.equal(p.info.contentType, 'proposal');
  assert.equal(p.info.epoch, 1n);
  assert.equal(p.info.senderLeafIndex, 0);

  // GroupInfo, then an external commit and an external add proposal built from it
  const groupInfo = await createGroupInfoWithExternalPub(state, [], impl);
  const gi = agree(encodeMlsMessage({ groupInfo, wireformat: 'mls_group_info', version: 'mls10' }));
  assert.equal(gi.info.wireFormat, 'groupInfo');
  assert.equal(gi.info.epoch, groupInfo.groupContext.epoch);
  assert.equal(toHex(gi.info.groupId!), toHex(groupId));

  const ext = await joinGroupExternal(groupInfo, erin.publicPackage, erin.privatePackage, false, impl, state.ratchetTree);
  const e = agree(encodeMlsMessage({ publicMessage: ext.publicMessage, wireformat: 'mls_public_message', version: 'mls10' }));
  assert.equal(e.info.senderType, 'new_member_commit');
  assert.equal(e.info.contentType, 'commit');
  assert.equal(e.info.epoch, 1n);
  assert.equal(e.info.senderLeafIndex, undefined);

  const extAdd = await proposeAddExternal(groupInfo, dave.publicPackage, dave.privatePackage, impl);
  const ea = agree(encodeMlsMessage(extAdd));
  assert.equal(ea.info.senderType, 'new_member_proposal');
  assert.equal(ea.info.contentType, 'proposal');
});
