// Verifying the account's own devices by a short code, and handing the history to a new device
// (docs/device-transfer.md). The exchange itself is device-link-machine.ts (pure); this module
// carries its messages over the provider's device relay, keeps the time, remembers verified
// devices (profile-db migration 14) and runs the history transfer:
//
//   the new device (starter, purpose 'history') verifies the old one in the same attempt; the old
//   device asks its person "send the history?"; on yes it writes a one-shot snapshot of its whole
//   history in the backup format under a fresh random key (Backups.snapshot, same provider
//   storage, never the account's own backup or recovery key), relaying "n of total chunks" to the
//   new device, then sends that key sealed under the key only the two verified devices share
//   (SasResult.transferKey). The new device restores it (everything checked before anything is
//   stored: all or nothing), deletes the snapshot at the provider and says so.
//
// One attempt at a time per device: a second one (started here or asked for by another device)
// is refused. An attempt idle for longer than the timeout ends on both sides.

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { DeviceLinkFailure, DeviceVerificationAnswer, DeviceVerificationView, DeviceView, HistoryTransferView } from '../../src-shared/contract.js';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { openFromPeer, sealForPeer } from '../../src-shared/device-verification.js';
import { DEVICE_MESSAGE_TTL_MS, type DeviceMessage } from '../../src-shared/provider-api.js';
import type { Backups } from './backup.js';
import type { ProfileContext } from './context.js';
import { LinkAttempt, encodeWire, keyMismatches, parseWire, type FailReason, type LinkPurpose, type LinkWire } from './device-link-machine.js';
import { coreError, toCoreError } from './errors.js';

/** The provider routes the link uses (tests wrap it to play a relay that alters messages). */
export interface DeviceLinkRelay {
  send(deviceId: string, body: Uint8Array): Promise<unknown>;
  fetch(): Promise<DeviceMessage[]>;
  ack(ids: number[]): Promise<unknown>;
}

interface Other {
  deviceId: string;
  deviceUri: string;
  name: string;
}

type HistoryState =
  | { role: 'responder'; stage: 'confirm' | 'uploading' | 'waiting' | 'done' | 'failed'; key?: Uint8Array; done: number; total: number }
  | { role: 'starter'; stage: 'waiting' | 'uploading' | 'downloading' | 'done' | 'failed'; done: number; total: number };

interface Running {
  attempt: LinkAttempt;
  other: Other;
  timer?: NodeJS.Timeout;
  history?: HistoryState;
}

export interface DeviceLinkEvents {
  verification: [view: DeviceVerificationView];
  history: [view: HistoryTransferView];
}

/** MIMI_DEVICE_LINK_TIMEOUT_MS: a shorter idle timeout (tests); default the relay's 10 minutes. */
function timeoutFromEnv(): number {
  const n = Number(process.env.MIMI_DEVICE_LINK_TIMEOUT_MS);
  return Number.isInteger(n) && n >= 100 && n <= DEVICE_MESSAGE_TTL_MS ? n : DEVICE_MESSAGE_TTL_MS;
}

