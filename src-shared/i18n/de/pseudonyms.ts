import type { Shape } from '../catalogue.js';
import type { pseudonyms as en } from '../en/pseudonyms.js';

export const pseudonyms: Shape<typeof en> = {
  title: 'Pseudonyme',
  allAccounts: 'Alle Konten',
  sideBySide: 'Alle Konten nebeneinander',
  backToRooms: 'Zurück zu den Räumen',
  intro: 'Dein Anbieter gibt jedem Konto einen Vorrat an Pseudonymen (mimi://anbieter/p/…). Räume mit minimalen Metadaten und Verbindungsanfragen verwenden sie, sodass Anbieter ein Pseudonym statt dich sehen. mimi hält jeden Vorrat gefüllt.',
  pool: {
    loadFailed: 'Die Pseudonyme konnten nicht geladen werden: {error}',
    loading: 'Pseudonyme werden geladen…',
    summary: '{unused} unbenutzt. Sind weniger als {threshold} unbenutzt, fordert die App {batch} weitere an.',
    summaryNoRefill: '{unused} unbenutzt; die App füllt diesen Vorrat nicht von selbst auf.',
    refillingLabel: 'Weitere Pseudonyme für {handle} werden geholt',
    refilling: 'Weitere Pseudonyme werden von {domain} geholt…',
    problem: 'Das letzte Auffüllen ist fehlgeschlagen.',
    refill: 'Jetzt {count} weitere holen',
    asked: '{count} weitere bei {domain} angefordert.',
    retired: '{short} stillgelegt: Es wird nie wieder verwendet.',
    empty: 'Noch keine Pseudonyme. „Jetzt {count} weitere holen“ fordert welche bei {domain} an.',
    sections: {
      inUse: 'In Gebrauch ({count})',
      unused: 'Unbenutzt ({count})',
      retired: 'Stillgelegt ({count})',
    },
  },
  row: {
    issued: 'Ausgegeben am {date}',
    keyPackages: '{count} KeyPackage | {count} KeyPackages',
    pill: { unused: 'unbenutzt', inUse: 'in Gebrauch', retired: 'stillgelegt' },
    retire: 'Stilllegen',
    retireLabel: '{short} stilllegen',
    retiring: 'Wird stillgelegt…',
    retireGroup: '{short} stilllegen?',
    confirmLabel: 'Bestätigen: {short} stilllegen',
    keep: 'Behalten',
  },
  state: {
    retired: 'Stillgelegt',
    unused: 'Unbenutzt',
    usedBefore: 'Früher benutzt, jetzt in keinem Raum',
    inRooms: 'Benutzt in {rooms}',
  },
  retireQuestion: {
    inRooms:
      '{short} stilllegen? Du verlässt seinen Raum ({rooms}), seine KeyPackages werden von {domain} zurückgezogen, und es wird nie wieder verwendet. | {short} stilllegen? Du verlässt seine {count} Räume ({rooms}), seine KeyPackages werden von {domain} zurückgezogen, und es wird nie wieder verwendet.',
    noRoom: '{short} stilllegen? Es ist in keinem Raum. Seine KeyPackages werden von {domain} zurückgezogen, und es wird nie wieder verwendet.',
  },
  noIdentityYet: 'noch keine Identität erhalten',
};
