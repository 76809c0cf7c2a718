// The moderation page the provider serves under /admin/ (admin.ts): one HTML document, its script
// and its style sheet, self-contained (no external resources) under a strict CSP: no inline script
// or style, nothing rendered through innerHTML (every value goes in with textContent). The admin
// token is asked for and kept in sessionStorage (this tab only), sent as a bearer header, never in
// a URL.

export const ADMIN_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const ADMIN_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Moderation queue</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="admin.css">
<script src="admin.js" defer></script>
</head>
<body>
<header class="top">
  <h1>Moderation queue</h1>
  <button type="button" id="signout" class="quiet" hidden>Forget token</button>
</header>
<main id="main">
  <p id="status" role="status" aria-live="polite"></p>
  <p id="error" role="alert" class="error"></p>

  <section id="signin" aria-labelledby="signin-title" hidden>
    <h2 id="signin-title" tabindex="-1">Sign in</h2>
    <p>The provider made the token on its first start: it is in the file <code>admin-token</code> in its data directory. It is kept in this tab only.</p>
    <form id="signin-form" novalidate>
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required aria-describedby="token-hint">
      <p id="token-hint" class="hint">43 characters, letters, digits, - and _.</p>
      <button type="submit">Open the queue</button>
    </form>
  </section>

  <section id="queue" aria-labelledby="queue-title" hidden>
    <h2 id="queue-title" tabindex="-1">Reports</h2>
    <div class="toolbar">
      <label for="filter">Show</label>
      <select id="filter">
        <option value="open">Open</option>
        <option value="all">All</option>
        <option value="actioned">Actioned</option>
        <option value="dismissed">Dismissed</option>
      </select>
      <button type="button" id="refresh">Refresh</button>
    </div>
    <p id="empty" hidden>No reports here.</p>
    <ul id="reports" class="reports"></ul>
  </section>

  <section id="detail" aria-labelledby="detail-title" hidden>
    <h2 id="detail-title" tabindex="-1">Report</h2>
    <dl id="detail-fields" class="fields"></dl>
    <h3>Note</h3>
    <p id="detail-note" class="note"></p>
    <h3>Room now</h3>
    <p id="detail-room"></p>
    <h3>Actions</h3>
    <p id="detail-no-actions">None yet.</p>
    <ul id="detail-actions" class="actions-log"></ul>
    <div class="buttons">
      <button type="button" id="remove" class="danger">Remove from room</button>
      <button type="button" id="ban" class="danger">Ban from room</button>
      <button type="button" id="dismiss">Dismiss</button>
      <button type="button" id="back" class="quiet">Back to the reports</button>
    </div>
  </section>
