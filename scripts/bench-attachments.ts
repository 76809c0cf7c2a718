// "Send an image of 5 MB, time to preview on the other side" for `npm run bench`
// (docs/attachments.md): two real provider processes, alice@a.example (the room's hub) and
// bob@b.example, each a real core (Profile) in this process. Per round: alice's core encrypts the
// image and uploads it to a.example, then sends the message; bob's core receives it, fetches the
// ciphertext through b.example -> a.example (proxyDownload: for bob's provider the hub and the
// asset's provider are the same here), checks the hash and decrypts it: the bytes the preview shows.
// Also the other direction (bob's image, fetched by alice from b.example through the hub) and each
// phase. Figures, not assertions.

import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Profile } from '../src-main/core/profile.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import type { MessageView } from '../src-shared/contract.js';
import { startFederation } from '../test/helpers/federation.js';
import { tempDir, waitFor } from '../test/helpers/provider-process.js';

export interface AttachmentFigures {
  bytes: number;
  rounds: number;
  /** Medians, ms: from the send until the receiver's core has the decrypted image. */
  toPreviewMs: number;
  /** The sender's part: encrypt, upload to its own provider, message queued. */
  sendMs: number;
  /** Until the receiver's core has the message. */
  deliveredMs: number;
  /** The receiver's part: download through the providers, hash check, decrypt. */
  openMs: number;
  /** The same, the other way round: bob@b.example's image opened by alice at the hub (a.example fetches from b.example). */
  reverseToPreviewMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function oneRound(from: Profile, to: Profile, roomUri: string, bytes: Uint8Array, n: number): Promise<{ total: number; send: number; delivered: number; open: number }> {
  const name = `photo-${n}.png`;
  const arrived = new Promise<MessageView>((resolve) => {
    const on = (m: MessageView) => {
      if (m.attachment?.filename === name) {
        to.off('message', on);
        resolve(m);
      }
    };
    to.on('message', on);
  });
  const t0 = performance.now();
  await from.sendFile(roomUri, { bytes, filename: name, contentType: 'image/png' });
  const t1 = performance.now();
  const m = await arrived;
  const t2 = performance.now();
  const opened = await to.openAttachment(roomUri, m.messageId);
  const t3 = performance.now();
  if (opened.bytes.length !== bytes.length) throw new Error('bench: the image came back with another size');
  return { total: t3 - t0, send: t1 - t0, delivered: t2 - t0, open: t3 - t2 };
}

export async function benchAttachments(engine: MlsEngine, sizeBytes = 5 * 1000 * 1000, rounds = 5): Promise<AttachmentFigures> {
  const f = await startFederation(['a.example', 'b.example']);
  const profiles: Profile[] = [];
  const account = async (p: { url: string; caPem: string }, handle: string) => {
    const prof = await Profile.register(path.join(tempDir(`bench-att-${handle}`), 'p'), { providerUrl: p.url, caPem: p.caPem, handle, password: 'bench-password', deviceName: 'bench' }, { engine, secretMode: 'plaintext' });
    profiles.push(prof);
    await prof.start();
    return prof;
  };
  try {
    const alice = await account(f['a.example'], 'att-alice');
    const bob = await account(f['b.example'], 'att-bob');
    const room = await alice.createRoom('bench attachments');
    await alice.addMember(room.roomUri, 'att-bob@b.example');
    await waitFor(() => bob.rooms().length === 1, 'bob@b.example joins the room');
    // Incompressible bytes of a 5 MB image (the content type says image/png; no codec is involved
    // in what is measured: the preview is the decrypted bytes).
    const image = new Uint8Array(randomBytes(sizeBytes));
    await oneRound(alice, bob, room.roomUri, image.subarray(0, 100_000), -1); // warm-up: TLS sessions, directory caches
    const there: Awaited<ReturnType<typeof oneRound>>[] = [];
    const back: number[] = [];
    for (let i = 0; i < rounds; i++) {
      there.push(await oneRound(alice, bob, room.roomUri, image, i));
      back.push((await oneRound(bob, alice, room.roomUri, image, 100 + i)).total);
    }
    return {
      bytes: sizeBytes,
      rounds,
      toPreviewMs: median(there.map((r) => r.total)),
      sendMs: median(there.map((r) => r.send)),
      deliveredMs: median(there.map((r) => r.delivered)),
      openMs: median(there.map((r) => r.open)),
      reverseToPreviewMs: median(back),
    };
  } finally {
    for (const p of profiles) await p.close().catch(() => undefined);
    await Promise.all([f['a.example'].stop(), f['b.example'].stop()]);
    await Promise.all(Object.values(f.links).map((l) => l.close()));
  }
}

// Alone: npx tsx scripts/bench-attachments.ts [BYTES] [ROUNDS]
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const { createMlsEngine } = await import('../src-main/mls/ts-mls-engine.js');
  const figures = await benchAttachments(await createMlsEngine(), Number(process.argv[2] ?? 5_000_000), Number(process.argv[3] ?? 5));
  console.log(JSON.stringify(figures, null, 2));
}
