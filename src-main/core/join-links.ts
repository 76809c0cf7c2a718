// Join links (docs/join-links.md): a member whose role allows it asks the hub to keep a code's
// hash; anyone with the link trades the code for the hub's admission ticket and the room's
// GroupInfo, joins by external commit with the ticket in its LeafNode, and then lists itself on
// the participant list with the ticket's role (the commit every member checks against the ticket).
// The link text (it holds the code) is kept only on the device that made it.

import { createHash, randomBytes } from 'node:crypto';
import type { JoinLinkArgs, JoinLinkView, RoomView } from '../../src-shared/contract.js';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { displayUser, parseMimiUri, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { formatJoinLink, JoinLinkError, parseJoinLink, type JoinLink } from '../../src-shared/join-link.js';
import { decodeJoinTicket, JOIN_TICKET_EXTENSION_TYPE, type JoinTicket } from '../../src-shared/join-ticket.js';
import type { JoinLinkInfo } from '../../src-shared/provider-api.js';
import { roleOf } from '../../src-shared/room-state.js';
import type { DeviceKeys } from '../mls/engine.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import { myUser, roomStateOf } from './group-sessions.js';
import type { PseudonymPool } from './pseudonym-pool.js';
import type { RoomCommits } from './room-commits.js';
import type { RoomReads } from './room-reads.js';
import { withParticipant } from './room-view.js';

const LINK_META = 'joinLink:';

export interface JoinedByLink {
  roomUri: string;
  ticket: JoinTicket;
  /** Set when this device took part under a pseudonym of its pool. */
  pseudonymKeys?: DeviceKeys;
}

export class JoinLinks {
  /** Called once this device is in a room it joined as a pseudonym (the identity link is published then). */
  onJoinedAsPseudonym?: (roomUri: string, keys: DeviceKeys) => void;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
    private readonly reads: RoomReads,
    private readonly pool: PseudonymPool,
  ) {}

  /** Who of this account is on the room's list: the account, or its user pseudonym there. */
  private actingAs(roomUri: string): string | undefined {
    const me = myUser(this.ctx.sessions.get(roomUri), this.ctx.config.userUri);
    return parseMimiUriAs('pseudonym', me) ? me : undefined;
  }

  private view(info: JoinLinkInfo): JoinLinkView {
    const state = roomStateOf(this.ctx.sessions.get(info.roomUri));
    const role = state?.policy.roles.find((r) => r.roleIndex === info.roleIndex);
    const now = Date.now();
    const usesLeft = info.maxUses === null ? null : Math.max(0, info.maxUses - info.uses);
    const link = this.ctx.db.getMeta(`${LINK_META}${info.roomUri} ${info.id}`);
    return {
      id: info.id,
      roomUri: info.roomUri,
      ...(link ? { link } : {}),
      roleIndex: info.roleIndex,
      roleName: role?.roleName ?? `role ${info.roleIndex}`,
      maxUses: info.maxUses,
      usesLeft,
      expiresAt: info.expiresAt,
      passphrase: info.passphrase,
      knock: info.knockFor !== undefined,
      createdBy: info.createdBy,
      createdAt: info.createdAt,
      state: info.revokedAt !== null ? 'revoked' : info.expiresAt !== null && now > info.expiresAt ? 'expired' : usesLeft === 0 ? 'usedUp' : 'active',
    };
  }

  /** A new link for a room hosted by our provider; `knockFor`: a knock room's link for that room. */
  async create(roomUri: string, args: Partial<JoinLinkArgs> & { knockFor?: string } = {}): Promise<JoinLinkView> {
    this.reads.roomView(roomUri); // throws roomUnknown
    const code = randomBytes(16);
    const as = this.actingAs(roomUri);
    let info: JoinLinkInfo;
    try {
      info = await this.ctx.client.createLink(roomUri, {
        codeHash: toB64(createHash('sha256').update(code).digest()),
        ...(args.roleIndex != null ? { roleIndex: args.roleIndex } : {}),
        ...(args.uses != null ? { maxUses: args.uses } : {}),
        ...(args.expiresInSeconds != null ? { expiresInSeconds: args.expiresInSeconds } : {}),
        ...(args.passphrase != null ? { passphrase: args.passphrase } : {}),
        ...(args.knockFor ? { knockFor: args.knockFor } : {}),
        ...(as ? { asPseudonym: as } : {}),
      });
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.makeLink' });
    }
    const link = formatJoinLink({ roomUri, code: Buffer.from(code).toString('base64url'), passphrase: info.passphrase, knock: info.knockFor !== undefined });
    this.ctx.db.setMeta(`${LINK_META}${roomUri} ${info.id}`, link);
    return this.view(info);
  }

  async list(roomUri: string): Promise<JoinLinkView[]> {
    this.reads.roomView(roomUri);
    try {
      const as = this.actingAs(roomUri);
      const { links } = await this.ctx.client.listLinks(roomUri, as ? { asPseudonym: as } : {});
      return links.map((l) => this.view(l));
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.listLinks' });
    }
  }

  async revoke(roomUri: string, id: string): Promise<JoinLinkView[]> {
    this.reads.roomView(roomUri);
    try {
      const as = this.actingAs(roomUri);
      const { links } = await this.ctx.client.revokeLink(roomUri, { id, ...(as ? { asPseudonym: as } : {}) });
      return links.map((l) => this.view(l));
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.revokeLink' });
    }
  }

  /** Parse a link the user gave, with a message that says what to do when it is not one. */
  static parse(text: string): JoinLink {
    try {
      return parseJoinLink(text);
    } catch (e) {
      if (e instanceof JoinLinkError) throw coreError('invalidArgument', 'errors.link.invalid', { reason: e.message });
      throw e;
    }
  }

  /** Join by link, then list ourselves with the ticket's role. */
  async join(text: string, opts: { passphrase?: string; asPseudonym?: boolean } = {}): Promise<RoomView> {
    const link = JoinLinks.parse(text);
    if (link.knock) throw coreError('invalidArgument', 'errors.link.knockLink');
    const local = this.ctx.db.getRoom(link.roomUri);
    if (local && !local.left) return this.reads.roomView(link.roomUri);
    const joined = await this.enter(link, opts);
    await this.list_(joined);
    this.ctx.emit('rooms');
    return this.reads.roomView(link.roomUri);
  }

  /**
   * The external commit: a ticket for our leaf (as this device, or as a fresh pseudonym of the
   * pool), the GroupInfo with it, the commit with the ticket in the leaf. Also used for knocking.
   */
  async enter(link: JoinLink, opts: { passphrase?: string; asPseudonym?: boolean }): Promise<JoinedByLink> {
    const { client, engine, db, sessions, serial } = this.ctx;
    const taken = opts.asPseudonym ? await this.pool.takeOrRefill() : undefined;
    const keys = taken?.keys ?? this.ctx.keys;
    const userPseudonym = taken?.row.userPseudonym;
    const what = { key: link.knock ? 'errors.what.knock' : 'errors.what.joinByLink' };
    let res;
    try {
      res = await client.joinByCode(link.roomUri, {
        code: link.code,
        ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}),
        signatureKey: toB64(keys.signaturePublicKey),
        ...(userPseudonym ? { asPseudonym: userPseudonym } : {}),
      });
    } catch (e) {
      throw toCoreError(e, what);
    }
    const ticketBytes = fromB64(res.ticket);
    const ticket = decodeJoinTicket(ticketBytes);
    await serial.run(async () => {
      const { pending, commit } = await engine.joinExternal(keys, fromB64(res.groupInfo), fromB64(res.ratchetTree), {
        leafExtensions: [{ type: JOIN_TICKET_EXTENSION_TYPE, data: ticketBytes }],
      });
      const info = await pending.groupInfo();
      try {
        await client.commit(link.roomUri, { commit: toB64(commit), groupInfo: toB64(info.groupInfo), ratchetTree: toB64(info.ratchetTree), requestId: toB64(randomBytes(16)) });
      } catch (e) {
        throw toCoreError(e, what);
      }
      db.tx(() => {
        if (db.getRoom(link.roomUri)) {
          db.markRejoined(link.roomUri, pending.epoch);
          sessions.save(link.roomUri, pending);
        } else {
          db.insertRoom({ roomUri: link.roomUri, name: '', hubDomain: parseMimiUri(link.roomUri).domain, epoch: pending.epoch, groupState: pending.encode() });
        }
      });
      sessions.set(link.roomUri, pending);
    });
    if (taken) {
      this.pool.noteRoom(taken.row.userPseudonym, link.roomUri);
      this.onJoinedAsPseudonym?.(link.roomUri, taken.keys);
    }
    return { roomUri: link.roomUri, ticket, ...(taken ? { pseudonymKeys: taken.keys } : {}) };
  }

  /** Our own listing with the ticket's role (a commit carrying only the room state change). */
  private async list_(j: JoinedByLink): Promise<void> {
    await this.commits.commitWithRetry(
      j.roomUri,
      async (s) => {
        const state = roomStateOf(s);
        const me = myUser(s, this.ctx.config.userUri);
        if (!state || roleOf(state, me) !== 0) return undefined; // listed already (or no room state)
        return this.commits.commitRoomChange(s, withParticipant(state, me, j.ticket.roleIndex), [], [], [], { key: 'errors.action.listByLink', params: { user: displayUser(me) } });
      },
      {},
      { key: 'errors.what.takePlace' },
    );
  }
}
