// The official RFC 9420 protocol vectors (../shared/vectors/mls) that ts-mls's APIs can run
// directly: welcome (decrypt the group secrets and GroupInfo with the KeyPackage's init key, check
// the GroupInfo signature and confirmation tag), transcript-hashes, psk_secret and
// message-protection (unprotect every vector message; protect our own and unprotect it).
// Ciphersuite 1 only, on every crypto provider the engine can select; other suites are skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMlsMessage, type CiphersuiteImpl, type GroupContext } from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { decryptGroupInfo, decryptGroupSecrets } from 'ts-mls/welcome.js';
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from 'ts-mls/groupInfo.js';
import { decodeAuthenticatedContent } from 'ts-mls/authenticatedContent.js';
import { createConfirmedHash, createInterimHash } from 'ts-mls/transcriptHash.js';
import { verifyConfirmationTag } from 'ts-mls/framedContent.js';
import { computePskSecret, type PreSharedKeyID } from 'ts-mls/presharedkey.js';
import { createSecretTree } from 'ts-mls/secretTree.js';
import { protectApplicationData, protectProposal, unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { protectProposalPublic, unprotectPublicMessage } from 'ts-mls/messageProtectionPublic.js';
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js';
import { defaultPaddingConfig } from 'ts-mls/paddingConfig.js';
import { decodeProposal, encodeProposal } from 'ts-mls/proposal.js';
import { decodeCommit, encodeCommit } from 'ts-mls/commit.js';
import { ciphersuiteFor, type ProviderName } from '../../src-main/mls/crypto-selftest.js';
import { decodeWelcome, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mls');
function suite1<T extends { cipher_suite: number }>(name: string): { run: T[]; skipped: number } {
  const all = JSON.parse(readFileSync(path.join(VECTORS, name), 'utf8')) as T[];
  const run = all.filter((v) => v.cipher_suite === 1);
  assert.ok(run.length > 0, `${name} has suite-1 entries`);
  return { run, skipped: all.length - run.length };
}
// Every crypto provider the engine can select (crypto-selftest.ts), as mls-vectors-crypto.test.ts.
const PROVIDERS: ProviderName[] = ['node', 'webcrypto', 'noble'];
const impls = new Map<ProviderName, CiphersuiteImpl>();
async function impl(p: ProviderName): Promise<CiphersuiteImpl> {
  if (!impls.has(p)) impls.set(p, await ciphersuiteFor(p));
  return impls.get(p)!;
}

interface WelcomeVector {
  cipher_suite: number;
  init_priv: string;
  signer_pub: string;
  key_package: string;
  welcome: string;
}

for (const p of PROVIDERS) {
  test(`welcome.json (suite 1): group secrets and GroupInfo decrypt with init_priv; signature and confirmation tag verify [${p}]`, async () => {
    const { run, skipped } = suite1<WelcomeVector>('welcome.json');
    const c = await impl(p);
    for (const v of run) {
      const kpMsg = decodeMlsMessage(fromHex(v.key_package), 0)![0];
      const wMsg = decodeMlsMessage(fromHex(v.welcome), 0)![0];
      assert.ok(kpMsg.wireformat === 'mls_key_package' && wMsg.wireformat === 'mls_welcome');
      const ref = await makeKeyPackageRef(kpMsg.keyPackage, c.hash);
      // The provider's parser finds the same entry (the hub routes Welcomes by it).
      const ours = decodeWelcome(unwrapMlsMessage(fromHex(v.welcome)).body);
      assert.ok(ours.secrets.some((s) => toHex(s.newMember) === toHex(ref)), 'our Welcome parser lists the KeyPackageRef');
      const initKey = await c.hpke.importPrivateKey(fromHex(v.init_priv));
      const secrets = await decryptGroupSecrets(initKey, ref, wMsg.welcome, c.hpke);
      assert.ok(secrets, 'group secrets decrypt');
      const noPsk = new Uint8Array(c.kdf.size);
      const gi = await decryptGroupInfo(wMsg.welcome, secrets.joinerSecret, noPsk, c);
      assert.ok(gi, 'GroupInfo decrypts');
      assert.equal(await verifyGroupInfoSignature(gi, fromHex(v.signer_pub), c.signature), true);
      assert.equal(await verifyGroupInfoConfirmationTag(gi, secrets.joinerSecret, noPsk, c), true);
      // Negative: another joiner secret derives another welcome key: the GroupInfo does not decrypt.
      const wrong = secrets.joinerSecret.slice();
      wrong[0] ^= 1;
      assert.equal(await decryptGroupInfo(wMsg.welcome, wrong, noPsk, c).catch(() => undefined), undefined);
    }
    assert.equal(skipped, 6);
  });
}

interface TranscriptVector {
  cipher_suite: number;
  confirmation_key: string;
  authenticated_content: string;
  interim_transcript_hash_before: string;
  confirmed_transcript_hash_after: string;
  interim_transcript_hash_after: string;
}

for (const p of PROVIDERS) {
  test(`transcript-hashes.json (suite 1): confirmation tag, confirmed and interim transcript hashes [${p}]`, async () => {
    const { run, skipped } = suite1<TranscriptVector>('transcript-hashes.json');
    const c = await impl(p);
    for (const v of run) {
      const ac = decodeAuthenticatedContent(fromHex(v.authenticated_content), 0)![0];
      assert.equal(ac.content.contentType, 'commit');
      assert.ok(ac.auth.contentType === 'commit' && ac.content.contentType === 'commit');
      const tag = ac.auth.confirmationTag;
      assert.equal(await verifyConfirmationTag(fromHex(v.confirmation_key), tag, fromHex(v.confirmed_transcript_hash_after), c.hash), true);
      const confirmed = await createConfirmedHash(
        fromHex(v.interim_transcript_hash_before),
        { wireformat: ac.wireformat, content: ac.content, signature: ac.auth.signature },
        c.hash,
      );
      assert.equal(toHex(confirmed), v.confirmed_transcript_hash_after);
      assert.equal(toHex(await createInterimHash(confirmed, tag, c.hash)), v.interim_transcript_hash_after);
    }
    assert.equal(skipped, 6);
  });
}

interface PskVector {
  cipher_suite: number;
  psks: { psk_id: string; psk: string; psk_nonce: string }[];
  psk_secret: string;
}

for (const p of PROVIDERS) {
  test(`psk_secret.json (suite 1): psk_secret from external PSKs (0 to n of them) [${p}]`, async () => {
    const { run, skipped } = suite1<PskVector>('psk_secret.json');
    const c = await impl(p);
    for (const v of run) {
      const psks: [PreSharedKeyID, Uint8Array][] = v.psks.map((p) => [{ psktype: 'external', pskId: fromHex(p.psk_id), pskNonce: fromHex(p.psk_nonce) }, fromHex(p.psk)]);
      assert.equal(toHex(await computePskSecret(psks, c)), v.psk_secret);
    }
    console.log(`psk_secret: ${run.length} suite-1 entries, ${skipped} of other suites skipped`);
  });
}

interface ProtectionVector {
  cipher_suite: number;
  group_id: string;
  epoch: number;
  tree_hash: string;
  confirmed_transcript_hash: string;
  signature_priv: string;
  signature_pub: string;
  encryption_secret: string;
  sender_data_secret: string;
  membership_key: string;
  proposal: string;
  proposal_pub: string;
  proposal_priv: string;
  commit: string;
  commit_pub: string;
  commit_priv: string;
  application: string;
  application_priv: string;
}

for (const p of PROVIDERS) {
  test(`message-protection.json (suite 1): unprotect every vector message; protect and unprotect our own [${p}]`, async () => {
    const { run, skipped } = suite1<ProtectionVector>('message-protection.json');
    const c = await impl(p);
    for (const v of run) {
      const gc: GroupContext = {
        version: 'mls10',
        cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
        groupId: fromHex(v.group_id),
        epoch: BigInt(v.epoch),
        treeHash: fromHex(v.tree_hash),
        confirmedTranscriptHash: fromHex(v.confirmed_transcript_hash),
        extensions: [],
      };
      const membershipKey = fromHex(v.membership_key);
      const senderDataSecret = fromHex(v.sender_data_secret);
      const signPub = fromHex(v.signature_pub);
      const signPriv = fromHex(v.signature_priv);
      // Each message gets a fresh secret tree for 2 members (the sender is leaf 1), as the vector says.
      const tree = () => createSecretTree(2, fromHex(v.encryption_secret), c.kdf);
      const pub = async (hex: string) => {
        const m = decodeMlsMessage(fromHex(hex), 0)![0];
        assert.ok(m.wireformat === 'mls_public_message');
        return unprotectPublicMessage(membershipKey, gc, [], m.publicMessage, c, signPub);
      };
      const priv = async (hex: string) => {
        const m = decodeMlsMessage(fromHex(hex), 0)![0];
        assert.ok(m.wireformat === 'mls_private_message');
        return (await unprotectPrivateMessage(senderDataSecret, m.privateMessage, await tree(), [], gc, defaultKeyRetentionConfig, c, signPub)).content;
      };

      const proposal = decodeProposal(fromHex(v.proposal), 0)![0];
      const commit = decodeCommit(fromHex(v.commit), 0)![0];
      for (const content of [await pub(v.proposal_pub), await priv(v.proposal_priv)]) {
        assert.ok(content.content.contentType === 'proposal');
        assert.equal(toHex(encodeProposal(content.content.proposal)), v.proposal);
        assert.deepEqual(content.content.sender, { senderType: 'member', leafIndex: 1 });
      }
      for (const content of [await pub(v.commit_pub), await priv(v.commit_priv)]) {
        assert.ok(content.content.contentType === 'commit');
        assert.equal(toHex(encodeCommit(content.content.commit)), v.commit);
      }
      const app = await priv(v.application_priv);
      assert.ok(app.content.contentType === 'application');
      assert.equal(toHex(app.content.applicationData), v.application);

      // Our own protection of the same values unprotects with the vector's keys.
      const mine = await protectProposalPublic(signPriv, membershipKey, gc, new Uint8Array(), proposal, 1, c);
      const back = await unprotectPublicMessage(membershipKey, gc, [], mine.publicMessage, c, signPub);
      assert.ok(back.content.contentType === 'proposal' && toHex(encodeProposal(back.content.proposal)) === v.proposal);
      const wrongKey = membershipKey.slice();
      wrongKey[0] ^= 1;
      await assert.rejects(unprotectPublicMessage(wrongKey, gc, [], mine.publicMessage, c, signPub), 'a wrong membership key fails');
      for (const protectedMessage of [
        (await protectProposal(signPriv, senderDataSecret, proposal, new Uint8Array(), gc, await tree(), 1, defaultPaddingConfig, c)).privateMessage,
        (await protectApplicationData(signPriv, senderDataSecret, fromHex(v.application), new Uint8Array(), gc, await tree(), 1, defaultPaddingConfig, c)).privateMessage,
      ]) {
        const opened = (await unprotectPrivateMessage(senderDataSecret, protectedMessage, await tree(), [], gc, defaultKeyRetentionConfig, c, signPub)).content;
        if (opened.content.contentType === 'proposal') assert.equal(toHex(encodeProposal(opened.content.proposal)), v.proposal);
        else assert.ok(opened.content.contentType === 'application' && toHex(opened.content.applicationData) === v.application);
      }
      assert.equal(toHex(encodeCommit(commit)), v.commit);
    }
    assert.equal(skipped, 6);
  });
}
