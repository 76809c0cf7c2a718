// The official RFC 9420 passive-client vectors (../shared/vectors/mls), ciphersuite 1, through the
// patched ts-mls: join from the vector's Welcome with the vector's KeyPackage private keys and
// external PSKs, check the epoch authenticator, then process every epoch's proposals and commit and
// check each new epoch authenticator. passive-client-random (one group, 200 epochs) is the
// slowest; it runs in full.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMlsMessage, joinGroup, makePskIndex, processPrivateMessage, processPublicMessage, type ClientState, type MLSMessage } from 'ts-mls';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { ciphersuiteFor } from '../../src-main/mls/crypto-selftest.js';
import { fromHex, toB64, toHex } from '../../src-shared/bytes.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mls');

interface PassiveClient {
  cipher_suite: number;
  external_psks: { psk_id: string; psk: string }[];
  key_package: string;
  signature_priv: string;
  encryption_priv: string;
  init_priv: string;
  welcome: string;
  ratchet_tree: string | null;
  initial_epoch_authenticator: string;
  epochs: { proposals: string[]; commit: string; epoch_authenticator: string }[];
}

const message = (hex: string): MLSMessage => {
  const d = decodeMlsMessage(fromHex(hex), 0);
  assert.ok(d && d[1] === hex.length / 2, 'an MLSMessage');
  return d[0];
};

async function runVector(v: PassiveClient, cs: Awaited<ReturnType<typeof ciphersuiteFor>>): Promise<number> {
  const kp = message(v.key_package);
  const welcome = message(v.welcome);
  assert.ok(kp.wireformat === 'mls_key_package' && welcome.wireformat === 'mls_welcome');
  const psks = Object.fromEntries(v.external_psks.map((p) => [toB64(fromHex(p.psk_id)), fromHex(p.psk)]));
  const tree = v.ratchet_tree === null ? undefined : decodeRatchetTree(fromHex(v.ratchet_tree), 0)![0];
  let state: ClientState = await joinGroup(
    welcome.welcome,
    kp.keyPackage,
    { initPrivateKey: fromHex(v.init_priv), hpkePrivateKey: fromHex(v.encryption_priv), signaturePrivateKey: fromHex(v.signature_priv) },
    makePskIndex(undefined, psks),
    cs,
    tree,
  );
  assert.equal(toHex(state.keySchedule.epochAuthenticator), v.initial_epoch_authenticator, 'epoch authenticator after the Welcome');
  for (const [i, epoch] of v.epochs.entries()) {
    for (const hex of [...epoch.proposals, epoch.commit]) {
      const m = message(hex);
      const index = makePskIndex(state, psks);
      if (m.wireformat === 'mls_public_message') state = (await processPublicMessage(state, m.publicMessage, index, cs)).newState;
      else if (m.wireformat === 'mls_private_message') {
        const r = await processPrivateMessage(state, m.privateMessage, index, cs);
        assert.equal(r.kind, 'newState', 'a handshake message');
        if (r.kind === 'newState') state = r.newState;
      } else assert.fail(`unexpected wire format ${m.wireformat}`);
    }
    assert.equal(toHex(state.keySchedule.epochAuthenticator), epoch.epoch_authenticator, `epoch authenticator after epoch ${i + 1}`);
  }
  return v.epochs.length;
}

for (const file of ['passive-client-welcome.json', 'passive-client-handling-commit.json', 'passive-client-random.json']) {
  test(`${file} (suite 1): join from the Welcome, process every epoch, epoch authenticators match`, async () => {
    const all = JSON.parse(readFileSync(path.join(VECTORS, file), 'utf8')) as PassiveClient[];
    const run = all.filter((v) => v.cipher_suite === 1);
    assert.ok(run.length > 0);
    const cs = await ciphersuiteFor('node');
    let epochs = 0;
    for (const v of run) epochs += await runVector(v, cs);
    console.log(`${file}: ${run.length} suite-1 clients, ${epochs} epochs, ${all.length - run.length} entries of other suites skipped`);
  });
}
