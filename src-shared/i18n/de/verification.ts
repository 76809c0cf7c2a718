import type { Shape } from '../catalogue.js';
import type { verification as en } from '../en/verification.js';

export const verification: Shape<typeof en> = {
  timelineEvent: 'Die Geräte von {user} haben sich geändert, seit du {user} verifiziert hast — vergleicht eure Sicherheitsnummer noch einmal',
  badge: 'Verifiziert',
  badgeLabel: '{name} ist verifiziert',
  changedBadge: 'Geändert',
  changedBadgeLabel: 'Die Geräte von {name} haben sich geändert, seit du {name} verifiziert hast',
  open: 'Sicherheitsnummer',
  openLabel: 'Sicherheitsnummer mit {name} vergleichen',
  banner: {
    one: 'Die Geräte von {name} haben sich geändert, seit du {name} verifiziert hast. Vergleicht eure Sicherheitsnummer noch einmal.',
    many: 'Die Geräte von {names} haben sich geändert, seit du sie verifiziert hast. Vergleicht eure Sicherheitsnummern noch einmal.',
    compare: 'Mit {name} vergleichen',
  },
  dialog: {
    title: 'Sicherheitsnummer mit {name}',
    loading: 'Die Sicherheitsnummer wird berechnet…',
    explain:
      'Wenn {name} auf dem eigenen Gerät dieselbe Nummer sieht, hat niemand – weder eure Anbieter noch der Anbieter des Raums – ein eigenes Gerät zwischen euch geschoben.',
    howTo: 'Vergleicht sie persönlich oder am Telefon: Lest die Gruppen vor, oder fotografiert den Code auf dem anderen Bildschirm.',
    digitsLabel: 'Sicherheitsnummer, 12 Gruppen zu 5 Ziffern',
    groupLabel: 'Gruppe {n}: {digits}',
    qrLabel: 'Sicherheitsnummer als QR-Code, den {name} scannen kann',
    sharedRooms: 'Berechnet aus dem {count} Raum, den ihr teilt. | Berechnet aus den {count} Räumen, die ihr teilt.',
    state: {
      unverified: 'Noch nicht verifiziert.',
      verified: 'Du hast {name} verifiziert.',
      changed: 'Die Geräte von {name} haben sich geändert, seit du {name} verifiziert hast: Ein Gerät kam hinzu oder wurde entfernt. Vergleicht die Nummer erneut, bevor du {name} wieder als verifiziert markierst.',
    },
    mark: 'Als verifiziert markieren',
    clear: 'Verifizierung aufheben',
    compareImage: 'Code aus einem Bild vergleichen…',
    compareHint: 'Ein Foto oder Bildschirmfoto des QR-Codes auf dem Bildschirm von {name}.',
    close: 'Schließen',
    error: 'Die Sicherheitsnummer konnte nicht berechnet werden: {error}',
    result: {
      match: 'Die Codes stimmen überein. {name} ist jetzt verifiziert.',
      mismatch: 'Die Codes stimmen NICHT überein. Markiere {name} nicht als verifiziert: Einer von euch sieht ein Gerät, das der andere nicht hat.',
      otherPeople: 'Dieser Code gehört zu zwei anderen Personen, nicht zu dir und {name}.',
      otherVersion: 'Dieser Code stammt aus einer App mit einer anderen Art Sicherheitsnummer; vergleicht stattdessen die Ziffern.',
      notASafetyNumber: 'Dieser QR-Code ist keine Sicherheitsnummer.',
      noCode: 'In diesem Bild wurde kein QR-Code gefunden. Versuch es mit einem schärferen Bild des ganzen Codes.',
      unreadable: 'Diese Datei konnte nicht als Bild gelesen werden.',
    },
  },
  errors: {
    noSharedRoom: 'Du und {user} teilt keinen Raum, also gibt es keine Geräte zu vergleichen. Beginne zuerst einen Chat.',
    self: 'Eine Sicherheitsnummer gilt zwischen dir und jemand anderem; wähle eine andere Person.',
    pseudonym: 'Ein Pseudonym hat keine Sicherheitsnummer: Verifiziere die Person dahinter in einem Raum, in dem sie unter ihrem eigenen Namen ist.',
    badQr: 'Der gescannte Code ist kein gültiges Base64.',
  },
};
