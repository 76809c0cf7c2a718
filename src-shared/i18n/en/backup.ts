// The encrypted backup and room export (core/backup.ts, core/export.ts, `mimi backup`, `mimi export`).
export const backup = {
  what: {
    create: 'Could not make the backup',
    restore: 'Could not restore the backup',
  },
  errors: {
    busy: 'A backup or restore is already running on this device; wait until it is done.',
    keyTypo: 'This recovery key has a typo: check each group of four against what you wrote down. Nothing was changed.',
    keyLength: 'A recovery key has 55 letters and digits, in groups of four; check that none is missing or extra. Nothing was changed.',
    wrongKey: 'Wrong recovery key: no backup of this account opens with it. Check the key you wrote down when the backup was made (or make a backup first on a device that has the history). Nothing was changed.',
    incomplete: 'This backup is incomplete: no part of it was finished. Make a new backup (mimi backup create) on a device that has the history, then restore again. Nothing was changed.',
    manifestDamaged: 'This backup is damaged: its list of parts does not open. Make a new backup on a device that has the history, then restore again. Nothing was changed.',
    otherGeneration: 'This backup is damaged: its list of parts belongs to another version of the backup ({found}, not {generation}). Make a new backup on a device that has the history. Nothing was changed.',
    newerFormat: 'This backup was made in format {version}, which this version of mimi cannot read; update mimi and restore again. Nothing was changed.',
    missingChunk: 'This backup is cut short: part {index} is missing at the provider. Make a new backup on a device that has the history, then restore again. Nothing was changed.',
    chunkAltered: 'This backup is damaged: part {index} is not what was stored. Make a new backup on a device that has the history, then restore again. Nothing was changed.',
    chunkDamaged: 'This backup is damaged: part {index} does not open. Make a new backup on a device that has the history, then restore again. Nothing was changed.',
    storedOtherBytes: 'The provider stored other bytes than were sent for part {index}; run the backup again.',
    exportDir: 'Could not use the folder {dir} for the export ({reason}); choose another one.',
    exportNotDir: '{dir} is a file, not a folder; give a new or empty folder for the export.',
    exportNotEmpty: 'The folder {dir} is not empty; give a new or empty folder, so the export writes over nothing.',
  },
  export: {
    title: '{room}: exported history',
    exportedAt: 'Exported',
    deleted: 'Message deleted',
    edited: 'edited',
    replyTo: 'In reply to',
    attachmentMissing: 'not downloaded',
  },
};
