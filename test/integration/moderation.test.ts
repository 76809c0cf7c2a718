// The operator's moderation queue (src-provider/admin*.ts) on a real provider process: four users
// of a.example in one room it hosts (alice made it; bob, carol, dave were added), reports made
// through the core. The admin API lists and shows them only with the admin token (no token, a
// user's token or a wrong one: 401; the admin token is no use on the client API); a state-changing
// request from a foreign Origin is 403, without JSON 415. `remove` has the hub propose the alleged
// abuser's removal and the members commit it (the user's device leaves everyone's view), `dismiss`
// changes the state, each is logged (admin_actions and the provider's log). The command line
// (`provider-admin --data DIR`, with `--database` in the PostgreSQL pass, as an operator of such a
// provider gives it) lists, shows and dismisses in the database, and removes through the running
// provider.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { ProviderClient } from '../../src-main/net/provider-client.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { lounge } from '../helpers/lounge.js';
import { adminDataArgs as dataArgs, providerAdmin, startProviderProcess, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

const cli = (args: string[], viaNpm = false) => providerAdmin(args, { viaNpm });

let engine: MlsEngine;
let provider: ProviderProcess;
let token: string;
const profiles: Profile[] = [];
let alice: Profile, bob: Profile, carol: Profile, dave: Profile;
let room: string;
let errors: Map<string, string[]>;

const A = 'mimi://a.example/u/alice';
const B = 'mimi://a.example/u/bob';
const C = 'mimi://a.example/u/carol';
const D = 'mimi://a.example/u/dave';

const userToken = (p: Profile): string => (p as unknown as { client: ProviderClient }).client.token!;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A raw request to the provider (its CA pinned); headers exactly as given. */
function call(method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${provider.url}${p}`, { method, ca: provider.caPem, agent: false, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json = {};
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON (the page)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const get = (p: string, t = token) => call('GET', `/admin/api/${p}`, bearer(t));
const post = (p: string, headers: Record<string, string> = {}, t = token) =>
  call('POST', `/admin/api/${p}`, { ...bearer(t), 'content-type': 'application/json', origin: provider.url, ...headers }, '{}');

const actionsInDb = () => withProviderDb(provider.dataDir, (db) => db.prepare('SELECT who, via, action, report_id, room_uri, target, at FROM admin_actions ORDER BY id').all()) as { who: string; via: string; action: string; report_id: number; room_uri: string; target: string; at: number }[];

/** The id of the newest report whose note is `note`. */
async function reportId(note: string): Promise<number> {
  const r = await get('reports');
  const found = (r.json.reports as { id: number; note: string }[]).find((x) => x.note === note);
  assert.ok(found, `a report with note ${note}`);
  return found.id;
}

const membersAt = (p: Profile) => p.roomView(room).members;

before(async () => {
  engine = await createMlsEngine();
  provider = await startProviderProcess({ domain: 'a.example' });
  token = fs.readFileSync(path.join(provider.dataDir, 'admin-token'), 'utf8').trim();
  ({ alice, bob, carol, dave, room, errors } = await lounge(provider, { engine, keep: profiles, dirPrefix: 'mod' }));
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  await provider?.stop();
});

test('the admin token: made on first start, 0600, 43 base64url characters; the log says where, never what', () => {
  const file = path.join(provider.dataDir, 'admin-token');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(provider.output().includes(`admin token in ${file}`), provider.output());
  assert.ok(!provider.output().includes(token), 'the token is not in the log');
  assert.equal(fs.readFileSync(path.join(provider.dataDir, 'admin-url'), 'utf8').trim(), provider.url);
});

test('the page is served under a strict CSP, its script and style as files', async () => {
  const page = await call('GET', '/admin/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.equal(
    page.headers['content-security-policy'],
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  assert.equal(page.headers['access-control-allow-origin'], undefined);
  assert.doesNotMatch(page.text, /<script>|<style|\sstyle=|\son[a-z]+=/i, 'no inline script or style');
  assert.match(page.text, /<script src="admin.js" defer><\/script>/);
  const js = await call('GET', '/admin/admin.js');
  assert.deepEqual([js.status, String(js.headers['content-type'])], [200, 'text/javascript; charset=utf-8']);
  assert.doesNotMatch(js.text, /innerHTML|eval\(|new Function/);
  const css = await call('GET', '/admin/admin.css');
  assert.deepEqual([css.status, String(css.headers['content-type'])], [200, 'text/css; charset=utf-8']);
  const bare = await call('GET', '/admin');
  assert.deepEqual([bare.status, bare.headers.location], [308, '/admin/']);
  assert.equal((await call('GET', '/admin/nothing')).status, 404);
});

test('the API needs the admin token: none, a user token or a wrong one is 401; the admin token is no user token', async () => {
  await carol.reportAbuse(room, 'bob', 'bob keeps posting scam links');
  for (const [what, headers] of [
    ['no token', {}],
    ["carol's user token", bearer(userToken(carol))],
    ["alice's user token", bearer(userToken(alice))],
    ['a wrong token', bearer('x'.repeat(43))],
    ['the token with another scheme', { authorization: `Basic ${token}` }],
    ['the token plus a byte', bearer(`${token}x`)],
  ] as const) {
    for (const p of ['reports', 'reports/1']) {
      const r = await call('GET', `/admin/api/${p}`, headers);
      assert.equal(r.status, 401, `${what} on ${p}: ${r.text}`);
      assert.equal(r.json.error.code, 'unauthorized');
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="mimi-admin"');
    }
    const r = await call('POST', '/admin/api/reports/1/dismiss', { ...headers, 'content-type': 'application/json' }, '{}');
    assert.equal(r.status, 401, `${what} on dismiss: ${r.text}`);
  }
  // The admin token on the client API: no account has it.
  const me = await call('GET', '/v1/me', bearer(token));
  assert.equal(me.status, 401, me.text);
  assert.equal((await call('GET', '/v1/rooms', bearer(token))).status, 401);

  const list = await get('reports');
  assert.equal(list.status, 200, list.text);
  assert.equal(list.headers['access-control-allow-origin'], undefined);
  const mine = (list.json.reports as Record<string, unknown>[]).find((r) => r.note === 'bob keeps posting scam links');
  assert.ok(mine, JSON.stringify(list.json));
  assert.deepEqual({ ...mine, id: undefined, receivedAt: undefined }, {
    id: undefined,
    roomUri: room,
    reporter: C,
    allegedAbuser: B,
    reason: 0,
    note: 'bob keeps posting scam links',
    messages: 0,
    receivedAt: undefined,
    via: null,
    state: 'open',
    stateChangedAt: null,
  });
  assert.ok(Math.abs((mine.receivedAt as number) - Date.now()) < 120_000);
  const one = await get(`reports/${mine.id}`);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.report.allegedAbuser, B);
  assert.equal(one.json.report.room.hosted, true);
  assert.equal(one.json.report.room.memberCount, 4);
  assert.equal(one.json.report.room.allegedMembers.length, 1);
  assert.match(one.json.report.room.allegedMembers[0], /^mimi:\/\/a\.example\/d\/bob\//);
  assert.deepEqual(one.json.report.actions, []);
  // Bad ids and filters.
  assert.equal((await get('reports/999999')).status, 404);
  assert.equal((await get('reports/abc')).status, 400);
  assert.equal((await get('reports/0')).status, 400);
  assert.equal((await get('reports?state=weird')).status, 400);
  assert.equal((await get('reports/1/remove')).status, 405);
});

test('state-changing requests: a foreign Origin is 403, no JSON is 415, nothing changes', async () => {
  await alice.reportAbuse(room, 'carol', 'carol shouts');
  const id = await reportId('carol shouts');
  for (const origin of ['https://evil.example', 'null', `${provider.url}.evil.example`, provider.url.replace('https:', 'http:')]) {
    for (const action of ['dismiss', 'remove']) {
      const r = await post(`reports/${id}/${action}`, { origin });
      assert.equal(r.status, 403, `${origin} ${action}: ${r.text}`);
      assert.equal(r.json.error.code, 'notAllowed');
    }
  }
  const plain = await call('POST', `/admin/api/reports/${id}/dismiss`, { ...bearer(token), 'content-type': 'text/plain', origin: provider.url }, '{}');
  assert.equal(plain.status, 415, plain.text);
  const none = await call('POST', `/admin/api/reports/${id}/dismiss`, { ...bearer(token), origin: provider.url }, '{}');
  assert.equal(none.status, 415, none.text);
  const extra = await call('POST', `/admin/api/reports/${id}/dismiss`, { ...bearer(token), 'content-type': 'application/json' }, '{"why":1}');
  assert.equal(extra.status, 400, extra.text);
  assert.equal((await get(`reports/${id}`)).json.report.state, 'open');
  assert.deepEqual(actionsInDb().filter((a) => a.report_id === id), []);
  assert.ok(membersAt(alice).includes(C));
});

test('dismiss: the state changes, once; the action is logged', async () => {
  const id = await reportId('carol shouts');
  const r = await post(`reports/${id}/dismiss`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.report.state, 'dismissed');
  assert.ok(r.json.report.stateChangedAt > 0);
  assert.deepEqual(
    r.json.report.actions.map((a: Record<string, unknown>) => [a.who, a.via, a.action, a.target, a.roomUri]),
    [['admin', 'api', 'dismiss', C, room]],
  );
  const again = await post(`reports/${id}/dismiss`);
  assert.equal(again.status, 409, again.text);
  // The lists by state.
  const ids = async (state: string) => ((await get(`reports?state=${state}`)).json.reports as { id: number }[]).map((x) => x.id);
  assert.ok((await ids('dismissed')).includes(id));
  assert.ok(!(await ids('open')).includes(id));
  assert.ok((await ids('all')).includes(id));
  const rows = actionsInDb().filter((a) => a.report_id === id);
  assert.deepEqual(rows.map((a) => [a.who, a.via, a.action, a.room_uri, a.target]), [['admin', 'api', 'dismiss', room, C]]);
  assert.match(provider.output(), new RegExp(`admin: dismissed report ${id} `));
  // carol is still in the room.
  assert.ok(membersAt(alice).includes(C));
});

test('remove: the hub proposes removing bob, a member commits it, bob leaves everyone\'s view', async () => {
  const id = await reportId('bob keeps posting scam links');
  const r = await post(`reports/${id}/remove`, { origin: provider.url });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.report.state, 'actioned');
  assert.equal(r.json.proposed.length, 1);
  assert.match(r.json.proposed[0], /^mimi:\/\/a\.example\/d\/bob\//);
  await waitFor(() => [alice, carol, dave].every((p) => !membersAt(p).includes(B) && membersAt(p).length === 3), "bob gone from alice's, carol's and dave's view", 30_000);
  await waitFor(async () => (await get(`reports/${id}`)).json.report.room.allegedMembers.length === 0, 'the hub to see bob gone', 15_000);
  const detail = (await get(`reports/${id}`)).json.report;
  assert.equal(detail.room.memberCount, 3);
  assert.deepEqual(detail.actions.map((a: Record<string, unknown>) => [a.who, a.via, a.action, a.target]), [['admin', 'api', 'remove', B]]);
  assert.match(detail.actions[0].detail, /proposed removal of mimi:\/\/a\.example\/d\/bob\//);
  assert.match(provider.output(), new RegExp(`admin: report ${id}: proposed removal of mimi://a\\.example/d/bob/\\S+ \\(${B}\\) from ${room}`));
  // Nothing left to remove: 409, and no second action.
  const again = await post(`reports/${id}/remove`);
  assert.equal(again.status, 409, again.text);
  assert.deepEqual(actionsInDb().filter((a) => a.report_id === id).map((a) => a.action), ['remove']);
  // The others still talk.
  await alice.send(room, 'still here');
  await waitFor(() => carol.roomView(room).lastMessage?.text === 'still here', 'carol to get the message after the removal');
});

