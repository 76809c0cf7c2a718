// Identity links of minimal-metadata rooms (draft-ietf-mimi-protocol-06 "Credential encryption"):
// the IdentityLinkTBE the draft defines, and our key scheme for its TODO (docs/pseudonyms.md).
//
// The draft's structure, exactly:
//
//   struct {
//     /* SignWithLabel(., "PseudonymousCredentialTBS", PseudonymousCredentialTBS) */
//     opaque pseudonymous_credential_signature<V>;
//     Credential client_credential;
//   } IdentityLinkTBE;
//
// The signature is by the client's real device key over the PseudonymousCredentialTBS of the leaf.
// Our real credentials are BasicCredentials (the device URI), which carry no key, so the plaintext we
// seal adds the device's signature public key (a receiver then authenticates the pair device URI +
// key as it would a basic leaf), and zero padding so the ciphertext length does not reveal the URI's:
//
//   struct {
//     IdentityLinkTBE identity_link;
//     opaque client_signature_key<V>;     -- SignaturePublicKey of the real device
//   } IdentityLinkPlaintext;              -- followed by zero bytes up to a multiple of 256
//
// identity_link_ciphertext (the PseudonymousCredential field) is empty while the link is not
// published, else
//
//   struct {
//     uint64 ilk_epoch;                   -- which identity link key (ILK) sealed it
//     opaque nonce<V>;                    -- 12 random bytes
//     opaque ciphertext<V>;               -- AES-128-GCM(key, nonce, IdentityLinkAAD, plaintext)
//   } IdentityLinkCiphertext;
//
//   key = ExpandWithLabel(ILK, "mimi identity link aead key", IdentityLinkKeyContext, 16)
//   struct { opaque group_id<V>; uint64 ilk_epoch; } IdentityLinkKeyContext;
//   struct { opaque group_id<V>; uint64 ilk_epoch; PseudonymousCredentialTBS credential; } IdentityLinkAAD;
//
// ILKs are 32-byte secrets known only to the group's members, named by the epoch in which they
// appeared: the creator draws the one of epoch 0 at random, and every commit that adds or removes a
// member introduces ILK_E = MLS-Exporter("mimi identity link key", "", 32) of its new epoch E
// (ILK_EXPORTER_LABEL; the engine derives it). Joiners receive the older ones in the Welcome's
// GroupInfo (IDENTITY_LINK_KEYS_EXTENSION_TYPE) or in an in-group message
// (IDENTITY_LINK_KEYS_MEDIA_TYPE); both carry:
//
//   struct { uint64 epoch; opaque key<V>; } IdentityLinkKey;
//   struct { IdentityLinkKey keys<V>; } IdentityLinkKeys;     -- strictly ascending epochs
//
// Ciphersuite 0x0001 only (AES-128-GCM, HKDF-SHA256, Ed25519), like mls-crypto.ts. Pure: no MLS
// library, so the core, tests and tools can open and check links from a tree alone.

import { gcm } from '@noble/ciphers/aes.js';
import { expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromUtf8, utf8 } from './bytes.js';
import { findPart, singlePartContent } from './content-parts.js';
import type { MimiContent } from './content.js';
import { parseMimiUriAs, userOfDevice } from './identifiers.js';
import { signWithLabel, verifyWithLabel } from './mls-crypto.js';
import { readCredential, StructReader, writeCredential, type Credential, type Fields } from './mls-structs.js';
import {
  encodePseudonymousCredentialTBS,
  writePseudonymousCredentialTBS,
  type PseudonymousCredential,
  type PseudonymousCredentialTBS,
} from './pseudonymous-credential.js';
import { TlsWriter } from './tls.js';
import { Bad, decodeWith, encodeWith, MimiWireError, struct } from './tls-struct.js';

/** The SignWithLabel label of the link signature (the draft's). */
export const IDENTITY_LINK_SIGNATURE_LABEL = 'PseudonymousCredentialTBS';
/** MLS-Exporter label of the ILK a commit that adds or removes members introduces. */
export const ILK_EXPORTER_LABEL = 'mimi identity link key';
/** ExpandWithLabel label of the AEAD key derived from an ILK. */
const AEAD_KEY_LABEL = 'mimi identity link aead key';
export const ILK_SIZE = 32;
const AEAD_KEY_SIZE = 16; // AES-128-GCM
const NONCE_SIZE = 12;
const PAD_BLOCK = 256;
/** Upper bound on ILKs in one IdentityLinkKeys (one per join epoch still referenced by a leaf). */
const MAX_KEYS = 100_000;

