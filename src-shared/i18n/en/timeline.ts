// The timeline: the list itself (loading, empty, errors), day dividers, announcements, and the
// room changes shown among the messages (src-shared/timeline-events.ts), one sentence per kind.
// In the event sentences `{by}` and `{user}` are people as the room names them; the variants say
// who did it: `byYou` (the viewer), `by` (someone else, or the room's provider as `{by}`),
// `byProvider` / `youByProvider` (the provider took someone out: a passive sentence).
export const timeline = {
  label: 'Messages',
  loading: 'Loading messages…',
  loadingOlder: 'Loading older messages…',
  empty: 'No messages yet. Say hello!',
  emptyReadOnly: 'No messages.',
  notOnDevice: 'This room is not on this device any more, so its messages can’t be shown.',
  errorOlder: 'Could not load older messages: {error}',
  error: 'Could not load the messages: {error}',
  today: 'Today',
  yesterday: 'Yesterday',
  /** Read out when a message from someone else arrives. */
  announce: '{name}: {text}',
  events: {
    provider: 'The room’s provider',
    /** The viewer as the object of a sentence ("alice added you"). */
    you: 'you',
    quoted: '“{text}”',
    added: { byYou: 'You added {user}', by: '{by} added {user}' },
    removed: { byYou: 'You removed {user}', by: '{by} removed {user}', byProvider: '{user} was removed by the room’s provider', youByProvider: 'You were removed by the room’s provider' },
    kicked: { byYou: 'You kicked {user}', by: '{by} kicked {user}', byProvider: '{user} was removed by the room’s provider', youByProvider: 'You were removed by the room’s provider' },
    banned: { byYou: 'You banned {user}', by: '{by} banned {user}', byProvider: '{user} was banned by the room’s provider', youByProvider: 'You were banned by the room’s provider' },
    unbanned: { byYou: 'You unbanned {user}', by: '{by} unbanned {user}' },
    roleChanged: {
      byYou: 'You changed {user}’s role from {from} to {to}',
      by: '{by} changed {user}’s role from {from} to {to}',
      yoursByYou: 'You changed your role from {from} to {to}',
      yours: '{by} changed your role from {from} to {to}',
    },
    renamed: { byYou: 'You renamed the room to {name}', by: '{by} renamed the room to {name}', clearedByYou: 'You removed the room’s name', cleared: '{by} removed the room’s name' },
    subject: { byYou: 'You set the subject to {value}', by: '{by} set the subject to {value}', clearedByYou: 'You cleared the subject', cleared: '{by} cleared the subject' },
    avatar: { byYou: 'You changed the room’s picture', by: '{by} changed the room’s picture', clearedByYou: 'You removed the room’s picture', cleared: '{by} removed the room’s picture' },
    description: { byYou: 'You changed the room’s description', by: '{by} changed the room’s description', clearedByYou: 'You removed the room’s description', cleared: '{by} removed the room’s description' },
    rolesChanged: { byYou: 'You changed the room’s roles', by: '{by} changed the room’s roles' },
    joinedLink: { you: 'You joined with a link', other: '{user} joined with a link' },
    joinedKnock: { you: 'You came in to knock', other: '{user} came in to knock' },
    joinedAgain: { you: 'You joined again', other: '{user} joined again' },
    left: { you: 'You left', other: '{user} left' },
    newDevice: { you: 'You added a new device', other: '{user} added a new device' },
  },
};
