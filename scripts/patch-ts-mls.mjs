// Fixes one ts-mls 1.6.4 defect in place after install (run by npm's postinstall; idempotent).
//
// createCommit() encrypts the UpdatePath secrets under the GroupContext *before* the Commit's
// GroupContextExtensions proposal is applied, while processCommit() (and RFC 9420 section 12.4.2:
// the provisional GroupContext carries the new extensions) decrypts under the one *after* it.
// So every Commit that changes the room state and has an UpdatePath is undecryptable for the other
// members. The patch hands createUpdatePath the updated context, as the receiving side already does.
// If ts-mls changes, the patch refuses to guess: update or drop it (src-main/mls/ts-mls-engine.ts
// has the test that fails without it).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, 'node_modules', 'ts-mls', 'dist', 'src', 'createCommit.js');
const MARK = '/* mimi: provisional GroupContext with GCE extensions */';
const BEFORE =
  'await createUpdatePath(res.tree, toLeafIndex(state.privatePath.leafIndex), state.groupContext, state.signaturePrivateKey, cipherSuite, excludeNodes)';
const AFTER =
  `await createUpdatePath(res.tree, toLeafIndex(state.privatePath.leafIndex), ${MARK} (res.additionalResult.kind === "memberCommit" && res.additionalResult.extensions.length > 0 ? { ...state.groupContext, extensions: res.additionalResult.extensions } : state.groupContext), state.signaturePrivateKey, cipherSuite, excludeNodes)`;

if (!fs.existsSync(file)) {
  console.error(`patch-ts-mls: ${file} not found (ts-mls not installed?)`);
  process.exit(1);
}
const src = fs.readFileSync(file, 'utf8');
if (src.includes(MARK)) process.exit(0);
if (!src.includes(BEFORE)) {
  console.error('patch-ts-mls: createCommit.js does not contain the expected code; this ts-mls version needs a new look at the GCE UpdatePath fix');
  process.exit(1);
}
fs.writeFileSync(file, src.replace(BEFORE, AFTER));
console.log('patch-ts-mls: applied the GroupContextExtensions UpdatePath fix to ts-mls');
