// Keyboard shortcuts and their help sheet.
export const shortcuts = {
  title: 'Keyboard shortcuts',
  close: 'Close',
  or: 'or',
  messageField: 'Message field',
  keys: {
    ctrl: 'Ctrl',
    shift: 'Shift',
    enter: 'Enter',
    esc: 'Esc',
  },
  what: {
    roomSwitcher: 'Switch to a room by name',
    adjacentRoom: 'Previous or next room in the list',
    help: 'Show these shortcuts',
    close: 'Close the dialog or panel',
    editLast: 'Edit your last message (in an empty message field)',
    cancelReply: 'Cancel the reply or edit',
    send: 'Send the message',
    newLine: 'New line',
  },
};
