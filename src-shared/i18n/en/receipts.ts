// Delivery and read receipts, typing indicators and the privacy switches (Settings → Privacy,
// core/receipts.ts, core/typing.ts).
export const receipts = {
  privacy: {
    title: 'Receipts and typing',
    intro: 'What this device tells the others in your rooms. Turning one off works both ways: you send none of that kind and see none of theirs.',
    delivery: 'Delivery receipts',
    deliveryHint: 'Tell senders when their message has reached this device.',
    read: 'Read receipts',
    readHint: 'Tell senders when you have opened the room and read their message.',
    typing: 'Typing indicators',
    typingHint: 'Show others when you are typing, and see when they are.',
    roomRules: 'A room can decide for everyone: where it requires receipts they are sent even with the switch off; where it forbids them none are sent or shown.',
    requiredIn: 'Required by {rooms}, so sent there even when off.',
    forbiddenIn: 'Forbidden in {rooms}, so never sent or shown there.',
    largeRooms: 'In rooms with more than {delivery} members no delivery receipts or typing indicators are sent, and in rooms with more than {read} no read receipts, unless the room requires them.',
    saved: 'Saved.',
    loadFailed: 'Could not load the privacy settings: {error}',
    account: 'For {account}',
  },
  what: {
    sendRead: 'Could not send read receipts',
  },
  errors: {
    noSwitches: 'Give the switches to change, for example readReceipts: false.',
    unknownSwitch: 'There is no privacy switch “{name}”; the switches are {names}.',
    switchValue: '{name} must be true (on) or false (off).',
    ignored: 'A receipt from {user} was ignored: {problem}',
    noMessage: 'No message {id}… in this room. List message ids with: mimi tail ROOM --ids',
    notOwn: 'Receipts are kept only for your own messages; that one is someone else’s.',
    badPolicy: 'The receipt policy needs delivery and read, each optional, required or forbidden.',
    policyNotAllowed: "You cannot change this room's receipt policy ({reason}). Ask someone whose role may change the room's policy.",
  },
};
