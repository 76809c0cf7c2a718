// Verifying another person: the safety number two people compare (docs/verification.md), the
// marks this account keeps, and the warning when a verified person's devices change.
export const verification = {
  /** The timeline line when the devices of someone this account verified changed. */
  timelineEvent: '{user}’s devices changed since you verified them — compare your safety number again',
  badge: 'Verified',
  badgeLabel: '{name} is verified',
  changedBadge: 'Changed',
  changedBadgeLabel: '{name}’s devices changed since you verified them',
  open: 'Safety number',
  openLabel: 'Compare safety number with {name}',
  banner: {
    one: '{name}’s devices changed since you verified them. Compare your safety number again.',
    many: 'The devices of {names} changed since you verified them. Compare your safety numbers again.',
    compare: 'Compare with {name}',
  },
  dialog: {
    title: 'Safety number with {name}',
    loading: 'Working out the safety number…',
    explain:
      'If {name} sees the same number on their device, nobody — not your providers, not the room’s provider — has put a device of their own between you.',
    howTo: 'Compare it in person or on a call: read the groups aloud, or let one of you take a picture of the other’s code.',
    digitsLabel: 'Safety number, 12 groups of 5 digits',
    groupLabel: 'Group {n}: {digits}',
    qrLabel: 'Safety number as a QR code for {name} to scan',
    sharedRooms: 'Worked out from the {count} room you share. | Worked out from the {count} rooms you share.',
    state: {
      unverified: 'Not verified yet.',
      verified: 'You verified {name}.',
      changed: '{name}’s devices changed since you verified them: a device was added or removed. Compare the number again before you mark them verified once more.',
    },
    mark: 'Mark as verified',
    clear: 'Clear verification',
    compareImage: 'Compare a code from an image…',
    compareHint: 'A photo or screenshot of the QR code on {name}’s screen.',
    close: 'Close',
    error: 'Could not work out the safety number: {error}',
    result: {
      match: 'The codes match. {name} is now verified.',
      mismatch: 'The codes do NOT match. Do not mark {name} as verified: one of you sees a device the other does not have.',
      otherPeople: 'That code is for two other people, not for you and {name}.',
      otherVersion: 'That code comes from an app with another kind of safety number; compare the digits instead.',
      notASafetyNumber: 'That QR code is not a safety number.',
      noCode: 'No QR code found in that image. Try a sharper picture of the whole code.',
      unreadable: 'That file could not be read as an image.',
    },
  },
  errors: {
    noSharedRoom: 'You and {user} share no room, so there are no devices to compare. Start a chat with them first.',
    self: 'A safety number is between you and someone else; choose another person.',
    pseudonym: 'A pseudonym has no safety number: verify the person behind it in a room where they take part under their own name.',
    badQr: 'The scanned code is not valid base64.',
  },
};