/**
 * GroupInfo extension type (RFC 9420 17.3 private-use range, not GREASE) carrying IdentityLinkKeys.
 * Only ever in the GroupInfo a Welcome encrypts to the joiners, never in the GroupInfo given to the
 * hub: the hub must not learn an ILK.
 */
export const IDENTITY_LINK_KEYS_EXTENSION_TYPE = 0xf011;
/** mimi-content part media type of IdentityLinkKeys sent inside the group (to external joiners). */
export const IDENTITY_LINK_KEYS_MEDIA_TYPE = 'application/vnd.mimi-desktop.identity-link-keys';

export interface IdentityLinkTBE {
  /** SignWithLabel(device key, "PseudonymousCredentialTBS", PseudonymousCredentialTBS) */
  pseudonymousCredentialSignature: Uint8Array;
  /** The client's real credential: for us a BasicCredential naming the device URI. */
  clientCredential: Credential;
}

export interface IdentityLinkPlaintext {
  identityLink: IdentityLinkTBE;
  /** The real device's signature public key (a BasicCredential does not carry it). */
  clientSignatureKey: Uint8Array;
}

export interface IdentityLinkCiphertext {
  ilkEpoch: bigint;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/** An identity link key and the epoch it appeared in (its name on the wire). */
export interface IdentityLinkKey {
  epoch: bigint;
  key: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Codecs

const bytesField = (v: unknown, what = 'must be a Uint8Array'): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new Bad(what);
  return v;
};

const nonEmpty = (b: Uint8Array): Uint8Array => {
  if (b.length === 0) throw new Bad('is empty');
  return b;
};

const u64 = (v: unknown): bigint => {
  if (typeof v !== 'bigint') throw new Bad('must be a bigint');
  return v;
};

function readCredentialField(r: StructReader): Credential {
  return readCredential(r);
}

function writeCredentialField(w: TlsWriter, c: unknown): void {
  if (typeof c !== 'object' || c === null) throw new Bad('must be a Credential');
  const raw = (c as { raw?: unknown }).raw;
  // A decoded credential is forwarded as it was received, after checking it is one Credential.
  if (raw instanceof Uint8Array) {
    const check = new StructReader(raw);
    readCredential(check);
    check.done();
    w.bytes(raw);
  } else writeCredential(w, c as Fields<Credential>);
}

const IDENTITY_LINK_TBE = struct<IdentityLinkTBE>(
  'IdentityLinkTBE',
  (s) => ({
    pseudonymousCredentialSignature: s.get('pseudonymous_credential_signature', (r) => nonEmpty(r.opaqueV())),
    clientCredential: s.get('client_credential', readCredentialField),
  }),
  (o, v) => {
    o.put('pseudonymous_credential_signature', (w) => w.opaqueV(nonEmpty(bytesField(v.pseudonymousCredentialSignature))));
    o.put('client_credential', (w) => writeCredentialField(w, v.clientCredential));
  },
);

export const encodeIdentityLinkTBE = (v: IdentityLinkTBE | Fields<IdentityLinkTBE>): Uint8Array =>
  encodeWith(IDENTITY_LINK_TBE, v as Fields<IdentityLinkTBE>);
export const decodeIdentityLinkTBE = (b: Uint8Array): IdentityLinkTBE => decodeWith(IDENTITY_LINK_TBE, b);

const IDENTITY_LINK_PLAINTEXT = struct<IdentityLinkPlaintext>(
  'IdentityLinkPlaintext',
  (s) => ({
    identityLink: s.get('identity_link', IDENTITY_LINK_TBE.read),
    clientSignatureKey: s.get('client_signature_key', (r) => nonEmpty(r.opaqueV())),
  }),
  (o, v) => {
    o.put('identity_link', (w) => IDENTITY_LINK_TBE.write(w, v.identityLink));
    o.put('client_signature_key', (w) => w.opaqueV(nonEmpty(bytesField(v.clientSignatureKey))));
  },
);

/** IdentityLinkPlaintext without padding (what pseudonymous DeviceKeys keep). */
export const encodeIdentityLinkPlaintext = (v: IdentityLinkPlaintext | Fields<IdentityLinkPlaintext>): Uint8Array =>
  encodeWith(IDENTITY_LINK_PLAINTEXT, v as Fields<IdentityLinkPlaintext>);

/** Strict: trailing bytes are an error (use openIdentityLink for padded, sealed plaintexts). */
export const decodeIdentityLinkPlaintext = (b: Uint8Array): IdentityLinkPlaintext => decodeWith(IDENTITY_LINK_PLAINTEXT, b);

/** The plaintext followed by zero padding, as sealed. */
function decodePaddedPlaintext(b: Uint8Array): IdentityLinkPlaintext {
  const r = new StructReader(b);
  let value: IdentityLinkPlaintext;
  try {
    value = IDENTITY_LINK_PLAINTEXT.read(r);
  } catch (e) {
    throw e instanceof MimiWireError ? e : new MimiWireError('IdentityLinkPlaintext', '(value)', (e as Error).message);
  }
  const rest = r.bytes(r.remaining);
  if (rest.some((x) => x !== 0)) throw new MimiWireError('IdentityLinkPlaintext', '(padding)', 'padding is not all zero');
  return value;
}

const IDENTITY_LINK_CIPHERTEXT = struct<IdentityLinkCiphertext>(
  'IdentityLinkCiphertext',
  (s) => {
    const ilkEpoch = s.get('ilk_epoch', (r) => r.u64());
    const nonce = s.get('nonce', (r) => r.opaqueV());
    s.check('nonce', () => checkNonce(nonce));
    return { ilkEpoch, nonce, ciphertext: s.get('ciphertext', (r) => nonEmpty(r.opaqueV())) };
  },
  (o, v) => {
    o.put('ilk_epoch', (w) => w.u64(u64(v.ilkEpoch)));
    o.put('nonce', (w) => w.opaqueV(checkNonce(bytesField(v.nonce))));
    o.put('ciphertext', (w) => w.opaqueV(nonEmpty(bytesField(v.ciphertext))));
  },
);

function checkNonce(n: Uint8Array): Uint8Array {
  if (n.length !== NONCE_SIZE) throw new Bad(`must be ${NONCE_SIZE} bytes, got ${n.length}`);
  return n;
}

export const encodeIdentityLinkCiphertext = (v: IdentityLinkCiphertext): Uint8Array => encodeWith(IDENTITY_LINK_CIPHERTEXT, v);
export const decodeIdentityLinkCiphertext = (b: Uint8Array): IdentityLinkCiphertext => decodeWith(IDENTITY_LINK_CIPHERTEXT, b);

function checkIlk(key: Uint8Array): Uint8Array {
  if (key.length !== ILK_SIZE) throw new Bad(`must be ${ILK_SIZE} bytes, got ${key.length}`);
  return key;
}

const IDENTITY_LINK_KEY = struct<IdentityLinkKey>(
  'IdentityLinkKey',
  (s) => ({ epoch: s.get('epoch', (r) => r.u64()), key: s.get('key', (r) => checkIlk(r.opaqueV())) }),
  (o, v) => {
    o.put('epoch', (w) => w.u64(u64(v.epoch)));
    o.put('key', (w) => w.opaqueV(checkIlk(bytesField(v.key))));
  },
);

function ascending(keys: readonly IdentityLinkKey[]): void {
  if (keys.length > MAX_KEYS) throw new Bad(`more than ${MAX_KEYS} keys`);
  for (let i = 1; i < keys.length; i++) {
    if (!(keys[i].epoch > keys[i - 1].epoch)) throw new Bad(`epochs must be strictly ascending (${keys[i - 1].epoch}, then ${keys[i].epoch})`);
  }
}

const IDENTITY_LINK_KEYS = struct<{ keys: IdentityLinkKey[] }>(
  'IdentityLinkKeys',
  (s) => {
    const keys = s.list('keys', IDENTITY_LINK_KEY.read);
    s.check('keys', () => ascending(keys));
    return { keys };
  },
  (o, v) => {
    o.list('keys', v.keys, IDENTITY_LINK_KEY.write);
    o.check('keys', () => ascending(v.keys));
  },
);

/** IdentityLinkKeys: the Welcome GroupInfo extension data and the in-group message part content. */
export const encodeIdentityLinkKeys = (keys: readonly IdentityLinkKey[]): Uint8Array =>
  encodeWith(IDENTITY_LINK_KEYS, { keys: keys as IdentityLinkKey[] });
export const decodeIdentityLinkKeys = (b: Uint8Array): IdentityLinkKey[] => decodeWith(IDENTITY_LINK_KEYS, b).keys;

// ---------------------------------------------------------------------------------------------
// Creating a link (needs the real device's private key, once per pseudonymous client)

export interface RealDevice {
  /** The device URI (BasicCredential identity), mimi://<domain>/d/<handle>/<device>. */
  identity: string;
  signaturePublicKey: Uint8Array;
  /** Ed25519 seed (32 bytes), as DeviceKeys keep it. */
  signaturePrivateKey: Uint8Array;
}

export class IdentityLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityLinkError';
  }
}

