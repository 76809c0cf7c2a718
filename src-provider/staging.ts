// The folder an upload (an attachment, a backup chunk) is streamed into before the provider
// accepts it. Nothing in it was ever answered with a 201, so what a crash leaves there is nobody's
// and goes at the next start.
//
// On SQLite one process owns the data folder: `<parent>/incoming`, emptied at start. Nodes over
// PostgreSQL may share one data folder (README, "Running a provider"), and a node that restarts
// must not delete the uploads other nodes are streaming at that moment: each node stages in
// `<parent>/incoming/<node>` and empties only its own; a folder of another node is swept only of
// files untouched for a day (an upload that idle has long timed out), and removed once it has been
// empty and untouched for a day, so a node that stopped for good, or one whose name changed (the
// default name holds the process id), leaves nothing behind for ever.

import fs from 'node:fs';
import path from 'node:path';

/** A staged file untouched this long belongs to no upload in progress. */
export const STALE_STAGING_MS = 24 * 3600 * 1000;

/** The staging folder for `node` (undefined: the only process on this data folder), made and emptied. */
export function prepareStaging(parent: string, node: string | undefined, now = Date.now()): string {
  const incoming = path.join(parent, 'incoming');
  fs.mkdirSync(incoming, { recursive: true, mode: 0o700 });
  if (node === undefined) {
    for (const f of fs.readdirSync(incoming)) fs.rmSync(path.join(incoming, f), { recursive: true, force: true });
    return incoming;
  }
  const own = path.join(incoming, stagingName(node));
  for (const entry of fs.readdirSync(incoming, { withFileTypes: true })) {
    const at = path.join(incoming, entry.name);
    if (at === own) continue;
    // A file straight under incoming/ is from a single-process run before: nobody's now.
    if (!entry.isDirectory()) fs.rmSync(at, { force: true });
    else sweepStale(at, now);
  }
  fs.mkdirSync(own, { recursive: true, mode: 0o700 });
  for (const f of fs.readdirSync(own)) fs.rmSync(path.join(own, f), { recursive: true, force: true });
  return own;
}

/** A node's name as one path segment (names are free text: `--node-id`, or host-pid). */
export function stagingName(node: string): string {
  const safe = node.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe.slice(0, 100) || '_';
}

/**
 * Where the upload `name` is staged in `dir`, the folder made again if it is gone: another node
 * removes a staging folder that stayed empty and untouched for a day (sweepStale), which a node
 * with no uploads for that long would otherwise find missing.
 */
export function stagedPath(dir: string, name: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, name);
}

function sweepStale(dir: string, now: number): void {
  // Read before the sweep: deleting a file inside touches the folder.
  let touched: number;
  try {
    touched = fs.statSync(dir).mtimeMs;
  } catch {
    return;
  }
  let left = 0;
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f);
    try {
      if (now - fs.statSync(file).mtimeMs > STALE_STAGING_MS) fs.rmSync(file, { recursive: true, force: true });
      else left++;
    } catch {
      // Gone meanwhile (its node accepted or dropped it): nothing to do.
    }
  }
  // An empty folder may belong to a running node that has had no upload for a while: only one
  // untouched for a day goes (stagedPath makes it again if that node was alive after all).
  try {
    if (left === 0 && now - touched > STALE_STAGING_MS) fs.rmdirSync(dir);
  } catch {
    // Its node staged a file in it meanwhile, or removed it: either way it is not ours to remove.
  }
}
