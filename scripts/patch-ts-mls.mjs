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
//    same node: the first on the path above the joiner, found with the joiner's direct path worked
//    out once, as a set). The official Welcome and passive-client vectors and every engine test run
//    over it.
//
// Patches 6-13 (issue 13) only make ts-mls faster or let the event loop in; what it computes is
// unchanged (test/unit/mls-ts-mls-speed-patches.test.ts, the RFC vectors, the engine tests). The
// baseline of `npm run bench` is ts-mls as published (the copy kept below, before patching);
// its second baseline, our engine on ts-mls's WebCrypto provider, runs on the patched ts-mls, so
// that ratio shows the crypto provider alone.
//
// 6. Encodings kept. A 1,000-member Add commit (300 KB) was encoded four times by the committer
//    (FramedContentTBS for the signature, the confirmed transcript hash input, the membership tag's
//    AuthenticatedContentTBM, the message) and three times by every receiver, and every KeyPackage
//    and LeafNode again for its signature check, its KeyPackageRef and the tree hash: walks of
//    closures per field, and much of the garbage collection of a big commit. Now FramedContent,
//    KeyPackage (and KeyPackageTBS) and LeafNode (and a key_package LeafNode's LeafNodeTBS) keep their
//    encoding in a WeakMap by object: the committer's content is encoded once when signed, a decoded
//    value keeps the bytes it was decoded from, and each later encode copies them. ts-mls never
//    mutates these values (it builds new ones). A decoded value keeps its bytes only if they are the
//    canonical encoding (ts-mls accepts non-minimal lengths and optional presence octets other than
//    0/1: the decoders now count those, and a span that had one is re-encoded as before).
//    Profile (1,000-member add + process, CPU): FramedContent encodes 4+3 -> 1+0, KeyPackage/LeafNode
//    encodes become copies; the commit's CPU time fell by about a quarter on both sides.
//
// 7. processPrivateMessage reports the sender's leaf index (senderLeafIndex) for application
//    messages and commits. The adapter decrypted the sender data a second time (two HKDF expands and
//    an AES-GCM open per message) only to learn it.
//
// 8. enumNumberToKey rebuilt the enum's reverse map (an O(k^2) reduce with spreads) twice for every
//    decoded enum value: every content type, proposal type, credential type, extension type... The map
//    is built once per enum (the enums are constant tables). ~10% of decoding a big commit.
//
// 9. validateProposals compared every added KeyPackage with every other one, and with every leaf
//    of the tree (O(n^2), a million calls for a 1,000-member add, in one synchronous stretch). If the
//    KeyPackageEqualityConfig also gives keys (mimiKeyPackageKey, mimiLeafNodeKey: equal exactly when
//    the comparisons say equal; key-package-equality.ts), both checks are set lookups, O(n). Without
//    them, the comparisons run as before.
//
// 10. A commit's proposals decoded ahead. Decoding a 1,000-member Add commit is one synchronous call
//    (30 ms and more): the longest stall left on the receiving side. decodeProposalOrRef now first
//    looks for a result lent by the caller (by ArrayBuffer and absolute offset, and only if it fits
//    the view being decoded); src-main/mls/decode-ahead.ts decodes the ProposalOrRefs in slices with
//    yield points, lends them for the one synchronous decode call, and takes them back.
//
// 11. A cooperative hook (mimiCooperation in codec/tlsEncoder.js, set by src-main/mls/cooperative.ts)
//    and a commit's proposals applied in O(n). applyProposals built its lists with reduces that
//    copied the list (and the grouping object) per proposal, and added the leaves with addLeafNode
//    one by one, each copying and searching the whole tree: O(n^2), and the chained reduce ran those
//    thousand additions back to back in one stretch after the last KeyPackage check. Now the lists
//    are pushed, the KeyPackages are still checked side by side but started in slices with a yield
//    point between them (the error reported is the one the chain reported: the last failing Add's),
//    and the leaves go into one copy of the tree in one
//    pass, exactly where addLeafNode put them (leftmost blank leaf, unmerged_leaves on the non-blank
//    parents of its direct path, or the tree extended as extendTree does), with a yield point every
//    32 leaves.
//
// 12. The secret tree derived lazily (RFC 9420 section 9). ts-mls derived an epoch's whole secret
//    tree when the epoch began: both children of every node and two ratchet roots for every node,
//    parents included, about six HMACs per member (6,000 at 1,000 members) for every commit made,
//    processed or joined, and every kept epoch's tree (~140 KB at 1,000 members) in the saved state.
//    Now a tree starts as the encryption secret at its root; a leaf's ratchets are derived from its
//    nearest unexpanded ancestor when the leaf first sends or is first received from, and each tree
//    secret is deleted once expanded, as section 9 asks. Same values (the secret-tree vectors are
//    run through it in test/unit/mls-vectors-crypto.test.ts); states saved before decode unchanged
//    (node tags 0x00/0x01 cannot be the first byte of ts-mls's node encoding).
//
// 13. KDFLabel written directly (crypto/kdf.js): expandWithLabel built its KDFLabel through the
//    codec's closures and encoded the label text on every call; a message pair runs a dozen of
//    them. Same bytes (test/unit/mls-ts-mls-speed-patches.test.ts compares with ts-mls's encoder).
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
    // (The joiner's direct path is worked out once, as a set: isAncestor worked it out again for
    // every node of the sender's path, ~11 times per joiner, all before the first seal.)
    const nodeIndex = mimiPath === undefined
        ? firstCommonAncestor(tree, leafNodeIndex, toLeafIndex(state.privatePath.leafIndex))
        : (() => {
            const above = new Set(mimiDirectPath(mimiLeafNode, mimiLeafWidth(tree.length)));
            return mimiPath.find((n) => above.has(n));
        })();
    if (nodeIndex === undefined)
        throw new ValidationError("Could not find common ancestor");`,
      },
      {
        before: `import { createUpdatePath, firstCommonAncestor, firstMatchAncestor } from "./updatePath.js";`,
        after: `import { createUpdatePath, firstCommonAncestor, firstMatchAncestor } from "./updatePath.js";
