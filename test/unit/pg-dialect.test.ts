// The SQLite → PostgreSQL statement rewrite (src-provider/pg/dialect.ts): each rule, what it must
// leave alone (strings, quoted names, comments), parameter numbering and the identity RETURNING.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityColumns, toPostgres } from '../../src-provider/pg/dialect.js';

const pg = (sql: string, ids?: Map<string, string>) => toPostgres(sql, ids).text;

test('? become $1, $2, … in order of appearance, and the count is reported', () => {
  const r = toPostgres('SELECT a FROM t WHERE b = ? AND c IN (?, ?) LIMIT ?');
  assert.equal(r.text, 'SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) LIMIT $4');
  assert.equal(r.params, 4);
  assert.equal(r.returnsId, false);
  assert.equal(toPostgres('SELECT 1').params, 0);
});

test('a ? inside a string, a quoted name or a comment is not a parameter', () => {
  const r = toPostgres(`SELECT '?' AS q, "we?rd" FROM t -- why?\nWHERE a = ? /* and ? here */ AND b = 'it''s ?'`);
  assert.equal(r.text, `SELECT '?' AS q, "we?rd" FROM t -- why?\nWHERE a = $1 /* and ? here */ AND b = 'it''s ?'`);
  assert.equal(r.params, 1);
});

test('rules do not touch strings or comments', () => {
  assert.equal(pg("SELECT 'rowid instr( AS fooBar IS ?' FROM t"), "SELECT 'rowid instr( AS fooBar IS ?' FROM t");
  assert.equal(pg('SELECT a FROM t -- ORDER BY rowid\n'), 'SELECT a FROM t -- ORDER BY rowid');
  assert.equal(pg('SELECT a /* max(a, b) */ FROM t'), 'SELECT a /* max(a, b) */ FROM t');
});

test('INSERT OR IGNORE becomes ON CONFLICT DO NOTHING, before any RETURNING', () => {
  assert.equal(pg('INSERT OR IGNORE INTO t (a, b) VALUES (?, ?)'), 'INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING');
  assert.equal(pg('insert or ignore into t (a) values (?);'), 'INSERT INTO t (a) values ($1) ON CONFLICT DO NOTHING');
  assert.equal(pg('INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id'), 'INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id');
  assert.throws(() => toPostgres('INSERT OR IGNORE INTO t (a) VALUES (1); SELECT 1'), /single statements/);
});

test('INSERT OR REPLACE is refused with the way to write it', () => {
  assert.throws(() => toPostgres('INSERT OR REPLACE INTO t (a) VALUES (?)'), /INSERT OR REPLACE.*ON CONFLICT/);
  assert.throws(() => toPostgres('insert or replace into t (a) values (1)'), /INSERT OR REPLACE/);
  // …but not when the words are only in a string
  assert.equal(pg("SELECT 'INSERT OR REPLACE'"), "SELECT 'INSERT OR REPLACE'");
});

test('IS ? and IS NOT ? compare any two values', () => {
  assert.equal(pg('SELECT 1 FROM t WHERE a IS ?'), 'SELECT 1 FROM t WHERE a IS NOT DISTINCT FROM $1');
  assert.equal(pg('SELECT 1 FROM t WHERE a IS NOT ? AND b IS NULL'), 'SELECT 1 FROM t WHERE a IS DISTINCT FROM $1 AND b IS NULL');
  assert.equal(pg('SELECT 1 FROM t WHERE a IS NOT NULL'), 'SELECT 1 FROM t WHERE a IS NOT NULL');
});

test('camelCase aliases are quoted; lower-case ones and quoted ones stay', () => {
  assert.equal(pg('SELECT room_uri AS roomUri, epoch AS e, x AS "keptAs" FROM t'), 'SELECT room_uri AS "roomUri", epoch AS e, x AS "keptAs" FROM t');
  assert.equal(pg('SELECT COUNT(*) AS lastSeq2 FROM t'), 'SELECT COUNT(*) AS "lastSeq2" FROM t');
});

test('rowid becomes row_order', () => {
  assert.equal(pg('SELECT a FROM t ORDER BY rowid DESC'), 'SELECT a FROM t ORDER BY row_order DESC');
  assert.equal(pg('SELECT t.ROWID FROM t'), 'SELECT t.row_order FROM t');
  assert.equal(pg('SELECT my_rowid FROM t'), 'SELECT my_rowid FROM t');
});

test('instr becomes strpos', () => {
  assert.equal(pg('SELECT instr(a, ?) FROM t'), 'SELECT strpos(a, $1) FROM t');
});

