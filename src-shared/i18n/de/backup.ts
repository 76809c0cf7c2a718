import type { Shape } from '../catalogue.js';
import type { backup as en } from '../en/backup.js';

export const backup: Shape<typeof en> = {
  what: {
    create: 'Die Sicherung konnte nicht erstellt werden',
    restore: 'Die Sicherung konnte nicht wiederhergestellt werden',
  },
  errors: {
    busy: 'Auf diesem Gerät läuft schon eine Sicherung oder Wiederherstellung; warte, bis sie fertig ist.',
    keyTypo: 'In diesem Wiederherstellungsschlüssel ist ein Tippfehler: Vergleiche jede Vierergruppe mit dem, was du aufgeschrieben hast. Nichts wurde geändert.',
    keyLength: 'Ein Wiederherstellungsschlüssel hat 55 Buchstaben und Ziffern in Vierergruppen; prüfe, ob etwas fehlt oder zu viel ist. Nichts wurde geändert.',
    wrongKey: 'Falscher Wiederherstellungsschlüssel: Keine Sicherung dieses Kontos lässt sich damit öffnen. Prüfe den Schlüssel, den du beim Erstellen der Sicherung aufgeschrieben hast (oder erstelle zuerst eine Sicherung auf einem Gerät mit dem Verlauf). Nichts wurde geändert.',
    incomplete: 'Diese Sicherung ist unvollständig: Kein Teil davon wurde fertig. Erstelle eine neue Sicherung (mimi backup create) auf einem Gerät mit dem Verlauf und stelle dann erneut wieder her. Nichts wurde geändert.',
    manifestDamaged: 'Diese Sicherung ist beschädigt: Ihre Liste der Teile lässt sich nicht öffnen. Erstelle eine neue Sicherung auf einem Gerät mit dem Verlauf und stelle dann erneut wieder her. Nichts wurde geändert.',
    otherGeneration: 'Diese Sicherung ist beschädigt: Ihre Liste der Teile gehört zu einer anderen Fassung der Sicherung ({found}, nicht {generation}). Erstelle eine neue Sicherung auf einem Gerät mit dem Verlauf. Nichts wurde geändert.',
    newerFormat: 'Diese Sicherung wurde im Format {version} erstellt, das diese mimi-Version nicht lesen kann; aktualisiere mimi und stelle erneut wieder her. Nichts wurde geändert.',
    missingChunk: 'Diese Sicherung ist abgeschnitten: Teil {index} fehlt beim Provider. Erstelle eine neue Sicherung auf einem Gerät mit dem Verlauf und stelle dann erneut wieder her. Nichts wurde geändert.',
    chunkAltered: 'Diese Sicherung ist beschädigt: Teil {index} ist nicht das, was gespeichert wurde. Erstelle eine neue Sicherung auf einem Gerät mit dem Verlauf und stelle dann erneut wieder her. Nichts wurde geändert.',
    chunkDamaged: 'Diese Sicherung ist beschädigt: Teil {index} lässt sich nicht öffnen. Erstelle eine neue Sicherung auf einem Gerät mit dem Verlauf und stelle dann erneut wieder her. Nichts wurde geändert.',
    storedOtherBytes: 'Der Provider hat für Teil {index} andere Bytes gespeichert als gesendet wurden; starte die Sicherung erneut.',
    exportDir: 'Der Ordner {dir} kann nicht für den Export verwendet werden ({reason}); wähle einen anderen.',
    exportNotDir: '{dir} ist eine Datei, kein Ordner; gib für den Export einen neuen oder leeren Ordner an.',
    exportNotEmpty: 'Der Ordner {dir} ist nicht leer; gib einen neuen oder leeren Ordner an, damit der Export nichts überschreibt.',
  },
  export: {
    title: '{room}: exportierter Verlauf',
    exportedAt: 'Exportiert',
    deleted: 'Nachricht gelöscht',
    edited: 'bearbeitet',
    replyTo: 'Antwort auf',
    attachmentMissing: 'nicht heruntergeladen',
  },
};