export class DeviceLink extends EventEmitter<DeviceLinkEvents> {
  relay: DeviceLinkRelay;
  timeoutMs = timeoutFromEnv();
  private current?: Running;
  /** Message handling runs one at a time, in the order fetched. */
  private chain: Promise<void> = Promise.resolve();
  private polling = false;
  private pollAgain = false;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly backups: Backups,
    /** The history was restored (the profile announces its new rooms and indexes them). */
    private readonly restored: () => void,
  ) {
    super();
    // Messages are fetched (and so deleted at the provider) only while someone can answer them:
    // the app always listens, a `mimi` command only while it runs a device command. A listener
    // that comes fetches what waits.
    (this as EventEmitter).on('newListener', (event: string) => {
      if (event === 'verification') queueMicrotask(() => void this.poll());
    });
    const client = ctx.client;
    this.relay = {
      send: (deviceId, body) => client.sendDeviceMessage(deviceId, body),
      fetch: () => client.deviceMessages(),
      ack: (ids) => client.ackDeviceMessages(ids),
    };
  }

  // ---- what the person does ----

  /** Start verifying `deviceId` (purpose 'history': then ask it for its history). */
  async start(deviceId: string, purpose: LinkPurpose = 'verify'): Promise<DeviceVerificationView> {
    if (this.current) throw coreError('invalidArgument', 'deviceLink.errors.busy', { name: this.current.other.name });
    const other = await this.device(deviceId);
    // Asked for meanwhile (the list took a moment).
    const meanwhile = this.current as Running | undefined;
    if (meanwhile) throw coreError('invalidArgument', 'deviceLink.errors.busy', { name: meanwhile.other.name });
    const { attempt, out } = LinkAttempt.start(this.self(), other.deviceUri, purpose);
    const run: Running = { attempt, other };
    this.current = run;
    this.touch(run);
    await this.send(run, [out]);
    return this.view(run);
  }

  async answer(attemptId: string, answer: DeviceVerificationAnswer): Promise<DeviceVerificationView> {
    const run = this.running(attemptId);
    const a = run.attempt;
    let out: LinkWire[];
    if (answer === 'cancel') {
      out = run.history && a.stage === 'verified' ? this.endHistory(run, 'cancelled') : a.fail('cancelled');
      if (run.history?.role === 'responder' && run.history.key) void this.backups.deleteSnapshot(run.history.key).catch(() => undefined);
    }
    else if (answer === 'accept') {
      if (a.stage !== 'incoming') throw coreError('invalidArgument', 'deviceLink.errors.notNow');
      out = a.accept();
    } else {
      if (a.stage !== 'compare') throw coreError('invalidArgument', 'deviceLink.errors.notNow');
      out = a.confirm(answer === 'match');
    }
    this.touch(run);
    await this.send(run, out);
    this.settle(run);
    return this.view(run);
  }

  /** The old device's person answers "send the history to <name>?". */
  async answerHistory(attemptId: string, send: boolean): Promise<void> {
    const run = this.running(attemptId);
    const h = run.history;
    if (!h || h.role !== 'responder' || h.stage !== 'confirm') throw coreError('invalidArgument', 'deviceLink.errors.notNow');
    if (!send) {
      await this.send(run, this.endHistory(run, 'refused'));
      return;
    }
    h.stage = 'uploading';
    this.emitHistory(run);
    void this.upload(run, h);
  }

  /** Device ids this device verified (their signature keys are remembered with them). */
  verifiedIds(): Set<string> {
    const prefix = this.devicePrefix();
    return new Set(this.ctx.db.verifiedDevices().filter((d) => d.deviceUri.startsWith(prefix)).map((d) => d.deviceUri.slice(prefix.length)));
  }

  /** Device URIs of this account differ only in their last segment, the device id. */
  private devicePrefix(): string {
    const own = this.ctx.config.deviceUri;
    return own.slice(0, own.lastIndexOf('/') + 1);
  }

  /**
   * The device list with `verified` set, and `keyMismatch` where a room holds a leaf under a
   * verified device's URI with another key than the one it proved (keyMismatches).
   */
  mark(devices: DeviceView[]): DeviceView[] {
    const ids = this.verifiedIds();
    const prefix = this.devicePrefix();
    const mismatched = keyMismatches(this.ctx.db.verifiedDevices(), this.ctx.sessions.joinedLeaves());
    return devices.map((d) => {
      if (d.current) return d;
      if (mismatched.has(prefix + d.deviceId)) return { ...d, verified: false, keyMismatch: true };
      return { ...d, verified: ids.has(d.deviceId) };
    });
  }

  /** Ends a running attempt (the profile closes). */
  stop(): void {
    if (this.current?.timer) clearTimeout(this.current.timer);
    this.current = undefined;
  }

  // ---- the relay ----

  /** A push notice: messages wait at the provider. */
  notice(topic: string): void {
    if (topic === 'deviceMessages') void this.poll();
  }

  /** Fetch and handle what waits at the provider (after a notice, and on every connect). */
  async poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        if (this.ctx.closed || this.listenerCount('verification') === 0) return;
        let messages: DeviceMessage[];
        try {
          messages = await this.relay.fetch();
        } catch {
          if (!this.pollAgain) return; // the next notice or connect fetches again
          continue;
        }
        // Nothing yet: a notice that came while this fetch was on its way (pollAgain) may be for a
        // message stored after the provider answered it, so look again rather than stop.
        if (messages.length === 0) continue;
        for (const m of messages) await this.enqueue(m);
        await this.relay.ack(messages.map((m) => m.id)).catch(() => undefined);
        if (messages.length >= 100) this.pollAgain = true;
      } while (this.pollAgain);
    } finally {
      this.polling = false;
    }
  }

  private enqueue(m: DeviceMessage): Promise<void> {
    this.chain = this.chain.then(() => this.handle(m)).catch((e) => {
      const err = toCoreError(e, { key: 'deviceLink.what.handle' });
      this.ctx.emit('error', err.message, err);
    });
    return this.chain;
  }

  private async handle(m: DeviceMessage): Promise<void> {
    const wire = parseWire(fromB64(m.body));
    if (!wire) return;
    const run = this.current;
    if (wire.t === 'start') {
      const other = { deviceId: m.fromDeviceId, deviceUri: m.fromDeviceUri, name: m.fromDeviceId };
      if (run && !(run.attempt.id === wire.a)) {
        // One at a time: the other device is told at once rather than left waiting.
        await this.relay.send(m.fromDeviceId, encodeWire({ t: 'cancel', a: wire.a, reason: 'busy' })).catch(() => undefined);
        return;
      }
      if (run) return; // the same start again
      const attempt = LinkAttempt.incoming(this.self(), m.fromDeviceUri, wire);
      if (!attempt) return;
      other.name = await this.nameOf(m.fromDeviceId);
      if (this.current) return;
      const fresh: Running = { attempt, other };
      this.current = fresh;
      this.touch(fresh);
      this.emitView(fresh);
      return;
    }
    // Anything else belongs to the running attempt, from the device it runs with.
    if (!run || run.attempt.id !== wire.a || run.other.deviceUri !== m.fromDeviceUri) return;
    this.touch(run);
    if (run.history && run.attempt.stage === 'verified') return this.handleHistory(run, wire);
    const before = run.attempt.stage;
    const out = run.attempt.receive(wire);
    await this.send(run, out);
    if (run.attempt.stage !== before || wire.t === 'accept') this.settle(run);
  }

  /** After a change of the attempt's stage: show it, remember a verified device, go on to the history. */
  private settle(run: Running): void {
    const a = run.attempt;
    if (a.stage === 'verified' && a.verifiedKey && !run.history) {
      this.ctx.db.setVerifiedDevice(run.other.deviceUri, a.verifiedKey, Date.now());
    }
    this.emitView(run);
    if (a.stage === 'verified' && a.purpose === 'history' && !run.history) {
      run.history = a.role === 'responder' ? { role: 'responder', stage: 'confirm', done: 0, total: 0 } : { role: 'starter', stage: 'waiting', done: 0, total: 0 };
      this.emitHistory(run);
      return;
    }
    if (a.ended && !run.history) this.finish(run);
  }

  // ---- the history ----

  /** The old device: snapshot, upload (progress relayed), then the key sealed for the new device. */
  private async upload(run: Running, h: Extract<HistoryState, { role: 'responder' }>): Promise<void> {
    const key = new Uint8Array(randomBytes(32));
    h.key = key;
    try {
      let last = 0;
      await this.backups.snapshot(key, (done, total) => {
        if (this.current !== run || h.stage !== 'uploading') throw coreError('internal', 'deviceLink.errors.cancelledMeanwhile');
        h.done = done;
        h.total = total;
        this.touch(run);
        this.emitHistory(run);
        // Relayed at most every 250 ms (and the last one), so a long history does not flood the relay.
        const now = Date.now();
        if (done === total || now - last >= 250) {
          last = now;
          void this.relay.send(run.other.deviceId, encodeWire({ t: 'progress', a: run.attempt.id, done, total })).catch(() => undefined);
        }
      });
      if (this.current !== run || h.stage !== 'uploading') throw coreError('internal', 'deviceLink.errors.cancelledMeanwhile');
      const box = sealForPeer(run.attempt.transferKey!, `history ${run.attempt.id}`, key);
      h.stage = 'waiting';
      await this.send(run, [{ t: 'history', a: run.attempt.id, box: toB64(box) }]);
      this.emitHistory(run);
    } catch (e) {
      if (this.current === run && h.stage !== 'failed') await this.send(run, this.endHistory(run, 'failed', e)).catch(() => undefined);
      await this.backups.deleteSnapshot(key).catch(() => undefined);
    }
  }

  private async handleHistory(run: Running, wire: LinkWire): Promise<void> {
    const h = run.history!;
    if (wire.t === 'cancel') {
      if (h.role === 'responder' && h.key) await this.backups.deleteSnapshot(h.key).catch(() => undefined);
      this.endHistory(run, wire.reason);
      return;
    }
    if (h.role === 'responder') {
      if (wire.t === 'received' && h.stage === 'waiting') {
        h.stage = 'done';
        this.emitHistory(run);
        this.finish(run);
      }
      return;
    }
    if (wire.t === 'progress' && (h.stage === 'waiting' || h.stage === 'uploading')) {
      h.stage = 'uploading';
      h.done = wire.done;
      h.total = wire.total;
      this.emitHistory(run);
      return;
    }
    if (wire.t === 'history' && (h.stage === 'waiting' || h.stage === 'uploading')) {
      let key: Uint8Array;
      try {
        key = openFromPeer(run.attempt.transferKey!, `history ${run.attempt.id}`, fromB64(wire.box));
      } catch (e) {
        await this.send(run, this.endHistory(run, 'tampered', e)).catch(() => undefined);
        return;
      }
      h.stage = 'downloading';
      h.done = 0;
      h.total = 0;
      this.emitHistory(run);
      // Restoring takes a while: the attempt's messages wait no longer than the restore does.
      void this.download(run, h, key);
    }
  }

  /** The new device: fetch, check and store everything (all or nothing), then delete the snapshot. */
  private async download(run: Running, h: Extract<HistoryState, { role: 'starter' }>, key: Uint8Array): Promise<void> {
    let added = 0;
    try {
      const r = await this.backups.restoreSnapshot(key, (p) => {
        if (p.phase !== 'check') return;
        h.done = p.index;
        h.total = p.of + 1; // and the manifest, as on the other device
        this.touch(run);
        this.emitHistory(run);
      });
      added = r.added;
    } catch (e) {
      await this.backups.deleteSnapshot(key).catch(() => undefined);
      if (this.current === run) await this.send(run, this.endHistory(run, 'failed', e)).catch(() => undefined);
      return;
    }
    await this.backups.deleteSnapshot(key).catch(() => undefined);
    this.restored();
    if (this.current !== run) return;
    h.stage = 'done';
    h.done = h.total = Math.max(h.total, 1);
    this.emitHistory(run, { added });
    await this.send(run, [{ t: 'received', a: run.attempt.id }]).catch(() => undefined);
    this.finish(run);
  }

  /** Ends the history part (and the attempt) on this side; returns the cancel for the other side. */
  private endHistory(run: Running, reason: FailReason, error?: unknown): LinkWire[] {
    const h = run.history;
    if (!h || h.stage === 'done' || h.stage === 'failed') return [];
    h.stage = 'failed';
    const text = error === undefined ? undefined : toCoreError(error, { key: 'deviceLink.what.transfer' }).message;
    this.emitHistory(run, { reason, ...(text ? { error: text } : {}) });
    this.finish(run);
    return [{ t: 'cancel', a: run.attempt.id, reason }];
  }

  // ---- plumbing ----

  private self() {
    return { deviceUri: this.ctx.config.deviceUri, signatureKey: this.ctx.keys.signaturePublicKey };
  }

  private running(attemptId: string): Running {
    const run = this.current;
    if (!run || run.attempt.id !== attemptId) throw coreError('invalidArgument', 'deviceLink.errors.noAttempt');
    return run;
  }

  /** Another device of this account, by id; this device or an unknown id is refused. */
  private async device(deviceId: string): Promise<Other> {
    let list;
    try {
      list = await this.ctx.client.listDevices();
    } catch (e) {
      throw toCoreError(e, { key: 'deviceLink.what.list' });
    }
    const d = list.find((x) => x.deviceId === deviceId);
    if (!d) throw coreError('invalidArgument', 'deviceLink.errors.noSuchDevice');
    if (d.current) throw coreError('invalidArgument', 'deviceLink.errors.thisDevice');
    return { deviceId: d.deviceId, deviceUri: d.deviceUri, name: d.name };
  }

  private async nameOf(deviceId: string): Promise<string> {
    try {
      return (await this.ctx.client.listDevices()).find((d) => d.deviceId === deviceId)?.name ?? deviceId;
    } catch {
      return deviceId;
    }
  }

  /** Sends the machine's messages; a relay that cannot take them ends the attempt here. */
  private async send(run: Running, out: LinkWire[]): Promise<void> {
    for (const w of out) {
      try {
        await this.relay.send(run.other.deviceId, encodeWire(w));
      } catch (e) {
        if (w.t === 'cancel') continue; // ending anyway
        if (!run.attempt.ended) run.attempt.fail('failed');
        else this.endHistory(run, 'failed', e);
        this.settle(run);
        throw toCoreError(e, { key: 'deviceLink.what.send', params: { name: run.other.name } });
      }
    }
  }

  /** (Re)starts the idle timer: an attempt nothing happens in for timeoutMs ends on both sides. */
  private touch(run: Running): void {
    if (run.timer) clearTimeout(run.timer);
    run.timer = setTimeout(() => {
      if (this.current !== run) return;
      const out = run.history && run.attempt.stage === 'verified' ? this.endHistory(run, 'timeout') : run.attempt.fail('timeout');
      if (!run.history) this.settle(run);
      void this.send(run, out).catch(() => undefined);
      if (run.history?.role === 'responder' && run.history.key) void this.backups.deleteSnapshot(run.history.key).catch(() => undefined);
    }, this.timeoutMs);
    run.timer.unref?.();
  }

  private finish(run: Running): void {
    if (run.timer) clearTimeout(run.timer);
    if (this.current === run) this.current = undefined;
  }

  private view(run: Running): DeviceVerificationView {
    const a = run.attempt;
    return {
      attemptId: a.id,
      otherDevice: { deviceId: run.other.deviceId, name: run.other.name },
      role: a.role,
      purpose: a.purpose,
      stage: a.stage,
      ...(a.digits ? { digits: a.digits } : {}),
      ...(a.reason ? { reason: a.reason as DeviceLinkFailure } : {}),
    };
  }

  private emitView(run: Running): void {
    this.emit('verification', this.view(run));
  }

  private emitHistory(run: Running, extra: Partial<HistoryTransferView> = {}): void {
    const h = run.history!;
    this.emit('history', {
      attemptId: run.attempt.id,
      otherDevice: { deviceId: run.other.deviceId, name: run.other.name },
      role: h.role,
      stage: h.stage,
      done: h.done,
      total: h.total,
      ...extra,
    });
  }
}
