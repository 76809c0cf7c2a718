// `mimi:` links handed to the app by the OS (docs: README "Opening mimi: links"). They arrive as a
// command-line argument (Linux, Windows: of the first launch, or of a second launch that the
// single-instance lock turns into a `second-instance` event) or as macOS's `open-url`. Whatever
// the source, only text that parses as a room link gets through, rebuilt from its parsed parts,
// so nothing else from the command line or the OS reaches the renderer.
//
// No Electron here: main.ts wires these to the app, and the unit tests run them in plain Node.

import { formatJoinLink, parseJoinLink } from '../../src-shared/join-link.js';

export const LINK_SCHEME = 'mimi';

/** The contract takes links up to this long (contract.ts `joinLink`); longer text is not a link of ours. */
const MAX_LINK_LENGTH = 2048;

/** `text` as a canonical room link, or undefined when it is not one (never throws). */
export function joinLinkFrom(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.length > MAX_LINK_LENGTH) return undefined;
  // Cheap filter first: argv is mostly paths and Chromium switches.
  if (!text.trim().replace(/^</, '').toLowerCase().startsWith(`${LINK_SCHEME}:`)) return undefined;
  try {
    return formatJoinLink(parseJoinLink(text));
  } catch {
    return undefined;
  }
}

/**
 * The link in a command line, if any: the last argument that is a room link. Chromium may reorder
 * a second instance's arguments and append switches of its own, so position means nothing; when
 * several links are given, the last one is the one opened most recently.
 */
export function joinLinkFromArgv(argv: readonly string[]): string | undefined {
  let found: string | undefined;
  for (const arg of argv) found = joinLinkFrom(arg) ?? found;
  return found;
}

/**
 * Holds the link that arrived before the window could take it. The window can take it once its
 * renderer has subscribed to core events (before that, an event sent to it is simply lost); a
 * reload or a new window starts over. Only the newest link is kept: opening two links before the
 * window is up means the second one is what the user wants now.
 */
export class LinkInbox {
  private pending: string | undefined;
  private ready = false;

  constructor(private readonly deliver: (link: string) => void) {}

  /** A link arrived: deliver it now, or keep it until the window is ready. */
  offer(link: string): void {
    if (this.ready) this.deliver(link);
    else this.pending = link;
  }

  /** The renderer has subscribed to events: deliver what is waiting. */
  windowReady(): void {
    this.ready = true;
    const link = this.pending;
    this.pending = undefined;
    if (link !== undefined) this.deliver(link);
  }

  /** The window is loading a page again, or is gone: keep links until it is back. */
  windowGone(): void {
    this.ready = false;
  }

  /** The link waiting for the window (for tests and logging). */
  get waiting(): string | undefined {
    return this.pending;
  }
}

/**
 * How to register this executable as the OS handler of `mimi:` links. A packaged app registers
 * itself; an unpackaged one (`electron /path/to/app`) is Electron's own binary, which must be told
 * which app to start, or a link would open an empty Electron. Not an unpackaged one on Linux: there
 * Electron registers whatever desktop entry CHROME_DESKTOP names, and a terminal inside another
 * Electron app (VS Code, ...) passes that app's on, which would make it the handler of mimi: links.
 */
export function protocolClient(p: { platform: string; defaultApp: boolean; execPath: string; argv: readonly string[]; resolve: (p: string) => string }): ProtocolClient | undefined {
  if (!p.defaultApp) return { scheme: LINK_SCHEME };
  if (p.platform === 'linux') return undefined;
  const appPath = p.argv[1];
  // Without the app's path there is nothing sensible to register.
  if (appPath === undefined || appPath.startsWith('-') || joinLinkFrom(appPath)) return undefined;
  return { scheme: LINK_SCHEME, path: p.execPath, args: [p.resolve(appPath)] };
}

/** The arguments of app.setAsDefaultProtocolClient (path and args only for an unpackaged app). */
export interface ProtocolClient {
  scheme: string;
  path?: string;
  args?: string[];
}
