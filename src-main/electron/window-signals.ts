// IPC from the preload to the main process that is not a contract method (those are `mimi:<method>`,
// contract.ts channelOf). Kept apart so the preload bundle pulls in nothing else.

/**
 * Sent by the preload once the page has subscribed to core events: from then on an event sent to
 * the window reaches it, so a `mimi:` link that arrived during start-up can be handed over.
 */
export const EVENTS_SUBSCRIBED_CHANNEL = 'mimi-window:events-subscribed';
