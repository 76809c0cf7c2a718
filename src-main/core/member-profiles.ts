// Members' profiles in rooms (docs/decisions.md "Profiles in rooms"): this account shares its display
// name and picture inside each room it is in as itself (never where it appears under a pseudonym),
// and keeps what the other members share, per room and user, in the profile database (sealed).
//
// Sharing is driven by a scan, not by each code path that changes a room: after any change (a room
// joined or created, a member's device added, the person's name or picture changed) a debounced scan
// compares, per room, the profile last shared there and the devices it reached with the profile now
// and the room's devices now; it sends one control message where the profile changed or a device is
// new, and nothing otherwise. So a burst of changes costs at most one message per room, and a room
// whose epoch did not move is skipped without looking at its tree.

import { createHash } from 'node:crypto';
import type { MemberProfileView } from '../../src-shared/contract.js';
import { parseMimiUriAs } from '../../src-shared/identifiers.js';
import type { MimiContent } from '../../src-shared/content.js';
import {
  avatarProblem,
  decodeMemberProfile,
  displayNameProblem,
  encodeMemberProfile,
  findMemberProfile,
  isEmptyProfile,
  pngDataUrl,
  pngFromDataUrl,
  ProfileError,
  profileContent,
  type MemberProfile,
} from '../../src-shared/member-profile.js';
import type { RoomState } from '../../src-shared/room-state.js';
import { checkMessage } from '../../src-shared/room-commit.js';
import type { GroupSession } from '../mls/engine.js';
import type { ProfileContext } from './context.js';
import { coreError } from './errors.js';
import { myUser, roomStateOf } from './group-sessions.js';
import type { Outbox } from './outbox.js';

/** What this device shared in a room last: that profile's hash and the devices (hashed) there then. */
interface Share {
  hash: string;
  devices: string[];
}

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
/** Device identities are kept only as short hashes: enough to tell a newcomer, and names nobody. */
const deviceKey = (identity: string): string => sha(identity).slice(0, 24);

