// The renderer's Content-Security-Policy, in one place so Electron (response header on the app
// protocol + a <meta> tag baked into index.html) and the browser-mode bridge (response header)
// cannot drift apart. No inline scripts or styles and no eval: the built renderer needs none,
// and a message that smuggled markup into the DOM could then do nothing with it.

export interface CspOptions {
  /** Extra origins the page may open WebSockets to (browser mode: the bridge's /events). */
  websocketOrigins?: string[];
  /** `frame-ancestors` is ignored (with a console warning) inside <meta>, so leave it out there. */
  forMetaTag?: boolean;
  /**
   * Unpackaged Electron on electron-vite's dev server only: Vite injects <style> tags and talks to
   * its HMR WebSocket. Never used for a built renderer.
   */
  devServerOrigin?: string;
}

export function contentSecurityPolicy(opts: CspOptions = {}): string {
  const dev = opts.devServerOrigin ? new URL(opts.devServerOrigin) : undefined;
  const hmr = dev ? [`ws://${dev.host}`] : [];
  const connect = ["'self'", ...(opts.websocketOrigins ?? []), ...hmr].join(' ');
  const directives = [
    "default-src 'self'",
    "script-src 'self'",
    dev ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ];
  if (!opts.forMetaTag) directives.push("frame-ancestors 'none'");
  return directives.join('; ');
}

/** Headers sent with every renderer file, whichever process serves it. */
export function rendererSecurityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
  };
}
