import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CONTENT_TYPE_MARKDOWN,
  CONTENT_TYPE_PLAIN,
  ContentError,
  Disposition,
  cborFromJson,
  cborToJson,
  computeMessageId,
  contentFromJson,
  contentToJson,
  decodeContent,
  decodeDerivedValues,
  deleteMessage,
  editMessage,
  encodeContent,
  encodeDerivedValues,
  messageId,
  reactionMessage,
  summarize,
  textMessage,
  unlikeMessage,
  type Json,
  type MimiContent,
  type NestedPart,
} from '../../src-shared/content.js';
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../../src-shared/cbor.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VECTORS = path.resolve(REPO_ROOT, '../shared/vectors/mimi-content');

interface Vector {
  name: string;
  cbor: Uint8Array;
  /** From the .edn header; absent for the derived-values example. */
  messageId?: string;
}

function loadVectors(): Vector[] {
  const files = readdirSync(VECTORS).filter((f) => f.endsWith('.cbor')).sort();
  return files.map((f) => {
    const name = f.slice(0, -'.cbor'.length);
    const ednPath = path.join(VECTORS, `${name}.edn`);
    assert.ok(existsSync(ednPath), `${name}.cbor has no matching .edn`);
    const edn = readFileSync(ednPath, 'utf8');
    // "# message ID = h'0176...\n#                05c3...'" - the hex may continue on a comment line.
    const m = /^# message ID = h'([^']*)'/m.exec(edn);
    const id = m ? m[1].replace(/[#\s]/g, '') : undefined;
    if (id !== undefined) assert.match(id, /^[0-9a-f]{64}$/, `${name}.edn message ID`);
    return { name, cbor: new Uint8Array(readFileSync(path.join(VECTORS, f))), messageId: id };
  });
}

const vectors = loadVectors();
const byName = (name: string): Vector => {
  const v = vectors.find((x) => x.name === name);
  assert.ok(v, `vector ${name} missing`);
  return v;
};
const content = (name: string): MimiContent => decodeContent(byName(name).cbor);
const idOf = (name: string): Uint8Array => messageId(byName(name).cbor);

test('vector directory is complete', () => {
  assert.equal(vectors.length, 15);
  assert.equal(vectors.filter((v) => v.messageId).length, 14);
});

for (const v of vectors) {
  if (v.messageId) {
    test(`vector ${v.name}: decode -> encode is byte-exact, message ID matches, JSON round-trips`, () => {
      const c = decodeContent(v.cbor);
      assert.equal(toHex(encodeContent(c)), toHex(v.cbor));
      assert.equal(toHex(messageId(v.cbor)), v.messageId);
      const json = JSON.parse(JSON.stringify(contentToJson(c))) as Json;
      const rebuilt = contentFromJson(json);
      assert.equal(toHex(encodeContent(rebuilt)), toHex(v.cbor));
      assert.deepStrictEqual(rebuilt, c);
    });
  } else {
    test(`vector ${v.name}: derived values decode -> encode is byte-exact and it is not content`, () => {
      const d = decodeDerivedValues(v.cbor);
      assert.equal(toHex(encodeDerivedValues(d)), toHex(v.cbor));
      assert.equal(d.senderLeafIndex, 4);
      assert.equal(d.hubAcceptedTimestamp, 1644387225019);
      // Sender and room agree with the original message this example describes.
      const original = content('original');
      assert.equal(d.senderUserUrl, original.extensions.get(1));
      assert.equal(d.roomUrl, original.extensions.get(2));
      assert.throws(() => decodeContent(v.cbor), ContentError);
    });
  }
}

test('message ID follows the -08 construction (checked against node:crypto)', () => {
  const v = byName('mention');
  const c = decodeContent(v.cbor);
  const sender = utf8(c.extensions.get(1) as string);
  const room = utf8(c.extensions.get(2) as string);
  const u16 = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);
  const digest = createHash('sha256')
    .update(concatBytes(u16(sender.length), sender, u16(room.length), room, v.cbor, c.salt))
    .digest();
  const expected = concatBytes(Uint8Array.of(1), new Uint8Array(digest).subarray(0, 31));
  assert.equal(toHex(messageId(v.cbor)), toHex(expected));
  // An explicit salt replaces the one read from the content.
  const salt = new Uint8Array(16).fill(7);
  const withSalt = messageId(v.cbor, salt);
  assert.notEqual(toHex(withSalt), toHex(expected));
  assert.equal(toHex(withSalt), toHex(computeMessageId(c.extensions.get(1) as string, c.extensions.get(2) as string, v.cbor, salt)));
});

test('references between the examples resolve to the computed IDs', () => {
  const original = idOf('original');
  assert.equal(toHex(content('reply').inReplyTo!), toHex(original));
  assert.equal(toHex(content('reaction').inReplyTo!), toHex(original));
  assert.equal(toHex(content('edit').replaces!), toHex(idOf('reply')));
  assert.equal(toHex(content('delete').replaces!), toHex(idOf('reply')));
  assert.equal(toHex(content('unlike').replaces!), toHex(idOf('reaction')));
});

test('constructors reproduce the draft examples byte for byte', () => {
  const alice = 'mimi://example.com/u/alice-smith';
  const bob = 'mimi://example.com/u/bob-jones';
  const cathy = 'mimi://example.com/u/cathy-washington';
  const room = 'mimi://example.com/r/engineering_team';
  const saltOf = (name: string): Uint8Array => content(name).salt;
  const original = idOf('original');
  const reply = idOf('reply');
  const cases: [string, MimiContent][] = [
    [
      'original',
      textMessage({
        senderUri: alice,
        roomUri: room,
        text: 'Hi everyone, we just shipped release 2.0. __Good  work__!',
        markdown: true,
        salt: saltOf('original'),
      }),
    ],
    [
      'reply',
      textMessage({
        senderUri: bob,
        roomUri: room,
        text: "Right on! _Congratulations_ 'all!",
        markdown: true,
        inReplyTo: original,
        salt: saltOf('reply'),
      }),
    ],
    ['reaction', reactionMessage({ senderUri: cathy, roomUri: room, inReplyTo: original, reaction: '\u2764', salt: saltOf('reaction') })],
    [
      'edit',
      editMessage({
        senderUri: bob,
        roomUri: room,
        replaces: reply,
        inReplyTo: original,
        text: "Right on! _Congratulations_ y'all!",
        markdown: true,
        salt: saltOf('edit'),
      }),
    ],
    ['delete', deleteMessage({ senderUri: bob, roomUri: room, replaces: reply, inReplyTo: original, salt: saltOf('delete') })],
    [
      'unlike',
      unlikeMessage({ senderUri: cathy, roomUri: room, replaces: idOf('reaction'), inReplyTo: original, salt: saltOf('unlike') }),
    ],
  ];
  for (const [name, c] of cases) assert.equal(toHex(encodeContent(c)), toHex(byName(name).cbor), name);
});

test('constructors draw a fresh random salt and plain text uses text/plain', () => {
  const a = textMessage({ senderUri: 'mimi://a.example/u/a', roomUri: 'mimi://a.example/r/x', text: 'hi' });
  const b = textMessage({ senderUri: 'mimi://a.example/u/a', roomUri: 'mimi://a.example/r/x', text: 'hi' });
  assert.equal(a.salt.length, 16);
  assert.notEqual(toHex(a.salt), toHex(b.salt));
  assert.notEqual(toHex(messageId(encodeContent(a))), toHex(messageId(encodeContent(b))));
  assert.equal(a.body.cardinality === 1 && a.body.contentType, CONTENT_TYPE_PLAIN);
  assert.deepStrictEqual(summarize(a), { kind: 'text', text: 'hi', contentType: CONTENT_TYPE_PLAIN });
});

test('summarize gives the display view of every example', () => {
  const original = toHex(idOf('original'));
  const s = (name: string) => summarize(content(name));
  assert.deepStrictEqual(
    { ...s('original') },
    { kind: 'text', text: 'Hi everyone, we just shipped release 2.0. __Good  work__!', contentType: CONTENT_TYPE_MARKDOWN },
  );
  assert.equal(s('reply').kind, 'text');
  assert.equal(toHex(s('reply').inReplyTo!), original);
  const reaction = s('reaction');
  assert.equal(reaction.kind, 'reaction');
  assert.equal(reaction.reaction, '\u2764');
  assert.equal(toHex(reaction.inReplyTo!), original);
  const edit = s('edit');
  assert.equal(edit.kind, 'edit');
  assert.equal(edit.text, "Right on! _Congratulations_ y'all!");
  assert.equal(toHex(edit.replaces!), toHex(idOf('reply')));
  assert.equal(s('delete').kind, 'delete');
  assert.equal(s('unlike').kind, 'delete');
  assert.equal(toHex(s('unlike').replaces!), toHex(idOf('reaction')));
  const att = s('attachment');
  assert.equal(att.kind, 'attachment');
  assert.equal(att.text, 'bigfile.mp4');
  assert.equal(att.contentType, 'video/mp4');
  assert.equal(att.external?.size, 708234961);
  const conf = s('conferencing');
  assert.equal(conf.kind, 'other');
  assert.equal(conf.text, 'Join the Foo 118 conference');
  assert.equal(conf.external?.url, 'https://example.com/join/12345');
  assert.deepStrictEqual(s('multipart-2').reactions, ['\u2764', '\u{1F973}', '\u{1F91E}']);
  assert.equal(s('multipart-1').text, '# Welcome!');
  const mp3 = s('multipart-3');
  assert.equal(mp3.kind, 'text');
  assert.equal(mp3.contentType, 'text/html;charset=utf-8');
  assert.match(mp3.text, /<h1>Welcome!<\/h1>/);
  assert.equal(s('mention-html').contentType, 'text/html;charset=utf-8');
  assert.equal(s('expiring').kind, 'text');
});

test('JSON shows text parts as strings and uses hex for bytes', () => {
  const json = contentToJson(content('original')) as Record<string, Json>;
  const body = json.body as Record<string, Json>;
  assert.equal(body.text, 'Hi everyone, we just shipped release 2.0. __Good  work__!');
  assert.equal(body.content, toHex(utf8(body.text as string)));
  assert.equal(json.salt, '5eed9406c2545547ab6f09f20a18b003');
  assert.deepStrictEqual(json.extensions, [
    [1, 'mimi://example.com/u/alice-smith'],
    [2, 'mimi://example.com/r/engineering_team'],
  ]);
  // The vendor-specific binary part of multipart-1 has no "text".
  const mp1 = (contentToJson(content('multipart-1')) as Record<string, Record<string, Json[]>>).body.parts;
  assert.equal((mp1[1] as Record<string, Json>).text, undefined);
});

test('JSON: "text" alone rebuilds content; a contradicting "text" is rejected', () => {
  const json = contentToJson(content('original')) as Record<string, Json>;
  const body = { ...(json.body as Record<string, Json>) };
  delete body.content;
  const rebuilt = contentFromJson({ ...json, body });
  assert.equal(toHex(encodeContent(rebuilt)), toHex(byName('original').cbor));
  const bad = { ...(json.body as Record<string, Json>), text: 'something else' };
  assert.throws(() => contentFromJson({ ...json, body: bad }), (e: unknown) => e instanceof ContentError && e.field === 'body.text');
});

test('JSON mapping of arbitrary extension values is lossless', () => {
  const value: CborValue = [
    1,
    -7,
    1.5,
    -0,
    NaN,
    Infinity,
    -Infinity,
    2n ** 70n,
    -(2n ** 60n),
    'text',
    fromHex('00ff'),
    true,
    null,
    undefined,
    new Map<CborValue, CborValue>([
      [fromHex('01'), 'bytes key'],
      [-3, [new Map()]],
      ['k', new CborTag(1001, new Map([[1, 1700000000]]))],
    ]),
    new CborTag(2n ** 64n - 1n, 'big tag'),
  ];
  const json = JSON.parse(JSON.stringify(cborToJson(value))) as Json;
  assert.equal(toHex(encodeCbor(cborFromJson(json))), toHex(encodeCbor(value)));

  const c = content('original');
  c.extensions.set(-5, value);
  c.extensions.set('x-private', new Map([[1, 2]]));
  const bytes = encodeContent(c);
  const back = contentFromJson(JSON.parse(JSON.stringify(contentToJson(c))) as Json);
  assert.equal(toHex(encodeContent(back)), toHex(bytes));
  assert.equal(toHex(encodeContent(decodeContent(bytes))), toHex(bytes));
});

test('contentFromJson rejects malformed JSON with the field named', () => {
  const good = contentToJson(content('attachment')) as Record<string, Json>;
  const cases: [Json, string][] = [
    [{ ...good, salt: 'zz' }, 'salt'],
    [{ ...good, salt: '00' }, 'salt'],
    [{ ...good, extra: 1 }, 'mimiContent'],
    [{ ...good, extensions: { 1: 'x' } }, 'extensions'],
    [{ ...good, extensions: [[1, 'a'], [1, 'b']] }, 'extensions[1]'],
    [{ ...good, extensions: [[1, { weird: 1 }]] }, 'extensions[1]'],
    [{ ...good, expires: { relative: true } }, 'expires.time'],
    [{ ...good, body: { ...(good.body as Record<string, Json>), size: -1 } }, 'body.size'],
    [{ ...good, body: { ...(good.body as Record<string, Json>), key: 12 } }, 'body.key'],
    [{ ...good, body: { ...(good.body as Record<string, Json>), cardinality: 9 } }, 'body.cardinality'],
    [{ ...good, body: { ...(good.body as Record<string, Json>), bogus: true } }, 'body'],
    ['not an object', 'mimiContent'],
  ];
  for (const [json, field] of cases) {
    assert.throws(
      () => contentFromJson(json),
      (e: unknown) => e instanceof ContentError && e.field === field,
      `expected ContentError on ${field}: ${JSON.stringify(json).slice(0, 80)}`,
    );
  }
});

// Malformed wire input: start from a valid example, change one thing in its CBOR structure.
function mutated(name: string, change: (a: CborValue[]) => void): Uint8Array {
  const a = decodeCbor(byName(name).cbor) as CborValue[];
  change(a);
  return encodeCbor(a);
}

const part = (disposition: number, extra: CborValue[] = []): CborValue[] => [disposition, '', ...extra];
const single = (): CborValue[] => part(1, [1, 'text/plain;charset=utf-8', utf8('x')]);

function expectField(bytes: Uint8Array, field: string | RegExp): void {
  assert.throws(
    () => decodeContent(bytes),
    (e: unknown) =>
      e instanceof ContentError && (typeof field === 'string' ? e.field === field : field.test(e.field)),
    `expected ContentError on ${String(field)}`,
  );
}

test('decodeContent rejects wrong shapes and names the field', () => {
  const body = (a: CborValue[]) => a[6] as CborValue[];
  expectField(mutated('original', (a) => a.pop()), 'mimiContent');
  expectField(encodeCbor(new Map([[1, 2]])), 'mimiContent');
  expectField(mutated('original', (a) => (a[0] = new Uint8Array(15))), 'salt');
  expectField(mutated('original', (a) => (a[0] = 'salt')), 'salt');
  expectField(mutated('original', (a) => (a[1] = new Uint8Array(31))), 'replaces');
  expectField(mutated('original', (a) => (a[2] = '')), 'topicId');
  expectField(mutated('original', (a) => (a[2] = new Uint8Array(4097))), 'topicId');
  expectField(mutated('original', (a) => (a[3] = [true])), 'expires');
  expectField(mutated('original', (a) => (a[3] = [1, 5])), 'expires.relative');
  expectField(mutated('original', (a) => (a[3] = [false, 2 ** 32])), 'expires.time');
  expectField(mutated('original', (a) => (a[3] = [false, -1])), 'expires.time');
  expectField(mutated('original', (a) => (a[4] = false)), 'inReplyTo');
  expectField(mutated('original', (a) => (a[5] = [])), 'extensions');
  expectField(mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set(1, 42)), 'extensions[1]');
  expectField(mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set(2, fromHex('00'))), 'extensions[2]');
  expectField(mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set(fromHex('01'), 1)), 'extensions');
  expectField(mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set(2n ** 60n, 1)), 'extensions');
  expectField(mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set('', 1)), 'extensions');
  expectField(mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set('k'.repeat(256), 1)), 'extensions');
  expectField(
    mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).set(9, new Map([[true, 1]]))),
    'extensions[9]',
  );
  expectField(mutated('original', (a) => (body(a)[0] = 256)), 'body.disposition');
  expectField(mutated('original', (a) => (body(a)[1] = null)), 'body.language');
  expectField(mutated('original', (a) => (body(a)[2] = 4)), 'body.cardinality');
  expectField(mutated('original', (a) => (body(a)[3] = utf8('text/plain'))), 'body.contentType');
  expectField(mutated('original', (a) => (body(a)[4] = 'not bytes')), 'body.content');
  expectField(mutated('original', (a) => body(a).push(0)), 'body');
  expectField(mutated('delete', (a) => body(a).push('')), 'body');
  expectField(mutated('attachment', (a) => body(a).pop()), 'body');
  expectField(mutated('attachment', (a) => (body(a)[5] = 2 ** 32)), 'body.expires');
  expectField(mutated('attachment', (a) => (body(a)[6] = 2n ** 63n)), 'body.size');
  expectField(mutated('attachment', (a) => (body(a)[7] = 0x10000)), 'body.encAlg');
  expectField(mutated('attachment', (a) => (body(a)[11] = 256)), 'body.hashAlg');
  expectField(mutated('attachment', (a) => (body(a)[14] = null)), 'body.filename');
  expectField(mutated('multipart-1', (a) => (body(a)[3] = 3)), 'body.partSemantics');
  expectField(mutated('multipart-1', (a) => (body(a)[4] = [single()])), 'body.parts');
  expectField(mutated('multipart-1', (a) => ((body(a)[4] as CborValue[])[1] = 'x')), 'body.parts[1]');
  expectField(
    mutated('multipart-3', (a) => (((body(a)[4] as CborValue[])[0] as CborValue[])[1] = 1.5)),
    'body.parts[0].language',
  );
});

