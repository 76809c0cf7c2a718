// Message search.
export const search = {
  title: 'Search messages',
  back: 'Back to rooms',
  words: 'Words to find',
  placeholder: 'e.g. dinner friday',
  in: 'In',
  everyRoom: 'Every room',
  untitled: 'Untitled room',
  help: 'Finds messages with a word starting with each word you type. Case does not matter.',
  searching: 'Searching…',
  none: 'No messages found.',
  found: '{count} message found. | {count} messages found.',
  foundNewest: '{count} messages found (the newest {max}).',
  pending: 'Still indexing {count} older message: some matches may be missing; search again in a moment. | Still indexing {count} older messages: some matches may be missing; search again in a moment.',
  failed: '{error} Try again, or change the words.',
  results: 'Matching messages',
};
