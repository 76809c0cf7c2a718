// The renderer's one way to the core. In Electron that is `window.mimi` from the preload; in a
// browser it is the loopback bridge, whose token arrives in the URL fragment once and is then kept
// in sessionStorage (per tab, gone when the tab closes) and removed from the address bar so it is
// not bookmarked, shared or left in history. A new link pasted into an open tab (mimi restarted with
// a new key) only changes the fragment, which loads nothing: the tab takes the new key and reloads.

import { CoreError, apiFromTransport, resolveMethod, type MethodName, type MimiApi } from '../../src-shared/contract.js';
import { createBridgeClient } from './bridge-client.js';
import { toCoreError } from './lib/coded-error.js';
import { translate } from '../../src-shared/i18n/index.js';

export interface Transport {
  mode: 'electron' | 'browser';
  /** Null when browser mode has no token: the page was opened without its link. */
  api: MimiApi | null;
  onConnectionChange(listener: (up: boolean) => void): () => void;
  onUnauthorized(listener: () => void): () => void;
}

declare global {
  interface Window {
    mimi?: MimiApi;
  }
}

const TOKEN_KEY = 'mimi.bridgeToken';

function tokenInHash(): string | null {
  return new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
}

function takeTokenFromUrl(): string | null {
  const fromHash = tokenInHash();
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** A link with another key pasted into this tab: start over with it (every store reloads). */
function followNewTokens(current: string | null): void {
  window.addEventListener('hashchange', () => {
    const fresh = tokenInHash();
    if (!fresh) return;
    history.replaceState(null, '', location.pathname + location.search);
    if (fresh === current) return;
    sessionStorage.setItem(TOKEN_KEY, fresh);
    location.reload();
  });
}

/** Electron's contextBridge drops error codes; put them back so the UI can switch on them. */
function withCodedErrors(raw: MimiApi): MimiApi {
  return apiFromTransport(
    async (method: MethodName, args: unknown[]) => {
      try {
        return await resolveMethod(raw, method)(...args);
      } catch (e) {
        throw toCoreError(e);
      }
    },
    (listener) => raw.onEvent(listener),
  );
}

function createTransport(): Transport {
  const none = () => () => {};
  if (window.mimi) return { mode: 'electron', api: withCodedErrors(window.mimi), onConnectionChange: none, onUnauthorized: none };
  const token = takeTokenFromUrl();
  followNewTokens(token);
  if (!token) return { mode: 'browser', api: null, onConnectionChange: none, onUnauthorized: none };
  const client = createBridgeClient({ baseUrl: location.origin, token });
  // A refused token is stale (the app restarted with a new one): forget it.
  client.onUnauthorized(() => sessionStorage.removeItem(TOKEN_KEY));
  return {
    mode: 'browser',
    api: client.api,
    onConnectionChange: (l) => client.onConnectionChange(l),
    onUnauthorized: (l) => client.onUnauthorized(l),
  };
}

export const transport: Transport = createTransport();

/** The API, for code that only runs once the app has one (stores are not used without it). */
export function api(): MimiApi {
  if (!transport.api) throw new CoreError('internal', translate('app.bridge.noConnection'), 'app.bridge.noConnection');
  return transport.api;
}