test('decodeContent enforces the body depth and part-count limits', () => {
  const multi = (parts: CborValue[]): CborValue[] => part(1, [3, 2, parts]);
  let deep: CborValue[] = single();
  for (let i = 0; i < 3; i++) deep = multi([deep, single()]);
  assert.doesNotThrow(() => decodeContent(mutated('original', (a) => (a[6] = deep))));
  expectField(
    mutated('original', (a) => (a[6] = multi([deep, single()]))),
    /^body(\.parts\[0\]){4}$/,
  );
  const many = Array.from({ length: 1023 }, single);
  assert.doesNotThrow(() => decodeContent(mutated('original', (a) => (a[6] = multi(many)))));
  expectField(mutated('original', (a) => (a[6] = multi([...many, single()]))), 'body.parts[1023]');
});

test('decodeContent rejects bytes that are not deterministic CBOR', () => {
  const original = byName('original').cbor;
  expectField(original.subarray(0, original.length - 1), 'cbor');
  expectField(concatBytes(original, Uint8Array.of(0)), 'cbor');
  // Same message with the salt length written in two bytes (58 10 instead of 50).
  const longForm = concatBytes(Uint8Array.of(0x87, 0x58, 0x10), original.subarray(2));
  expectField(longForm, 'cbor');
  // Extensions map written with keys 2, 1 (not in deterministic order).
  const twoKeys = encodeCbor(
    new Map<CborValue, CborValue>([
      [1, 'a'],
      [2, 'b'],
    ]),
  );
  const reversed = fromHex('a2' + '026162' + '016161');
  const withMap = (m: Uint8Array) => {
    const h = toHex(original);
    const ext = toHex(encodeCbor((decodeCbor(original) as CborValue[])[5]));
    return fromHex(h.replace(ext, toHex(m)));
  };
  assert.doesNotThrow(() => decodeContent(withMap(twoKeys)));
  expectField(withMap(reversed), 'cbor');
});

