// The parts of a session's encoding (ts-mls-engine.ts, "Session state encoding") as tests need
// them, and the forms builds before stop 30 wrote, made from today's split form, so tests can check
// those still restore:
//   "MLS" || 0x01 || GroupState, for sessions without identity link keys;
//   "MLS" || 0x02 || opaque GroupState<V> || IdentityLinkKeys, for sessions with them.

import { decodeGroupStateWithoutTree, encodeGroupState, type GroupState } from 'ts-mls/clientState.js';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { splitSessionState } from '../../src-main/mls/engine.js';
import { concatBytes } from '../../src-shared/bytes.js';
import { TlsReader, TlsWriter } from '../../src-shared/tls.js';

/** ts-mls's GroupState of a session encoding, and the identity link keys' bytes after it (empty: none). */
export function decodedSessionState(encoded: Uint8Array): { state: GroupState; ilks: Uint8Array } {
  const parts = splitSessionState(encoded);
  if (!parts) throw new Error('not a session encoding of the split form');
  const r = new TlsReader(parts.rest);
  r.skipV(); // the tree key, again
  const withoutTree = r.opaqueV();
  const ilks = r.bytes(r.remaining);
  const tree = decodeRatchetTree(parts.tree, 0)![0];
  return { state: decodeGroupStateWithoutTree(tree)(withoutTree, 0)![0], ilks };
}

export function legacySessionEncoding(encoded: Uint8Array): Uint8Array {
  const { state, ilks } = decodedSessionState(encoded);
  const groupState = encodeGroupState(state);
  return ilks.length === 0
    ? concatBytes(new Uint8Array([0x4d, 0x4c, 0x53, 0x01]), groupState)
    : concatBytes(new Uint8Array([0x4d, 0x4c, 0x53, 0x02]), new TlsWriter().opaqueV(groupState).finish(), ilks);
}
