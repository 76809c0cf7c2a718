import type { Shape } from '../catalogue.js';
import type { app as en } from '../en/app.js';

export const app: Shape<typeof en> = {
  opening: 'mimi wird geöffnet…',
  heading: 'mimi – {address}',
  headingNone: 'mimi',
  rail: {
    toggleRoomList: 'Raumliste ein- oder ausblenden',
    roomList: 'Raumliste',
    settings: 'Einstellungen',
  },
  accounts: {
    label: 'Konten',
    connection: { online: 'verbunden', connecting: 'verbindet', offline: 'offline' },
    describe: '{address} ({connection})',
    describeUnread: '{address} ({connection}, {count} ungelesen)',
    locked: '{address} (gesperrt: gib die Passphrase ein)',
    add: 'Weiteres Konto hinzufügen',
  },
  banner: {
    coreLost: 'Die Verbindung zur mimi-App ist unterbrochen.',
    coreHint: 'Verbindung wird wiederhergestellt… Wenn das so bleibt, prüfe, ob {command} in deinem Terminal noch läuft.',
    offline: 'Dein Anbieter ist nicht erreichbar ({url}).',
    offlineBuiltIn: 'Der in mimi eingebaute Anbieter antwortet nicht mehr; starte mimi neu.',
    offlineRemote: 'Prüfe deine Internetverbindung. Nachrichten, die du jetzt schreibst, werden aufbewahrt und gesendet, sobald sie wieder steht.',
    dismissLabel: 'Ausblenden: {message}',
  },
  needsLink: {
    title: 'Öffne mimi über seinen Link',
    body: 'Diese Seite braucht den Einmal-Schlüssel, den mimi beim Start ausgibt. Geh in das Terminal, in dem du {command} gestartet hast, und öffne den Link, der dort steht (er endet auf {end}).',
    restarted: 'Wurde mimi neu gestartet, funktionieren die alten Links nicht mehr: Nimm den neuesten.',
  },
  connections: {
    label: 'Verbindungsanfragen',
    wants: '{who} möchte sich mit dir verbinden',
    claims: 'Jemand, der sich als {who} ausgibt, möchte sich mit dir verbinden',
    warning: 'Das könnte jemand anderes sein. Nimm nur an, wenn du die Anfrage von dieser Person erwartet hast.',
    creating: 'Ein Raum für euch beide wird erstellt…',
    accepting: 'Wird angenommen…',
    accept: 'Annehmen',
    acceptAnyway: 'Trotzdem annehmen',
    decline: 'Ablehnen',
    connected: 'Du bist jetzt mit {who} verbunden.',
    openRoom: 'Raum öffnen',
  },
  bridge: {
    unreachable: 'Der mimi-App-Prozess ist nicht erreichbar. Läuft er noch? Starte ihn mit {command} neu.',
    staleKey: 'Der Zugangsschlüssel dieser Seite gilt nicht mehr (mimi wurde neu gestartet). Öffne den neuen Link, den mimi im Terminal ausgegeben hat.',
    refused: 'Die App hat die Anfrage abgelehnt: {detail}.',
    noConnection: 'Keine Verbindung zur mimi-App. Öffne diese Seite erneut über den Link, den mimi im Terminal ausgegeben hat.',
  },
  errors: {
    unknown: 'Etwas ist schiefgelaufen. Versuch es noch einmal; wenn das wieder passiert, starte mimi neu.',
  },
  notification: {
    newMessage: 'Neue Nachricht',
    inRoom: '{sender} in {room}',
    aRoom: 'einem Raum',
  },
  tray: {
    tooltip: 'mimi',
    tooltipUnread: 'mimi: {count} ungelesen',
    unread: '{count} ungelesen',
    open: 'mimi öffnen',
    quit: 'mimi beenden',
  },
};
