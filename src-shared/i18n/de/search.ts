import type { Shape } from '../catalogue.js';
import type { search as en } from '../en/search.js';

export const search: Shape<typeof en> = {
  title: 'Nachrichten suchen',
  back: 'Zurück zu den Räumen',
  words: 'Gesuchte Wörter',
  placeholder: 'z. B. abendessen freitag',
  in: 'In',
  everyRoom: 'Allen Räumen',
  untitled: 'Raum ohne Namen',
  help: 'Findet Nachrichten mit einem Wort, das mit jedem deiner Suchwörter beginnt. Groß- und Kleinschreibung spielt keine Rolle.',
  searching: 'Suche läuft…',
  none: 'Keine Nachrichten gefunden.',
  found: '{count} Nachricht gefunden. | {count} Nachrichten gefunden.',
  foundNewest: '{count} Nachrichten gefunden (die neuesten {max}).',
  pending: 'Noch {count} ältere Nachricht wird indiziert: Es können Treffer fehlen; such gleich noch einmal. | Noch {count} ältere Nachrichten werden indiziert: Es können Treffer fehlen; such gleich noch einmal.',
  failed: '{error} Versuche es noch einmal oder ändere die Suchwörter.',
  results: 'Gefundene Nachrichten',
};
