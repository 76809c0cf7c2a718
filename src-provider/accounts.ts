// Accounts and devices: registration, login (each login is a new device of the account), bearer
// token authentication. Passwords are kept only as scrypt hashes; tokens only as SHA-256.

import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { toB64, fromB64 } from '../src-shared/bytes.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../src-shared/identifiers.js';
import {
  HANDLE_RE,
  MIN_PASSWORD_LENGTH,
  type MeResponse,
  type RegisterRequest,
  type SessionResponse,
} from '../src-shared/provider-api.js';
import { ApiFailure, badRequest } from './errors.js';
import { RateLimitedFailure } from './http.js';
import { RateLimiter } from './rate-limits.js';
import type { Store } from './store.js';

/** The authenticated device behind a request. */
export interface Actor {
  deviceUri: string;
  userUri: string;
  handle: string;
  userId: number;
}

export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_DEVICE_NAME_LENGTH = 100;
/** A device's last-seen time is written at most this often. */
export const DEFAULT_LAST_SEEN_INTERVAL_MS = 60_000;

// ---- password hashing ----

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
const SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };
const KEY_LEN = 32;

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // 128*N*r bytes of working memory (32 MiB here) is right at Node's default cap; raise the cap.
  const maxmem = 128 * params.N * params.r * 2;
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEY_LEN, { ...params, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, toB64(salt), toB64(key)].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(fromB64(parts[4]));
  const expected = Buffer.from(fromB64(parts[5]));
  const key = await scrypt(password, salt, { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

// ---- tokens ----

export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url

// ---- failed-login throttling ----

/**
 * Limits password guesses per handle: every login attempt (and every change of password) takes a
 * token from the handle's bucket of `maxFails`, refilled at `maxFails` per `windowMs`; a success
 * fills it again. Unknown handles have buckets too, so the throttle does not reveal which handles
 * exist. The buckets are in the provider database (rate-limits.ts), so guesses spread over
 * several nodes count against one limit and a restart does not reset it; handles are stored
 * hashed.
 *
 * How it differs from the sliding window it replaces (at most `maxFails` failures in any
 * `windowMs`): the long-run rate is the same (`maxFails` a window) and so is the burst, but once
 * the bucket is empty a guess comes back every `windowMs / maxFails` (12 s at 5 a minute) instead
 * of all `maxFails` at once when the window has slid past the oldest failure. And an attempt is
 * counted when it starts (before the slow hash check, so concurrent guesses are throttled too),
 * in the same transaction that checks the limit: two nodes cannot both let the last one through.
 */
export class LoginThrottle {
  private readonly bucket: RateLimiter;
  constructor(
    store: Store,
    readonly maxFails = 5,
    readonly windowMs = 60_000,
    now: () => number = Date.now,
  ) {
    this.bucket = new RateLimiter(store, 'login', (maxFails * 60_000) / windowMs, now, maxFails);
  }

  /** Counts an attempt for `handle`: 0 when it may go ahead, else the ms until one may. */
  attempt(handle: string): number {
    return this.bucket.take(handle);
  }

  succeed(handle: string): void {
    this.bucket.clear(handle);
  }
}

// ---- the service ----

function checkDeviceName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_DEVICE_NAME_LENGTH) {
    throw badRequest(`deviceName must be 1-${MAX_DEVICE_NAME_LENGTH} characters`);
  }
  return trimmed;
}

