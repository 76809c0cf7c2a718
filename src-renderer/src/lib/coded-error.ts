// Errors that must keep their CoreErrorCode on the way to the UI. Electron's contextBridge copies
// only an Error's `message` across worlds (custom fields such as `code` are dropped), so the
// preload puts the code in front of the message and the renderer takes it back out. The browser
// bridge builds CoreErrors directly; both end up in `toCoreError`.

import { CoreError, type CoreErrorCode, type WireError } from '../../../src-shared/contract.js';

// A record, not a list, so a code added to the contract and not here fails the typecheck: it
// would otherwise turn into 'internal' in Electron only.
const KNOWN: Record<CoreErrorCode, true> = {
  invalidArgument: true,
  wrongPassword: true,
  handleTaken: true,
  userUnknown: true,
  providerUnreachable: true,
  roomUnknown: true,
  notMember: true,
  noAccount: true,
  noKeyMaterial: true,
  noConsent: true,
  rateLimited: true,
  secretStorage: true,
  wrongPassphrase: true,
  providerCertificate: true,
  notAllowed: true,
  linkRefused: true,
  passphraseRequired: true,
  internal: true,
};
const CODES: ReadonlySet<string> = new Set(Object.keys(KNOWN));

// `[mimi:code] message`, or `[mimi:code#{"key":...,"params":...}] message` when the error names
// its catalogue message (JSON has no `]` followed by a space at its end, and the message follows it).
const PREFIX = /^\[mimi:([A-Za-z]+)(?:#(\{.*?\}))?\] /s;

/** For the preload: an Error whose message survives the contextBridge with its code (and catalogue key). */
export function errorAcrossBridge(w: WireError): Error {
  const i18n = w.key ? `#${JSON.stringify({ key: w.key, params: w.params ?? {} })}` : '';
  return new Error(`[mimi:${w.code}${i18n}] ${w.message}`);
}

function catalogueRef(json: string | undefined): { key?: string; params?: Record<string, string | number> } {
  if (!json) return {};
  try {
    const v = JSON.parse(json) as { key?: unknown; params?: unknown };
    if (typeof v.key !== 'string') return {};
    const params: Record<string, string | number> = {};
    if (v.params && typeof v.params === 'object') {
      for (const [k, p] of Object.entries(v.params)) if (typeof p === 'string' || typeof p === 'number') params[k] = p;
    }
    return { key: v.key, params };
  } catch {
    return {};
  }
}

/** Whatever was thrown, as a CoreError the UI can switch on. */
export function toCoreError(e: unknown): CoreError {
  if (e instanceof CoreError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && CODES.has(code)) return new CoreError(code as CoreErrorCode, message);
  // Electron may prepend "Error invoking remote method ...: Error: " to the message.
  const stripped = message.replace(/^.*?(?=\[mimi:)/s, '');
  const m = PREFIX.exec(stripped);
  if (m && CODES.has(m[1])) {
    const ref = catalogueRef(m[2]);
    return new CoreError(m[1] as CoreErrorCode, stripped.slice(m[0].length), ref.key, ref.params);
  }
  // The preload uses this file too, so no catalogue here: English for logs, the key for the window.
  return message ? new CoreError('internal', message) : new CoreError('internal', 'Something went wrong. Try again; if it keeps happening, restart mimi.', 'app.errors.unknown'); // i18n-ignore
}
