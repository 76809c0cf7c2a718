// Join links and knock links as text (docs/join-links.md). A link is the room's URI plus a code
// in the query: `mimi://a.example/r/<room>?code=<22 base64url chars>`, with `&passphrase=1` when
// the joiner must also type a passphrase (so the app can ask before trying) and `&knock=1` for a
// knock room's link (the app offers "knock" instead of "join"). The code is 16 random bytes; the
// hub keeps only its hash. Nothing else goes in the link: the role, uses and expiry stay at the hub.

import { parseMimiUri } from './identifiers.js';

export interface JoinLink {
  roomUri: string;
  /** base64url of the 16-byte code. */
  code: string;
  passphrase: boolean;
  knock: boolean;
}

const CODE = /^[A-Za-z0-9_-]{22}$/;

export class JoinLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinLinkError';
  }
}

export function formatJoinLink(l: JoinLink): string {
  if (!CODE.test(l.code)) throw new JoinLinkError('a link code is 22 base64url characters');
  return `${l.roomUri}?code=${l.code}${l.passphrase ? '&passphrase=1' : ''}${l.knock ? '&knock=1' : ''}`;
}

/** Parse a pasted or opened link (surrounding spaces and angle brackets ignored); JoinLinkError says what is wrong. */
export function parseJoinLink(text: string): JoinLink {
  const s = text.trim().replace(/^<(.*)>$/, '$1');
  const q = s.indexOf('?');
  const bad = (why: string): never => {
    throw new JoinLinkError(`That is not a room link (${why}). A link looks like mimi://a.example/r/…?code=…; copy it again from where you got it.`);
  };
  if (q < 0) bad('it has no code');
  const roomUri = s.slice(0, q);
  try {
    if (parseMimiUri(roomUri).kind !== 'room') bad('it does not name a room');
  } catch (e) {
    if (e instanceof JoinLinkError) throw e;
    bad('it does not start with a room address');
  }
  const params = new URLSearchParams(s.slice(q + 1));
  const code = params.get('code');
  if (code === null || !CODE.test(code)) bad('its code is missing or cut short');
  const keys = [...params.keys()];
  for (const k of keys) if (!['code', 'passphrase', 'knock'].includes(k)) bad(`it has an unknown part "${k}"`);
  if (new Set(keys).size !== keys.length) bad('a part of it appears twice');
  return { roomUri, code: code!, passphrase: params.get('passphrase') === '1', knock: params.get('knock') === '1' };
}
