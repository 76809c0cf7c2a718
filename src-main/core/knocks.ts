// Knocks (docs/join-links.md): a room's knock room holds its admins; anyone with the knock link
// joins it by external commit, sends one knock (who, a note, KeyPackages), and leaves by its own
// Remove proposals. Admins admit (add the knocker to the room with those KeyPackages) or decline.

import { CoreError, type KnockRoomView, type KnocksView } from '../../src-shared/contract.js';
import type { ProfileContext } from './context.js';
import type { JoinLinks } from './join-links.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';
import type { PseudonymPool } from './pseudonym-pool.js';

export class Knocks {
  constructor(
    private readonly ctx: ProfileContext,
    private readonly links: JoinLinks,
    private readonly membership: Membership,
    private readonly outbox: Outbox,
    private readonly pool: PseudonymPool,
  ) {}

  list(): KnocksView {
    return { incoming: [], outgoing: [] };
  }

  async knockRoom(_roomUri: string): Promise<KnockRoomView> {
    throw new CoreError('internal', 'knocks are being built');
  }

  async knock(_link: string, _note: string, _opts: { asPseudonym?: boolean }): Promise<KnocksView> {
    throw new CoreError('internal', 'knocks are being built');
  }

  async admit(_id: string): Promise<KnocksView> {
    throw new CoreError('internal', 'knocks are being built');
  }

  async decline(_id: string): Promise<KnocksView> {
    throw new CoreError('internal', 'knocks are being built');
  }
}
