// A timeline event (src-shared/timeline-events.ts) as one sentence in the window's language. The
// core also sends an English sentence (MessageView.text), but a language's sentence is not the
// English one with words swapped: who did it decides the verb's form ("You added" / "alice hat" /
// "Du hast"), so each kind has a sentence per actor (the viewer, someone, the room's provider) in
// the catalogue (timeline.events), and the names go in as parameters.

import type { MessageView } from '../../../src-shared/contract.js';
import type { TimelineEvent } from '../../../src-shared/timeline-events.js';
import { t } from '../i18n.js';
import { personName } from './identity.js';
import { isPseudonym, shortPseudonym } from './pseudonyms.js';
import { roleLabel } from './role-names.js';

export interface EventNames {
  /** How a user other than the viewer reads (handle, bob@b.example, a pseudonym's short form). */
  name(user: string): string;
  isSelf(user: string): boolean;
  /** How a role name of the room state reads (group_admin -> Admin). */
  role(roleName: string): string;
}

const quoted = (s: string): string => t('timeline.events.quoted', { text: s.length > 80 ? `${s.slice(0, 80)}…` : s });

export function eventText(e: TimelineEvent, o: EventNames): string {
  const K = 'timeline.events';
  /** The viewer as an object ("alice added you"), anyone else by name. */
  const who = (user: string): string => (o.isSelf(user) ? t(`${K}.you`) : o.name(user));
  /** A sentence whose actor is `by`: the viewer's own form, or someone's (the provider's name filled in). */
  const acted = (key: string, by: string | null, params: Record<string, string> = {}): string =>
    by !== null && o.isSelf(by) ? t(`${key}.byYou`, params) : t(`${key}.by`, { ...params, by: by === null ? t(`${K}.provider`) : o.name(by) });
  /** A sentence about the user themselves ("You left" / "bob left"). */
  const own = (key: string, user: string): string => (o.isSelf(user) ? t(`${key}.you`) : t(`${key}.other`, { user: o.name(user) }));

  switch (e.kind) {
    case 'added':
    case 'unbanned':
      return acted(`${K}.${e.kind}`, e.by, { user: who(e.user) });
    case 'removed':
    case 'kicked':
    case 'banned':
      if (e.by === null) return o.isSelf(e.user) ? t(`${K}.${e.kind}.youByProvider`) : t(`${K}.${e.kind}.byProvider`, { user: o.name(e.user) });
      return acted(`${K}.${e.kind}`, e.by, { user: who(e.user) });
    case 'roleChanged': {
      const params = { user: o.name(e.user), from: o.role(e.from), to: o.role(e.to) };
      if (!o.isSelf(e.user)) return acted(`${K}.roleChanged`, e.by, params);
      if (e.by !== null && o.isSelf(e.by)) return t(`${K}.roleChanged.yoursByYou`, params);
      return t(`${K}.roleChanged.yours`, { ...params, by: e.by === null ? t(`${K}.provider`) : o.name(e.by) });
    }
    case 'renamed':
      return e.name ? acted(`${K}.renamed`, e.by, { name: quoted(e.name) }) : cleared(`${K}.renamed`, e.by, o);
    case 'metadataChanged': {
      const key = `${K}.${e.field}`;
      return e.value ? acted(key, e.by, { value: quoted(e.value) }) : cleared(key, e.by, o);
    }
    case 'rolesChanged':
      return acted(`${K}.rolesChanged`, e.by);
    case 'joined':
      return own(`${K}.${e.how === 'knock' ? 'joinedKnock' : e.how === 'again' ? 'joinedAgain' : 'joinedLink'}`, e.user);
    case 'left':
      return own(`${K}.left`, e.user);
    case 'newDevice':
      return own(`${K}.newDevice`, e.user);
    case 'verifiedChanged':
      // Only ever about someone else: nobody verifies themselves.
      return t('verification.timelineEvent', { user: o.name(e.user) });
  }
}

function cleared(key: string, by: string | null, o: EventNames): string {
  if (by !== null && o.isSelf(by)) return t(`${key}.clearedByYou`);
  return t(`${key}.cleared`, { by: by === null ? t('timeline.events.provider') : o.name(by) });
}

/**
 * The sentence of a timeline item: users read as everywhere else (bob, or bob@b.example from
 * another provider), a pseudonym only as its short form (the event never names the person behind
 * it). An item without a structured event (an older core) keeps the core's own text.
 */
export function eventSentence(m: Pick<MessageView, 'event' | 'text'>, selfUri: string, viewerDomain: string): string {
  if (!m.event) return m.text;
  return eventText(m.event, {
    name: (u) => (isPseudonym(u) ? shortPseudonym(u) : personName(u, viewerDomain).label),
    isSelf: (u) => u === selfUri,
    role: roleLabel,
  });
}
