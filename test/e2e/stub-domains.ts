// Consent and people for in-memory fake cores that are not about them: nothing pending, nobody found.

import type { ConsentListView, MimiApi, MyProfileView } from '../../src-shared/contract.js';

export function quietConsentAndPeople(userUri: string, handle: string): Pick<MimiApi, 'consent' | 'people'> {
  const empty = (): ConsentListView => ({ incoming: [], granted: [], blocked: [], outgoing: [] });
  const done = async () => ({ outcome: 'done' as const, changed: 0, notified: false });
  const me = (): MyProfileView => ({ userUri, handle, searchable: { handle: true, nick: false, email: false, phone: false, name: false } });
  return {
    consent: { list: async () => empty(), request: done, cancel: done, grant: done, decline: done, revoke: done, block: done, unblock: done },
    people: {
      find: async (_a, q) => ({ status: 'notFound', domain: q.domain ?? 'localhost', results: [] }),
      myProfile: async () => me(),
      setProfileFields: async () => me(),
      setSearchable: async () => me(),
    },
  };
}
