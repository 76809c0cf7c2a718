// Knocks (draft-mahy-mimi-pseudonyms 4.3, docs/join-links.md): a room's knock room holds its
// admins; anyone with the knock link joins it by external commit, sends one knock (who, a note, and
// for a pseudonym KeyPackages to add it with), and leaves by its own Remove proposals, which the
// admins' clients commit. Admins admit (add the knocker to the room) or decline (nothing is sent).
//
// Kept on this device (profile meta, JSON): the knock rooms this account made (`knockRoom:<room>`),
// knocks received (`knocks:in`) and sent (`knocks:out`).

import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import type { KnockRoomView, KnocksView, KnockView, MyKnockView } from '../../src-shared/contract.js';
import type { MimiContent } from '../../src-shared/content.js';
import { displayUser, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { findKnock, knockContent, MAX_KNOCK_NOTE, type Knock } from '../../src-shared/knock.js';
import { checkChange } from '../../src-shared/room-policy.js';
import { randomBytes } from 'node:crypto';
import type { GroupSession } from '../mls/engine.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import { leafUsers, myUser, roomStateOf } from './group-sessions.js';
import { knockTicketOf } from './admission.js';
import { addedRole } from './room-view.js';
import { JoinLinks } from './join-links.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';
import { PASSED_THROUGH } from './room-reads.js';

interface StoredKnock extends KnockView {
  knocker: string;
  keyPackages: string[];
}
const MAX_KEPT = 500;

export class Knocks {
  constructor(
    private readonly ctx: ProfileContext,
    private readonly links: JoinLinks,
    private readonly membership: Membership,
    private readonly outbox: Outbox,
  ) {}

  private read<T>(key: string): T[] {
    const v = this.ctx.db.getMeta(key);
    return v ? (JSON.parse(v) as T[]) : [];
  }

  private write<T>(key: string, list: T[]): void {
    this.ctx.db.setMeta(key, JSON.stringify(list.slice(-MAX_KEPT)));
  }

  list(): KnocksView {
    const rooms = new Set(this.ctx.db.listRooms().filter((r) => !r.left).map((r) => r.roomUri));
    const incoming = this.read<StoredKnock>('knocks:in').map(({ knocker: _k, keyPackages: _p, ...v }) => v);
    // A knock of ours is admitted once the room is ours (its Welcome came).
    const outgoing = this.read<MyKnockView>('knocks:out').map((k) => (k.state === 'waiting' && rooms.has(k.roomUri) ? { ...k, state: 'admitted' as const } : k));
    return { incoming: incoming.reverse(), outgoing: outgoing.reverse() };
  }

  private emit(): void {
    this.ctx.emit('knocks', this.list());
  }

  /** The room's knock room, made on first use (administered, with a knock link), and that link. */
  async knockRoom(roomUri: string): Promise<KnockRoomView> {
    const known = this.ctx.db.getMeta(`knockRoom:${roomUri}`);
    if (known) return JSON.parse(known) as KnockRoomView;
    const s = this.ctx.sessions.get(roomUri); // throws roomUnknown
    const state = roomStateOf(s);
    const me = myUser(s, this.ctx.config.userUri);
    if (state) {
      const may = mayAdd(state, me);
      if (!may.ok) throw coreError('notAllowed', 'errors.knock.openDenied', { denial: may.reason });
    }
    const name = this.ctx.db.getRoom(roomUri)?.name || displayUser(roomUri);
    const knock = await this.membership.createRoom(`Knocks: ${name}`.slice(0, 100), 'administered');
    const link = await this.links.create(knock.roomUri, { knockFor: roomUri });
    // The room's other admins take part too, as far as they can be added (best effort: a knock
    // room with only its maker still works).
    const admins = (state?.participants ?? []).filter((p) => p.user !== me && mayAdd(state!, p.user).ok).map((p) => p.user);
    const problems: string[] = [];
    for (const a of admins) await this.membership.addMember(knock.roomUri, a).catch((e: unknown) => problems.push(`${displayUser(a)}: ${(e as Error).message}`));
    if (problems.length) {
      const err = coreError('internal', 'errors.background.knockAdmins', { problems: problems.join('; ') });
      this.ctx.emit('error', err.message, err);
    }
    const view: KnockRoomView = { roomUri, knockRoomUri: knock.roomUri, link: link.link! };
    this.ctx.db.setMeta(`knockRoom:${roomUri}`, JSON.stringify(view));
    this.ctx.db.setMeta(`knockRoomFor:${knock.roomUri}`, roomUri);
    return view;
  }

  /** Knock: join the knock room by its link, send the knock, leave. */
  async knock(text: string, note: string, opts: { asPseudonym?: boolean } = {}): Promise<KnocksView> {
    const link = JoinLinks.parse(text);
    if (!link.knock) throw coreError('invalidArgument', 'errors.knock.joinLink');
    if ([...note].length > MAX_KNOCK_NOTE) throw coreError('invalidArgument', 'errors.knock.noteTooLong', { max: MAX_KNOCK_NOTE });
    const joined = await this.links.enter(link, { asPseudonym: opts.asPseudonym });
    const target = joined.ticket.knockFor;
    const id = toHex(randomBytes(8));
    const out = this.read<MyKnockView>('knocks:out');
    const me = myUser(this.ctx.sessions.get(link.roomUri), this.ctx.config.userUri);
    const record: MyKnockView = { id, roomUri: target ?? '', roomName: '', as: me, at: Date.now(), state: 'sending' };
    this.write('knocks:out', [...out, record]);
    this.emit();
    const set = (patch: Partial<MyKnockView>) => {
      this.write(
        'knocks:out',
        this.read<MyKnockView>('knocks:out').map((k) => (k.id === id ? { ...k, ...patch } : k)),
      );
      this.emit();
    };
    try {
      if (!target) throw coreError('invalidArgument', 'errors.knock.notKnockRoom');
      const there = this.ctx.db.getRoom(target);
      if (there && !there.left) throw coreError('invalidArgument', 'errors.knock.alreadyIn', { room: there.name || target });
      // A pseudonym is added with KeyPackages of its own (connection-only: its provider vouches
      // for them by the upload, as for a connection request); a real user is claimed as usual.
      let keyPackages: Uint8Array[] = [];
      if (joined.pseudonymKeys) {
        const kps = await this.ctx.engine.generateKeyPackages(joined.pseudonymKeys, 1, { connectionOnly: true });
        this.ctx.db.tx(() => {
          for (const kp of kps) this.ctx.db.saveKeyPackage(toHex(kp.ref), kp.publicMessage, kp.privateState, false, joined.pseudonymKeys!.identity);
        });
        await this.ctx.client.uploadPseudonymKeyPackages({ clientPseudonym: joined.pseudonymKeys.identity, keyPackages: kps.map((k) => toB64(k.publicMessage)), connectionOnly: true });
        keyPackages = kps.map((k) => k.publicMessage);
      }
      const knock: Knock = { targetRoom: target, knocker: me, note, keyPackages };
      await this.outbox.sendControl(link.roomUri, (sender) => knockContent({ senderUri: sender, roomUri: link.roomUri, knock }));
      await this.outbox.flush();
      set({ state: 'waiting' });
    } catch (e) {
      const err = toCoreError(e, { key: 'errors.what.knock' });
      set({ state: 'failed', problem: err.message });
      throw err;
    } finally {
      // Leave at once: the knock room is for the admins (the hub removes knockers who stay). It
      // is not one of this account's rooms, so it stays out of the room list.
      this.ctx.db.setMeta(`${PASSED_THROUGH}${link.roomUri}`, '1');
      await this.membership.leaveRoom(link.roomUri).catch(() => undefined);
    }
    return this.list();
  }

  /**
   * Whether a Welcome to a connection-only KeyPackage of these pseudonymous keys is one we wait
   * for: a knock of ours, sent as that pseudonym, not yet answered.
   */
  expects(keys: { pseudonymous?: { userPseudonym: string } }): boolean {
    const as = keys.pseudonymous?.userPseudonym;
    return as !== undefined && this.read<MyKnockView>('knocks:out').some((k) => k.as === as && k.state === 'waiting');
  }

  /** An incoming message in a knock room of ours: a knock is kept for the admins, never shown as text. */
  onMessage(roomUri: string, sender: string, content: MimiContent, session: GroupSession): 'timeline' | 'consumed' {
    let knock: Knock | undefined;
    try {
      knock = findKnock(content);
    } catch (e) {
      const err = coreError('invalidArgument', 'errors.background.malformedKnock', { reason: (e as Error).message });
      this.ctx.emit('error', err.message, err);
      return 'consumed';
    }
    if (!knock) return 'timeline';
    // A knock counts from a member who came in with the hub's knock ticket for that very room
    // (every admin can check it, not only the one who made the knock room), and names itself.
    const ticket = knockTicketOf(session, sender, leafUsers(session));
    const target = ticket?.knockFor;
    if (!target || knock.targetRoom !== target || knock.knocker !== sender) {
      const err = coreError('notAllowed', 'errors.background.strayKnock', { user: displayUser(sender) });
      this.ctx.emit('error', err.message, err);
      return 'consumed';
    }
    const list = this.read<StoredKnock>('knocks:in');
    const entry: StoredKnock = {
      id: toHex(randomBytes(8)),
      roomUri: target,
      roomName: this.ctx.db.getRoom(target)?.name ?? '',
      from: sender,
      note: knock.note,
      at: Date.now(),
      state: 'pending',
      knocker: sender,
      keyPackages: knock.keyPackages.map(toB64),
    };
    this.ctx.db.setMeta(`knockRoomFor:${roomUri}`, target);
    this.write('knocks:in', [...list, entry]);
    this.emit();
    return 'consumed';
  }

  private pending(id: string): StoredKnock {
    const k = this.read<StoredKnock>('knocks:in').find((x) => x.id === id);
    if (!k) throw coreError('invalidArgument', 'errors.knock.noSuch', { id });
    if (k.state !== 'pending') throw coreError('invalidArgument', k.state === 'admitted' ? 'errors.knock.alreadyAdmitted' : 'errors.knock.alreadyDeclined');
    return k;
  }

  private mark(id: string, patch: Partial<StoredKnock>): void {
    this.write(
      'knocks:in',
      this.read<StoredKnock>('knocks:in').map((k) => (k.id === id ? { ...k, ...patch } : k)),
    );
    this.emit();
  }

  async admit(id: string): Promise<KnocksView> {
    const k = this.pending(id);
    const session = this.ctx.sessions.get(k.roomUri);
    if (session.members().some((m) => leafUsers(session)(m.identity) === k.knocker)) {
      // Added meanwhile (by another admin, or by hand): nothing left to do.
      this.mark(id, { state: 'admitted', problem: undefined });
      return this.list();
    }
    try {
      if (parseMimiUriAs('pseudonym', k.knocker)) {
        if (k.keyPackages.length === 0) throw coreError('noKeyMaterial', 'errors.knock.noKeyPackages', { user: displayUser(k.knocker) });
        await this.membership.addClients(k.roomUri, k.knocker, k.keyPackages.map(fromB64));
      } else {
        await this.membership.addMember(k.roomUri, k.knocker);
      }
    } catch (e) {
      const err = toCoreError(e, { key: 'errors.what.admit', params: { user: displayUser(k.knocker) } });
      this.mark(id, { problem: err.message });
      throw err;
    }
    this.mark(id, { state: 'admitted', problem: undefined });
    return this.list();
  }

  async decline(id: string): Promise<KnocksView> {
    this.pending(id);
    this.mark(id, { state: 'declined' });
    return this.list();
  }
}

/** May `user` add people to the room (the check room settings make: a candidate not on the list, in the role added users get)? */
function mayAdd(state: NonNullable<ReturnType<typeof roomStateOf>>, user: string) {
  return checkChange(state.policy, state.participants, user, { kind: 'addParticipant', user: 'mimi://knock.invalid/u/candidate', role: addedRole(state, user) });
}
