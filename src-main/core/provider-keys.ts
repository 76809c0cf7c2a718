// The provider keys this account recorded for other providers' private KeyPackage requests
// (Settings → Provider keys; docs/ohttp-key-packages.md, "The client"). key-package-fetch.ts pins
// a domain's provider key on first use and refuses an add when the domain later signs with another
// key (errors.ohttp.providerKeyChanged). Here the app lists them and forgets one, as
// `mimi ohttp forget DOMAIN` does, once that provider's operator confirmed they replaced the key.
//
// The list comes from the profile DB alone: nothing goes to any provider. Every change of it (a
// pin by an add, a forget here or by the CLI on an open database) is told through `onChange`.

import type { ProviderKeyView } from '../../src-shared/contract.js';
import type { ProfileDb } from '../db/profile-db.js';
import { fingerprint } from './key-package-fetch.js';

/** What this module needs of the profile DB (ProfileDb implements it). */
export type ProviderKeyStore = Pick<ProfileDb, 'ohttpProviderKeys' | 'forgetOhttpProviderKey' | 'onOhttpProviderKeysChanged'>;

export class ProviderKeys {
  /**
   * `onChange` gets the whole list after each change, whoever made it (an add recording a new
   * domain's key in key-package-fetch.ts, or forget()).
   */
  constructor(
    private readonly store: ProviderKeyStore,
    onChange?: (keys: ProviderKeyView[]) => void,
  ) {
    if (onChange) store.onOhttpProviderKeysChanged = () => onChange(this.list());
  }

  /** Every recorded key, by domain, with its fingerprint as the error names it. */
  list(): ProviderKeyView[] {
    return this.store.ohttpProviderKeys().map((k) => ({ domain: k.domain, fingerprint: fingerprint(k.key), pinnedAt: k.pinnedAt }));
  }

  /**
   * Forgets `domain`'s key: the next add of one of its users records the key it publishes then.
   * A domain with no key recorded changes nothing (forgotten twice, say). The list after it.
   */
  forget(domain: string): ProviderKeyView[] {
    this.store.forgetOhttpProviderKey(domain.trim().toLowerCase());
    return this.list();
  }
}