/**
 * The IdentityLinkPlaintext (unpadded) of a pseudonymous client of `device`: the device signs the
 * PseudonymousCredentialTBS. The result reveals the real identity: keep it like a private key.
 */
export function createIdentityLink(device: RealDevice, tbs: PseudonymousCredentialTBS): Uint8Array {
  if (!parseMimiUriAs('device', device?.identity)) throw new IdentityLinkError(`not a device URI: ${JSON.stringify(device?.identity)}`);
  const tbsBytes = encodePseudonymousCredentialTBS(tbs);
  const signature = signWithLabel(device.signaturePrivateKey, IDENTITY_LINK_SIGNATURE_LABEL, tbsBytes);
  // A key pair that does not match would produce links nobody can verify: fail here instead.
  if (!verifyWithLabel(device.signaturePublicKey, IDENTITY_LINK_SIGNATURE_LABEL, tbsBytes, signature)) {
    throw new IdentityLinkError('the device signature private key does not match its public key');
  }
  return encodeIdentityLinkPlaintext({
    identityLink: {
      pseudonymousCredentialSignature: signature,
      clientCredential: { credentialType: 'basic', identity: utf8(device.identity) },
    },
    clientSignatureKey: device.signaturePublicKey,
  });
}

// ---------------------------------------------------------------------------------------------
// Sealing and opening

