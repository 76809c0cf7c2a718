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

/**
 * What failed, as a catalogue phrase ("Could not join the room", or "Could not admit bob":
 * errors.what.admit with `{ user }`): toCoreError's messages link it (`@:{what}`), so it is
 * translated with them. Its parameters must not be named `what`, `reason` or `code`, which
 * those messages use.
 */
export interface Phrase {
  key: string;
  params?: Params;
}

/** A room change (errors.action) as the parameters of a message that links it as `@:{action}`. */
export function actionParams(action: Phrase): Params {
  return { ...action.params, action: action.key };
}

/** The catalogue message for a refused provider certificate, by what is wrong with it. */
const CERTIFICATE_KEYS: Record<CertificateProblem['kind'], string> = {
  untrusted: 'errors.provider.certificateUntrusted',
  name: 'errors.provider.certificateName',
  expired: 'errors.provider.certificateExpired',
  other: 'errors.provider.certificateOther',
};

/**
 * Map provider and MLS failures to errors a person can act on, each a catalogue message that
 * starts with `what`. The provider's own text goes in untranslated, as `reason`.
 */
export function toCoreError(e: unknown, what: Phrase): Error {
  if (e instanceof CoreError) return e;
  const p: Params = { ...what.params, what: what.key };
  if (e instanceof ProviderError) {
    const reason = { ...p, reason: e.message };
    switch (e.code) {
      case 'unreachable':
        if (e.certificate) return coreError('providerCertificate', CERTIFICATE_KEYS[e.certificate.kind], reason);
        return coreError('providerUnreachable', 'errors.provider.unreachable', reason);
      case 'peerUnreachable':
        return coreError('providerUnreachable', 'errors.provider.peerUnreachable', reason);
      case 'wrongPassword':
        return coreError('wrongPassword', 'errors.provider.wrongPassword');
      case 'handleTaken':
        return coreError('handleTaken', 'errors.provider.handleTaken');
      case 'userUnknown':
        return coreError('userUnknown', 'errors.provider.userUnknown', p);
      case 'roomUnknown':
        return coreError('roomUnknown', 'errors.provider.roomUnknown', p);
      case 'notMember':
        return coreError('notMember', 'errors.provider.notMember', p);
      case 'badRequest':
        return coreError('invalidArgument', 'errors.provider.refused', reason);
      case 'rateLimited':
        return coreError('rateLimited', 'errors.provider.refused', reason);
      case 'notAllowed':
        return coreError('notAllowed', 'errors.provider.refused', reason);
      case 'linkRefused':
        return coreError('linkRefused', 'errors.provider.refusedLink', reason);
      case 'passphraseRequired':
        return coreError('passphraseRequired', 'errors.provider.refusedLink', reason);
      default:
        return coreError('internal', 'errors.provider.refused', reason);
    }
  }
  if (e instanceof MlsError) return coreError('internal', 'errors.provider.encryption', { ...p, code: e.code, reason: e.message });
  return e instanceof Error ? e : new Error(String(e));
}