export class MemberProfiles {
  /** How long after a change the scan runs (tests shorten it). */
  debounceMs = 1000;
  private timer?: NodeJS.Timeout;
  /** roomUri → the epoch and own-profile hash of the last scan that looked at it. */
  private readonly scanned = new Map<string, string>();
  /** The provider's display name was read once this run (another device may have changed it). */
  private fetchedName = false;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly outbox: Outbox,
  ) {
    ctx.on('epoch', () => this.schedule());
    ctx.on('rooms', () => this.schedule());
    ctx.on('caughtUp', () => this.schedule());
  }

  // ---- this account's own profile ----

  own(): MemberProfile {
    const stored = this.ctx.db.ownProfile();
    if (!stored) return { updated: 0 };
    try {
      return decodeMemberProfile(stored);
    } catch {
      return { updated: 0 }; // written by this code, so only a future version's could fail: start over
    }
  }

  avatar(): string | null {
    const a = this.own().avatar;
    return a ? pngDataUrl(a) : null;
  }

  /** A new picture (a data:image/png URL) or none; kept here, then shared in every room. */
  setAvatar(dataUrl: string | null): string | null {
    let png: Uint8Array | undefined;
    if (dataUrl !== null) {
      try {
        png = pngFromDataUrl(dataUrl);
      } catch (e) {
        throw asCoreError(e);
      }
      const problem = avatarProblem(png);
      if (problem) throw asCoreError(problem);
    }
    const { avatar: _old, ...rest } = this.own();
    this.setOwn({ ...rest, ...(png ? { avatar: png } : {}), updated: Date.now() });
    return this.avatar();
  }

  /**
   * The display name the provider keeps. `changed`: the person just set it (a change to share);
   * otherwise it was read from the provider, which on a device that never had a profile must not
   * look newer than what the account's other devices shared.
   */
  noteDisplayName(name: string | undefined, changed: boolean): void {
    const own = this.own();
    const shareable = name !== undefined && !displayNameProblem(name) ? name : undefined;
    if (own.displayName === shareable) return;
    const { displayName: _old, ...rest } = own;
    this.setOwn({ ...rest, ...(shareable !== undefined ? { displayName: shareable } : {}), updated: changed || own.updated > 0 ? Date.now() : 0 });
  }

  /** Checked before the name goes to the provider, so a name rooms would refuse is never set. */
  checkDisplayName(name: string): void {
    const problem = displayNameProblem(name);
    if (problem) throw asCoreError(problem);
  }

  private setOwn(p: MemberProfile): void {
    this.ctx.db.setOwnProfile(encodeMemberProfile(p));
    for (const r of this.ctx.db.listRooms()) if (!r.left) this.ctx.emit('profiles', r.roomUri);
    this.schedule();
  }

  // ---- what the app shows ----

  /** Every profile shared in the room, by user; this account's own where it takes part as itself. */
  view(roomUri: string): Record<string, MemberProfileView> {
    const out: Record<string, MemberProfileView> = {};
    for (const { user, profile } of this.ctx.db.memberProfiles(roomUri)) {
      try {
        const v = toView(decodeMemberProfile(profile));
        if (v) out[user] = v;
      } catch {
        // stored only after the same check: nothing to show if it ever fails
      }
    }
    const me = this.meIn(roomUri);
    if (me) {
      const v = toView(this.own());
      if (v) out[me] = v;
      else delete out[me];
    }
    return out;
  }

  /** This account as it takes part in the room, when it does so as itself (not as a pseudonym). */
  private meIn(roomUri: string): string | undefined {
    let me: string;
    try {
      me = myUser(this.ctx.sessions.get(roomUri), this.ctx.config.userUri);
    } catch {
      return undefined;
    }
    return parseMimiUriAs('pseudonym', me) ? undefined : me;
  }

  // ---- receiving ----

  /**
   * A profile message from `sender` (already decrypted, its franking checked): kept when it is
   * valid, from a participant of the room, not under a pseudonym, and not older than the one kept.
   * Another device of this account: adopted as the account's own when newer. Runs inside the
   * caller's transaction; true when the room's profiles changed (the caller then calls changed()).
   */
  receive(roomUri: string, sender: string, own: boolean, content: MimiContent, state: RoomState | undefined): boolean {
    let p: MemberProfile | undefined;
    try {
      p = findMemberProfile(content);
    } catch {
      return false; // malformed: ignored, like any message that breaks the rules
    }
    if (!p || parseMimiUriAs('pseudonym', sender)) return false;
    if (state && !state.participants.some((x) => x.user === sender)) return false;
    if (own) {
      const mine = this.own();
      if (p.updated <= mine.updated) return false;
      // Another device of the account changed it: this one shares the same from now on.
      this.ctx.db.setOwnProfile(encodeMemberProfile(p));
      this.ctx.db.setProfileShare(roomUri, shareBytes({ hash: sha(encodeMemberProfile(p)), devices: this.devices(this.ctx.sessions.get(roomUri)) }));
      for (const r of this.ctx.db.listRooms()) if (!r.left && r.roomUri !== roomUri) this.ctx.emit('profiles', r.roomUri);
      this.schedule();
      return true;
    }
    const kept = this.ctx.db.memberProfile(roomUri, sender);
    if (kept) {
      try {
        if (decodeMemberProfile(kept).updated > p.updated) return false;
      } catch {
        // replaced below
      }
    }
    // An empty profile is kept too (it clears): an older one arriving later must not bring it back.
    this.ctx.db.setMemberProfile(roomUri, sender, encodeMemberProfile(p));
    return true;
  }

  changed(roomUri: string): void {
    this.ctx.emit('profiles', roomUri);
  }

  // ---- sharing ----

  /** Run the scan soon (coalesced: one scan for a burst of changes). */
  schedule(): void {
    if (this.timer || this.ctx.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.ctx.closed) this.share();
    }, this.debounceMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The scan, now: queues a profile message into each room that needs one; how many it queued. */
  share(): number {
    if (this.ctx.closed) return 0;
    this.fetchName();
    const own = this.own();
    const encoded = encodeMemberProfile(own);
    const hash = sha(encoded);
    const empty = isEmptyProfile(own);
    let sent = 0;
    for (const room of this.ctx.db.listRooms()) {
      if (room.left) continue;
      const mark = `${room.epoch}:${hash}`;
      if (this.scanned.get(room.roomUri) === mark) continue;
      try {
        if (this.shareIn(room.roomUri, own, hash, empty)) sent++;
        this.scanned.set(room.roomUri, mark);
      } catch (e) {
        this.ctx.emit('error', `Your profile could not be shared in a room: ${(e as Error).message}`);
      }
    }
    return sent;
  }

  private shareIn(roomUri: string, own: MemberProfile, hash: string, empty: boolean): boolean {
    const { db } = this.ctx;
    const raw = db.profileShare(roomUri);
    const prev: Share = raw ? (JSON.parse(new TextDecoder().decode(raw)) as Share) : { hash: '', devices: [] };
    // Nothing shared there and nothing to share (most accounts): not even the room's tree is read.
    if (empty && (prev.hash === '' || prev.hash === hash)) return false;
    // A knock room is for strangers asking to be let in: they learn nothing of its admins.
    if (db.getMeta(`knockRoomFor:${roomUri}`) !== undefined) return false;
    const session = this.ctx.sessions.get(roomUri);
    const me = myUser(session, this.ctx.config.userUri);
    // Under a pseudonym the account's name or picture would unmask it: never there.
    if (parseMimiUriAs('pseudonym', me)) return false;
    const state = roomStateOf(session);
    if (state?.minimalMetadata) return false;
    // Where this account may not send (muted, banned, a knocker), the hub would refuse it anyway.
    if (state && !checkMessage(state, me).ok) return false;
    const devices = this.devices(session);
    let send: boolean;
    if (prev.hash === hash) {
      const known = new Set(prev.devices);
      send = devices.some((d) => !known.has(d));
    } else send = devices.length > 0;
    if (send) void this.outbox.sendControl(roomUri, (sender) => profileContent({ senderUri: sender, roomUri, profile: own }));
    if (send || prev.hash !== hash) db.setProfileShare(roomUri, shareBytes({ hash, devices }));
    return send;
  }

  /** The room's other devices (not this one), hashed. */
  private devices(session: GroupSession): string[] {
    return session
      .members()
      .filter((m) => m.leafIndex !== session.ownLeafIndex)
      .map((m) => deviceKey(m.identity))
      .sort();
  }

  /** Once a run: the name another device of the account may have set at the provider. */
  private fetchName(): void {
    if (this.fetchedName) return;
    this.fetchedName = true;
    this.ctx.client
      .myProfile()
      .then((p) => {
        if (!this.ctx.closed) this.noteDisplayName(p.displayName, false);
      })
      .catch(() => {
        this.fetchedName = false; // offline: try again with the next scan
      });
  }
}

function toView(p: MemberProfile): MemberProfileView | undefined {
  if (isEmptyProfile(p)) return undefined;
  return { ...(p.displayName !== undefined ? { displayName: p.displayName } : {}), ...(p.avatar ? { avatar: pngDataUrl(p.avatar) } : {}) };
}

const shareBytes = (s: Share): Uint8Array => new TextEncoder().encode(JSON.stringify(s));

function asCoreError(e: unknown): Error {
  if (e instanceof ProfileError) return coreError('invalidArgument', e.key, e.params);
  return e instanceof Error ? e : new Error(String(e));
}
