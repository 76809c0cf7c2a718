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
//
// 3. external_senders (RFC 9420 12.1.8.1) is `ExternalSender external_senders<V>` as extension_data;
//    ts-mls reads and writes ONE bare ExternalSender there, and takes Sender.sender_index as "the
//    n-th external_senders extension" (receiving) or "the position in the whole extension list"
//    (proposeExternal). The patch adds decodeExternalSenders/encodeExternalSenders to
//    externalSender.js, reading the RFC vector and, for rooms created before this patch, the bare
//    form (no data parses both ways: a vector's length prefix spans all remaining bytes, while a
//    bare ExternalSender's first prefix, signature_key, must leave room for its Credential), and
//    makes sender_index an index into the senders of all external_senders extensions in order (one
//    extension: exactly the RFC's vector index; legacy rooms: exactly ts-mls's old meaning).
//    ts-mls writes no external_senders itself: the engine (ts-mls-engine.ts) hands it RFC form.
//    externalSender.d.ts declares the new exports for TypeScript.
//    Without it, test/unit/mls-vectors-extensions.test.ts fails.
//
// 4. external_pub (RFC 9420 12.4.3.2) is `struct { HPKEPublicKey external_pub; }` with
//    `opaque HPKEPublicKey<V>`, i.e. varint(length) || key; ts-mls writes and reads the raw key.
//    The patch writes the RFC form and reads both: the RFC form iff the data is exactly one `<V>`
//    whose content has the length of the group's HPKE keys (taken from a leaf of the ratchet tree),
//    the raw legacy key iff the whole data has that length (a raw key whose first byte happens to be
//    a valid length prefix decodes to a key one or two bytes too short, so the two cannot be
//    confused). A GroupInfo a hub stored before the patch (until the room's next commit replaces
//    it) still serves an external join. Without it, mls-vectors-extensions.test.ts fails too.
//
// 5. createWelcome finds each joiner's common ancestor with the committer by working out the
//    committer's whole filtered direct path, with the resolution of every copath node, again for
//    every joiner: O(n) per joiner, O(n^2) per Welcome (issue 13's profile of a 1,000-member add).
//    The patch works the path out once per Welcome and looks each joiner's ancestor up in it (the
//    same node: the first on the path above the joiner). The official Welcome and passive-client
//    vectors and every engine test run over it.
//
// Every patch checks ts-mls's version first and all files' expected code before writing any file,
// so a partial application cannot happen; a patched file (mark present) is left alone.

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
  {
    what: 'the external_senders<V> codec (decode both forms)',
    file: 'externalSender.js',
    mark: '/* mimi: external_senders<V> */',
    replacements: [
      {
        before: `export const decodeExternalSender = mapDecoders([decodeVarLenData, decodeCredential], (signaturePublicKey, credential) => ({ signaturePublicKey, credential }));
`,
        after: `export const decodeExternalSender = mapDecoders([decodeVarLenData, decodeCredential], (signaturePublicKey, credential) => ({ signaturePublicKey, credential }));
/* mimi: external_senders<V> */
import { decodeVarLenType as mimiDecodeVarLenType, varLenTypeEncoder as mimiVarLenTypeEncoder } from "./codec/variableLength.js";
import { CodecError as MimiSendersCodecError } from "./mlsError.js";
// RFC 9420 12.1.8.1 extension_data: ExternalSender external_senders<V>.
export const externalSendersEncoder = mimiVarLenTypeEncoder(externalSenderEncoder);
export const encodeExternalSenders = encode(externalSendersEncoder);
const mimiDecodeWhole = (decoder, data) => {
    try {
        const d = decoder(data, 0);
        return d !== undefined && d[1] === data.length ? d[0] : undefined;
    }
    catch {
        return undefined;
    }
};
const mimiDecodeSenderVector = mimiDecodeVarLenType(decodeExternalSender);
// The RFC vector, or (rooms created with unpatched ts-mls) one bare ExternalSender; undefined if neither.
export const decodeExternalSenders = (data) => {
    const list = mimiDecodeWhole(mimiDecodeSenderVector, data);
    if (list !== undefined)
        return list;
    const one = mimiDecodeWhole(decodeExternalSender, data);
    return one === undefined ? undefined : [one];
};
// The senders of every external_senders extension, in order: what Sender.sender_index indexes.
export const externalSendersOfExtensions = (extensions) => {
    const all = [];
    for (const ex of extensions) {
        if (ex.extensionType !== "external_senders")
            continue;
        const list = decodeExternalSenders(ex.extensionData);
        if (list === undefined)
            throw new MimiSendersCodecError("Could not decode external_senders");
        all.push(...list);
    }
    return all;
};
`,
      },
    ],
  },
  {
    what: 'the external_senders<V> codec types',
    file: 'externalSender.d.ts',
    mark: '/* mimi: external_senders<V> */',
    replacements: [
      {
        before: `export declare const decodeExternalSender: Decoder<ExternalSender>;`,
        after: `export declare const decodeExternalSender: Decoder<ExternalSender>;
/* mimi: external_senders<V> */
export declare const externalSendersEncoder: BufferEncoder<ExternalSender[]>;
export declare const encodeExternalSenders: Encoder<ExternalSender[]>;
/** RFC 9420 \`ExternalSender external_senders<V>\` or one bare ExternalSender (legacy); undefined if neither. */
export declare const decodeExternalSenders: (data: Uint8Array) => ExternalSender[] | undefined;
export declare const externalSendersOfExtensions: (extensions: readonly { extensionType: unknown; extensionData: Uint8Array }[]) => ExternalSender[];`,
      },
    ],
  },
  {
    what: 'external sender_index into external_senders<V> (receiving)',
    file: 'publicMessage.js',
    mark: '/* mimi: external_senders<V> index */',
    replacements: [
      {
        before: `import { decodeExternalSender } from "./externalSender.js";`,
        after: `import { decodeExternalSender, externalSendersOfExtensions } from "./externalSender.js";`,
      },
      {
        before: `export function senderFromExtension(extensions, senderIndex) {
    const externalSenderExtensions = extensions.filter((ex) => ex.extensionType === "external_senders");
    const externalSenderExtension = externalSenderExtensions[senderIndex];
    if (externalSenderExtension !== undefined) {
        const externalSender = decodeExternalSender(externalSenderExtension.extensionData, 0);
        if (externalSender === undefined)
            throw new CodecError("Could not decode ExternalSender");
        return externalSender[0];
    }
}`,
        after: `export function senderFromExtension(extensions, senderIndex) {
    /* mimi: external_senders<V> index */
    return externalSendersOfExtensions(extensions)[senderIndex];
}`,
      },
    ],
  },
  {
    what: 'external sender_index into external_senders<V> (proposeExternal)',
    file: 'externalProposal.js',
    mark: '/* mimi: external_senders<V> index */',
    replacements: [
      {
        before: `import { decodeExternalSender } from "./externalSender.js";`,
        after: `import { externalSendersOfExtensions } from "./externalSender.js";`,
      },
      {
        before: `    const externalSenderExtensionIndex = groupInfo.groupContext.extensions.findIndex((ex) => {
        if (ex.extensionType !== "external_senders")
            return false;
        const decoded = decodeExternalSender(ex.extensionData, 0);
        if (decoded === undefined)
            throw new ValidationError("Could not decode external_sender extension");
        return constantTimeEqual(decoded[0].signaturePublicKey, signaturePublicKey);
    });`,
        after: `    /* mimi: external_senders<V> index */
    const externalSenderExtensionIndex = externalSendersOfExtensions(groupInfo.groupContext.extensions).findIndex((s) => constantTimeEqual(s.signaturePublicKey, signaturePublicKey));`,
      },
    ],
  },
  {
    what: 'external_senders<V> validation',
    file: 'clientState.js',
    mark: '/* mimi: external_senders<V> validation */',
    replacements: [
      {
        before: `import { decodeExternalSender } from "./externalSender.js";`,
        after: `import { decodeExternalSenders } from "./externalSender.js";`,
      },
      {
        before: `    for (const externalSender of externalSenders) {
        const decoded = decodeExternalSender(externalSender.extensionData, 0);
        if (decoded === undefined)
            return new CodecError("Could not decode external_senders");
        const validCredential = await authService.validateCredential(decoded[0].credential, decoded[0].signaturePublicKey);
        if (!validCredential)
            return new ValidationError("Could not validate external credential");
    }`,
        after: `    /* mimi: external_senders<V> validation */
    for (const externalSender of externalSenders) {
        const decoded = decodeExternalSenders(externalSender.extensionData);
        if (decoded === undefined)
            return new CodecError("Could not decode external_senders");
        for (const sender of decoded) {
            const validCredential = await authService.validateCredential(sender.credential, sender.signaturePublicKey);
            if (!validCredential)
                return new ValidationError("Could not validate external credential");
        }
    }`,
      },
    ],
  },
  {
    what: 'the external_pub HPKEPublicKey<V> codec',
    file: 'createCommit.js',
    mark: '/* mimi: external_pub HPKEPublicKey<V> */',
    replacements: [
      {
        before: `[...extensions, { extensionType: "external_pub", extensionData: externalPub }], cs);`,
        after: `[...extensions, { extensionType: "external_pub", extensionData: mimiExternalPubData(externalPub) }], cs);`,
      },
      {
        before: `        { extensionType: "external_pub", extensionData: externalPub },
        { extensionType: "ratchet_tree", extensionData: encodedTree },`,
        after: `        { extensionType: "external_pub", extensionData: mimiExternalPubData(externalPub) },
        { extensionType: "ratchet_tree", extensionData: encodedTree },`,
      },
      {
        before: `/** @public */
export async function joinGroupExternal(`,
        after: `/* mimi: external_pub HPKEPublicKey<V> */
import { decodeVarLenData as mimiDecodeVarLenData, varLenDataEncoder as mimiVarLenDataEncoder } from "./codec/variableLength.js";
import { CodecError as MimiPubCodecError } from "./mlsError.js";
// RFC 9420 12.4.3.2: extension_data = HPKEPublicKey external_pub, opaque HPKEPublicKey<V>.
const mimiExternalPubData = (key) => encode(mimiVarLenDataEncoder)(key);
// The key in external_pub data: the RFC form, or the raw key unpatched ts-mls wrote. The group's
// HPKE public key length (any leaf's encryption_key) tells them apart.
const mimiExternalPubKey = (data, tree) => {
    const leaf = (tree ?? []).find((n) => n !== undefined && n.nodeType === "leaf");
    if (leaf === undefined)
        throw new UsageError("No RatchetTree passed and no ratchet_tree extension");
    const keyLength = leaf.leaf.hpkePublicKey.length;
    let inner;
    try {
        const d = mimiDecodeVarLenData(data, 0);
        inner = d !== undefined && d[1] === data.length ? d[0] : undefined;
    }
    catch {
        inner = undefined;
    }
    if (inner !== undefined && inner.length === keyLength)
        return inner;
    if (data.length === keyLength)
        return data;
    throw new MimiPubCodecError("external_pub is neither HPKEPublicKey<V> nor a raw key of the group's length");
};
/** @public */
export async function joinGroupExternal(`,
      },
      {
        before: `    const { enc, secret: initSecret } = await exportSecret(externalPub.extensionData, cs);`,
        after: `    const { enc, secret: initSecret } = await exportSecret(mimiExternalPubKey(externalPub.extensionData, ratchetTreeFromExtension(groupInfo) ?? tree), cs);`,
      },
    ],
  },
  {
    what: 'the Welcome\'s common ancestors from one filtered direct path',
    file: 'createCommit.js',
    mark: '/* mimi: sender filtered direct path once per Welcome */',
    replacements: [
      {
        before: `        ? await Promise.all(res.additionalResult.addedLeafNodes.map(([leafNodeIndex, keyPackage]) => {
            return createEncryptedGroupSecrets(tree, leafNodeIndex, state, pathSecrets, cs, keyPackage, encryptedGroupInfo, epochSecrets, res);
        }))`,
        after: `        ? await (async () => {
            /* mimi: sender filtered direct path once per Welcome */
            const mimiPath = filteredDirectPathAndCopathResolution(toLeafIndex(state.privatePath.leafIndex), tree).map((x) => x.nodeIndex);
            return Promise.all(res.additionalResult.addedLeafNodes.map(([leafNodeIndex, keyPackage]) => {
                return createEncryptedGroupSecrets(tree, leafNodeIndex, state, pathSecrets, cs, keyPackage, encryptedGroupInfo, epochSecrets, res, mimiPath);
            }));
        })()`,
      },
      {
        before: `async function createEncryptedGroupSecrets(tree, leafNodeIndex, state, pathSecrets, cs, keyPackage, encryptedGroupInfo, epochSecrets, res) {
    const nodeIndex = firstCommonAncestor(tree, leafNodeIndex, toLeafIndex(state.privatePath.leafIndex));`,
        after: `async function createEncryptedGroupSecrets(tree, leafNodeIndex, state, pathSecrets, cs, keyPackage, encryptedGroupInfo, epochSecrets, res, mimiPath) {
    // The first node of the sender's filtered direct path above the joiner, as firstCommonAncestor
    // finds it, without working the whole path and its resolutions out again for every joiner.
    const mimiLeafNode = leafToNodeIndex(leafNodeIndex);
    const nodeIndex = mimiPath === undefined ? firstCommonAncestor(tree, leafNodeIndex, toLeafIndex(state.privatePath.leafIndex)) : mimiPath.find((n) => mimiIsAncestor(mimiLeafNode, n, tree.length));
    if (nodeIndex === undefined)
        throw new ValidationError("Could not find common ancestor");`,
      },
      {
        before: `import { createUpdatePath, firstCommonAncestor, firstMatchAncestor } from "./updatePath.js";`,
        after: `import { createUpdatePath, firstCommonAncestor, firstMatchAncestor } from "./updatePath.js";
import { filteredDirectPathAndCopathResolution } from "./ratchetTree.js";
import { isAncestor as mimiIsAncestor } from "./treemath.js";`,
      },
    ],
  },
];

