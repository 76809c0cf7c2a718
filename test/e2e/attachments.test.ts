// Attachments in real Chromium on two real cores (A runs the embedded provider, B signs up on it):
// alice attaches by the picker, by dropping a file on the composer and by pasting one; bob sees the
// image preview (decrypted by his core, handed over as a data: URL under the strict CSP) and
// downloads a file; the progress bars show; a file over the limit is refused with what to do; a file
// altered at the provider is caught by the hash check (Try again); every
// state passes axe in light, dark and at 480 px; a send the provider fails offers Try again, which
// sends it. Screenshots 160- to 167-.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import type { Page } from 'playwright-core';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair } from './browser.js';

const WAIT = 45_000;
/** The 6 MiB file: read through the bridge, encrypted and uploaded (~5 s alone; generous for two busy cores). */
const BIG_WAIT = 120_000;
let pair: RealCorePair;
let aliceId = '';
let roomUri = '';

/** A w×h PNG of one colour (8-bit RGB, no filter). */
function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const line = Buffer.concat([Buffer.from([0]), Buffer.concat(Array.from({ length: w }, () => Buffer.from(rgb)))]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: h }, () => line)));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
}

/** Records in the page whether an element matching `selector` ever appeared (progress bars come and go fast). */
async function watchFor(page: Page, selector: string, flag: string): Promise<void> {
  await page.evaluate(
    ([sel, name]) => {
      const w = window as unknown as Record<string, boolean>;
      w[name] = !!document.querySelector(sel);
      new MutationObserver(() => {
        if (document.querySelector(sel)) w[name] = true;
      }).observe(document.body, { subtree: true, childList: true });
    },
    [selector, flag] as const,
  );
}
const sawIt = (page: Page, flag: string) => page.evaluate((name) => (window as unknown as Record<string, boolean>)[name] === true, flag);

/** Drops (or pastes) a file made in the page: the same File objects a real drag or paste delivers. */
async function dropFile(page: Page, how: 'drop' | 'paste', name: string, type: string, bytes: Buffer): Promise<void> {
  await page.evaluate(
    ([how, name, type, b64]) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type }));
      if (how === 'drop') {
        const form = document.querySelector('[data-testid=composer]')!;
        form.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        form.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      } else {
        document.querySelector('[data-testid=composer-input]')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }
    },
    [how, name, type, bytes.toString('base64')] as const,
  );
}

const attachmentNamed = (page: Page, name: string) => page.locator('[data-testid=attachment]', { has: page.locator(`text=${name}`) });

/**
 * Waits until the sender's timeline shows `name`; a send that failed fails here, with the error the
 * sender reads, rather than as a receiver that never saw the file.
 */
async function sentBy(page: Page, name: string, timeout = WAIT): Promise<void> {
  const failed = page.getByTestId('attach-failed').filter({ hasText: name });
  await attachmentNamed(page, name).or(failed).first().waitFor({ timeout });
  if (await failed.count()) assert.fail(`sending ${name} failed: ${await failed.first().innerText()}`);
}

before(async () => {
  pair = await openPairOnOneProvider('attach', { width: 1280, height: 900 });
  await signUpPair(pair);
  aliceId = (await pair.a.core.accounts.list())[0].id;
  const r = await pair.a.core.rooms.create(aliceId, 'Photos', null);
  await pair.a.core.rooms.addMember(aliceId, r.roomUri, 'bob');
  roomUri = r.roomUri;
  for (const p of [pair.a.page, pair.b.page]) {
    await p.locator('[data-testid=room-item][data-room-name="Photos"]').click({ timeout: WAIT });
    await p.getByTestId('composer-input').waitFor();
  }
});

after(async () => {
  await closePair(pair);
});

