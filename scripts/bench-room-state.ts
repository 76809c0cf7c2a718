// Room state costs for `npm run bench`: what the hub and every member pay per commit in a large
// room (decoding the state and checking the commit), and how big the state gets. Pure, in-process.

import { performance } from 'node:perf_hooks';
import { checkCommit } from '../src-shared/room-commit.js';
import { decodeRoomStateExtension, encodeRoomStateExtension, initialRoomState, type RoomState } from '../src-shared/room-state.js';

export interface RoomStateFigures {
  participants: number;
  extensionBytes: number;
  /** Decoding the extension and checking a commit that adds one user with one client. */
  checkMs: number;
}

export function benchRoomState(participants: number, runs = 30): RoomStateFigures {
  const roomUri = 'mimi://bench.example/r/big';
  const user = (i: number) => `mimi://bench.example/u/user${i}`;
  const device = (i: number) => `mimi://bench.example/d/user${i}/1`;
  const base = initialRoomState({ roomUri, creator: user(0), roomName: 'Big room' });
  const before: RoomState = { ...base, participants: [base.participants[0], ...Array.from({ length: participants - 1 }, (_, i) => ({ user: user(i + 1), roleIndex: 2 }))] };
  const after: RoomState = { ...before, participants: [...before.participants, { user: user(participants), roleIndex: 2 }] };
  const bytesBefore = encodeRoomStateExtension(before);
  const bytesAfter = encodeRoomStateExtension(after);
  const devicesBefore = Array.from({ length: participants }, (_, i) => device(i));
  const devicesAfter = [...devicesBefore, device(participants)];
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const result = checkCommit({ before: decodeRoomStateExtension(bytesBefore), after: decodeRoomStateExtension(bytesAfter), committer: user(0), devicesBefore, devicesAfter });
    times.push(performance.now() - t0);
    if (!result.ok) throw new Error(`bench commit refused: ${result.reason}`);
  }
  times.sort((a, b) => a - b);
  return { participants, extensionBytes: bytesAfter.length, checkMs: times[Math.floor(times.length / 2)] };
}