function groupIdBytes(groupId: string): Uint8Array {
  if (typeof groupId !== 'string' || groupId.length === 0) throw new IdentityLinkError('group id must be a non-empty string');
  return utf8(groupId);
}

/** RFC 9420 ExpandWithLabel with HKDF-SHA256. */
function expandWithLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const info = new TlsWriter()
    .u16(length)
    .opaqueV(utf8('MLS 1.0 ' + label))
    .opaqueV(context)
    .finish();
  return expand(sha256, secret, info, length);
}

function aeadKey(ilk: Uint8Array, groupId: Uint8Array, ilkEpoch: bigint): Uint8Array {
  return expandWithLabel(ilk, AEAD_KEY_LABEL, new TlsWriter().opaqueV(groupId).u64(ilkEpoch).finish(), AEAD_KEY_SIZE);
}

function aad(groupId: Uint8Array, ilkEpoch: bigint, credential: PseudonymousCredentialTBS): Uint8Array {
  const w = new TlsWriter().opaqueV(groupId).u64(ilkEpoch);
  writePseudonymousCredentialTBS(w, credential);
  return w.finish();
}

function pad(plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((plaintext.length + 1) / PAD_BLOCK) * PAD_BLOCK);
  out.set(plaintext);
  return out;
}

/**
 * The identity_link_ciphertext for `credential` in group `groupId`, sealed under `key`. `link` is an
 * IdentityLinkPlaintext (createIdentityLink); it must belong to this credential (checked).
 */
