// Abuse reports about rooms hosted here (draft-ietf-mimi-protocol-06 "Report abuse"), from our own
// users and forwarded by followers (`/reportAbuse`), kept for the operator. Negative policy: the
// reporter must be a participant whose role has canReportAbuse. In a minimal-metadata room both the
// reporter and the alleged abuser are pseudonyms. Each reported message is checked against the
// hub's own frank of it (docs/franking.md) before the report is kept.

import { utf8 } from '../../src-shared/bytes.js';
import { decodeContent } from '../../src-shared/content.js';
import { abusiveMessageProblem, decodeFrankingAgentData } from '../../src-shared/franking.js';
import type { AbuseReport } from '../../src-shared/mimi-protocol.js';
import { denialText } from '../../src-shared/room-commit.js';
import { checkChange } from '../../src-shared/room-policy.js';
import { ApiFailure, badRequest } from '../errors.js';
import { isPartyUri } from '../room-members.js';
import type { HubCore, HubSource } from './core.js';
import { decodeState, domainOf } from './mls-input.js';

/** A note of up to 4 KiB and a handful of messages ("a handful of allegedly AbusiveMessages"). */
const MAX_ABUSE_NOTE_BYTES = 4096;
const MAX_ABUSE_MESSAGES = 16;

export function acceptAbuseReport(hub: HubCore, source: HubSource, roomUri: string, report: AbuseReport, encoded: Uint8Array): { id: number } {
  for (const [field, uri] of [
    ['reportingUser', report.reportingUser],
    ['allegedAbuserUri', report.allegedAbuserUri],
  ] as const) {
    if (!isPartyUri(uri)) throw badRequest(`${field} ${JSON.stringify(uri.slice(0, 100))} is not a user URI or pseudonym`);
  }
  if (utf8(report.note).length > MAX_ABUSE_NOTE_BYTES) throw badRequest(`the note is over ${MAX_ABUSE_NOTE_BYTES} bytes`);
  if (report.messages.length > MAX_ABUSE_MESSAGES) throw badRequest(`a report carries at most ${MAX_ABUSE_MESSAGES} messages`);
  if (source.kind === 'device' && report.reportingUser !== source.actor.userUri) {
    // One of the account's user pseudonyms, or nobody else.
    const problem = hub.identities.userPseudonymProblem(hub.store.accountOfDevice(source.actor.deviceUri), report.reportingUser);
    if (problem) throw new ApiFailure('notAllowed', `${source.actor.userUri} cannot report in the name of ${report.reportingUser}: ${problem}`);
  }
  if (source.kind === 'peer' && domainOf(report.reportingUser) !== source.domain) {
    throw new ApiFailure('notAllowed', `${source.domain} cannot report in the name of ${report.reportingUser}, a user of another provider`);
  }
  // Each reported message must prove itself with this hub's frank (docs/franking.md): a report
  // with altered text, a swapped sender or room, or a forged frank is refused whole.
  if (report.messages.length) {
    if (!hub.frankingAgent) throw new ApiFailure('notAllowed', 'this hub franks no messages, so it cannot check reported ones');
    const { at } = hub.frankingKey();
    const publicKey = decodeFrankingAgentData(hub.frankingAgent).frankingSignatureKey;
    report.messages.forEach((m, i) => {
      let c;
      try {
        c = decodeContent(m.messageContent);
      } catch (e) {
        throw badRequest(`reported message ${i + 1} is not a mimi-content message: ${(e as Error).message}`);
      }
      const ext = (n: number) => {
        const v = c.extensions.get(n);
        return typeof v === 'string' ? v : undefined;
      };
      const problem = abusiveMessageProblem({
        content: m.messageContent,
        salt: c.salt,
        contentSender: ext(1),
        contentRoom: ext(2),
        frank: m.frank,
        acceptedTimestamp: m.acceptedTimestamp,
        alleged: report.allegedAbuserUri,
        roomUri,
        hubKeyAt: at,
        frankingPublicKey: publicKey,
      });
      if (problem) throw new ApiFailure('notAllowed', `reported message ${i + 1} does not verify: ${problem}`);
    });
  }
  return hub.write(() => {
    const room = hub.requireRoom(roomUri);
    hub.requireParticipant(roomUri, report.reportingUser);
    if (room.room_state) {
      const state = decodeState(room.room_state, 'stored room state');
      const verdict = checkChange(state.policy, state.participants, report.reportingUser, { kind: 'use', capability: 'canReportAbuse' });
      if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids this report: ${denialText(verdict)}`);
    }
    const id = hub.store.addAbuseReport({
      room_uri: roomUri,
      reporter: report.reportingUser,
      alleged: report.allegedAbuserUri,
      reason: report.reasonCode,
      note: report.note,
      messages: report.messages.length,
      report: encoded,
      via_domain: source.kind === 'peer' ? source.domain : null,
      received_at: hub.now(),
    });
    return { id };
  });
}
