import type { Shape } from '../catalogue.js';
import type { shortcuts as en } from '../en/shortcuts.js';

export const shortcuts: Shape<typeof en> = {
  title: 'Tastenkürzel',
  close: 'Schließen',
  or: 'oder',
  messageField: 'Nachrichtenfeld',
  keys: {
    ctrl: 'Strg',
    shift: 'Umschalt',
    enter: 'Eingabe',
    esc: 'Esc',
  },
  what: {
    roomSwitcher: 'Zu einem Raum nach Namen wechseln',
    adjacentRoom: 'Vorheriger oder nächster Raum in der Liste',
    help: 'Diese Tastenkürzel zeigen',
    close: 'Dialog oder Bereich schließen',
    editLast: 'Deine letzte Nachricht bearbeiten (in einem leeren Nachrichtenfeld)',
    cancelReply: 'Antwort oder Bearbeitung abbrechen',
    send: 'Nachricht senden',
    newLine: 'Neue Zeile',
  },
};
