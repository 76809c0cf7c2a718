// Which of two views of the same device verification the dialog should keep. An attempt's stage
// only moves forward, but its views reach the window by two roads: the answer to the call that
// moved it (accept, match) and the core's events. The other device can answer so fast that the
// event for the next stage arrives before the call's own answer; taking the later arrival would
// put the dialog back a stage for good (seen as "waiting" with the digits never shown).

import type { DeviceVerificationView } from '../../../src-shared/contract.js';

const RANK: Record<DeviceVerificationView['stage'], number> = { incoming: 0, waiting: 1, compare: 2, confirmed: 3, verified: 4, failed: 5 };

/** `next` unless it is an older stage of the same attempt than `prev`. */
export function laterView(prev: DeviceVerificationView | undefined, next: DeviceVerificationView): DeviceVerificationView {
  if (!prev || prev.attemptId !== next.attemptId) return next;
  return RANK[next.stage] < RANK[prev.stage] ? prev : next;
}
