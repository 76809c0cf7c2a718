// The Settings dialog: notifications, security (where the keys are, password and passphrase
// change) and the account; also the core's errors of a passphrase change.
export const settings = {
  title: 'Settings',
  intro: 'For {address}: profile, security and account. Notifications and appearance are for this device.',
  notifications: {
    title: 'Notifications',
    on: 'Notify me of new messages in rooms I am not looking at',
    permission: {
      granted: 'This browser shows mimi’s notifications.',
      denied: 'This browser blocks mimi’s notifications. Allow them in the site settings (the icon left of the address), then reload.',
      unsupported: 'This browser cannot show notifications.',
      default: 'This browser asks before mimi may show notifications.',
    },
    allow: 'Allow notifications in this browser',
    shows: 'What a notification shows',
    privacy: { full: 'Sender and message text', sender: 'Sender only', none: 'Nothing (just “New message”)' },
    muted: 'Muted rooms never notify and do not count in the window title; mute a room from its header or its menu in the room list (right-click).',
    loginItem: 'Start mimi when I log in to this computer',
    loginRefused: 'This system did not accept the change; check its startup applications settings.',
    loginFailed: 'Could not change it; check your system’s startup applications settings.',
  },
  security: {
    title: 'Security',
    where: 'Where this account’s keys are kept',
    modes: {
      keychain: 'In the system keychain (such as GNOME Keyring, KWallet or the macOS Keychain).',
      safeStorage: 'Encrypted with a key the operating system keeps for mimi (Electron safe storage).',
      passphrase: 'Encrypted with your passphrase, asked for each time mimi starts. A forgotten passphrase cannot be recovered: sign in again as a new device.',
      plaintext: 'Not encrypted: in a file only your user can read. Anyone with access to your user account or its backups can read them.',
    },
    modeHint: 'This is chosen when the account is added on this device. To keep the keys another way, sign out and sign in again as a new device.',
    password: {
      title: 'Change password',
      current: 'Current password',
      new: 'New password (at least {count} characters)',
      again: 'New password again',
      note: 'Your devices signed in now (this one and others) stay signed in; the password is what a new device signs in with.',
      submit: 'Change password',
      busy: 'Changing…',
      done: 'Password changed. Sign in new devices with the new one; your devices signed in now stay signed in.',
      errors: {
        current: 'Type your current password first.',
        short: 'The new password needs at least {count} characters.',
        differ: 'The two new passwords differ; type the same one twice.',
        same: 'The new password is the current one; choose another.',
      },
    },
    passphrase: {
      title: 'Change passphrase',
      current: 'Current passphrase',
      new: 'New passphrase (at least {count} characters)',
      again: 'New passphrase again',
      note: 'The keys on this device are encrypted again under the new passphrase; nothing changes on your other devices or at your provider.',
      submit: 'Change passphrase',
      busy: 'Changing…',
      progressLabel: 'Changing the passphrase',
      progress: 'Encrypting your keys under the new passphrase; this takes a moment…',
      done: 'Passphrase changed. Enter the new one when mimi starts next time.',
      errors: {
        current: 'Type your current passphrase first.',
        short: 'The new passphrase needs at least {count} characters.',
        differ: 'The two new passphrases differ; type the same one twice.',
        same: 'The new passphrase is the current one; choose another.',
      },
    },
  },
  account: {
    title: 'Account',
    delete: 'Delete {address}',
    explain:
      'Your provider deletes the account at once: every device of it is signed out, you leave every room (the other members see you go), the files you sent are deleted from it (the other members can no longer open them), your handle can be taken by someone else, and nobody can reach you at it. This cannot be undone. Messages already on this device stay in its data folder.',
    deleteButton: 'Delete account…',
    typeToConfirm: 'Type {handle} to confirm',
    typeError: 'Type {handle} to confirm.',
    keep: 'Keep the account',
    deleting: 'Deleting…',
    deleteForever: 'Delete forever',
  },
  // The core's errors (src-main/core/app-core.ts, accounts.changePassphrase).
  errors: {
    notPassphraseMode:
      "This account's keys are not protected by a passphrase, so there is none to change. To protect them with one, sign in again as a new device on a computer without a keychain, or start mimi with MIMI_SECRETS=passphrase.",
    wrongCurrentPassphrase: 'That is not the current passphrase, so nothing was changed. Check it (passphrases are case-sensitive) and try again.',
    passphraseChangeFailed:
      'Could not change the passphrase: {reason} Check that the disk is not full, then try again. If mimi asks for the passphrase before that, the new one may already be the one that works.',
  },
};
