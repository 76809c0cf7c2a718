// The MIMI protocol directory (draft-ietf-mimi-protocol-06, "Directory"): a JSON document at
// /.well-known/mimi-protocol-directory naming the URL template of each server-to-server endpoint.
// Follows the endpoint text where the draft's example slips: `/update/{roomId}` has its slash and
// the consent endpoints take `{targetDomain}` / `{requesterDomain}`.

export const DIRECTORY_PATH = '/.well-known/mimi-protocol-directory';
/** Where this provider serves the MIMI server-to-server endpoints. */
export const MIMI_PREFIX = '/mimi/v1';

/** Directory key -> path template under MIMI_PREFIX. */
export const MIMI_ENDPOINTS = {
  keyMaterial: '/keyMaterial/{targetUser}',
  update: '/update/{roomId}',
  notify: '/notify/{roomId}',
  submitMessage: '/submitMessage/{roomId}',
  groupInfo: '/groupInfo/{roomId}',
  requestConsent: '/requestConsent/{targetDomain}',
  updateConsent: '/updateConsent/{requesterDomain}',
  identifierQuery: '/identifierQuery/{domain}',
  reportAbuse: '/reportAbuse/{roomId}',
  proxyDownload: '/proxyDownload/{downloadUrl}',
  // Private use (docs/join-links.md): a join link's code traded for the hub's admission ticket.
  joinTicket: '/joinTicket/{roomId}',
  // Private use: a follower's member makes, lists and revokes a hosted room's links.
  joinLinks: '/joinLinks/{roomId}',
  // Private use (docs/ohttp-key-packages.md): the signed OHTTP key configuration of the KeyPackage
  // gateway, and the gateway itself (a relay POSTs message/ohttp-req bodies to it).
  ohttpKeys: '/ohttpKeys/{domain}',
  ohttpGateway: '/ohttpGateway/{domain}',
} as const;

export type MimiDirectory = Record<keyof typeof MIMI_ENDPOINTS, string>;

/**
 * The directory document for a provider reachable at `baseUrl` (scheme://host[:port], no trailing
 * slash). It names only the endpoints in `served`: a peer that reads the directory must be able to
 * rely on every URL in it (an endpoint we know but do not serve, such as proxyDownload, is left out).
 */
export function mimiDirectory(baseUrl: string, served: Iterable<string>): Partial<MimiDirectory> {
  const base = baseUrl.replace(/\/+$/, '') + MIMI_PREFIX;
  const out: Partial<MimiDirectory> = {};
  const wanted = new Set(served);
  for (const [key, template] of Object.entries(MIMI_ENDPOINTS) as [keyof MimiDirectory, string][]) {
    if (wanted.has(key)) out[key] = base + template;
  }
  return out;
}
