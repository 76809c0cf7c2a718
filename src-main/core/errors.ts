// The one translation of failures from below (the provider, the MLS layer) into CoreErrors a
// person can act on. Every module of the profile reports provider failures through toCoreError.

import { CoreError, type CoreErrorCode } from '../../src-shared/contract.js';
import { translate, type Params } from '../../src-shared/i18n/index.js';
import { MlsError } from '../mls/engine.js';
import { ProviderError, type CertificateProblem } from '../net/provider-client.js';

/**
 * A CoreError whose sentence is the catalogue's `key` (src-shared/i18n/en/errors.ts): English in
 * `message` for the CLI and logs, and the key and parameters for the window to show in its language.
 */
export function coreError(code: CoreErrorCode, key: string, params: Params = {}): CoreError {
  return new CoreError(code, translate(key, params), key, params);
}

/** What to do about a refused provider certificate. */
function certificateAdvice(p: CertificateProblem): string {
  switch (p.kind) {
    case 'untrusted':
      return "check that the CA certificate is the provider's own CA (a PEM file from its operator; the provider prints its path at start) and that the address is the provider you meant, then try again.";
    case 'name':
      return 'check the provider address: use the name its certificate is issued for, then try again.';
    case 'expired':
      return "check this computer's date and time; if they are right, the provider's certificate must be renewed by its operator.";
    case 'other':
      return "check the provider address and its CA certificate, or ask the provider's operator.";
  }
}

/** Map provider failures to errors a person can act on. */
export function toCoreError(e: unknown, what: string): Error {
  if (e instanceof CoreError) return e;
  if (e instanceof ProviderError) {
    switch (e.code) {
      case 'unreachable':
        if (e.certificate) return new CoreError('providerCertificate', `${what}: ${e.message}. Nothing was changed; ${certificateAdvice(e.certificate)}`);
        return new CoreError('providerUnreachable', `${what}: ${e.message}. Nothing was changed; check that the provider is running and the address is right, then try again.`);
      case 'peerUnreachable':
        return new CoreError('providerUnreachable', `${what}: ${e.message}. Nothing was changed; try again when it is back (messages you send meanwhile wait in the outbox).`);
      case 'wrongPassword':
        return new CoreError('wrongPassword', 'Wrong handle or password.');
      case 'handleTaken':
        return new CoreError('handleTaken', 'That handle is taken on this provider; choose another.');
      case 'userUnknown':
        return new CoreError('userUnknown', `${what}: no such user on that provider.`);
      case 'roomUnknown':
        return new CoreError('roomUnknown', `${what}: the room no longer exists on its provider.`);
      case 'notMember':
        return new CoreError('notMember', `${what}: you are not a member of this room.`);
      case 'badRequest':
        return new CoreError('invalidArgument', `${what}: ${e.message}`);
      case 'rateLimited':
        return new CoreError('rateLimited', `${what}: ${e.message}`);
      case 'notAllowed':
        return new CoreError('notAllowed', `${what}: ${e.message}`);
      case 'linkRefused':
        return new CoreError('linkRefused', `${what}: ${e.message}.`);
      case 'passphraseRequired':
        return new CoreError('passphraseRequired', `${what}: ${e.message}.`);
      default:
        return new CoreError('internal', `${what}: ${e.message}`);
    }
  }
  if (e instanceof MlsError) return new CoreError('internal', `${what}: encryption layer error (${e.code}): ${e.message}`);
  return e instanceof Error ? e : new Error(String(e));
}
