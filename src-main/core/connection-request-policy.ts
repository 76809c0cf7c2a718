// Who may send this account connection requests: a setting the account's provider keeps and
// applies to every claim of the account's KeyPackages by a pseudonym (src-provider/consent.ts).
// Nothing of it is kept on the device; each read asks the provider.

import type { ConnectionRequestPolicyView } from '../../src-shared/contract.js';
import { connectionRequestPolicyProblem, normalizeDomains } from '../../src-shared/connection-request-policy.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';

export class ConnectionRequestSetting {
  constructor(private readonly ctx: ProfileContext) {}

  async get(): Promise<ConnectionRequestPolicyView> {
    try {
      return await this.ctx.client.connectionRequestPolicy();
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.readConnectionPolicy' });
    }
  }

  /** Domains are taken in any case and without duplicates; the rest must already be right. */
  async set(policy: ConnectionRequestPolicyView): Promise<ConnectionRequestPolicyView> {
    const next = { mode: policy.mode, domains: Array.isArray(policy.domains) ? normalizeDomains(policy.domains.map(String)) : policy.domains };
    // Said here in the app's words, before the provider would refuse it as a bad request.
    const problem = connectionRequestPolicyProblem(next);
    if (problem) throw coreError('invalidArgument', 'errors.connection.policyProblem', { problem });
    try {
      return await this.ctx.client.setConnectionRequestPolicy(next);
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.changeConnectionPolicy' });
    }
  }
}
