// The pseudonym manager (each account's pool, its pseudonyms, retiring one) and how a pseudonym's
// state reads wherever it is shown.
export const pseudonyms = {
  title: 'Pseudonyms',
  allAccounts: 'All accounts',
  sideBySide: 'All accounts side by side',
  backToRooms: 'Back to rooms',
  intro: 'Your provider issues each account a pool of pseudonyms (mimi://provider/p/…). Rooms with minimal metadata and connection requests use them, so providers see a pseudonym instead of you. mimi keeps each pool filled.',
  pool: {
    loadFailed: 'Couldn’t load the pseudonyms: {error}',
    loading: 'Loading pseudonyms…',
    summary: '{unused} unused. When fewer than {threshold} are unused, the app asks for {batch} more.',
    summaryNoRefill: '{unused} unused; the app does not refill this pool by itself.',
    refillingLabel: 'Getting more pseudonyms for {handle}',
    refilling: 'Getting more pseudonyms from {domain}…',
    problem: 'The last refill failed.',
    refill: 'Get {count} more now',
    asked: 'Asked {domain} for {count} more.',
    retired: 'Retired {short}: it is never used again.',
    empty: 'No pseudonyms yet. “Get {count} more now” asks {domain} for some.',
    sections: {
      inUse: 'In use ({count})',
      unused: 'Unused ({count})',
      retired: 'Retired ({count})',
    },
  },
  row: {
    issued: 'Issued {date}',
    keyPackages: '{count} KeyPackage | {count} KeyPackages',
    pill: { unused: 'unused', inUse: 'in use', retired: 'retired' },
    retire: 'Retire',
    retireLabel: 'Retire {short}',
    retiring: 'Retiring…',
    retireGroup: 'Retire {short}?',
    confirmLabel: 'Confirm: retire {short}',
    keep: 'Keep it',
  },
  state: {
    retired: 'Retired',
    unused: 'Unused',
    usedBefore: 'Used before, in no room now',
    inRooms: 'In {rooms}',
  },
  retireQuestion: {
    inRooms:
      'Retire {short}? You leave its room ({rooms}), its KeyPackages are withdrawn from {domain}, and it is never used again. | Retire {short}? You leave its {count} rooms ({rooms}), its KeyPackages are withdrawn from {domain}, and it is never used again.',
    noRoom: 'Retire {short}? It is in no room. Its KeyPackages are withdrawn from {domain}, and it is never used again.',
  },
  /** Why a member behind a pseudonym is not named yet. */
  noIdentityYet: 'no identity received yet',
};
