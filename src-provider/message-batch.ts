// ROUTES.sendMessageBatch: several messages of one device in one request, so a client with a
// backlog (after being offline, a burst) pays the per-request HTTP work (TLS record, parse, token
// lookup, JSON, response) once for all of them instead of once each.
//
// The body is checked whole first: anything malformed (not JSON, not the shape, a field of the
// wrong type, bad base64, too many entries) is a 400 and nothing is accepted. Then each entry is
// taken exactly as ROUTES.sendMessage takes one: entries for rooms hosted here go to the hub, all
// in ONE group-commit transaction in batch order (Hub.submitMessages), entries for rooms hosted
// elsewhere are forwarded to their hubs, one room's entries one after the other in batch order.
// An entry that fails gets its own error in its result and the others are unaffected, except that
// after a retryable failure (epochTooOld, peerUnreachable, rateLimited, internal) the later entries
// of that room are not tried (they fail with the same error), so a retry cannot reorder the room.
// The answer is sent once every accepted entry is committed (durable before the answer), and each
// entry's requestId is recorded as with the single route, so a retried batch is delivered once.

import { MAX_BATCH_MESSAGES, type SendMessageBatchResult, type SendMessageResponse } from '../src-shared/provider-api.js';
import { ApiFailure, badRequest } from './errors.js';
import type { Follower } from './federation/follower.js';
import type { Hub, HubActor, MessageInput } from './hub.js';
import { b64, onlyFields, str } from './http.js';

export interface BatchEntry {
  roomUri: string;
  input: MessageInput;
}

const ENTRY_FIELDS = ['roomId', 'message', 'requestId', 'asPseudonym'] as const;
const RETRYABLE = new Set(['epochTooOld', 'peerUnreachable', 'rateLimited', 'internal']);

/** The entries of a SendMessageBatchRequest body, or a 400 naming what is wrong (nothing is accepted then). */
export function parseMessageBatch(o: Record<string, unknown>): BatchEntry[] {
  onlyFields(o, ['messages']);
  const list = o.messages;
  if (!Array.isArray(list)) throw badRequest('field "messages" must be an array of messages (SendMessageBatchEntry)');
  if (list.length === 0) throw badRequest('field "messages" is empty');
  if (list.length > MAX_BATCH_MESSAGES) throw badRequest(`field "messages" has ${list.length} entries; at most ${MAX_BATCH_MESSAGES} go in one batch`);
  return list.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw badRequest(`messages[${i}] must be an object`);
    const entry = e as Record<string, unknown>;
    try {
      onlyFields(entry, ENTRY_FIELDS);
      const asPseudonym = entry.asPseudonym === undefined || entry.asPseudonym === null ? undefined : str(entry, 'asPseudonym', { max: 512 });
      return {
        roomUri: str(entry, 'roomId', { min: 1, max: 512 }),
        input: { message: b64(entry, 'message'), requestId: str(entry, 'requestId', { min: 1, max: 128 }), asPseudonym },
      };
    } catch (err) {
      if (err instanceof ApiFailure) throw badRequest(`messages[${i}]: ${err.message}`);
      throw err;
    }
  });
}

function result(o: PromiseSettledResult<SendMessageResponse>, log: (msg: string) => void): SendMessageBatchResult {
  if (o.status === 'fulfilled') return o.value;
  const e = o.reason;
  if (e instanceof ApiFailure) return { status: e.status, ...e.toBody() };
  log(`internal error in a message batch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return { status: 500, error: { code: 'internal', message: 'internal server error' } };
}

/** Accepts (or refuses) each entry as ROUTES.sendMessage would; one result per entry, in order. */
export async function sendMessageBatch(
  hub: Hub,
  follower: Pick<Follower, 'isRemote' | 'forwardMessage'>,
  actor: HubActor,
  entries: readonly BatchEntry[],
  log: (msg: string) => void = (msg) => console.error(msg),
): Promise<SendMessageBatchResult[]> {
  const results: SendMessageBatchResult[] = new Array(entries.length);
  const local: number[] = [];
  const remote = new Map<string, number[]>();
  entries.forEach((e, i) => {
    if (!follower.isRemote(e.roomUri)) local.push(i);
    else remote.set(e.roomUri, [...(remote.get(e.roomUri) ?? []), i]);
  });
  const here = local.length
    ? hub.submitMessages(actor, local.map((i) => entries[i])).then((outcomes) => outcomes.forEach((o, k) => (results[local[k]] = result(o, log))))
    : Promise.resolve();
  // Rooms hosted elsewhere: each room's entries in order, one at a time; rooms side by side.
  const elsewhere = [...remote.values()].map(async (indexes) => {
    let stopped: ApiFailure | undefined;
    for (const i of indexes) {
      const { roomUri, input } = entries[i];
      let o: PromiseSettledResult<SendMessageResponse>;
      if (stopped) {
        o = { status: 'rejected', reason: new ApiFailure(stopped.code, `not tried: an earlier message of this batch for the same room failed (${stopped.message})`, { status: stopped.status, currentEpoch: stopped.currentEpoch }) };
      } else {
        try {
          o = { status: 'fulfilled', value: await follower.forwardMessage(actor, roomUri, input) };
        } catch (reason) {
          o = { status: 'rejected', reason };
          stopped = !(reason instanceof ApiFailure) ? new ApiFailure('internal', 'internal server error') : RETRYABLE.has(reason.code) ? reason : undefined;
        }
      }
      results[i] = result(o, log);
    }
  });
  // The transaction of the local entries failing (none of them stored) fails the request: a 500,
  // after the remote entries had their answers (they are recorded by request id; a retry is a duplicate).
  const settled = await Promise.allSettled([here, ...elsewhere]);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return results;
}
