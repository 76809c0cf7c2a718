// Reporting messages to the room's provider.
export const reports = {
  /** REPORT_REASONS (src-shared/contract.ts), by the names lib/message-report.ts gives their codes. */
  reasons: {
    none: 'Not given',
    spam: 'Spam or scam',
    harassment: 'Harassment or threats',
    hate: 'Hate speech',
    illegal: 'Illegal content',
    other: 'Something else',
  },
  done: 'Reported {count} message from {who} to the room’s provider. | Reported {count} messages from {who} to the room’s provider.',
  title: 'Report messages from {who}',
  doneNext: 'The provider of this room ({host}) decides what happens next. Nothing changes in the room.',
  close: 'Close',
  intro: 'The selected messages, with the hub’s stamp proving who sent them, go to the room’s provider ({host}), with your reason and note. Nobody else sees them.',
  messages: 'Messages to report',
  edited: 'edited, sent with its edit',
  selected: '{count} selected.',
  limit: 'One report takes at most {max} messages (an edited one counts twice); uncheck one to add another.',
  reason: 'Reason',
  note: 'Note (optional)',
  noteHint: 'What happened, for the provider’s staff. {count} of {max} characters.',
  checkOne: 'Check at least one message to report.',
  cancel: 'Cancel',
  report: 'Report',
  reporting: 'Reporting…',
};
