// Links in messages (http and https only, target=_blank: components/message/MessageBody.ts) open
// in the system browser, never in the app's window: the window-open request the click makes is
// denied and, when it names such a URL, handed to shell.openExternal. Anything else (file:,
// javascript:, custom schemes that would start other programs) is refused here as well, whatever
// the page asked for. No Electron here, so the unit tests run it in plain Node.

/** `url` as it may be opened outside the app, or undefined when it must not be. */
export function externalUrl(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > 8192) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname || u.username || u.password) return undefined;
  return u.href;
}