test('scalar max/min of plain arguments become GREATEST/LEAST; the aggregates stay', () => {
  assert.equal(pg('UPDATE t SET a = max(t.a, excluded.a), b = min(b, ?)'), 'UPDATE t SET a = GREATEST(t.a, excluded.a), b = LEAST(b, $1)');
  assert.equal(pg('SELECT max(seq) FROM t'), 'SELECT max(seq) FROM t');
  assert.equal(pg('SELECT MIN(a), max(coalesce(b, 0)) FROM t'), 'SELECT MIN(a), max(coalesce(b, 0)) FROM t');
});

test('json_each(?) becomes json_array_elements_text with value and key', () => {
  assert.equal(
    pg('SELECT j.value FROM json_each(?) j WHERE j.value = a'),
    'SELECT j.value FROM json_array_elements_text($1::json) WITH ORDINALITY AS j(value, key) WHERE j.value = a',
  );
  assert.equal(
    pg('SELECT value FROM json_each(?) ORDER BY key'),
    'SELECT value FROM json_array_elements_text($1::json) WITH ORDINALITY AS je(value, key) ORDER BY key',
  );
  assert.equal(pg('SELECT value FROM json_each(?) WHERE value > ?'), 'SELECT value FROM json_array_elements_text($1::json) WITH ORDINALITY AS je(value, key) WHERE value > $2');
});

test("x'…' blob literals become bytea; a string ending in x is not one", () => {
  assert.equal(pg("SELECT x'00ff' AS b"), "SELECT '\\x00ff'::bytea AS b");
  assert.equal(pg("SELECT 1 FROM t WHERE a = X'AB'"), "SELECT 1 FROM t WHERE a = '\\xAB'::bytea");
  assert.equal(pg("SELECT 'box'"), "SELECT 'box'");
  assert.equal(pg("SELECT max'ab'"), "SELECT max'ab'");
});

test('= ? COLLATE NOCASE becomes a comparison of lower()', () => {
  assert.equal(pg('SELECT id FROM users WHERE u.email = ? COLLATE NOCASE'), 'SELECT id FROM users WHERE lower(u.email) = lower($1)');
});

test('group_concat(DISTINCT x) becomes string_agg', () => {
  assert.equal(pg('SELECT group_concat(DISTINCT t.a) FROM t'), "SELECT string_agg(DISTINCT t.a::text, ',') FROM t");
});

test('an INSERT into a table with an identity column returns it, unless it says otherwise', () => {
  const ids = identityColumns([
    `CREATE TABLE users (\n  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n  handle TEXT NOT NULL\n);`,
    `CREATE TABLE IF NOT EXISTS outbox (\n  seq BIGINT GENERATED ALWAYS AS IDENTITY,\n  body BYTEA\n);\nCREATE TABLE plain (\n  a TEXT\n);`,
  ]);
  assert.deepEqual([...ids], [['users', 'id'], ['outbox', 'seq']]);
  const r = toPostgres('INSERT INTO users (handle) VALUES (?);', ids);
  assert.equal(r.text, 'INSERT INTO users (handle) VALUES ($1) RETURNING id');
  assert.equal(r.returnsId, true);
  assert.equal(toPostgres('INSERT INTO outbox (body) VALUES (?)', ids).text, 'INSERT INTO outbox (body) VALUES ($1) RETURNING seq');
  // Tables without one, statements with their own RETURNING or ON CONFLICT, and multi-statement text: as written.
  assert.equal(toPostgres('INSERT INTO plain (a) VALUES (?)', ids).returnsId, false);
  const own = toPostgres('INSERT INTO users (handle) VALUES (?) RETURNING handle', ids);
  assert.equal(own.text, 'INSERT INTO users (handle) VALUES ($1) RETURNING handle');
  assert.equal(own.returnsId, false);
  const conflict = toPostgres('INSERT INTO users (handle) VALUES (?) ON CONFLICT DO NOTHING', ids);
  assert.equal(conflict.returnsId, false);
  assert.equal(toPostgres('INSERT OR IGNORE INTO users (handle) VALUES (?)', ids).returnsId, false);
  assert.equal(toPostgres('INSERT INTO users (handle) VALUES (1); SELECT 1', ids).returnsId, false);
});

test('unterminated strings and comments are errors, not silent rewrites', () => {
  assert.throws(() => toPostgres("SELECT 'abc"), /unterminated/);
  assert.throws(() => toPostgres('SELECT "abc'), /unterminated/);
  assert.throws(() => toPostgres('SELECT 1 /* never closed'), /unterminated comment/);
});