export function sealIdentityLink(p: {
  groupId: string;
  key: IdentityLinkKey;
  credential: PseudonymousCredentialTBS;
  link: Uint8Array;
  /** Tests only: a fixed nonce. */
  nonce?: Uint8Array;
}): Uint8Array {
  const gid = groupIdBytes(p.groupId);
  checkIlkArg(p.key);
  const problem = identityLinkProblem(p.link, p.credential);
  if (problem) throw new IdentityLinkError(`the identity link does not fit this credential: ${problem}`);
  const nonce = p.nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  const ciphertext = gcm(aeadKey(p.key.key, gid, p.key.epoch), nonce, aad(gid, p.key.epoch, p.credential)).encrypt(pad(p.link));
  return encodeIdentityLinkCiphertext({ ilkEpoch: p.key.epoch, nonce, ciphertext });
}

function checkIlkArg(k: IdentityLinkKey): void {
  if (typeof k?.epoch !== 'bigint' || k.epoch < 0n || !(k.key instanceof Uint8Array) || k.key.length !== ILK_SIZE) {
    throw new IdentityLinkError(`an identity link key is an epoch (bigint) and ${ILK_SIZE} bytes`);
  }
}

/** Why `link` (an unpadded IdentityLinkPlaintext) is not a valid link for `tbs`, or undefined when it is. */
export function identityLinkProblem(link: Uint8Array, tbs: PseudonymousCredentialTBS): string | undefined {
  let plain: IdentityLinkPlaintext;
  try {
    plain = decodeIdentityLinkPlaintext(link);
  } catch (e) {
    return `malformed identity link: ${(e as Error).message}`;
  }
  return linkProblem(plain, tbs);
}

/** Why `plain` is not a valid link for `credential`, or undefined when it is. */
function linkProblem(plain: IdentityLinkPlaintext, credential: PseudonymousCredentialTBS): string | undefined {
  const real = plain.identityLink.clientCredential;
  if (real.credentialType !== 'basic') return `the real credential is ${real.credentialType}, not basic`;
  let device: string;
  try {
    device = fromUtf8(real.identity);
  } catch {
    return 'the real credential identity is not UTF-8';
  }
  if (!parseMimiUriAs('device', device)) return `the real credential ${JSON.stringify(device)} is not a device URI`;
  const ok = verifyWithLabel(
    plain.clientSignatureKey,
    IDENTITY_LINK_SIGNATURE_LABEL,
    encodePseudonymousCredentialTBS(credential),
    plain.identityLink.pseudonymousCredentialSignature,
  );
  if (!ok) return `the signature of ${device} over the PseudonymousCredentialTBS does not verify`;
  return undefined;
}

export type IdentityLinkStatus =
  | {
      status: 'verified';
      /** The real device (BasicCredential identity) and its user. */
      deviceUri: string;
      userUri: string;
      /**
       * The key that signed the link. Authenticate the pair (deviceUri, deviceSignatureKey) as for
       * a basic leaf: the link proves that whoever holds this key vouches for the pseudonyms.
       */
      deviceSignatureKey: Uint8Array;
      ilkEpoch: bigint;
    }
  /** identity_link_ciphertext is empty: the client has not published its link yet. */
  | { status: 'pending' }
  /** Sealed under an ILK this member does not hold (yet): ask the group for IdentityLinkKeys. */
  | { status: 'unknownKey'; ilkEpoch: bigint }
  /** Malformed, undecryptable under the named ILK, or a signature that does not verify. */
  | { status: 'invalid'; reason: string };

/**
 * Opens and verifies the identity link of a pseudonymous credential in group `groupId`. Never
 * throws for what a peer sent: a bad link is `invalid` with the reason.
 */
