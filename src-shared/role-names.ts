// The names people read for room roles. The room policy (room-policy.ts) names roles with the
// draft's identifiers (group_admin, ordinary_user, ...), which are protocol vocabulary, not words;
// every screen that shows a role, and the core's timeline sentences, go through here, so a role
// reads the same everywhere. The raw identifier stays available (as a tooltip) for those who compare
// with `mimi room-state`. The caller gives the translation: the renderer its window's language,
// the core English (i18n/index.ts translate). Kept here, not in the renderer, so the main process
// and `mimi` need no Vue to name a role.

/** A message catalogue lookup: the text for `key`, filled in with `params`. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;

/** The draft's role names in our presets (cooperative, administered, moderated), each a catalogue key. */
const KNOWN = new Set([
  'no_role',
  'banned',
  'ordinary_user',
  'group_admin',
  // The room's creator in the moderated preset, and above the admins in the others.
  'super_admin',
  // Holds no clients (the hub acts with it): it enforces the policy rather than moderating.
  'policy_enforcer',
  'moderator',
  'speaker',
  'attendee',
  'guest',
  'muted',
]);

/**
 * "group_admin" -> "Admin" (in `t`'s language). A name this app does not know (a room whose policy
 * defines its own roles) is made readable the same way in every language: underscores and dashes
 * become spaces, the first letter is capitalised. An empty name (a room without roles) stays empty.
 */
export function roleLabelWith(t: Translate, roleName: string): string {
  if (KNOWN.has(roleName)) return t(`rooms.roles.${roleName}`);
  const words = roleName.replace(/[_-]+/g, ' ').trim().replace(/\s+/g, ' ');
  return words ? words[0].toUpperCase() + words.slice(1) : '';
}

/** The tooltip beside a readable name: the identifier the room state uses, when it differs. */
export function roleTitleWith(t: Translate, roleName: string): string | undefined {
  return roleName && roleLabelWith(t, roleName) !== roleName ? t('rooms.roles.stateTitle', { name: roleName }) : undefined;
}
