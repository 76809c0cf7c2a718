// `mimi device verify|history-from|send-history` (core/device-link.ts, docs/device-transfer.md):
// two devices of an account compare a short code on their terminals, and a new device gets the
// history of an old one. Digits and outcomes on stdout, progress on stderr.
//
//   device verify ID                start verifying another device of the account
//   device verify --incoming        wait for another device's request and answer it
//   device history-from ID          (new device) verify ID and then receive its history
//   device send-history             (old device) wait for a request, verify, send the history
//
// "Do the digits match? [y/N]" is asked on the terminal (or read as a line from stdin); --yes
// answers yes for scripts that compared the digits another way. send-history asks again before
// sending ("Send this device's history to NAME? [y/N]"), also answered by --yes.

import readline from 'node:readline';
import type { DeviceVerificationView, HistoryTransferView } from '../../src-shared/contract.js';
import type { Profile } from '../core/profile.js';
import { translate } from '../../src-shared/i18n/index.js';
import { UsageError, type Parsed } from './args.js';

/** How long --incoming and send-history wait for a request, by default (seconds). */
const DEFAULT_WAIT_S = 120;

/** One line from stdin (a terminal or a pipe); '' at its end. */
function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdin.isTTY ? process.stderr : undefined, terminal: !!process.stdin.isTTY });
    let answered = false;
    rl.question(question, (a) => {
      answered = true;
      rl.close();
      resolve(a);
    });
    rl.on('close', () => {
      if (!answered) resolve('');
    });
  });
}

const yes = (a: string) => /^\s*y(es)?\s*$/i.test(a);

export interface DeviceLinkCommandOptions {
  /** Opens the profile, runs `fn` connected, closes it (mimi.ts withProfile). */
  withProfile<T>(p: Parsed, fn: (profile: Profile) => Promise<T>): Promise<T>;
}

/** `device verify …`, `device history-from ID`, `device send-history`: true when handled. */
export async function deviceLinkCommand(p: Parsed, args: string[], o: DeviceLinkCommandOptions): Promise<boolean> {
  const [sub, id] = args;
  const assumeYes = p.flags.has('yes');
  const waitS = p.flags.has('timeout') ? Number(p.flags.get('timeout')) : DEFAULT_WAIT_S;
  if (!Number.isInteger(waitS) || waitS < 1 || waitS > 3600) throw new UsageError('--timeout takes 1-3600 seconds');
  if (sub === 'verify') {
    const incoming = p.flags.has('incoming');
    if (incoming ? args.length !== 1 : args.length !== 2) throw new UsageError('device verify takes ID (as mimi devices prints it), or --incoming to answer another device');
    await o.withProfile(p, (profile) => run(profile, { start: incoming ? undefined : id, purpose: 'verify', assumeYes, waitS }));
    return true;
  }
  if (sub === 'history-from') {
    if (args.length !== 2) throw new UsageError('device history-from takes ID (the device that has the history, as mimi devices prints it)');
    await o.withProfile(p, (profile) => run(profile, { start: id, purpose: 'history', assumeYes, waitS }));
    return true;
  }
  if (sub === 'send-history') {
    if (args.length !== 1) throw new UsageError('device send-history takes no arguments: it waits for the new device’s request');
    await o.withProfile(p, (profile) => run(profile, { purpose: 'history', assumeYes, waitS }));
    return true;
  }
  return false;
}

interface RunOptions {
  /** The device to start with; absent: wait for another device's request. */
  start?: string;
  purpose: 'verify' | 'history';
  assumeYes: boolean;
  waitS: number;
}

