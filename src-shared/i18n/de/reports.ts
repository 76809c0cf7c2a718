import type { Shape } from '../catalogue.js';
import type { reports as en } from '../en/reports.js';

export const reports: Shape<typeof en> = {
  reasons: {
    none: 'Keine Angabe',
    spam: 'Spam oder Betrug',
    harassment: 'Belästigung oder Drohungen',
    hate: 'Hassrede',
    illegal: 'Illegale Inhalte',
    other: 'Etwas anderes',
  },
  done: '{count} Nachricht von {who} an den Anbieter des Raums gemeldet. | {count} Nachrichten von {who} an den Anbieter des Raums gemeldet.',
  title: 'Nachrichten von {who} melden',
  doneNext: 'Der Anbieter dieses Raums ({host}) entscheidet, was weiter passiert. Im Raum ändert sich nichts.',
  close: 'Schließen',
  intro: 'Die ausgewählten Nachrichten gehen mit dem Stempel des Hubs, der belegt, wer sie gesendet hat, an den Anbieter des Raums ({host}), zusammen mit deinem Grund und deiner Notiz. Sonst sieht sie niemand.',
  messages: 'Zu meldende Nachrichten',
  edited: 'bearbeitet, wird mit der Bearbeitung gesendet',
  selected: '{count} ausgewählt.',
  limit: 'Eine Meldung umfasst höchstens {max} Nachrichten (eine bearbeitete zählt doppelt); wähle eine ab, um eine andere hinzuzufügen.',
  reason: 'Grund',
  note: 'Notiz (optional)',
  noteHint: 'Was passiert ist, für das Team des Anbieters. {count} von {max} Zeichen.',
  checkOne: 'Wähle mindestens eine Nachricht zum Melden aus.',
  cancel: 'Abbrechen',
  report: 'Melden',
  reporting: 'Wird gemeldet…',
};