</main>
</body>
</html>
`;

export const ADMIN_CSS = `:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --fg: #1b1b1f;
  --muted: #4a4a55;
  --line: #c8c8d0;
  --card: #f5f5f8;
  --accent: #1f4fbf;
  --accent-fg: #ffffff;
  --danger: #a3141c;
  --danger-fg: #ffffff;
  --focus: #b35c00;
  --open: #7a4a00;
  --done: #1c6b2e;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15161a;
    --fg: #ececf1;
    --muted: #b8b8c4;
    --line: #4a4b55;
    --card: #202128;
    --accent: #8fb0ff;
    --accent-fg: #0b0c10;
    --danger: #ff9a9a;
    --danger-fg: #1a0506;
    --focus: #ffb866;
    --open: #ffcf7a;
    --done: #8fe0a0;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
}
.top {
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
  align-items: center;
  justify-content: space-between;
  padding: 0.75rem 1rem;
  border-bottom: 1px solid var(--line);
}
h1 { font-size: 1.35rem; margin: 0; }
h2 { font-size: 1.2rem; margin: 0.5rem 0 0.75rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.25rem; }
main { max-width: 60rem; margin: 0 auto; padding: 0.5rem 1rem 2rem; }
[hidden] { display: none !important; }
code { font-family: ui-monospace, monospace; }
#status:empty, #error:empty { display: none; }
#status { color: var(--muted); }
.error { color: var(--danger); font-weight: 600; }
label { font-weight: 600; }
form { display: grid; gap: 0.4rem; max-width: 32rem; }
input, select, button {
  font: inherit;
  color: inherit;
  border-radius: 6px;
}
input, select {
  background: var(--bg);
  border: 1px solid var(--muted);
  padding: 0.45rem 0.55rem;
  min-width: 0;
}
button {
  cursor: pointer;
  background: var(--accent);
  color: var(--accent-fg);
  border: 1px solid var(--accent);
  padding: 0.45rem 0.9rem;
}
button.quiet { background: transparent; color: var(--fg); border-color: var(--muted); }
button.danger { background: var(--danger); border-color: var(--danger); color: var(--danger-fg); }
button:disabled { opacity: 0.6; cursor: not-allowed; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
h2:focus { outline: none; }
h2:focus-visible { outline: 3px solid var(--focus); }
.hint { margin: 0; color: var(--muted); font-size: 0.9rem; }
.toolbar { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin-bottom: 0.75rem; }
.reports { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.6rem; }
.report {
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 8px;
  padding: 0.6rem 0.8rem;
}
.report h3 { margin: 0 0 0.3rem; font-size: 1rem; }
.report h3 button { padding: 0.25rem 0.6rem; }
.fields {
  display: grid;
  grid-template-columns: max-content minmax(0, 1fr);
  gap: 0.15rem 0.8rem;
  margin: 0;
}
.fields dt { color: var(--muted); }
.fields dd { margin: 0; overflow-wrap: anywhere; }
.state-open { color: var(--open); font-weight: 600; }
.state-actioned, .state-dismissed { color: var(--done); font-weight: 600; }
.note { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 0.7rem; }
.actions-log { padding-left: 1.2rem; }
.actions-log li { overflow-wrap: anywhere; }
.buttons { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 1.2rem; }
@media (max-width: 520px) {
  .fields { grid-template-columns: minmax(0, 1fr); }
  .fields dd { margin-bottom: 0.35rem; }
  main { padding: 0.5rem 0.6rem 1.5rem; }
}
`;

/** Plain browser script (no modules, no eval, no innerHTML). */
export const ADMIN_JS = `'use strict';
(function () {
  var KEY = 'mimi-admin-token';
  var $ = function (id) { return document.getElementById(id); };
  var current = null; // the report shown in detail
  var lastOpened = null; // its id, to give focus back to its row

  function token() { return sessionStorage.getItem(KEY); }
  function say(text) { $('status').textContent = text || ''; }
  function fail(text) { $('error').textContent = text || ''; }
  function when(ms) { return ms === null || ms === undefined ? '' : new Date(ms).toLocaleString(); }

  function show(which) {
    ['signin', 'queue', 'detail'].forEach(function (id) { $(id).hidden = id !== which; });
    $('signout').hidden = which === 'signin';
  }

  function focusHeading(id) {
    var h = $(id);
    if (h) h.focus();
  }

  function api(method, path) {
    var t = token();
    if (!t) return Promise.reject(Object.assign(new Error('no token'), { status: 401 }));
    var init = { method: method, headers: { Authorization: 'Bearer ' + t }, cache: 'no-store', credentials: 'omit' };
    if (method === 'POST') {
      init.headers['Content-Type'] = 'application/json';
      init.body = '{}';
    }
    return fetch('api/' + path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) {
          var msg = body && body.error && typeof body.error.message === 'string' ? body.error.message : 'HTTP ' + res.status;
          throw Object.assign(new Error(msg), { status: res.status });
        }
        return body;
      });
    });
  }

  function handle(err) {
    if (err && err.status === 401) {
      sessionStorage.removeItem(KEY);
      show('signin');
      fail('The token was refused. Enter the admin token again.');
      focusHeading('signin-title');
      return;
    }
    fail(err && err.message ? err.message : String(err));
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function field(dl, name, value, cls) {
    dl.appendChild(el('dt', name));
    var dd = el('dd', value, cls);
    dl.appendChild(dd);
    return dd;
  }

  function via(r) { return r.via === null ? 'this provider (a local user)' : r.via; }
  function reason(r) { return r.reason === 0 ? 'none given (0)' : 'code ' + r.reason; }
  function shortNote(n) { return n.length > 140 ? n.slice(0, 140) + '…' : n; }

  function fill(dl, r, short) {
    dl.textContent = '';
    field(dl, 'State', r.state, 'state-' + r.state);
    field(dl, 'Room', r.roomUri);
    field(dl, 'Reporter', r.reporter);
    field(dl, 'Alleged abuser', r.allegedAbuser);
    field(dl, 'Reason', reason(r));
    if (short) field(dl, 'Note', r.note === '' ? '(none)' : shortNote(r.note));
    field(dl, 'Messages', r.messages);
    field(dl, 'Received', when(r.receivedAt));
    field(dl, 'Via', via(r));
  }

  function loadQueue(focus) {
    fail('');
    say('Loading reports…');
    var filter = $('filter').value;
    return api('GET', 'reports?state=' + encodeURIComponent(filter)).then(function (body) {
      var list = $('reports');
      list.textContent = '';
      body.reports.forEach(function (r) {
        var li = el('li', null, 'report');
        var h = el('h3');
        var b = el('button', 'Report #' + r.id + ': ' + r.allegedAbuser, 'quiet');
        b.type = 'button';
        b.dataset.id = String(r.id);
        b.addEventListener('click', function () { openReport(r.id); });
        h.appendChild(b);
        li.appendChild(h);
        var dl = el('dl', null, 'fields');
        fill(dl, r, true);
        li.appendChild(dl);
        list.appendChild(li);
      });
      $('empty').hidden = body.reports.length !== 0;
      show('queue');
      say(body.reports.length + (body.reports.length === 1 ? ' report' : ' reports') + ' (' + $('filter').selectedOptions[0].textContent.toLowerCase() + ').');
      if (location.hash !== '') history.replaceState(null, '', location.pathname);
      if (focus === 'row' && lastOpened !== null) {
        var row = list.querySelector('button[data-id="' + lastOpened + '"]');
        if (row) { row.focus(); return; }
      }
      if (focus) focusHeading('queue-title');
    }).catch(handle);
  }

  function renderDetail(r) {
    current = r;
    $('detail-title').textContent = 'Report #' + r.id;
    fill($('detail-fields'), r, false);
    $('detail-note').textContent = r.note === '' ? '(no note)' : r.note;
    var room = r.room;
    var roomText;
    if (!room.hosted) roomText = 'The room is no longer hosted here.';
    else if (room.allegedMembers.length === 0) roomText = r.allegedAbuser + ' has no member in the room now (' + room.memberCount + ' members in all).';
    else roomText = r.allegedAbuser + ' is in the room with ' + room.allegedMembers.length + (room.allegedMembers.length === 1 ? ' device' : ' devices') + ': ' + room.allegedMembers.join(', ') + ' (' + room.memberCount + ' members in all).';
    if (room.ban === 'banned') roomText += ' ' + r.allegedAbuser + ' is banned from the room.';
    else if (room.ban === 'pending') roomText += ' The ban waits for a member to commit it.';
    $('detail-room').textContent = roomText;
    var log = $('detail-actions');
    log.textContent = '';
    r.actions.forEach(function (a) {
      log.appendChild(el('li', when(a.at) + ': ' + a.who + ' (' + a.via + ') ' + (a.action === 'remove' ? 'removed ' + a.target + ' from the room' : a.action === 'ban' ? 'banned ' + a.target + ' from the room' : 'dismissed the report') + (a.detail ? ' — ' + a.detail : '')));
    });
    $('detail-no-actions').hidden = r.actions.length !== 0;
    $('remove').disabled = !room.hosted || room.allegedMembers.length === 0;
    $('ban').disabled = !room.hosted || room.ban !== null;
    $('dismiss').disabled = r.state !== 'open';
  }

  function openReport(id) {
    fail('');
    say('Loading report #' + id + '…');
    return api('GET', 'reports/' + id).then(function (body) {
      lastOpened = id;
      renderDetail(body.report);
      show('detail');
      say('');
      if (location.hash !== '#report-' + id) history.replaceState(null, '', '#report-' + id);
      focusHeading('detail-title');
    }).catch(handle);
  }

  function act(action) {
    if (!current) return;
    var r = current;
    if (action === 'remove' && !window.confirm('Have the hub remove ' + r.allegedAbuser + ' from ' + r.roomUri + '?')) return;
    if (action === 'ban' && !window.confirm('Have the hub ban ' + r.allegedAbuser + ' from ' + r.roomUri + '? They are removed and cannot come back.')) return;
    fail('');
    say(action === 'remove' ? 'Asking the hub to remove ' + r.allegedAbuser + '…' : action === 'ban' ? 'Asking the hub to ban ' + r.allegedAbuser + '…' : 'Dismissing report #' + r.id + '…');
    $('remove').disabled = true;
    $('ban').disabled = true;
    $('dismiss').disabled = true;
    api('POST', 'reports/' + r.id + '/' + action).then(function (body) {
      renderDetail(body.report);
      var devices = body.proposed ? body.proposed.length + (body.proposed.length === 1 ? ' device' : ' devices') : '';
      say(action === 'remove'
        ? 'The hub proposed removing ' + r.allegedAbuser + ' (' + devices + '); the room\\'s members commit it. Report #' + r.id + ' is actioned.'
        : action === 'ban'
          ? 'The hub proposed banning ' + r.allegedAbuser + (body.proposed.length ? ' and removing ' + devices : '') + '; the room\\'s members commit it. Report #' + r.id + ' is actioned.'
          : 'Report #' + r.id + ' dismissed.');
      focusHeading('detail-title');
    }).catch(function (err) {
      if (current) renderDetail(current);
      handle(err);
    });
  }

  function start() {
    $('signin-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = $('token').value.trim();
      if (!/^[A-Za-z0-9_-]{43}$/.test(v)) {
        fail('That does not look like an admin token (43 characters: letters, digits, - and _).');
        $('token').setAttribute('aria-invalid', 'true');
        $('token').focus();
        return;
      }
      $('token').removeAttribute('aria-invalid');
      sessionStorage.setItem(KEY, v);
      $('token').value = '';
      route(true);
    });
    $('signout').addEventListener('click', function () {
      sessionStorage.removeItem(KEY);
      current = null;
      say('The token is forgotten in this tab.');
      fail('');
      show('signin');
      $('token').focus();
    });
    $('filter').addEventListener('change', function () { loadQueue(false); });
    $('refresh').addEventListener('click', function () { loadQueue(false); });
    $('back').addEventListener('click', function () { loadQueue('row'); });
    $('remove').addEventListener('click', function () { act('remove'); });
    $('ban').addEventListener('click', function () { act('ban'); });
    $('dismiss').addEventListener('click', function () { act('dismiss'); });
    window.addEventListener('hashchange', function () { if (token()) route(true); });
    route(false);
  }

  function route(focus) {
    if (!token()) {
      show('signin');
      if (focus) $('token').focus();
      return;
    }
    var m = /^#report-(\\d{1,15})$/.exec(location.hash);
    if (m) openReport(Number(m[1]));
    else loadQueue(focus);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;