import { filteredDirectPathAndCopathResolution } from "./ratchetTree.js";
import { directPath as mimiDirectPath, leafWidth as mimiLeafWidth } from "./treemath.js";`,
      },
    ],
  },
  // 6. Encodings kept (issue 13): see the header comment.
  {
    what: 'kept encodings (codec helpers)',
    file: 'codec/tlsEncoder.js',
    mark: '/* mimi: encodings kept */',
    replacements: [
      {
        before: `export const encVoid = [0, () => { }];`,
        after: `export const encVoid = [0, () => { }];
/* mimi: encodings kept */
// Values ts-mls never mutates (FramedContent, KeyPackage, LeafNode) keep their encoding by object,
// so encoding one again (a commit's content for its signature, membership tag, transcript hash and
// the message; a KeyPackage for its signature and reference; a LeafNode for the tree hash) copies
// bytes instead of walking the structure. Decoded values keep the span they were decoded from, but
// only if it is the canonical encoding: every decoder that could accept a second spelling of the
// same value (a non-minimal length, an optional's presence octet other than 0 or 1) counts it here.
export const mimiCanonical = { nonCanonical: 0 };
export function mimiKeepEncoding(enc) {
    const kept = new WeakMap();
    const keeping = (value) => {
        const bytes = value !== null && typeof value === "object" ? kept.get(value) : undefined;
        if (bytes === undefined)
            return enc(value);
        return [bytes.length, (offset, buffer) => { new Uint8Array(buffer, offset, bytes.length).set(bytes); }];
    };
    keeping.mimiKept = kept;
    return keeping;
}
export function mimiKeepDecoded(dec, keep) {
    return (b, offset) => {
        const before = mimiCanonical.nonCanonical;
        const r = dec(b, offset);
        if (r !== undefined && mimiCanonical.nonCanonical === before)
            keep(r[0], b, offset, r[1]);
        return r;
    };
}`,
      },
    ],
  },
  {
    what: 'kept encodings (non-canonical lengths counted)',
    file: 'codec/variableLength.js',
    mark: '/* mimi: non-canonical lengths counted */',
    replacements: [
      {
        before: `import { contramapBufferEncoder, contramapBufferEncoders } from "./tlsEncoder.js";`,
        after: `import { contramapBufferEncoder, contramapBufferEncoders, mimiCanonical } from "./tlsEncoder.js";
/* mimi: non-canonical lengths counted */`,
      },
      {
        before: `        return { length: ((firstByte & 0b00111111) << 8) | data[offset + 1], lengthFieldSize: 2 };`,
        after: `        const length = ((firstByte & 0b00111111) << 8) | data[offset + 1];
        if (length < 64)
            mimiCanonical.nonCanonical++;
        return { length, lengthFieldSize: 2 };`,
      },
      {
        before: `        return {
            length: ((firstByte & 0b00111111) << 24) |
                (data[offset + 1] << 16) |
                (data[offset + 2] << 8) |
                data[offset + 3],
            lengthFieldSize: 4,
        };`,
        after: `        const length = ((firstByte & 0b00111111) << 24) |
            (data[offset + 1] << 16) |
            (data[offset + 2] << 8) |
            data[offset + 3];
        if (length < 16384)
            mimiCanonical.nonCanonical++;
        return { length, lengthFieldSize: 4 };`,
      },
    ],
  },
  {
    what: 'kept encodings (optional presence octet counted)',
    file: 'codec/optional.js',
    mark: '/* mimi: non-canonical presence counted */',
    replacements: [
      {
        before: `import { decodeUint8 } from "./number.js";`,
        after: `import { decodeUint8 } from "./number.js";
import { mimiCanonical } from "./tlsEncoder.js";
/* mimi: non-canonical presence counted */`,
      },
      {
        before: `        else {
            return [undefined, 1];
        }`,
        after: `        else {
            if (presenceOctet !== 0)
                mimiCanonical.nonCanonical++;
            return [undefined, 1];
        }`,
      },
    ],
  },
  {
    what: 'kept encodings (FramedContent)',
    file: 'framedContent.js',
    mark: '/* mimi: FramedContent encoding kept */',
    replacements: [
      {
        before: `export const framedContentEncoder = contramapBufferEncoders(`,
        after: `/* mimi: FramedContent encoding kept */
import { mimiKeepEncoding, mimiKeepDecoded } from "./codec/tlsEncoder.js";
export const framedContentEncoder = mimiKeepEncoding(contramapBufferEncoders(`,
      },
      {
        before: `(fc) => [fc.groupId, fc.epoch, fc.sender, fc.authenticatedData, fc]);
export const encodeFramedContent`,
        after: `(fc) => [fc.groupId, fc.epoch, fc.sender, fc.authenticatedData, fc]));