test('attach by picker, drop and paste; preview, download, progress, an error; axe in light, dark and narrow', async () => {
  const { a, b } = pair;
  await watchFor(a.page, '[data-testid=attach-progress]', '__sawUpload');
  await watchFor(b.page, '[data-testid=attachment-progress]', '__sawDownload');

  // Picker: an image (preview on the other side) ...
  const red = png(160, 120, [200, 30, 30]);
  await a.page.getByTestId('attach-input').setInputFiles({ name: 'red.png', mimeType: 'image/png', buffer: red });
  await sentBy(a.page, 'red.png');
  const redShown = attachmentNamed(b.page, 'red.png').getByTestId('attachment-image');
  await redShown.waitFor({ timeout: WAIT });
  // Decoded by the browser from the data: URL the core made (the CSP allows img-src data: only).
  const size = await eventually('the preview decodes', async () => {
    const s = await redShown.evaluate((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
    return s[0] > 0 ? s : undefined;
  });
  assert.deepEqual(size, [160, 120]);
  assert.match((await redShown.getAttribute('src')) ?? '', /^data:image\/png;base64,/);
  await screenshot(b.page, '160-attachment-image-preview');
  // The sender's app made a small JPEG preview, carried inside the encrypted message.
  const bobId = (await pair.b.core.accounts.list())[0].id;
  const redMsg = (await pair.b.core.messages.page(bobId, roomUri, null, 50)).find((m) => m.attachment?.filename === 'red.png');
  assert.match(redMsg?.attachment?.thumbnail ?? '', /^data:image\/jpeg;base64,/);

  // ... and a big file, so the progress bars have something to show.
  const big = randomBytes(6 * 1024 * 1024);
  await a.page.getByTestId('attach-input').setInputFiles({ name: 'report.bin', mimeType: 'application/octet-stream', buffer: big });
  await sentBy(a.page, 'report.bin', BIG_WAIT);
  assert.ok(await sawIt(a.page, '__sawUpload'), 'an upload progress bar was shown');
  const file = attachmentNamed(b.page, 'report.bin');
  await file.waitFor({ timeout: WAIT });
  assert.match(await file.innerText(), /\b6 MB/);
  const downloaded = b.page.waitForEvent('download', { timeout: WAIT });
  await file.getByTestId('attachment-download').click();
  const dl = await downloaded;
  assert.equal(dl.suggestedFilename(), 'report.bin');
  const saved = await dl.path();
  assert.ok(saved);
  assert.ok(fs.readFileSync(saved).equals(big), 'bob saved exactly what alice sent');
  assert.ok(await sawIt(b.page, '__sawDownload'), 'a download progress bar was shown');
  await screenshot(b.page, '161-attachment-file-downloaded');

  // The provider (or anyone on the way) altering a file is caught: bob's core checks the hash and
  // says so, with Try again; nothing is saved.
  const assetsDir = path.join(a.dir, 'provider', 'assets');
  const already = new Set(fs.readdirSync(assetsDir));
  await a.page.getByTestId('attach-input').setInputFiles({ name: 'damaged.bin', mimeType: 'application/octet-stream', buffer: randomBytes(20_000) });
  await sentBy(a.page, 'damaged.bin');
  const damaged = attachmentNamed(b.page, 'damaged.bin');
  await damaged.waitFor({ timeout: WAIT });
  const stored = fs.readdirSync(assetsDir).filter((f) => !already.has(f) && fs.statSync(path.join(assetsDir, f)).isFile());
  assert.equal(stored.length, 1);
  const target = path.join(assetsDir, stored[0]);
  const bytes = fs.readFileSync(target);
  bytes[100] ^= 0xff;
  fs.writeFileSync(target, bytes);
  await damaged.getByTestId('attachment-download').click();
  const damagedError = damaged.getByTestId('attachment-error');
  await damagedError.waitFor({ timeout: WAIT });
  assert.match(await damagedError.innerText(), /^The downloaded file does not match the hash in the message \(damaged or replaced on the way\): try downloading it again\. If it happens again, ask the sender to send the file again\./);
  await damaged.getByTestId('attachment-retry').waitFor();
  await screenshot(b.page, '166-attachment-damaged');

  // Drop and paste.
  await dropFile(a.page, 'drop', 'green.png', 'image/png', png(40, 40, [20, 160, 60]));
  await sentBy(a.page, 'green.png');
  await attachmentNamed(b.page, 'green.png').getByTestId('attachment-image').waitFor({ timeout: WAIT });
  await dropFile(a.page, 'paste', 'blue.png', 'image/png', png(30, 20, [20, 40, 200]));
  await sentBy(a.page, 'blue.png');
  await attachmentNamed(b.page, 'blue.png').getByTestId('attachment-image').waitFor({ timeout: WAIT });
  // A send the provider fails (its staging folder is broken) says why and offers Try again; once
  // the provider is mended, Try again sends the same file, and the failure is gone.
  const incoming = path.join(assetsDir, 'incoming');
  fs.rmSync(incoming, { recursive: true, force: true });
  fs.writeFileSync(incoming, 'not a folder');
  try {
    await a.page.getByTestId('attach-input').setInputFiles({ name: 'again.txt', mimeType: 'text/plain', buffer: Buffer.from('sent at the second try') });
    const failedSend = a.page.getByTestId('attach-failed').filter({ hasText: 'again.txt' });
    await failedSend.waitFor({ timeout: WAIT });
    assert.match(await failedSend.innerText(), /^again\.txt was not sent: Could not upload the file \(internal: .*\)\. Try again later\./);
    await screenshot(a.page, '167-attachment-send-failed');
    await assertAccessible(a.page, 'sender with a failed send');
  } finally {
    fs.rmSync(incoming, { force: true });
    fs.mkdirSync(incoming, { recursive: true, mode: 0o700 });
  }
  await a.page.getByRole('button', { name: 'Try again: send again.txt' }).click();
  await sentBy(a.page, 'again.txt');
  await attachmentNamed(b.page, 'again.txt').waitFor({ timeout: WAIT });
  assert.equal(await a.page.getByTestId('attach-failed').count(), 0, 'the failure made way for the sent file');
  // Pasting text stays ordinary paste (nothing sent).
  const sentBefore = (await pair.a.core.messages.page(aliceId, roomUri, null, 50)).length;
  await a.page.getByTestId('composer-input').focus();
  await a.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'just words');
    document.querySelector('[data-testid=composer-input]')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  assert.equal((await pair.a.core.messages.page(aliceId, roomUri, null, 50)).length, sentBefore);
  await screenshot(a.page, '162-attachments-sender');

  // An error: a file over the limit is refused before anything is read or sent, and says what to do.
  await a.page.evaluate(() => {
    const input = document.querySelector('[data-testid=attach-input]') as HTMLInputElement;
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(26 * 1024 * 1024)], 'huge.iso', { type: 'application/octet-stream' }));
    input.files = dt.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  const err = a.page.getByTestId('attach-error');
  await err.waitFor();
  assert.match(await err.innerText(), /huge\.iso is 26 MB; at most 25 MB can be sent\. Send a smaller file\./);
  await screenshot(a.page, '163-attachment-too-large');
  assert.equal((await pair.a.core.messages.page(aliceId, roomUri, null, 50)).length, sentBefore);

  // The core's own check, through the contract: not base64, nothing sent.
  await assert.rejects(pair.a.core.messages.sendFile(aliceId, roomUri, { name: 'x', type: '', data: '' }), /The file is empty|empty/);

  // axe: the sender with the error and the receiver with previews, light, dark and narrow.
  for (const [page, who] of [
    [a.page, 'sender'],
    [b.page, 'receiver'],
  ] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await assertAccessible(page, `${who} ${scheme}`);
    }
    await page.setViewportSize({ width: 480, height: 900 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await assertAccessible(page, `${who} ${scheme} 480px`);
    }
    await screenshot(page, `16${who === 'sender' ? 4 : 5}-attachments-${who}-dark-narrow`);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  assert.deepEqual(a.problems.filter((p) => /csp|pageerror/.test(p)), []);
  assert.deepEqual(b.problems.filter((p) => /csp|pageerror/.test(p)), []);
});