export function openIdentityLink(p: { groupId: string; keys: readonly IdentityLinkKey[]; credential: PseudonymousCredential }): IdentityLinkStatus {
  const gid = groupIdBytes(p.groupId);
  const c = p.credential;
  if (!(c?.identityLinkCiphertext instanceof Uint8Array)) throw new IdentityLinkError('credential must be a PseudonymousCredential');
  if (c.identityLinkCiphertext.length === 0) return { status: 'pending' };
  let sealed: IdentityLinkCiphertext;
  try {
    sealed = decodeIdentityLinkCiphertext(c.identityLinkCiphertext);
  } catch (e) {
    return { status: 'invalid', reason: `malformed identity_link_ciphertext: ${(e as Error).message}` };
  }
  const key = p.keys.find((k) => k.epoch === sealed.ilkEpoch);
  if (!key) return { status: 'unknownKey', ilkEpoch: sealed.ilkEpoch };
  let padded: Uint8Array;
  try {
    padded = gcm(aeadKey(key.key, gid, sealed.ilkEpoch), sealed.nonce, aad(gid, sealed.ilkEpoch, c)).decrypt(sealed.ciphertext);
  } catch {
    return { status: 'invalid', reason: `the link does not decrypt under the identity link key of epoch ${sealed.ilkEpoch} (wrong key, or not sealed for this credential and room)` };
  }
  let plain: IdentityLinkPlaintext;
  try {
    plain = decodePaddedPlaintext(padded);
  } catch (e) {
    return { status: 'invalid', reason: `malformed sealed link: ${(e as Error).message}` };
  }
  const problem = linkProblem(plain, c);
  if (problem) return { status: 'invalid', reason: problem };
  const deviceUri = fromUtf8((plain.identityLink.clientCredential as { identity: Uint8Array }).identity);
  return { status: 'verified', deviceUri, userUri: userOfDevice(deviceUri), deviceSignatureKey: plain.clientSignatureKey, ilkEpoch: sealed.ilkEpoch };
}

/** The ILK epoch a credential's link is sealed under, or undefined (pending or malformed). */
export function identityLinkEpoch(credential: Pick<PseudonymousCredential, 'identityLinkCiphertext'>): bigint | undefined {
  if (credential.identityLinkCiphertext.length === 0) return undefined;
  try {
    return decodeIdentityLinkCiphertext(credential.identityLinkCiphertext).ilkEpoch;
  } catch {
    return undefined;
  }
}

/**
 * Checks the draft's rule across a room's verified links: one user pseudonym per real user, and all
 * clients of a user pseudonym belong to one real user; and that no client pseudonym is used twice.
 * Returns a reason per offending client pseudonym (empty when consistent).
 */
export function linkConsistency(
  links: readonly { clientPseudonym: string; userPseudonym: string; userUri: string }[],
): Map<string, string> {
  const usersOf = new Map<string, Set<string>>();
  const pseudonymsOf = new Map<string, Set<string>>();
  const clients = new Map<string, number>();
  for (const l of links) {
    clients.set(l.clientPseudonym, (clients.get(l.clientPseudonym) ?? 0) + 1);
    if (!usersOf.has(l.userPseudonym)) usersOf.set(l.userPseudonym, new Set());
    usersOf.get(l.userPseudonym)!.add(l.userUri);
    if (!pseudonymsOf.has(l.userUri)) pseudonymsOf.set(l.userUri, new Set());
    pseudonymsOf.get(l.userUri)!.add(l.userPseudonym);
  }
  const out = new Map<string, string>();
  for (const l of links) {
    const users = usersOf.get(l.userPseudonym)!;
    const pseudonyms = pseudonymsOf.get(l.userUri)!;
    if (clients.get(l.clientPseudonym)! > 1) out.set(l.clientPseudonym, `client pseudonym ${l.clientPseudonym} is used by several leaves`);
    else if (users.size > 1) out.set(l.clientPseudonym, `user pseudonym ${l.userPseudonym} links to ${users.size} different users`);
    else if (pseudonyms.size > 1) out.set(l.clientPseudonym, `${l.userUri} uses ${pseudonyms.size} user pseudonyms in this room`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// As a mimi-content message (to a member who joined by external commit)

/** A message carrying identity link keys; send it only inside the group (it is secret). */
export function identityLinkKeysContent(o: { senderUri: string; roomUri: string; keys: readonly IdentityLinkKey[] }): MimiContent {
  return singlePartContent({ senderUri: o.senderUri, roomUri: o.roomUri, contentType: IDENTITY_LINK_KEYS_MEDIA_TYPE, content: encodeIdentityLinkKeys(o.keys) });
}

/** The identity link keys a message carries, if any (MimiWireError if the part is malformed). */
export function findIdentityLinkKeys(content: MimiContent): IdentityLinkKey[] | undefined {
  const part = findPart(content, IDENTITY_LINK_KEYS_MEDIA_TYPE);
  return part === undefined ? undefined : decodeIdentityLinkKeys(part);
}
