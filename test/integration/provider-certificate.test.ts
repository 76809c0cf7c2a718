// Signing in to a provider whose TLS certificate does not verify (another provider's CA, no CA for a
// dev CA, an address the certificate is not issued for) is said to be about the certificate, with
// what to check, and changes nothing: no account at the provider, no profile folder, in the app and
// in the `mimi` command. Real providers over real TLS on loopback.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreError } from '../../src-shared/contract.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { certificateProblem, ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { startProvider, type RunningProvider } from '../../src-provider/server.js';
import { PASSWORD, startTestProvider, type TestProvider } from '../helpers/provider-fixture.js';
import { freePort, tempDir, testDatabase } from '../helpers/provider-process.js';
import { mimi } from '../helpers/mimi-cli.js';

let a: TestProvider;
let b: TestProvider;
let core: AppCore;
let dataDir: string;

before(async () => {
  [a, b] = await Promise.all([startTestProvider('a.example'), startTestProvider('b.example')]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-cert-'));
  core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext' });
});
after(async () => {
  await core?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function signInFails(args: Parameters<AppCore['accounts']['register']>[0], how: 'register' | 'login' = 'register'): Promise<CoreError> {
  let caught: unknown;
  await core.accounts[how](args).then(
    () => assert.fail('sign-in should have failed'),
    (e) => (caught = e),
  );
  assert.ok(caught instanceof CoreError, String(caught));
  return caught;
}

function nothingChanged(): void {
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'accounts')), [], 'no profile folder was left behind');
  assert.equal(a.counts().users, 0, 'nothing was registered at the provider');
}

test("another provider's CA: the error names the certificate and the CA, not the internet connection", async () => {
  const e = await signInFails({ providerUrl: a.p.url, caPem: b.p.caPem, handle: 'alice', password: PASSWORD });
  assert.equal(e.code, 'providerCertificate', e.message);
  assert.match(e.message, /certificate of the provider at https:\/\/127\.0\.0\.1:\d+ is not signed by the CA certificate given for it/);
  assert.match(e.message, /\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
  assert.match(e.message, /check that the CA certificate is the provider's own CA/);
  assert.match(e.message, /Nothing was changed/);
  assert.doesNotMatch(e.message, /internet|can't be reached/i);
  nothingChanged();
  assert.deepEqual(await core.accounts.list(), []);
});

test('no CA for a provider with its own CA: the system does not trust it, said so', async () => {
  const e = await signInFails({ providerUrl: a.p.url, handle: 'alice', password: PASSWORD }, 'login');
  assert.equal(e.code, 'providerCertificate', e.message);
  assert.match(e.message, /not signed by a certificate authority this computer trusts/);
  assert.match(e.message, /CA certificate/);
  nothingChanged();
});

test('the right CA still signs in (the check is about the certificate, not the provider)', async () => {
  const account = await core.accounts.register({ providerUrl: a.p.url, caPem: a.p.caPem, handle: 'alice', password: PASSWORD });
  assert.equal(account.handle, 'alice');
  await core.accounts.signOut(account.id);
});

test('an address the certificate is not issued for: check the provider address', async (t) => {
  // The dev certificate covers the domain, localhost, 127.0.0.1 and ::1; 127.0.0.2 is loopback too
  // (Linux routes all of 127/8 there) but not in the certificate.
  let p: RunningProvider;
  const dir = tempDir('cert-name');
  try {
    p = await startProvider({ domain: 'c.example', host: '127.0.0.2', port: await freePort(), dataDir: dir, database: await testDatabase(dir), log: () => {} });
  } catch (e) {
    t.skip(`cannot listen on 127.0.0.2 here (${(e as Error).message})`);
    return;
  }
  t.after(async () => {
    await p.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const e = await signInFails({ providerUrl: p.url, caPem: p.caPem, handle: 'carol', password: PASSWORD });
  assert.equal(e.code, 'providerCertificate', e.message);
  assert.match(e.message, /issued for another name than 127\.0\.0\.2 \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
  assert.match(e.message, /check the provider address/);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'accounts')).filter((d) => !fs.existsSync(path.join(dataDir, 'accounts', d, 'profile.json'))), []);
});

test('the client keeps a certificate failure retryable (outbox) but marks it as a certificate problem', async () => {
  const client = new ProviderClient({ baseUrl: a.p.url, caPem: b.p.caPem });
  try {
    await assert.rejects(
      client.register({ handle: 'zed', password: PASSWORD, deviceName: 'x' }),
      (e: unknown) => e instanceof ProviderError && e.code === 'unreachable' && e.certificate?.kind === 'untrusted' && e.status === 0,
    );
  } finally {
    client.close();
  }
  // A refused connection is not a certificate problem.
  const nobody = new ProviderClient({ baseUrl: `https://127.0.0.1:${await freePort()}`, caPem: a.p.caPem });
  try {
    await assert.rejects(nobody.register({ handle: 'zed', password: PASSWORD, deviceName: 'x' }), (e: unknown) => e instanceof ProviderError && e.code === 'unreachable' && e.certificate === undefined);
  } finally {
    nobody.close();
  }
  assert.deepEqual(certificateProblem({ code: 'CERT_HAS_EXPIRED' }), { kind: 'expired', code: 'CERT_HAS_EXPIRED' });
  assert.deepEqual(certificateProblem({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), { kind: 'untrusted', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  assert.equal(certificateProblem({ code: 'ECONNREFUSED' }), undefined);
  assert.equal(certificateProblem(null), undefined);
});

test('the mimi command says the same: register with the wrong --ca exits 1 with the certificate advice', async () => {
  const dir = tempDir('cert-cli');
  const caFile = path.join(tempDir('cert-cli-ca'), 'wrong-ca.pem');
  fs.writeFileSync(caFile, b.p.caPem);
  const profile = path.join(dir, 'bob');
  const r = await mimi(['--profile', profile, 'register', '--provider', a.p.url, '--ca', caFile, '--handle', 'bob', '--password', PASSWORD]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /not signed by the CA certificate given for it/);
  assert.match(r.stderr, /check that the CA certificate is the provider's own CA/);
  assert.equal(fs.existsSync(path.join(profile, 'profile.json')), false);
});
