// HTTP plumbing shared by every route: a small method+path router, bounded JSON body reading,
// typed field readers that turn ill-typed input into 400s, and the one error format (`ApiError`).
// Nothing here knows what a room or an account is.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromUtf8 } from '../src-shared/bytes.js';
import { MAX_BODY_BYTES } from '../src-shared/provider-api.js';
import { ApiFailure, badRequest } from './errors.js';

export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  /** Path parameters, already percent-decoded. */
  params: Record<string, string>;
}

export interface Reply {
  status: number;
  body: unknown;
}

export type RouteHandler = (ctx: RouteContext) => Promise<Reply> | Reply;

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
}

/** Matches `/a/:param/b` patterns; a `*` final segment matches any rest of the path. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler): this {
    this.routes.push({ method, segments: pattern.split('/').slice(1), handler });
    return this;
  }

  /** Route `spec` is a ROUTES entry like `POST /v1/rooms/:roomId/commit`. */
  route(spec: string, handler: RouteHandler): this {
    const [method, pattern] = spec.split(' ');
    return this.add(method, pattern, handler);
  }

  private match(route: Route, parts: string[]): Record<string, string> | null {
    const wildcard = route.segments[route.segments.length - 1] === '*';
    if (wildcard ? parts.length < route.segments.length - 1 : parts.length !== route.segments.length) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < route.segments.length; i++) {
      const seg = route.segments[i];
      if (seg === '*') break;
      if (seg.startsWith(':')) {
        try {
          params[seg.slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          throw badRequest(`path segment ${JSON.stringify(parts[i])} is not valid percent-encoding`);
        }
      } else if (seg !== parts[i]) return null;
    }
    return params;
  }

  /** Finds the handler; throws 404 for unknown paths and 405 for a known path with another method. */
  resolve(method: string, pathname: string): { handler: RouteHandler; params: Record<string, string> } {
    const parts = pathname.split('/').slice(1);
    const allowed: string[] = [];
    for (const r of this.routes) {
      const params = this.match(r, parts);
      if (!params) continue;
      if (r.method === method || r.method === '*') return { handler: r.handler, params };
      allowed.push(r.method);
    }
    if (allowed.length) {
      throw new ApiFailure('notAllowed', `method ${method} is not allowed here (allowed: ${allowed.join(', ')})`, {
        status: 405,
      });
    }
    throw new ApiFailure('notFound', `no route for ${method} ${pathname}`);
  }
}

/**
 * Reads the request body, refusing more than `limit` bytes: a declared Content-Length over the
 * limit fails before any byte is read, and a streamed body fails as soon as it crosses it (the rest
 * is not buffered).
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = () => new ApiFailure('tooLarge', `request body exceeds ${limit} bytes`);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      // 'close' after 'end' is normal; cleanup() removed this listener by then.
      reject(badRequest('request body ended early (connection closed)'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Reads and parses a JSON object body. */
export async function readJsonObject(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  let text: string;
  try {
    text = fromUtf8(raw);
  } catch {
    throw badRequest('request body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest(`request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

// ---- typed field readers (throw 400 badRequest naming the field) ----

export function str(o: Record<string, unknown>, name: string, opts: { max?: number; min?: number } = {}): string {
  const v = o[name];
  if (typeof v !== 'string') throw badRequest(`field "${name}" must be a string`);
  if (opts.min !== undefined && v.length < opts.min) throw badRequest(`field "${name}" must have at least ${opts.min} characters`);
  if (opts.max !== undefined && v.length > opts.max) throw badRequest(`field "${name}" must have at most ${opts.max} characters`);
  return v;
}

/** What fromB64 accepts: the base64url alphabet, no padding (a length of 4k+1 is refused separately). */
const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * fromB64, decoded natively: on the relay's hot path the character-by-character JS decoder was ~4%
 * of the provider's time (one message payload per entry). Accepts and refuses exactly what fromB64
 * does (its alphabet, no padding, length not 4k+1; stray low bits ignored) and gives the same bytes,
 * in a Uint8Array of its own (not a view into Buffer's shared pool, whose .buffer others could see).
 */
function decodeB64(v: unknown, name: string): Uint8Array {
  if (typeof v !== 'string') throw badRequest(`field "${name}" must be a base64url string`);
  if (v.length % 4 === 1 || !B64URL.test(v)) throw badRequest(`field "${name}" is not valid base64url`);
  const out = new Uint8Array(Math.floor((v.length * 3) / 4));
  const n = Buffer.from(out.buffer, out.byteOffset, out.length).write(v, 'base64url');
  return n === out.length ? out : out.subarray(0, n);
}

export function b64(o: Record<string, unknown>, name: string): Uint8Array {
  return decodeB64(o[name], name);
}

export function optB64(o: Record<string, unknown>, name: string): Uint8Array | undefined {
  return o[name] === undefined || o[name] === null ? undefined : decodeB64(o[name], name);
}

export function b64List(o: Record<string, unknown>, name: string): Uint8Array[] {
  const v = o[name];
  if (!Array.isArray(v)) throw badRequest(`field "${name}" must be an array of base64url strings`);
  return v.map((item, i) => decodeB64(item, `${name}[${i}]`));
}

export function strList(o: Record<string, unknown>, name: string, opts: { optional?: boolean; max?: number } = {}): string[] {
  const v = o[name];
  if (v === undefined && opts.optional) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw badRequest(`field "${name}" must be an array of strings`);
  }
  if (opts.max !== undefined && v.length > opts.max) throw badRequest(`field "${name}" has more than ${opts.max} entries`);
  return v as string[];
}

export function int(o: Record<string, unknown>, name: string, opts: { min: number; max: number }): number {
  const v = o[name];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badRequest(`field "${name}" must be an integer`);
  if (v < opts.min || v > opts.max) throw badRequest(`field "${name}" must be ${opts.min}-${opts.max} (got ${v})`);
  return v;
}

export function bool(o: Record<string, unknown>, name: string): boolean {
  const v = o[name];
  if (typeof v !== 'boolean') throw badRequest(`field "${name}" must be true or false`);
  return v;
}

/** Refuses fields a route does not know, so a misspelt option is not silently ignored. */
export function onlyFields(o: Record<string, unknown>, names: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!names.includes(k)) throw badRequest(`unknown field "${k}" (expected ${names.map((n) => `"${n}"`).join(', ')})`);
  }
}

/** A 429 that also says when to try again (Retry-After, whole seconds, at least 1). */
export class RateLimitedFailure extends ApiFailure {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('rateLimited', message);
  }
}

// ---- responses ----

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(payload.length),
    ...extraHeaders,
  });
  res.end(payload);
}

/**
 * Turns any thrown value into an `ApiError` response. Only ApiFailure messages reach the client;
 * anything else is logged here and answered with a generic 500.
 */
export function sendError(res: ServerResponse, err: unknown, log: (msg: string) => void): void {
  const failure =
    err instanceof ApiFailure
      ? err
      : (log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
        new ApiFailure('internal', 'internal server error'));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // After refusing an oversize body the rest of it is still on the wire; close the connection
  // instead of reading it.
  const headers: Record<string, string> = failure.status === 413 ? { connection: 'close' } : {};
  if (failure instanceof RateLimitedFailure) headers['retry-after'] = String(Math.max(1, Math.ceil(failure.retryAfterMs / 1000)));
  sendJson(res, failure.status, failure.toBody(), headers);
}