export const encodeFramedContent`,
      },
      {
        before: `export const decodeFramedContent = mapDecoders(`,
        after: `export const decodeFramedContent = mimiKeepDecoded(mapDecoders(`,
      },
      {
        before: `    authenticatedData,
    ...info,
}));`,
        after: `    authenticatedData,
    ...info,
})), (content, b, offset, length) => framedContentEncoder.mimiKept.set(content, b.subarray(offset, offset + length)));`,
      },
      {
        before: `        senderType: "member",
        context: groupContext,
    };
    const signature = await signFramedContentTBS(signKey, tbs, s);
    return { framedContent: tbs.content, signature };`,
        after: `        senderType: "member",
        context: groupContext,
    };
    // Encoded once here; the signature, transcript hash, membership tag and message copy it.
    framedContentEncoder.mimiKept.set(tbs.content, encode(framedContentEncoder)(tbs.content));
    const signature = await signFramedContentTBS(signKey, tbs, s);
    return { framedContent: tbs.content, signature };`,
      },
    ],
  },
  {
    what: 'kept encodings (KeyPackage)',
    file: 'keyPackage.js',
    mark: '/* mimi: KeyPackage encoding kept */',
    replacements: [
      {
        before: `export const keyPackageTBSEncoder = contramapBufferEncoders(`,
        after: `/* mimi: KeyPackage encoding kept */
import { mimiKeepEncoding, mimiKeepDecoded } from "./codec/tlsEncoder.js";
export const keyPackageTBSEncoder = mimiKeepEncoding(contramapBufferEncoders(`,
      },
      {
        before: `    keyPackageTBS.extensions,
]);`,
        after: `    keyPackageTBS.extensions,
]));`,
      },
      {
        before: `export const keyPackageEncoder = contramapBufferEncoders([keyPackageTBSEncoder, varLenDataEncoder], (keyPackage) => [keyPackage, keyPackage.signature]);`,
        after: `export const keyPackageEncoder = mimiKeepEncoding(contramapBufferEncoders([keyPackageTBSEncoder, varLenDataEncoder], (keyPackage) => [keyPackage, keyPackage.signature]));`,
      },
      {
        before: `export const decodeKeyPackage = mapDecoders([decodeKeyPackageTBS, decodeVarLenData], (keyPackageTBS, signature) => ({
    ...keyPackageTBS,
    signature,
}));`,
        after: `// The KeyPackageTBS is the KeyPackage's encoding without its trailing signature<V>.
export const decodeKeyPackage = mimiKeepDecoded(mapDecoders([decodeKeyPackageTBS, decodeVarLenData], (keyPackageTBS, signature) => ({
    ...keyPackageTBS,
    signature,
})), (kp, b, offset, length) => {
    keyPackageEncoder.mimiKept.set(kp, b.subarray(offset, offset + length));
    keyPackageTBSEncoder.mimiKept.set(kp, b.subarray(offset, offset + length - varLenDataEncoder(kp.signature)[0]));
});`,
      },
    ],
  },
  {
    what: 'kept encodings (LeafNode)',
    file: 'leafNode.js',
    mark: '/* mimi: LeafNode encoding kept */',
    replacements: [
      {
        before: `export const leafNodeTBSEncoder = contramapBufferEncoders([leafNodeDataEncoder, leafNodeInfoEncoder], (tbs) => [tbs, tbs]);`,
        after: `/* mimi: LeafNode encoding kept */
import { mimiKeepEncoding, mimiKeepDecoded } from "./codec/tlsEncoder.js";
export const leafNodeTBSEncoder = mimiKeepEncoding(contramapBufferEncoders([leafNodeDataEncoder, leafNodeInfoEncoder], (tbs) => [tbs, tbs]));`,
      },
      {
        before: `export const leafNodeEncoder = contramapBufferEncoders([leafNodeDataEncoder, leafNodeInfoOmittedEncoder, varLenDataEncoder], (leafNode) => [leafNode, leafNode, leafNode.signature]);`,
        after: `export const leafNodeEncoder = mimiKeepEncoding(contramapBufferEncoders([leafNodeDataEncoder, leafNodeInfoOmittedEncoder, varLenDataEncoder], (leafNode) => [leafNode, leafNode, leafNode.signature]));`,
      },
      {
        before: `export const decodeLeafNode = mapDecoders([decodeLeafNodeData, decodeLeafNodeInfoOmitted, decodeVarLenData], (data, info, signature) => ({
    ...data,
    ...info,
    signature,
}));`,
        after: `// A key_package LeafNode's LeafNodeTBS is its encoding without the trailing signature<V> (the
