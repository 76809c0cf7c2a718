// A received message's frank, checked as draft-ietf-mimi-protocol-06 "Receiver verification of
// frank" says (src-shared/franking.ts does the checking): in a room whose franking_agent is set,
// a message of someone else must carry the hub's Frank, and it must verify against the agent's
// key, the content's own franking tag, the MLS sender and this room. The caller drops it otherwise.

import { fromB64 } from '../../src-shared/bytes.js';
import type { MimiContent } from '../../src-shared/content.js';
import { decodeFrankingAgentData, frankProblem } from '../../src-shared/franking.js';
import { parseMimiUri } from '../../src-shared/identifiers.js';
import { decodeFrank } from '../../src-shared/mimi-protocol.js';
import { peekMlsMessage } from '../../src-shared/mls-wire.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import type { RoomState } from '../../src-shared/room-state.js';

/** The only cipher suite our rooms use (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). */
const GROUP_CIPHERSUITE = 1;

/** Why the frank of this received message does not verify, or undefined (the Frank bytes to keep). */
export function receivedFrank(
  ev: PushEvent,
  message: Uint8Array,
  applicationData: Uint8Array,
  content: MimiContent,
  sender: string,
  state: RoomState,
): { problem: string } | { frank: Uint8Array } {
  if (!state.frankingAgent) return { problem: 'the room has no franking agent' };
  if (!ev.frank) return { problem: 'it came without the hub’s frank' };
  try {
    const frankBytes = fromB64(ev.frank);
    const frank = decodeFrank(frankBytes);
    const info = peekMlsMessage(message);
    const ext = (n: number) => {
      const v = content.extensions.get(n);
      return typeof v === 'string' ? v : undefined;
    };
    const problem = frankProblem({
      frank,
      context: { senderUri: sender, roomUri: ev.roomUri, acceptedTimestamp: BigInt(ev.acceptedTimestamp) },
      groupCiphersuite: GROUP_CIPHERSUITE,
      agent: decodeFrankingAgentData(state.frankingAgent),
      hubDomain: parseMimiUri(ev.roomUri).domain,
      authenticatedData: info.authenticatedData ?? new Uint8Array(),
      applicationData,
      salt: content.salt,
      sender,
      contentSender: ext(1),
      contentRoom: ext(2),
      roomUri: ev.roomUri,
    });
    return problem ? { problem } : { frank: frankBytes };
  } catch (e) {
    return { problem: `its frank is malformed (${(e as Error).message})` };
  }
}
