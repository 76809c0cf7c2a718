// The stores keep per-room state (conversations, settings, previews) under one key for account and
// room together, since two accounts on this device may share a room.

export const roomKey = (accountId: string, roomUri: string): string => `${accountId}\n${roomUri}`;

/** Whether `key` (from `roomKey`) is one of `accountId`'s rooms. */
export const isKeyOfAccount = (key: string, accountId: string): boolean => key.startsWith(`${accountId}\n`);
