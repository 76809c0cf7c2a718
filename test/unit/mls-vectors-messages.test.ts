// The official RFC 9420 messages.json vectors (../shared/vectors/mls): every structure is decoded
// and re-encoded byte for byte, by the patched ts-mls (what the engine uses) and by the provider's
// own parsers (src-shared/mls-structs.ts, mls-wire.ts) where they handle the structure. The
// vectors are cipher-suite independent (random field contents), so every entry runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMlsMessage, encodeMlsMessage } from 'ts-mls';
import { decodeRatchetTree as tsDecodeTree, encodeRatchetTree as tsEncodeTree } from 'ts-mls/ratchetTree.js';
import { decodeGroupSecrets, encodeGroupSecrets } from 'ts-mls/groupSecrets.js';
import {
  decodeAdd,
  decodeExternalInit,
  decodeGroupContextExtensions,
  decodePSK,
  decodeReinit,
  decodeRemove,
  decodeUpdate,
  encodeAdd,
  encodeExternalInit,
  encodeGroupContextExtensions,
  encodePSK,
  encodeReinit,
  encodeRemove,
  encodeUpdate,
} from 'ts-mls/proposal.js';
import { decodeCommit, encodeCommit } from 'ts-mls/commit.js';
import {
  checkMlsMessage,
  decodeGroupInfo,
  decodeKeyPackage,
  decodePublicMessage,
  decodeRatchetTree,
  decodeWelcome,
  encodeGroupInfo,
  encodeKeyPackage,
  encodeRatchetTree,
  encodeWelcome,
  unwrapMlsMessage,
  wrapMlsMessage,
} from '../../src-shared/mls-structs.js';
import { peekMlsMessage, welcomeRecipients } from '../../src-shared/mls-wire.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mls');

type Messages = Record<
  | 'mls_welcome'
  | 'mls_group_info'
  | 'mls_key_package'
  | 'ratchet_tree'
  | 'group_secrets'
  | 'add_proposal'
  | 'update_proposal'
  | 'remove_proposal'
  | 'pre_shared_key_proposal'
  | 're_init_proposal'
  | 'external_init_proposal'
  | 'group_context_extensions_proposal'
  | 'commit'
  | 'public_message_application'
  | 'public_message_proposal'
  | 'public_message_commit'
  | 'private_message',
  string
>;
const vectors = JSON.parse(readFileSync(path.join(VECTORS, 'messages.json'), 'utf8')) as Messages[];

type Decoder<T> = (b: Uint8Array, offset: number) => [T, number] | undefined;
/** ts-mls: decode the whole input, re-encode, compare. */
function tsRoundTrip<T>(what: string, hex: string, decode: Decoder<T>, encode: (v: T) => Uint8Array): void {
  const bytes = fromHex(hex);
  const d = decode(bytes, 0);
  assert.ok(d !== undefined, `ts-mls decodes ${what}`);
  assert.equal(d[1], bytes.length, `ts-mls consumes all of ${what}`);
  assert.equal(toHex(encode(d[0])), hex, `ts-mls re-encodes ${what} byte for byte`);
}

test(`messages.json: ${vectors.length} entries, every structure round-trips through the patched ts-mls`, () => {
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    for (const k of ['mls_welcome', 'mls_group_info', 'mls_key_package', 'public_message_application', 'public_message_proposal', 'public_message_commit', 'private_message'] as const) {
      tsRoundTrip(k, v[k], decodeMlsMessage, encodeMlsMessage);
    }
    tsRoundTrip('ratchet_tree', v.ratchet_tree, tsDecodeTree, tsEncodeTree);
    tsRoundTrip('group_secrets', v.group_secrets, decodeGroupSecrets, encodeGroupSecrets);
    tsRoundTrip('add_proposal', v.add_proposal, decodeAdd, encodeAdd);
    tsRoundTrip('update_proposal', v.update_proposal, decodeUpdate, encodeUpdate);
    tsRoundTrip('remove_proposal', v.remove_proposal, decodeRemove, encodeRemove);
    tsRoundTrip('pre_shared_key_proposal', v.pre_shared_key_proposal, decodePSK, encodePSK);
    tsRoundTrip('re_init_proposal', v.re_init_proposal, decodeReinit, encodeReinit);
    tsRoundTrip('external_init_proposal', v.external_init_proposal, decodeExternalInit, encodeExternalInit);
    tsRoundTrip('group_context_extensions_proposal', v.group_context_extensions_proposal, decodeGroupContextExtensions, encodeGroupContextExtensions);
    tsRoundTrip('commit', v.commit, decodeCommit, encodeCommit);
  }
});

test('messages.json: the provider parsers (mls-structs, mls-wire) decode and re-encode what they handle', () => {
  for (const v of vectors) {
    // Welcome, GroupInfo, KeyPackage: unwrap the MLSMessage, decode, encode from the fields, wrap.
    const cases = [
      ['mls_welcome', 'welcome', decodeWelcome, encodeWelcome],
      ['mls_group_info', 'groupInfo', decodeGroupInfo, encodeGroupInfo],
      ['mls_key_package', 'keyPackage', decodeKeyPackage, encodeKeyPackage],
    ] as const;
    for (const [k, wf, decode, encode] of cases) {
      const bytes = fromHex(v[k]);
      const { wireFormat, body } = unwrapMlsMessage(bytes);
      assert.equal(wireFormat, wf);
      const parsed = decode(body);
      assert.equal(toHex(parsed.raw), toHex(body), `${k}: raw is the input`);
      assert.equal(toHex((encode as (x: typeof parsed) => Uint8Array)(parsed)), toHex(body), `${k}: re-encoded from the fields`);
      assert.equal(toHex(wrapMlsMessage(wf, body)), v[k]);
      assert.equal(peekMlsMessage(bytes).wireFormat, wf);
    }
    assert.equal(welcomeRecipients(fromHex(v.mls_welcome)).length, decodeWelcome(unwrapMlsMessage(fromHex(v.mls_welcome)).body).secrets.length);

    const tree = decodeRatchetTree(fromHex(v.ratchet_tree));
    assert.equal(toHex(encodeRatchetTree(tree)), v.ratchet_tree, 'ratchet_tree re-encoded from the fields');

    // PublicMessages: fully parsed (the hub reads them); the parse covers the input exactly.
    for (const k of ['public_message_application', 'public_message_proposal', 'public_message_commit'] as const) {
      const pm = decodePublicMessage(fromHex(v[k]));
      assert.equal(toHex(checkMlsMessage(fromHex(v[k]))), v[k]);
      const info = peekMlsMessage(fromHex(v[k]));
      assert.equal(info.wireFormat, 'public');
      assert.equal(info.contentType, k.slice('public_message_'.length));
      assert.equal(toHex(pm.content.groupId), toHex(info.groupId!));
    }
    // PrivateMessage: framed (delimited) and its header peeked; its content is encrypted.
    assert.equal(toHex(checkMlsMessage(fromHex(v.private_message))), v.private_message);
    assert.equal(peekMlsMessage(fromHex(v.private_message)).wireFormat, 'private');
  }
});