// other sources add group_id and leaf_index, and are signed as a new object: not kept).
export const decodeLeafNode = mimiKeepDecoded(mapDecoders([decodeLeafNodeData, decodeLeafNodeInfoOmitted, decodeVarLenData], (data, info, signature) => ({
    ...data,
    ...info,
    signature,
})), (leaf, b, offset, length) => {
    leafNodeEncoder.mimiKept.set(leaf, b.subarray(offset, offset + length));
    if (leaf.leafNodeSource === "key_package")
        leafNodeTBSEncoder.mimiKept.set(leaf, b.subarray(offset, offset + length - varLenDataEncoder(leaf.signature)[0]));
});`,
      },
    ],
  },
  // 7. The sender of a PrivateMessage reported (issue 13): see the header comment.
  {
    what: 'the PrivateMessage sender reported',
    file: 'processMessages.js',
    mark: '/* mimi: PrivateMessage sender reported */',
    replacements: [
      {
        before: `                return {
                    kind: "applicationMessage",
                    message: result.content.content.applicationData,
                    newState,
                    consumed: result.consumed,
                };`,
        after: `                return {
                    kind: "applicationMessage",
                    message: result.content.content.applicationData,
                    newState,
                    consumed: result.consumed,
                    /* mimi: PrivateMessage sender reported */
                    senderLeafIndex: result.content.content.sender.leafIndex,
                };`,
      },
      {
        before: `        return {
            kind: "applicationMessage",
            message: result.content.content.applicationData,
            newState: updatedState,
            consumed: result.consumed,
        };`,
        after: `        return {
            kind: "applicationMessage",
            message: result.content.content.applicationData,
            newState: updatedState,
            consumed: result.consumed,
            senderLeafIndex: result.content.content.sender.leafIndex,
        };`,
      },
      {
        before: `        return {
            kind: "newState",
            newState,
            actionTaken,
            consumed: [...result.consumed, ...consumed],
        };`,
        after: `        return {
            kind: "newState",
            newState,
            actionTaken,
            consumed: [...result.consumed, ...consumed],
            senderLeafIndex: result.content.content.sender.leafIndex,
        };`,
      },
    ],
  },
  {
    what: 'the PrivateMessage sender reported (types)',
    file: 'processMessages.d.ts',
    mark: '/* mimi: PrivateMessage sender reported */',
    replacements: [
      {
        before: `export type ProcessMessageResult = {
    kind: "newState";
    newState: ClientState;
    actionTaken: IncomingMessageAction;
    consumed: Uint8Array[];
} | {
    kind: "applicationMessage";
    message: Uint8Array;
    newState: ClientState;
    consumed: Uint8Array[];
};`,
        after: `export type ProcessMessageResult = {
    kind: "newState";
    newState: ClientState;
    actionTaken: IncomingMessageAction;
    consumed: Uint8Array[];
    /* mimi: PrivateMessage sender reported */
    /** processPrivateMessage: the leaf index of the authenticated sender (set for commits and application messages). */
    senderLeafIndex?: number;
} | {
    kind: "applicationMessage";
    message: Uint8Array;
    newState: ClientState;
    consumed: Uint8Array[];
    /** processPrivateMessage: the leaf index of the authenticated sender. */
    senderLeafIndex?: number;
};`,
      },
    ],
  },
  // 8. Enum decoding without rebuilding the reverse map per value (issue 13): see the header comment.
  {
    what: 'the enum reverse maps built once',
    file: 'util/enumHelpers.js',
    mark: '/* mimi: enum reverse map built once */',
    replacements: [
      {
        before: `export function enumNumberToKey(t) {
    return (n) => (Object.values(t).includes(n) ? reverseMap(t)[n] : undefined);
}`,
        after: `export function enumNumberToKey(t) {
    /* mimi: enum reverse map built once */
    // The enums are constant tables: build the lookup once, not twice per decoded value.
    const values = new Set(Object.values(t));
    const reversed = reverseMap(t);
    return (n) => (values.has(n) ? reversed[n] : undefined);
}`,
      },
      {
        before: `export function openEnumNumberToKey(rec) {
    return (n) => {
        const decoded = enumNumberToKey(rec)(n);`,
        after: `export function openEnumNumberToKey(rec) {
    const toKey = enumNumberToKey(rec);
    return (n) => {
        const decoded = toKey(n);`,
      },
    ],
  },
  // 9. Duplicate and existing-member checks of Adds by key, O(n) (issue 13): see the header comment.
  {
    what: 'the Add duplicate checks by key',
    file: 'clientState.js',
    mark: '/* mimi: Add checks by key */',
    replacements: [
      {
        before: `    const multipleAddsContainSameKeypackage = p.add.some(({ proposal: a }, indexA) => p.add.some(({ proposal: b }, indexB) => config.compareKeyPackages(a.add.keyPackage, b.add.keyPackage) && indexA !== indexB));`,
        after: `    /* mimi: Add checks by key */
    // With keys that decide exactly what compareKeyPackages / compareKeyPackageToLeafNode decide,
    // both checks are set lookups instead of a comparison of every pair.
    const mimiByKey = typeof config.mimiKeyPackageKey === "function" && typeof config.mimiLeafNodeKey === "function";
    const multipleAddsContainSameKeypackage = mimiByKey
        ? (() => {
            const seen = new Set();
            for (const { proposal } of p.add) {
                const key = config.mimiKeyPackageKey(proposal.add.keyPackage);
                if (seen.has(key))
                    return true;
                seen.add(key);
            }
            return false;
        })()
        : p.add.some(({ proposal: a }, indexA) => p.add.some(({ proposal: b }, indexB) => config.compareKeyPackages(a.add.keyPackage, b.add.keyPackage) && indexA !== indexB));`,
      },
      {
        before: `    const addsContainExistingKeypackage = p.add.some(({ proposal }) => tree.some((node, nodeIndex) => node !== undefined &&`,
        after: `    const addsContainExistingKeypackage = mimiByKey
        ? (() => {
            if (p.add.length === 0)
                return false;
            const removed = new Set(p.remove.map((r) => r.proposal.remove.removed));
            const members = new Set();
            tree.forEach((node, nodeIndex) => {
                if (node !== undefined && node.nodeType === "leaf" && !removed.has(nodeToLeafIndex(toNodeIndex(nodeIndex))))
                    members.add(config.mimiLeafNodeKey(node.leaf));
            });
            return p.add.some(({ proposal }) => members.has(config.mimiKeyPackageKey(proposal.add.keyPackage)));
        })()
        : p.add.some(({ proposal }) => tree.some((node, nodeIndex) => node !== undefined &&`,
      },
    ],
  },
  {
    what: 'the Add duplicate checks by key (types)',
    file: 'keyPackageEqualityConfig.d.ts',
    mark: '/* mimi: Add checks by key */',
    replacements: [
      {
        before: `    compareKeyPackageToLeafNode(a: KeyPackage, b: LeafNode): boolean;
}`,
        after: `    compareKeyPackageToLeafNode(a: KeyPackage, b: LeafNode): boolean;
    /* mimi: Add checks by key */
    /** Optional, with mimiLeafNodeKey: equal keys exactly when compareKeyPackages (and compareKeyPackageToLeafNode) say equal. */
    mimiKeyPackageKey?(a: KeyPackage): string;
    mimiLeafNodeKey?(b: LeafNode): string;
}`,
      },
    ],
  },
  // 10. A commit's proposals decoded ahead, in slices (issue 13): see the header comment.
  {
    what: 'the proposals decoded ahead',
    file: 'proposalOrRefType.js',
    mark: '/* mimi: proposals decoded ahead */',
    replacements: [
      {
        before: `export const decodeProposalOrRef = flatMapDecoder(decodeProposalOrRefType, (proposalOrRefType) => {
    switch (proposalOrRefType) {
        case "proposal":
            return mapDecoder(decodeProposal, (proposal) => ({ proposalOrRefType, proposal }));
        case "reference":
            return mapDecoder(decodeVarLenData, (reference) => ({ proposalOrRefType, reference }));
    }
});`,
        after: `const mimiDecodeProposalOrRef = flatMapDecoder(decodeProposalOrRefType, (proposalOrRefType) => {
    switch (proposalOrRefType) {
        case "proposal":
            return mapDecoder(decodeProposal, (proposal) => ({ proposalOrRefType, proposal }));
        case "reference":
            return mapDecoder(decodeVarLenData, (reference) => ({ proposalOrRefType, reference }));
    }
});
/* mimi: proposals decoded ahead */
// A caller that decoded a message's ProposalOrRefs ahead (in slices, giving the event loop back
// between them) lends the results here, by ArrayBuffer and absolute byte offset; the one-piece
// decoder then takes each from there instead of decoding it again. The caller takes them back.
export const mimiDecodedAhead = new WeakMap();
export const decodeProposalOrRef = (b, offset) => {
    const ahead = mimiDecodedAhead.get(b.buffer);
    const hit = ahead === undefined ? undefined : ahead.get(b.byteOffset + offset);
    // Only what fits the view being decoded (decoders read just the bytes they consume).
    return hit !== undefined && offset + hit[1] <= b.length ? hit : mimiDecodeProposalOrRef(b, offset);
};`,
      },
    ],
  },
  {
    what: 'the proposals decoded ahead (types)',
    file: 'proposalOrRefType.d.ts',
    mark: '/* mimi: proposals decoded ahead */',
    replacements: [
      {
        before: `export declare const decodeProposalOrRef: Decoder<ProposalOrRef>;`,
        after: `export declare const decodeProposalOrRef: Decoder<ProposalOrRef>;
/* mimi: proposals decoded ahead */
/** ArrayBuffer -> (absolute byte offset -> the decodeProposalOrRef result there), filled and emptied by the caller. */
export declare const mimiDecodedAhead: WeakMap<ArrayBufferLike, Map<number, [ProposalOrRef, number]>>;`,
      },
    ],
  },
  // 11. A cooperative hook, and a commit's proposals applied in O(n) (issue 13): see the header comment.
  {
    what: 'the cooperative hook',
    file: 'codec/tlsEncoder.js',
    mark: '/* mimi: cooperative hook */',
    replacements: [
      {
        before: `export function composeBufferEncoders(encoders) {`,
        after: `/* mimi: cooperative hook */
// Set by the application (src-main/mls/cooperative.ts): returns undefined when ts-mls may go on, or a
// promise to await first (the event loop gets a turn). Called inside long loops only.
export const mimiCooperation = { hook: undefined };
export function mimiCooperate() {
    const hook = mimiCooperation.hook;
    return hook === undefined ? undefined : hook();
}
export function composeBufferEncoders(encoders) {`,
      },
    ],
  },
  {
    what: 'the cooperative hook (types)',
    file: 'codec/tlsEncoder.d.ts',
    mark: '/* mimi: cooperative hook */',
    replacements: [
      {
        before: `export declare function composeBufferEncoders`,
        after: `/* mimi: cooperative hook */
/** Set by the application: undefined to go on, or a promise to await first (a turn of the event loop). */
export declare const mimiCooperation: {
    hook: (() => Promise<void> | undefined) | undefined;
};
export declare function mimiCooperate(): Promise<void> | undefined;
export declare function composeBufferEncoders`,
      },
    ],
  },
  {
    what: 'a commit\'s proposals applied in O(n)',
    file: 'clientState.js',
    mark: '/* mimi: Adds applied in one pass */',
    replacements: [
      {
        before: `    const allProposals = proposals.reduce((acc, cur) => {
        if (cur.proposalOrRefType === "proposal")
            return [...acc, { proposal: cur.proposal, senderLeafIndex: committerLeafIndex }];
        const p = state.unappliedProposals[bytesToBase64(cur.reference)];
        if (p === undefined)
            throw new ValidationError("Could not find proposal with supplied reference");
        return [...acc, p];
    }, []);
    const grouped = allProposals.reduce((acc, cur) => {
        //this skips any custom proposals
        if (typeof cur.proposal.proposalType === "number")
            return acc;
        const proposal = acc[cur.proposal.proposalType] ?? [];
        return { ...acc, [cur.proposal.proposalType]: [...proposal, cur] };
    }, emptyProposals);`,
        after: `    /* mimi: Adds applied in one pass */
    // The same lists as ts-mls's reduces, which copied the whole list (and the grouping object) for
    // every proposal: O(n^2) for a 1,000-member add.
    const allProposals = [];
    for (const cur of proposals) {
        if (cur.proposalOrRefType === "proposal") {
            allProposals.push({ proposal: cur.proposal, senderLeafIndex: committerLeafIndex });
            continue;
        }
        const p = state.unappliedProposals[bytesToBase64(cur.reference)];
        if (p === undefined)
            throw new ValidationError("Could not find proposal with supplied reference");
        allProposals.push(p);
    }
    const grouped = {};
    for (const [type, list] of Object.entries(emptyProposals))
        grouped[type] = [...list];
    for (const cur of allProposals) {
        //this skips any custom proposals
        if (typeof cur.proposal.proposalType === "number")
            continue;
        (grouped[cur.proposal.proposalType] ??= []).push(cur);
    }`,
      },
      {
        before: `    const [treeAfterAdd, addedLeafNodes] = await grouped.add.reduce(async (acc, { proposal }) => {
        throwIfDefined(await validateKeyPackage(proposal.add.keyPackage, gc, ratchetTree, sentByClient, lifetimeConfig, authService, s));
        const [tree, ws] = await acc;
        const [updatedTree, leafNodeIndex] = addLeafNode(tree, proposal.add.keyPackage.leafNode);
        return [
            updatedTree,
            [...ws, [nodeToLeafIndex(leafNodeIndex), proposal.add.keyPackage]],
        ];
    }, Promise.resolve([treeAfterRemove, []]));
    return [treeAfterAdd, addedLeafNodes];
}`,
        after: `    // Every KeyPackage is validated side by side, as before, but the checks are started with a
    // yield point between slices (each runs a little synchronously before its first crypto call:
    // a thousand of them were one stretch); the error reported is the one the chained reduce
    // reported (that of the last Add that failed). Then the leaves are added as addLeafNode adds
    // them one by one, in one pass over one copy of the tree.
    const mimiChecks = [];
    for (let i = 0; i < grouped.add.length; i++) {
        if (i % 16 === 15) {
            const due = mimiCooperate();
            if (due !== undefined)
                await due;
        }
        mimiChecks.push(validateKeyPackage(grouped.add[i].proposal.add.keyPackage, gc, ratchetTree, sentByClient, lifetimeConfig, authService, s).then((value) => ({ status: "fulfilled", value }), (reason) => ({ status: "rejected", reason })));
    }
    const mimiValidated = await Promise.all(mimiChecks);
    for (let i = mimiValidated.length - 1; i >= 0; i--) {
        const r = mimiValidated[i];
        if (r.status === "rejected")
            throw r.reason;
        throwIfDefined(r.value);
    }
    return mimiAddLeafNodes(treeAfterRemove, grouped.add.map(({ proposal }) => proposal.add.keyPackage));
}
// addLeafNode for each KeyPackage in order (the leftmost blank leaf, or a tree extended as
// extendTree does), without copying and searching the whole tree again per leaf, and with a yield
// point now and then.
async function mimiAddLeafNodes(tree, keyPackages) {
    const copy = tree.slice();
    const added = [];
    let from = 0;
    for (let i = 0; i < keyPackages.length; i++) {
        if (i % 32 === 31) {
            const due = mimiCooperate();
            if (due !== undefined)
                await due;
        }
        const leafNode = keyPackages[i].leafNode;
        let blank = -1;
        for (let n = from; n < copy.length; n += 2) {
            if (copy[n] === undefined) {
                blank = n;
                break;
            }
        }
        let nodeIndex;
        if (blank < 0) {
            const width = copy.length;
            nodeIndex = width + 1;
            copy.push(undefined, { nodeType: "leaf", leaf: leafNode });
            for (let k = 0; k < width - 1; k++)
                copy.push(undefined);
        }
        else {
            nodeIndex = blank;
            const insertedLeafIndex = nodeToLeafIndex(toNodeIndex(blank));
            for (const p of directPath(toNodeIndex(blank), leafWidth(copy.length))) {
                const node = copy[p];
                if (node !== undefined)
                    copy[p] = { nodeType: "parent", parent: { ...node.parent, unmergedLeaves: [...node.parent.unmergedLeaves, insertedLeafIndex] } };
            }
            copy[blank] = { nodeType: "leaf", leaf: leafNode };
        }
        from = nodeIndex + 2;
        added.push([nodeToLeafIndex(toNodeIndex(nodeIndex)), keyPackages[i]]);
    }
    return [copy, added];
}`,
      },
      {
        before: `import { contramapBufferEncoders, encode } from "./codec/tlsEncoder.js";`,
        after: `import { contramapBufferEncoders, encode, mimiCooperate } from "./codec/tlsEncoder.js";`,
      },
    ],
  },
  {
    what: 'the lazy secret tree',
    file: 'secretTree.js',
    mark: '/* mimi: lazy secret tree */',
    replacements: [
      {
        before: `export const secretTreeNodeEncoder = contramapBufferEncoders([generationSecretEncoder, generationSecretEncoder], (node) => [node.handshake, node.application]);
export const decodeSecretTreeNode = mapDecoders([decodeGenerationSecret, decodeGenerationSecret], (handshake, application) => ({
    handshake,
    application,
}));`,
        after: `/* mimi: lazy secret tree */
// A node of the secret tree is one of: a leaf's two ratchets ({ handshake, application }, as
// ts-mls has it), a tree secret not yet expanded ({ mimiTreeSecret }), or undefined (expanded into
// its children and deleted, or below a node not yet expanded). Encoded, the ratchets keep ts-mls's
// form, whose first byte is the length prefix of a KDF-sized secret (32 or more: 0x20, 0x30,
// 0x40); byte 0x00 is an absent node and 0x01 a tree secret (then the secret as opaque<V>), so the
// states ts-mls wrote before (every node with ratchets) decode unchanged.
const mimiRatchetsEncoder = contramapBufferEncoders([generationSecretEncoder, generationSecretEncoder], (node) => [node.handshake, node.application]);
const mimiDecodeRatchets = mapDecoders([decodeGenerationSecret, decodeGenerationSecret], (handshake, application) => ({
    handshake,
    application,
}));
const mimiAbsentNode = [1, (offset, buffer) => { new Uint8Array(buffer, offset, 1)[0] = 0; }];
export const secretTreeNodeEncoder = (node) => {
    if (node === undefined)
        return mimiAbsentNode;
    if (node.mimiTreeSecret !== undefined) {
        const [len, write] = varLenDataEncoder(node.mimiTreeSecret);
        return [1 + len, (offset, buffer) => { new Uint8Array(buffer, offset, 1)[0] = 1; write(offset + 1, buffer); }];
    }
    return mimiRatchetsEncoder(node);
};
export const decodeSecretTreeNode = (b, offset) => {
    if (offset >= b.length)
        return undefined;
    if (b[offset] === 0)
        return [undefined, 1];
    if (b[offset] === 1) {
        const d = decodeVarLenData(b, offset + 1);
        return d === undefined ? undefined : [{ mimiTreeSecret: d[0] }, 1 + d[1]];
    }
    return mimiDecodeRatchets(b, offset);
};`,
      },
      {
        before: `    for (const node of tree) {
        arr.push(node.application.secret);`,
        after: `    for (const node of tree) {
        if (node === undefined)
            continue;
        if (node.mimiTreeSecret !== undefined) {
            arr.push(node.mimiTreeSecret);
            continue;
        }
        arr.push(node.application.secret);`,
      },
      {
        before: `export async function createSecretTree(leafWidth, encryptionSecret, kdf) {
    const tree = await scaffoldSecretTree(leafWidth, encryptionSecret, kdf);
    return await Promise.all(tree.map(async (secret) => {
        const application = await createRatchetRoot(secret, "application", kdf);
        const handshake = await createRatchetRoot(secret, "handshake", kdf);
        return { handshake, application };
    }));
}`,
        after: `// ts-mls derived the whole tree when an epoch began: every node's two children, and two ratchet
// roots for every node, parents included (about 6 expands per leaf: 6,000 HMACs and a 140 KB
// state at 1,000 members, for every epoch and every member, and again in every kept past epoch).
// Now an epoch's tree holds only the encryption secret at its root, and a leaf's ratchets are
// derived from the nearest unexpanded ancestor when the leaf first sends or is first received
// from (mimiLeafRatchets), deleting each expanded tree secret as RFC 9420 section 9 asks. The
// values are the same; scaffoldSecretTree is no longer called.
export async function createSecretTree(leafWidth, encryptionSecret, kdf) {
    const tree = new Array(nodeWidth(leafWidth)).fill(undefined);
    tree[root(leafWidth)] = { mimiTreeSecret: encryptionSecret };
    return tree;
}
// The tree with the ratchets of the leaf at node index \`index\` derived (a copy when anything had
// to be derived: trees are values, never changed in place).
export async function mimiLeafRatchets(tree, index, kdf) {
    const node = tree[index];
    if (node !== undefined && node.mimiTreeSecret === undefined)
        return tree;
    if (!isLeaf(index) || index >= tree.length)
        throw new InternalError("Bad node index for secret tree");
    const copy = tree.slice();
    let at = root(leafWidth(copy.length));
    for (;;) {
        const here = copy[at];
        if (at === index) {
            if (here === undefined)
                throw new InternalError("Bad node index for secret tree");
            const application = await createRatchetRoot(here.mimiTreeSecret, "application", kdf);
            const handshake = await createRatchetRoot(here.mimiTreeSecret, "handshake", kdf);
            copy[at] = { handshake, application };
            return copy;
        }
        const l = left(at);
        const r = right(at);
        if (here !== undefined) {
            if (here.mimiTreeSecret === undefined)
                throw new InternalError("Bad node in secret tree");
            copy[l] = { mimiTreeSecret: await expandWithLabel(here.mimiTreeSecret, "tree", new TextEncoder().encode("left"), kdf.size, kdf) };
            copy[r] = { mimiTreeSecret: await expandWithLabel(here.mimiTreeSecret, "tree", new TextEncoder().encode("right"), kdf.size, kdf) };
            copy[at] = undefined;
        }
        at = index < at ? l : r;
    }
}`,
      },
      {
        before: `export async function ratchetToGeneration(tree, senderData, contentType, config, cs) {
    const index = leafToNodeIndex(toLeafIndex(senderData.leafIndex));`,
        after: `export async function ratchetToGeneration(tree, senderData, contentType, config, cs) {
    const index = leafToNodeIndex(toLeafIndex(senderData.leafIndex));
    tree = await mimiLeafRatchets(tree, index, cs.kdf);`,
      },
      {
        before: `export async function consumeRatchet(tree, index, contentType, cs) {
    const node = tree[index];`,
        after: `export async function consumeRatchet(tree, index, contentType, cs) {
    tree = await mimiLeafRatchets(tree, index, cs.kdf);
    const node = tree[index];`,
      },
      {
        before: `import { nodeWidth, root, right, isLeaf, left, leafToNodeIndex, toLeafIndex } from "./treemath.js";`,
        after: `import { nodeWidth, root, right, isLeaf, left, leafToNodeIndex, toLeafIndex, leafWidth } from "./treemath.js";`,
      },
    ],
  },
  {
    what: 'the lazy secret tree (protect)',
    file: 'messageProtection.js',
    mark: '/* mimi: lazy secret tree */',
    replacements: [
      {
        before: `    const node = secretTree[leafToNodeIndex(toLeafIndex(leafIndex))];
    if (node === undefined)
        throw new InternalError("Bad node index for secret tree");`,
        after: `    /* mimi: lazy secret tree */
    // A leaf's ratchets are derived when first used (consumeRatchet), so the leaf's node may be
    // empty yet: only an index outside the tree is an error here.
    if (leafToNodeIndex(toLeafIndex(leafIndex)) >= secretTree.length)
        throw new InternalError("Bad node index for secret tree");`,
      },
    ],
  },
  {
    what: 'KDFLabel written directly',
    file: 'crypto/kdf.js',
    mark: '/* mimi: KDFLabel written directly */',
    replacements: [
      {
        before: `export function expandWithLabel(secret, label, context, length, kdf) {
    return kdf.expand(secret, encode(composeBufferEncoders([uint16Encoder, varLenDataEncoder, varLenDataEncoder]))([
        length,
        new TextEncoder().encode(\`MLS 1.0 \${label}\`),
        context,
    ]), length);
}`,
        after: `/* mimi: KDFLabel written directly */
// KDFLabel (RFC 9420 section 8: uint16 length, opaque label<V>, opaque context<V>) built in one
// buffer, with each label's "MLS 1.0 " text encoded once: the same bytes as ts-mls's encoder
// combinators, which cost more than the HMAC itself for the dozen expands of every message.
const mimiLabels = new Map();
function mimiLabelBytes(label) {
    let bytes = mimiLabels.get(label);
    if (bytes === undefined) {
        bytes = new TextEncoder().encode(\`MLS 1.0 \${label}\`);
        // Labels are the protocol's constants; a caller passing ever new ones cannot grow this.
        if (mimiLabels.size < 256)
            mimiLabels.set(label, bytes);
    }
    return bytes;
}
// RFC 9420 section 2.1.2's variable-length integer, minimal, as varLenDataEncoder writes it.
function mimiVarintLength(n) {
    return n < 64 ? 1 : n < 16384 ? 2 : 4;
}
function mimiWriteVarint(out, at, n, size) {
    if (size === 1)
        out[at] = n;
    else if (size === 2) {
        out[at] = 0x40 | (n >> 8);
        out[at + 1] = n & 0xff;
    }
    else {
        out[at] = 0x80 | (n >>> 24);
        out[at + 1] = (n >>> 16) & 0xff;
        out[at + 2] = (n >>> 8) & 0xff;
        out[at + 3] = n & 0xff;
    }
}
export function mimiKdfLabel(label, context, length) {
    const l = mimiLabelBytes(label);
    if (l.length >= 0x40000000 || context.length >= 0x40000000 || length > 0xffff)
        return encode(composeBufferEncoders([uint16Encoder, varLenDataEncoder, varLenDataEncoder]))([length, l, context]);
    const ls = mimiVarintLength(l.length);
    const cs = mimiVarintLength(context.length);
    const out = new Uint8Array(2 + ls + l.length + cs + context.length);
    out[0] = length >> 8;
    out[1] = length & 0xff;
    mimiWriteVarint(out, 2, l.length, ls);
    out.set(l, 2 + ls);
    mimiWriteVarint(out, 2 + ls + l.length, context.length, cs);
    out.set(context, 2 + ls + l.length + cs);
    return out;
}
export function expandWithLabel(secret, label, context, length, kdf) {
    return kdf.expand(secret, mimiKdfLabel(label, context, length), length);
}`,
      },
      {
        before: `    return expandWithLabel(secret, label, encode(uint32Encoder)(generation), length, kdf);`,
        after: `    const g = new Uint8Array(4);
    new DataView(g.buffer).setUint32(0, generation);
    return expandWithLabel(secret, label, g, length, kdf);`,
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

// Before the first patch, a copy of ts-mls as published goes to node_modules/.ts-mls-as-published:
// the baseline of `npm run bench`'s MLS rows (issue 13 measures against ts-mls with its default
// WebCrypto provider; patches 6-12 are our speed work and would otherwise speed up the baseline
// too). Nothing but the bench loads it. Made only from files no patch has touched.
const publishedCopy = path.join(root, 'node_modules', '.ts-mls-as-published');
const untouched = PATCHES.every((p) => {
  const f = path.join(dist, p.file);
  return fs.existsSync(f) && !fs.readFileSync(f, 'utf8').includes('/* mimi:');
});
const copyVersion = fs.existsSync(path.join(publishedCopy, 'package.json')) ? JSON.parse(fs.readFileSync(path.join(publishedCopy, 'package.json'), 'utf8')).version : undefined;
if (untouched && copyVersion !== version) {
  fs.rmSync(publishedCopy, { recursive: true, force: true });
  fs.cpSync(path.dirname(pkgFile), publishedCopy, { recursive: true });
  console.log(`patch-ts-mls: kept ts-mls ${version} as published in node_modules/.ts-mls-as-published (the bench's baseline)`);
} else if (copyVersion === undefined) {
  console.log('patch-ts-mls: ts-mls is already patched and no copy as published is kept: `npm ci` makes one (only the MLS bench needs it)');
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