// The version this script was written against; any other needs every patch looked at again.
const EXPECTED_VERSION = '1.6.4';
const pkgFile = path.join(root, 'node_modules', 'ts-mls', 'package.json');
if (!fs.existsSync(pkgFile)) {
  console.error(`patch-ts-mls: ${pkgFile} not found (ts-mls not installed?)`);
  process.exit(1);
}
const version = JSON.parse(fs.readFileSync(pkgFile, 'utf8')).version;
if (version !== EXPECTED_VERSION) {
  console.error(`patch-ts-mls: ts-mls ${version} installed, these patches are for ${EXPECTED_VERSION}; not patching (update or drop scripts/patch-ts-mls.mjs)`);
  process.exit(1);
}

// Apply in memory first; write only if every pending patch found its code, so a ts-mls that
// changed under one patch is left entirely unpatched rather than half-patched.
const contents = new Map();
const applied = [];
let failed = false;
for (const patch of PATCHES) {
  const file = path.join(dist, patch.file);
  if (!contents.has(file)) {
    if (!fs.existsSync(file)) {
      console.error(`patch-ts-mls: ${file} not found (ts-mls not installed?)`);
      process.exit(1);
    }
    contents.set(file, { original: fs.readFileSync(file, 'utf8') });
  }
  const entry = contents.get(file);
  let src = entry.patched ?? entry.original;
  if (src.includes(patch.mark)) continue;
  const missing = patch.replacements.filter((r) => src.split(r.before).length !== 2);
  if (missing.length > 0) {
    console.error(`patch-ts-mls: ${patch.file} does not contain the expected code (exactly once); this ts-mls version needs a new look at ${patch.what}`);
    failed = true;
    continue;
  }
  for (const r of patch.replacements) src = src.replace(r.before, () => r.after);
  entry.patched = src;
  applied.push(patch.what);
}
if (failed) process.exit(1);
for (const [file, entry] of contents) if (entry.patched !== undefined) fs.writeFileSync(file, entry.patched);
for (const what of applied) console.log(`patch-ts-mls: applied ${what} to ts-mls`);
