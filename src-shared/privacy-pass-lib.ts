// The Privacy Pass and VOPRF libraries, loaded together and only when a token is made or checked
// (key-package-tokens.ts imports this module lazily): loading them builds the library's curve
// tables (about 200 ms of CPU at every start of `mimi` and of the provider, most of which never
// touch a token).

import './voprf-noble.js'; // first: privacypass-ts chooses its P-384 implementation when it loads
export { privateVerif, Token, TokenChallenge, TOKEN_TYPES } from '@cloudflare/privacypass-ts';
export { deriveKeyPair, Oprf } from '@cloudflare/voprf-ts';