export class Accounts {
  private readonly throttle: LoginThrottle;
  private readonly now: () => number;
  private readonly lastSeenIntervalMs: number;
  /** Hash checked for unknown handles so a miss costs as much time as a wrong password. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: Store,
    readonly domain: string,
    opts: { throttle?: LoginThrottle; now?: () => number; lastSeenIntervalMs?: number } = {},
  ) {
    this.throttle = opts.throttle ?? new LoginThrottle(store, undefined, undefined, opts.now);
    this.now = opts.now ?? Date.now;
    this.lastSeenIntervalMs = opts.lastSeenIntervalMs ?? DEFAULT_LAST_SEEN_INTERVAL_MS;
  }

  async register(req: RegisterRequest): Promise<SessionResponse> {
    if (!HANDLE_RE.test(req.handle)) {
      throw badRequest('handle must be 1-32 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit');
    }
    if (req.password.length < MIN_PASSWORD_LENGTH || req.password.length > MAX_PASSWORD_LENGTH) {
      throw badRequest(`password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`);
    }
    const name = checkDeviceName(req.deviceName);
    if (this.store.userByHandle(req.handle)) throw new ApiFailure('handleTaken', `handle "${req.handle}" is taken`);
    const pwHash = await hashPassword(req.password);
    const userUri = mkUserUri(this.domain, req.handle);
    return this.store.tx(() => {
      const userId = this.store.insertUser(req.handle, userUri, pwHash, this.now());
      // Two registrations for one handle can both pass the early check while hashing.
      if (userId === null) throw new ApiFailure('handleTaken', `handle "${req.handle}" is taken`);
      return this.newDevice(userId, req.handle, name);
    });
  }

  async login(req: RegisterRequest): Promise<SessionResponse> {
    const name = checkDeviceName(req.deviceName);
    // Counted before the (slow) hash check so concurrent guesses are throttled too; a success
    // clears the count.
    const wait = this.throttle.attempt(req.handle);
    if (wait > 0) throw new RateLimitedFailure(`too many failed logins for this handle; try again in ${Math.ceil(wait / 1000)} s`, wait);
    const user = HANDLE_RE.test(req.handle) ? this.store.userByHandle(req.handle) : undefined;
    const stored = user?.pw_hash ?? (await (this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'))));
    const ok = (await verifyPassword(req.password, stored)) && user !== undefined;
    if (!user || !ok) {
      throw new ApiFailure('wrongPassword', 'wrong handle or password');
    }
    this.throttle.succeed(req.handle);
    return this.store.tx(() => this.newDevice(user.id, user.handle, name));
  }

  /** Must run inside a transaction. */
  private newDevice(userId: number, handle: string, name: string): SessionResponse {
    const deviceId = toB64(randomBytes(16));
    const token = toB64(randomBytes(32));
    const deviceUri = mkDeviceUri(this.domain, handle, deviceId);
    this.store.insertDevice({ deviceUri, userId, deviceId, name, tokenHash: hashToken(token), now: this.now() });
    return { userUri: mkUserUri(this.domain, handle), deviceUri, deviceId, token, domain: this.domain };
  }

  /** Resolve an `Authorization` header value to its device; throws 401 unauthorized. */
  authenticate(authorization: string | undefined): Actor {
    const m = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
    if (!m) throw new ApiFailure('unauthorized', 'missing bearer token (Authorization: Bearer <token>)');
    const row = TOKEN_RE.test(m[1]) ? this.store.deviceByTokenHash(hashToken(m[1])) : undefined;
    if (!row) throw new ApiFailure('unauthorized', 'unknown or revoked token');
    // The stored time is the throttle (no per-device memory to keep): a device busy with many
    // requests a minute writes once, and a restart does not make every device write at once.
    const now = this.now();
    if (row.last_seen_at === null || now - row.last_seen_at >= this.lastSeenIntervalMs) this.store.touchDevice(row.device_uri, now);
    return { deviceUri: row.device_uri, userUri: row.user_uri, handle: row.handle, userId: row.user_id };
  }

  /**
   * A new password for the actor's account, given the current one. The other devices stay signed
   * in: a device is an MLS client with its own keys in the account's rooms, and the password only
   * guards adding new devices (login), so revoking their tokens would strand those clients in every
   * room without making the account safer against whoever already holds one (that is what deleting
   * a device is for). Wrong old passwords count toward the same per-handle throttle as logins, so
   * a stolen token cannot be used to guess the password faster than a login could.
   */
  async changePassword(actor: Actor, oldPassword: string, newPassword: string): Promise<void> {
    if (newPassword.length < MIN_PASSWORD_LENGTH || newPassword.length > MAX_PASSWORD_LENGTH) {
      throw badRequest(`the new password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`);
    }
    const wait = this.throttle.attempt(actor.handle);
    if (wait > 0) throw new RateLimitedFailure(`too many wrong passwords for this account; try again in ${Math.ceil(wait / 1000)} s`, wait);
    const user = this.store.userByHandle(actor.handle);
    if (!user || user.id !== actor.userId || !(await verifyPassword(oldPassword, user.pw_hash))) {
      throw new ApiFailure('wrongPassword', 'the current password is wrong; nothing was changed');
    }
    this.throttle.succeed(actor.handle);
    const pwHash = await hashPassword(newPassword);
    // Store has no statement for this one update; its database handle is public for such cases.
    this.store.tx(() => this.store.db.prepare('UPDATE users SET pw_hash = ? WHERE id = ?').run(pwHash, actor.userId));
  }

  /** Deletes the account with all its devices (their tokens stop working at once). */
  deleteAccount(actor: Actor): void {
    this.store.tx(() => this.store.deleteUser(actor.userId));
  }

  me(actor: Actor): MeResponse {
    return {
      userUri: actor.userUri,
      deviceUri: actor.deviceUri,
      devices: this.store
        .devicesOfUser(actor.userId)
        .map((d) => ({ deviceUri: d.device_uri, name: d.name, createdAt: d.created_at })),
    };
  }
}
