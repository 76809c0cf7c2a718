// The app shell: loading, the rail, the account switcher, banners, the browser bridge's errors,
// notifications and the tray.
export const app = {
  opening: 'Opening mimi…',
  heading: 'mimi – {address}',
  headingNone: 'mimi',
  rail: {
    toggleRoomList: 'Show or hide the room list',
    roomList: 'Room list',
    settings: 'Settings',
  },
  accounts: {
    label: 'Accounts',
    connection: { online: 'connected', connecting: 'connecting', offline: 'offline' },
    describe: '{address} ({connection})',
    describeUnread: '{address} ({connection}, {count} unread)',
    locked: '{address} (locked: enter its passphrase)',
    add: 'Add another account',
  },
  banner: {
    coreLost: 'Lost the connection to the mimi app.',
    coreHint: 'Reconnecting… If this stays, check that {command} is still running in your terminal.',
    offline: "Can't reach your provider ({url}).",
    offlineBuiltIn: 'The provider built into mimi stopped answering; restart mimi.',
    offlineRemote: "Check your internet connection. Messages you write now are kept and sent when it's back.",
    dismissLabel: 'Dismiss: {message}',
  },
  needsLink: {
    title: 'Open mimi from its link',
    body: 'This page needs the one-time key that mimi prints when it starts. Go to the terminal where you ran {command} and open the link shown there (it ends in {end}).',
    restarted: 'If mimi was restarted, its old links stop working: use the newest one.',
  },
  connections: {
    label: 'Connection requests',
    wants: '{who} wants to connect',
    claims: 'Someone who says they are {who} wants to connect',
    warning: 'This could be someone else. Accept only if you expected it from them.',
    creating: 'Creating a room for the two of you…',
    accepting: 'Accepting…',
    accept: 'Accept',
    acceptAnyway: 'Accept anyway',
    decline: 'Decline',
    connected: 'You are connected with {who}.',
    openRoom: 'Open the room',
  },
  bridge: {
    unreachable: "Can't reach the mimi app process. Is it still running? Start it again with {command}.",
    staleKey: "This page's access key is no longer valid (mimi was restarted). Open the new link printed in the terminal.",
    refused: 'The app refused the request: {detail}.',
    noConnection: 'No connection to the mimi app. Open this page again from the link mimi printed in the terminal.',
  },
  errors: {
    unknown: 'Something went wrong. Try again; if it keeps happening, restart mimi.',
  },
  notification: {
    newMessage: 'New message',
    inRoom: '{sender} in {room}',
    aRoom: 'a room',
  },
  // Sent to Electron's main process for the tray icon; {count} is filled in there.
  tray: {
    tooltip: 'mimi',
    tooltipUnread: 'mimi: {count} unread',
    unread: '{count} unread',
    open: 'Open mimi',
    quit: 'Quit mimi',
  },
};
