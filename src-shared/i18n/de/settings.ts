import type { Shape } from '../catalogue.js';
import type { settings as en } from '../en/settings.js';

export const settings: Shape<typeof en> = {
  title: 'Einstellungen',
  intro: 'Für {address}: Profil, Sicherheit und Konto. Benachrichtigungen und Darstellung gelten für dieses Gerät.',
  notifications: {
    title: 'Benachrichtigungen',
    on: 'Benachrichtige mich über neue Nachrichten in Räumen, die ich gerade nicht ansehe',
    permission: {
      granted: 'Dieser Browser zeigt die Benachrichtigungen von mimi an.',
      denied: 'Dieser Browser blockiert die Benachrichtigungen von mimi. Erlaube sie in den Website-Einstellungen (das Symbol links neben der Adresse) und lade die Seite dann neu.',
      unsupported: 'Dieser Browser kann keine Benachrichtigungen anzeigen.',
      default: 'Dieser Browser fragt nach, bevor mimi Benachrichtigungen anzeigen darf.',
    },
    allow: 'Benachrichtigungen in diesem Browser erlauben',
    shows: 'Was eine Benachrichtigung zeigt',
    privacy: { full: 'Absender und Nachrichtentext', sender: 'Nur den Absender', none: 'Nichts (nur „Neue Nachricht“)' },
    muted: 'Stummgeschaltete Räume benachrichtigen nie und zählen nicht im Fenstertitel mit; schalte einen Raum über seine Kopfzeile oder sein Menü in der Raumliste (Rechtsklick) stumm.',
    loginItem: 'mimi starten, wenn ich mich an diesem Computer anmelde',
    loginRefused: 'Das System hat die Änderung nicht übernommen; sieh in seinen Einstellungen für Autostart-Programme nach.',
    loginFailed: 'Das ließ sich nicht ändern; sieh in den Einstellungen deines Systems für Autostart-Programme nach.',
  },
  security: {
    title: 'Sicherheit',
    where: 'Wo die Schlüssel dieses Kontos aufbewahrt werden',
    modes: {
      keychain: 'Im Schlüsselbund des Systems (etwa GNOME Keyring, KWallet oder der macOS-Schlüsselbund).',
      safeStorage: 'Verschlüsselt mit einem Schlüssel, den das Betriebssystem für mimi aufbewahrt (Electron Safe Storage).',
      passphrase: 'Verschlüsselt mit deiner Passphrase, nach der mimi bei jedem Start fragt. Eine vergessene Passphrase lässt sich nicht wiederherstellen: Melde dich dann als neues Gerät wieder an.',
      plaintext: 'Unverschlüsselt: in einer Datei, die nur dein Benutzer lesen kann. Wer Zugriff auf dein Benutzerkonto oder dessen Backups hat, kann sie lesen.',
    },
    modeHint: 'Das wird festgelegt, wenn das Konto auf diesem Gerät hinzugefügt wird. Um die Schlüssel anders aufzubewahren, melde dich ab und als neues Gerät wieder an.',
    password: {
      title: 'Passwort ändern',
      current: 'Aktuelles Passwort',
      new: 'Neues Passwort (mindestens {count} Zeichen)',
      again: 'Neues Passwort wiederholen',
      note: 'Deine jetzt angemeldeten Geräte (dieses und andere) bleiben angemeldet; mit dem Passwort meldet sich ein neues Gerät an.',
      submit: 'Passwort ändern',
      busy: 'Wird geändert…',
      done: 'Passwort geändert. Melde neue Geräte mit dem neuen an; deine jetzt angemeldeten Geräte bleiben angemeldet.',
      errors: {
        current: 'Gib zuerst dein aktuelles Passwort ein.',
        short: 'Das neue Passwort braucht mindestens {count} Zeichen.',
        differ: 'Die beiden neuen Passwörter stimmen nicht überein; gib zweimal dasselbe ein.',
        same: 'Das neue Passwort ist das aktuelle; wähle ein anderes.',
      },
    },
    passphrase: {
      title: 'Passphrase ändern',
      current: 'Aktuelle Passphrase',
      new: 'Neue Passphrase (mindestens {count} Zeichen)',
      again: 'Neue Passphrase wiederholen',
      note: 'Die Schlüssel auf diesem Gerät werden mit der neuen Passphrase neu verschlüsselt; auf deinen anderen Geräten und bei deinem Anbieter ändert sich nichts.',
      submit: 'Passphrase ändern',
      busy: 'Wird geändert…',
      progressLabel: 'Passphrase wird geändert',
      progress: 'Deine Schlüssel werden mit der neuen Passphrase verschlüsselt; das dauert einen Moment…',
      done: 'Passphrase geändert. Gib beim nächsten Start von mimi die neue ein.',
      errors: {
        current: 'Gib zuerst deine aktuelle Passphrase ein.',
        short: 'Die neue Passphrase braucht mindestens {count} Zeichen.',
        differ: 'Die beiden neuen Passphrasen stimmen nicht überein; gib zweimal dieselbe ein.',
        same: 'Die neue Passphrase ist die aktuelle; wähle eine andere.',
      },
    },
  },
  account: {
    title: 'Konto',
    delete: '{address} löschen',
    explain:
      'Dein Anbieter löscht das Konto sofort: Alle seine Geräte werden abgemeldet, du verlässt jeden Raum (die anderen Mitglieder sehen das), die Dateien, die du gesendet hast, werden dort gelöscht (die anderen Mitglieder können sie nicht mehr öffnen), dein Benutzername kann von jemand anderem übernommen werden, und niemand erreicht dich mehr darunter. Das lässt sich nicht rückgängig machen. Nachrichten, die schon auf diesem Gerät sind, bleiben in seinem Datenordner.',
    deleteButton: 'Konto löschen…',
    typeToConfirm: 'Gib zur Bestätigung {handle} ein',
    typeError: 'Gib zur Bestätigung {handle} ein.',
    keep: 'Konto behalten',
    deleting: 'Wird gelöscht…',
    deleteForever: 'Endgültig löschen',
  },
  errors: {
    notPassphraseMode:
      'Die Schlüssel dieses Kontos sind nicht mit einer Passphrase geschützt, es gibt also keine zu ändern. Um sie mit einer zu schützen, melde dich auf einem Computer ohne Schlüsselbund als neues Gerät an, oder starte mimi mit MIMI_SECRETS=passphrase.',
    wrongCurrentPassphrase: 'Das ist nicht die aktuelle Passphrase, daher wurde nichts geändert. Prüfe sie (Groß- und Kleinschreibung zählt) und versuch es noch einmal.',
    passphraseChangeFailed:
      'Die Passphrase ließ sich nicht ändern: {reason} Prüfe, ob der Datenträger voll ist, und versuch es dann noch einmal. Fragt mimi vorher nach der Passphrase, funktioniert womöglich schon die neue.',
  },
};
