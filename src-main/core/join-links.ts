// Join links (docs/join-links.md): a member whose role allows it asks the hub for a code; anyone
// with the link fetches the GroupInfo with the code and an admission ticket the hub signs, joins
// by external commit with the ticket in its LeafNode, and then lists itself on the participant
// list with the ticket's role (the commit every member checks against the ticket).

import { CoreError, type JoinLinkArgs, type JoinLinkView, type RoomView } from '../../src-shared/contract.js';
import type { ProfileContext } from './context.js';
import type { PseudonymPool } from './pseudonym-pool.js';
import type { RoomCommits } from './room-commits.js';
import type { RoomReads } from './room-reads.js';

export class JoinLinks {
  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
    private readonly reads: RoomReads,
    private readonly pool: PseudonymPool,
  ) {}

  async create(_roomUri: string, _args: Partial<JoinLinkArgs>): Promise<JoinLinkView> {
    throw new CoreError('internal', 'join links are being built');
  }

  async list(_roomUri: string): Promise<JoinLinkView[]> {
    throw new CoreError('internal', 'join links are being built');
  }

  async revoke(_roomUri: string, _id: string): Promise<JoinLinkView[]> {
    throw new CoreError('internal', 'join links are being built');
  }

  async join(_link: string, _opts: { passphrase?: string; asPseudonym?: boolean }): Promise<RoomView> {
    throw new CoreError('internal', 'join links are being built');
  }
}
