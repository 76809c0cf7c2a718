// Fixes ts-mls 1.6.4 in place after install (run by npm's postinstall; idempotent). Each patch
// replaces exact code, all of a file's replacements or none; if ts-mls changes, the patch refuses to
// guess: update or drop it. Without patch 1, test/unit/commit-extensions.test.ts and
// mls-engine-room-state.test.ts fail; without patch 2, pseudonymous-credential.test.ts and
// mls-engine-pseudonyms.test.ts.
//
// 1. createCommit() encrypts the UpdatePath secrets under the GroupContext *before* the Commit's
//    GroupContextExtensions proposal is applied, while processCommit() (and RFC 9420 section 12.4.2:
//    the provisional GroupContext carries the new extensions) decrypts under the one *after* it.
//    So every Commit that changes the room state and has an UpdatePath is undecryptable for the
//    other members. The patch hands createUpdatePath the updated context, as the receiving side
//    already does.
//
// 2. ts-mls decodes only the basic and x509 credential types (any other crashes the decoder), and
//    encodes any other type as `opaque data<V>` after credential_type. Our PseudonymousCredential
//    (credential type 0xF001, src-shared/pseudonymous-credential.ts) follows credential_type with no
//    length prefix of its own, like basic and x509 content. The patch teaches credential.js exactly
//    that type: the decoder delimits the struct's four `<V>` fields (client_pseudonym,
//    user_pseudonym, signature_public_key, identity_link_ciphertext) and keeps them as `data`; the
//    encoder writes `data` back unprefixed, after checking it is exactly those four fields. The
//    engine's authentication service then checks the content strictly.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'node_modules', 'ts-mls', 'dist', 'src');

const PATCHES = [
  {
    what: 'the GroupContextExtensions UpdatePath fix',
    file: 'createCommit.js',
    mark: '/* mimi: provisional GroupContext with GCE extensions */',
    replacements: [
      {
        before:
          'await createUpdatePath(res.tree, toLeafIndex(state.privatePath.leafIndex), state.groupContext, state.signaturePrivateKey, cipherSuite, excludeNodes)',
        after:
          'await createUpdatePath(res.tree, toLeafIndex(state.privatePath.leafIndex), /* mimi: provisional GroupContext with GCE extensions */ (res.additionalResult.kind === "memberCommit" && res.additionalResult.extensions.length > 0 ? { ...state.groupContext, extensions: res.additionalResult.extensions } : state.groupContext), state.signaturePrivateKey, cipherSuite, excludeNodes)',
      },
    ],
  },
  {
    what: 'the PseudonymousCredential (0xF001) codec',
    file: 'credential.js',
    mark: '/* mimi: PseudonymousCredential 0xF001 */',
    replacements: [
      {
        before: `export const credentialEncoder = (c) => {
    switch (c.credentialType) {
        case "basic":
            return credentialBasicEncoder(c);
        case "x509":
            return credentialX509Encoder(c);
        default:`,
        after: `/* mimi: PseudonymousCredential 0xF001 */
import { CodecError as MimiCodecError } from "./mlsError.js";
const MIMI_PSEUDONYMOUS = "61441";
// client_pseudonym<V>, user_pseudonym<V>, signature_public_key<V>, identity_link_ciphertext<V>
const mimiPseudonymousBody = (b, offset) => {
    let at = offset;
    for (let i = 0; i < 4; i++) {
        const field = decodeVarLenData(b, at);
        if (field === undefined)
            return undefined;
        at += field[1];
    }
    return [b.slice(offset, at), at - offset];
};
const mimiPseudonymousEncoder = (c) => {
    const data = c.data;
    const body = data instanceof Uint8Array && data.length > 0 ? mimiPseudonymousBody(data, 0) : undefined;
    if (body === undefined || body[1] !== data.length)
        throw new MimiCodecError("PseudonymousCredential content must be exactly its four fields");
    const [typeLength, writeType] = credentialTypeEncoder(c.credentialType);
    return [typeLength + data.length, (offset, buffer) => {
            writeType(offset, buffer);
            new Uint8Array(buffer).set(data, offset + typeLength);
        }];
};
const decodeMimiPseudonymous = mapDecoder(mimiPseudonymousBody, (data) => ({ credentialType: MIMI_PSEUDONYMOUS, data }));
export const credentialEncoder = (c) => {
    switch (c.credentialType) {
        case "basic":
            return credentialBasicEncoder(c);
        case "x509":
            return credentialX509Encoder(c);
        case MIMI_PSEUDONYMOUS:
            return mimiPseudonymousEncoder(c);
        default:`,
      },
      {
        before: `        case "x509":
            return decodeCredentialX509;
    }`,
        after: `        case "x509":
            return decodeCredentialX509;
        case MIMI_PSEUDONYMOUS:
            return decodeMimiPseudonymous;
    }`,
      },
    ],
  },
];

let failed = false;
for (const patch of PATCHES) {
  const file = path.join(dist, patch.file);
  if (!fs.existsSync(file)) {
    console.error(`patch-ts-mls: ${file} not found (ts-mls not installed?)`);
    process.exit(1);
  }
  let src = fs.readFileSync(file, 'utf8');
  if (src.includes(patch.mark)) continue;
  const missing = patch.replacements.filter((r) => src.split(r.before).length !== 2);
  if (missing.length > 0) {
    console.error(`patch-ts-mls: ${patch.file} does not contain the expected code (exactly once); this ts-mls version needs a new look at ${patch.what}`);
    failed = true;
    continue;
  }
  for (const r of patch.replacements) src = src.replace(r.before, r.after);
  fs.writeFileSync(file, src);
  console.log(`patch-ts-mls: applied ${patch.what} to ts-mls`);
}
if (failed) process.exit(1);