test('encodeContent validates the model and names the field', () => {
  const base = (): MimiContent => content('original');
  const cases: [(c: MimiContent) => void, string][] = [
    [(c) => (c.salt = new Uint8Array(15)), 'salt'],
    [(c) => (c.replaces = new Uint8Array(3)), 'replaces'],
    [(c) => (c.expires = { relative: true, time: 1.5 }), 'expires.time'],
    [(c) => ((c as { extensions: unknown }).extensions = { 1: 'x' }), 'extensions'],
    [(c) => c.extensions.set(1, 7), 'extensions[1]'],
    [(c) => ((c.body as { cardinality: number }).cardinality = 7), 'body.cardinality'],
    [(c) => ((c.body as { language: unknown }).language = undefined), 'body.language'],
    [(c) => ((c as { body: unknown }).body = null), 'body'],
    [
      (c) =>
        (c.body = { disposition: 1, language: '', cardinality: 3, partSemantics: 0, parts: [c.body] } as NestedPart),
      'body.parts',
    ],
    [(c) => c.extensions.set('bad\ud800', 1), 'cbor'],
  ];
  for (const [change, field] of cases) {
    const c = base();
    change(c);
    assert.throws(
      () => encodeContent(c),
      (e: unknown) => e instanceof ContentError && e.field === field,
      `expected ContentError on ${field}`,
    );
  }
});