test('provider-admin on the data dir: reports, show, dismiss; remove through the running provider', async () => {
  await alice.reportAbuse(room, 'dave', 'dave floods the room');
  await carol.reportAbuse(room, 'alice', 'alice is \u001b[31mrude\u001b[0m');
  const daveId = await reportId('dave floods the room');
  const aliceId = await reportId('alice is \u001b[31mrude\u001b[0m');
  const data = dataArgs(provider.dataDir);

  const list = await cli([...data, 'reports'], true);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^#${daveId} +open .*${room.replace(/[.]/g, '\\.')}.*${A} -> ${D}`, 'm'));
  assert.ok(!list.stdout.includes('\u001b'), 'no terminal escape from a note reaches the terminal');
  assert.match(list.stdout, /\\u001b\[31mrude/);

  const json = await cli([...data, '--json', 'reports', '--state', 'open']);
  assert.equal(json.code, 0, json.stderr);
  const open = JSON.parse(json.stdout).reports as { id: number; state: string }[];
  assert.ok(open.every((r) => r.state === 'open'));
  assert.deepEqual(open.map((r) => r.id).sort((a, b) => a - b), [daveId, aliceId].sort((a, b) => a - b));

  const show = await cli([...data, 'show', String(daveId)]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`report #${daveId} \\(open\\)`));
  assert.match(show.stdout, /alleged abuser +mimi:\/\/a\.example\/u\/dave/);
  assert.match(show.stdout, /note +dave floods the room/);
  const showJson = await cli([...data, '--json', 'show', String(daveId)]);
  assert.equal(JSON.parse(showJson.stdout).report.room.allegedMembers.length, 1);

  const dismissed = await cli([...data, 'dismiss', String(aliceId)]);
  assert.equal(dismissed.code, 0, dismissed.stderr);
  assert.match(dismissed.stdout, new RegExp(`report #${aliceId} dismissed`));
  assert.equal((await get(`reports/${aliceId}`)).json.report.state, 'dismissed', 'the running provider sees it');
  const twice = await cli([...data, 'dismiss', String(aliceId)]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /is dismissed, not open/);

  const removed = await cli([...data, 'remove', String(daveId)]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /the hub proposed removing mimi:\/\/a\.example\/d\/dave\//);
  await waitFor(() => [alice, carol].every((p) => !membersAt(p).includes(D)), 'dave gone from the room', 30_000);
  assert.equal((await get(`reports/${daveId}`)).json.report.state, 'actioned');
  const logged = actionsInDb().filter((a) => a.report_id === daveId || a.report_id === aliceId);
  assert.deepEqual(logged.map((a) => [a.report_id, a.who, a.via, a.action, a.target]), [
    [aliceId, 'admin', 'cli', 'dismiss', A],
    [daveId, 'admin', 'api', 'remove', D],
  ]);
  assert.ok(logged.every((a) => Math.abs(a.at - Date.now()) < 120_000));

  // Failures: a clear message and the exit code.
  const missing = await cli([...data, 'show', '999999']);
  assert.deepEqual([missing.code, missing.stderr.trim()], [1, 'provider-admin: no report 999999']);
  const noMembers = await cli([...data, 'remove', String(daveId)]);
  assert.equal(noMembers.code, 1);
  assert.match(noMembers.stderr, /refused \(409\): .*has no member/);
  for (const args of [['reports'], [...data], [...data, 'show'], [...data, 'show', 'x1'], [...data, 'frobnicate', '1'], [...data, 'reports', '--state', 'odd'], [...data, 'show', '1', '--state', 'open']]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: provider-admin/);
  }
  const nowhere = await cli(['--data', path.join(provider.dataDir, 'nope'), 'reports']);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /no provider database/);
});

test('provider-admin remove with the provider stopped: says so, exit 1; admin-url is gone', async () => {
  await alice.reportAbuse(room, 'carol', 'carol again');
  const id = await reportId('carol again');
  // Up to here nobody's client ran into trouble in the background (what follows the stop may).
  assert.deepEqual([...errors.values()].flat(), []);
  await provider.stop();
  assert.ok(!fs.existsSync(path.join(provider.dataDir, 'admin-url')), 'the provider removes admin-url on shutdown');
  const r = await cli([...dataArgs(provider.dataDir), 'remove', String(id)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /admin-url is missing/);
  // The queue still works on the data dir.
  const list = await cli([...dataArgs(provider.dataDir), '--json', 'reports', '--state', 'open']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok((JSON.parse(list.stdout).reports as { id: number }[]).some((x) => x.id === id));
});
