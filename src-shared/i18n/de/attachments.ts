import type { Shape } from '../catalogue.js';
import type { attachments as en } from '../en/attachments.js';

export const attachments: Shape<typeof en> = {
  attach: 'Datei oder Bild anhängen',
  attachTitle: 'Datei oder Bild anhängen (oder hier ablegen oder einfügen)',
  uploads: 'Dateien, die gesendet werden',
  sending: '{name} wird gesendet ({size})',
  sendingProgress: '{name} wird gesendet: {percent}',
  dismissAbout: 'Hinweis zu {name} ausblenden',
  dismiss: 'Ausblenden',
  image: 'Bild {name}',
  preview: 'Vorschau von {name}',
  save: 'Speichern',
  saveName: '{name} speichern',
  download: 'Herunterladen',
  downloadName: '{name} herunterladen',
  downloading: '{name} wird heruntergeladen: {percent}',
  retry: 'Noch einmal versuchen',
  retrySend: 'Noch einmal versuchen: {name} senden',
  errors: {
    empty: '{name} ist leer: Wähle eine andere Datei.',
    tooLarge: '{name} ist {size} groß; höchstens {max} können gesendet werden. Sende eine kleinere Datei.',
    notSent: '{name} wurde nicht gesendet: {error}',
    unreadable: 'Die Datei konnte nicht gelesen werden. Prüfe, ob es sie noch gibt, und versuch es noch einmal.',
  },
};