/** Runs one attempt to its end; throws (exit code 1) unless it succeeded. */
function run(profile: Profile, o: RunOptions): Promise<void> {
  const link = profile.deviceLink;
  return new Promise<void>((resolve, reject) => {
    let attemptId: string | undefined;
    let waiting: NodeJS.Timeout | undefined;
    const done = (err?: Error) => {
      if (waiting) clearTimeout(waiting);
      link.off('verification', onView);
      link.off('history', onHistory);
      if (err) reject(err);
      else resolve();
    };
    const failure = (reason: string | undefined, extra?: string) =>
      new Error(`${translate(`deviceLink.failed.${reason ?? 'failed'}`)}${extra ? ` (${extra})` : ''}`);
    const onView = (v: DeviceVerificationView) => {
      if (attemptId === undefined) {
        // Waiting for a request: the first one for the asked purpose is ours (a plain
        // verification also answers send-history's wait? no: the purposes must agree).
        if (o.start !== undefined || v.stage !== 'incoming') return;
        if ((o.purpose === 'history') !== (v.purpose === 'history')) {
          process.stderr.write(`mimi: ${v.otherDevice.name} asks for a ${v.purpose === 'history' ? 'history transfer' : 'verification'}; declining (this command waits for a ${o.purpose === 'history' ? 'history transfer' : 'verification'})\n`);
          void link.answer(v.attemptId, 'cancel').catch(() => undefined);
          return;
        }
        attemptId = v.attemptId;
        if (waiting) clearTimeout(waiting);
        process.stderr.write(`mimi: ${v.otherDevice.name} (${v.otherDevice.deviceId}) wants to verify this device; accepting\n`);
        link.answer(v.attemptId, 'accept').catch((e) => done(e as Error));
        return;
      }
      if (v.attemptId !== attemptId) return;
      if (v.stage !== 'waiting' && waiting) {
        clearTimeout(waiting);
        waiting = undefined;
      }
      if (v.stage === 'compare') {
        process.stdout.write(`${v.digits!.join(' ')}\n`);
        void (async () => {
          const match = o.assumeYes || yes(await ask(`Do the digits match the ones on ${v.otherDevice.name}? [y/N] `));
          await link.answer(v.attemptId, match ? 'match' : 'mismatch');
        })().catch((e) => done(e as Error));
      } else if (v.stage === 'verified') {
        process.stdout.write(`verified\t${v.otherDevice.deviceId}\t${v.otherDevice.name}\n`);
        if (v.purpose !== 'history') done();
      } else if (v.stage === 'failed') done(failure(v.reason));
    };
    const onHistory = (h: HistoryTransferView) => {
      if (h.attemptId !== attemptId) return;
      if (h.stage === 'confirm') {
        void (async () => {
          const send = o.assumeYes || yes(await ask(`Send this device's history to ${h.otherDevice.name}? [y/N] `));
          await link.answerHistory(h.attemptId, send);
        })().catch((e) => done(e as Error));
      } else if (h.stage === 'uploading' && h.total > 0) process.stderr.write(`mimi: history: ${h.done} of ${h.total} part(s) stored\n`);
      else if (h.stage === 'downloading' && h.total > 0) process.stderr.write(`mimi: history: ${h.done} of ${h.total} part(s) checked\n`);
      else if (h.stage === 'done') {
        process.stdout.write(h.role === 'starter' ? `history received: ${h.added ?? 0} new item(s)\n` : `history sent to ${h.otherDevice.name}\n`);
        done();
      } else if (h.stage === 'failed') done(failure(h.reason, h.error));
    };
    link.on('verification', onView);
    link.on('history', onHistory);
    if (o.start !== undefined) {
      link.start(o.start, o.purpose).then(
        (v) => {
          attemptId = v.attemptId;
          process.stderr.write(`mimi: waiting for ${v.otherDevice.name} to accept (mimi device ${o.purpose === 'history' ? 'send-history' : 'verify --incoming'} there)\n`);
          waiting = setTimeout(() => {
            void link.answer(v.attemptId, 'cancel').catch(() => undefined);
            done(new Error(`${v.otherDevice.name} did not accept within ${o.waitS} s`));
          }, o.waitS * 1000);
        },
        (e) => done(e as Error),
      );
    } else {
      // Requests sent before this command started wait at the provider: listening fetches them.
      waiting = setTimeout(() => done(new Error(`no request came from another device within ${o.waitS} s`)), o.waitS * 1000);
    }
  });
}