test('messageId requires sender and room URIs', () => {
  const noSender = mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).delete(1));
  assert.throws(() => messageId(noSender), (e: unknown) => e instanceof ContentError && e.field === 'extensions[1]');
  const noRoom = mutated('original', (a) => (a[5] as Map<CborValue, CborValue>).delete(2));
  assert.throws(() => messageId(noRoom), (e: unknown) => e instanceof ContentError && e.field === 'extensions[2]');
  assert.throws(() => messageId(fromHex('00')), ContentError);
});

test('summarize: null body without replaces, undecodable text, dispositions', () => {
  const c = content('original');
  c.replaces = null;
  c.body = { disposition: Disposition.render, language: '', cardinality: 0 };
  assert.equal(summarize(c).kind, 'other');
  c.body = { disposition: Disposition.render, language: '', cardinality: 1, contentType: 'text/plain', content: fromHex('ff') };
  assert.equal(summarize(c).kind, 'other');
  c.body = { disposition: 200, language: '', cardinality: 1, contentType: 'text/plain', content: utf8('unknown dispo renders') };
  assert.deepStrictEqual(summarize(c), { kind: 'text', text: 'unknown dispo renders', contentType: 'text/plain' });
  c.body = { disposition: Disposition.attachment, language: '', cardinality: 1, contentType: 'text/plain', content: utf8('x') };
  assert.equal(summarize(c).kind, 'other');
});

test('JSON mapping refuses absurdly deep input with a ContentError', () => {
  let deepJson: Json = 1;
  for (let i = 0; i < 100000; i++) deepJson = [deepJson];
  assert.throws(() => cborFromJson(deepJson), ContentError);
  let deepBody: Json = { disposition: 1, language: '', cardinality: 0 };
  for (let i = 0; i < 100000; i++) deepBody = { disposition: 1, language: '', cardinality: 3, partSemantics: 0, parts: [deepBody, deepBody] };
  const good = contentToJson(content('original')) as Record<string, Json>;
  assert.throws(() => contentFromJson({ ...good, body: deepBody }), ContentError);
  const cyclic: CborValue[] = [];
  cyclic.push(cyclic);
  assert.throws(() => cborToJson(cyclic), ContentError);
});
