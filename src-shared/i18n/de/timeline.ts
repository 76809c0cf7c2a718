import type { Shape } from '../catalogue.js';
import type { timeline as en } from '../en/timeline.js';

export const timeline: Shape<typeof en> = {
  label: 'Nachrichten',
  loading: 'Nachrichten werden geladen…',
  loadingOlder: 'Ältere Nachrichten werden geladen…',
  empty: 'Noch keine Nachrichten. Sag hallo!',
  emptyReadOnly: 'Keine Nachrichten.',
  notOnDevice: 'Dieser Raum ist nicht mehr auf diesem Gerät, daher können seine Nachrichten nicht angezeigt werden.',
  errorOlder: 'Ältere Nachrichten konnten nicht geladen werden: {error}',
  error: 'Die Nachrichten konnten nicht geladen werden: {error}',
  today: 'Heute',
  yesterday: 'Gestern',
  announce: '{name}: {text}',
  events: {
    provider: 'Der Anbieter des Raums',
    // Every sentence that names the viewer as its object takes the accusative.
    you: 'dich',
    quoted: '„{text}“',
    added: { byYou: 'Du hast {user} hinzugefügt', by: '{by} hat {user} hinzugefügt' },
    removed: { byYou: 'Du hast {user} entfernt', by: '{by} hat {user} entfernt', byProvider: '{user} wurde vom Anbieter des Raums entfernt', youByProvider: 'Du wurdest vom Anbieter des Raums entfernt' },
    kicked: { byYou: 'Du hast {user} hinausgeworfen', by: '{by} hat {user} hinausgeworfen', byProvider: '{user} wurde vom Anbieter des Raums entfernt', youByProvider: 'Du wurdest vom Anbieter des Raums entfernt' },
    banned: { byYou: 'Du hast {user} gesperrt', by: '{by} hat {user} gesperrt', byProvider: '{user} wurde vom Anbieter des Raums gesperrt', youByProvider: 'Du wurdest vom Anbieter des Raums gesperrt' },
    unbanned: { byYou: 'Du hast {user} entsperrt', by: '{by} hat {user} entsperrt' },
    roleChanged: {
      byYou: 'Du hast die Rolle von {user} von {from} zu {to} geändert',
      by: '{by} hat die Rolle von {user} von {from} zu {to} geändert',
      yoursByYou: 'Du hast deine Rolle von {from} zu {to} geändert',
      yours: '{by} hat deine Rolle von {from} zu {to} geändert',
    },
    renamed: { byYou: 'Du hast den Raum in {name} umbenannt', by: '{by} hat den Raum in {name} umbenannt', clearedByYou: 'Du hast den Namen des Raums entfernt', cleared: '{by} hat den Namen des Raums entfernt' },
    subject: { byYou: 'Du hast das Thema auf {value} gesetzt', by: '{by} hat das Thema auf {value} gesetzt', clearedByYou: 'Du hast das Thema entfernt', cleared: '{by} hat das Thema entfernt' },
    avatar: { byYou: 'Du hast das Bild des Raums geändert', by: '{by} hat das Bild des Raums geändert', clearedByYou: 'Du hast das Bild des Raums entfernt', cleared: '{by} hat das Bild des Raums entfernt' },
    description: { byYou: 'Du hast die Beschreibung des Raums geändert', by: '{by} hat die Beschreibung des Raums geändert', clearedByYou: 'Du hast die Beschreibung des Raums entfernt', cleared: '{by} hat die Beschreibung des Raums entfernt' },
    rolesChanged: { byYou: 'Du hast die Rollen des Raums geändert', by: '{by} hat die Rollen des Raums geändert' },
    joinedLink: { you: 'Du bist über einen Link beigetreten', other: '{user} ist über einen Link beigetreten' },
    joinedKnock: { you: 'Du bist zum Anklopfen hereingekommen', other: '{user} ist zum Anklopfen hereingekommen' },
    joinedAgain: { you: 'Du bist wieder beigetreten', other: '{user} ist wieder beigetreten' },
    left: { you: 'Du hast den Raum verlassen', other: '{user} hat den Raum verlassen' },
    newDevice: { you: 'Du hast ein neues Gerät hinzugefügt', other: '{user} hat ein neues Gerät hinzugefügt' },
  },
};
