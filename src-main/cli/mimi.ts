// `mimi`: the app's core without a window, for scripted and manual interop testing.
// The command set is a stable interface (scripts depend on it): add commands, don't change these.

import fs from 'node:fs';
import path from 'node:path';
import { CoreError, REPORT_REASONS, ROOM_PRESETS, type MessageView, type Optionality, type ConsentGrantedView, type JoinLinkArgs, type RoomMetadataArgs, type RoomPreset } from '../../src-shared/contract.js';
import { toHex } from '../../src-shared/bytes.js';
import { contentFromJson, contentToJson, decodeContent, encodeContent, messageId, type Json } from '../../src-shared/content.js';
import { displayUser, isValidDomain, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { formatJoinLink } from '../../src-shared/join-link.js';
import { createMlsEngine } from '../mls/ts-mls-engine.js';
import { parseSecretMode, type SecretMode } from '../secrets/secret-store.js';
import { cliPassphrase, PASSPHRASE_ENV } from './passphrase-prompt.js';
import { passphraseCommand } from './passphrase-command.js';
import { deviceLinkCommand } from './device-link-command.js';
import { interopCommand } from '../interop/command.js';
import { Profile } from '../core/profile.js';
import { isSignedOut, markSignedOut, reopenKept } from '../core/devices.js';
import { openAccount, readAccountConfig } from '../core/account-files.js';
import { coreError } from '../core/errors.js';
import type { DeviceView } from '../../src-shared/contract.js';
import { avatarProblem, pngDataUrl } from '../../src-shared/member-profile.js';
import { PROFILE_FIELDS, type FindRequest, type ProfileFieldName } from '../../src-shared/provider-api.js';
import { parseDomainList } from '../../src-shared/connection-request-policy.js';
import { UsageError, arity, need, noFlags, parseArgs, type Parsed } from './args.js';
import {
  checkJoinPassphrase,
  checkLinkId,
  checkNewPassphrase,
  checkNote,
  describeLink,
  incomingKnocksTable,
  joinTarget,
  knockOfRoom,
  linkExitCode,
  linksTable,
  newKnock,
  oneLine,
  outgoingKnocksTable,
  parseDuration,
  parseLinkArg,
  parseUses,
  resolveRoleArg,
  who,
} from './link-args.js';

const USAGE = `usage:
  mimi content decode FILE.cbor          print the message as JSON with its message ID
  mimi content encode FILE.json          write deterministic CBOR to stdout
  mimi interop check URL [--ca PEM] [--cert PEM --key PEM] [--as DOMAIN] [--domain DOMAIN] [--room URI --user URI]
                    [--group-id HEX] [--only PREFIX,...] [--timeout S] [--json]   probe another MIMI provider black-box
                          (draft-ietf-mimi-protocol-06): per probe what the draft requires, what came back and
                          PASS/FAIL/WARN/SKIP (docs/interop-check.md); exit 1 when any probe FAILs
  mimi interop vectors [--check] DIR     write (or check) the MIMI wire-format test vectors in DIR
  mimi --profile DIR register --provider URL [--ca PEM] --handle NAME --password PW [--device-name NAME]
  mimi --profile DIR login    --provider URL [--ca PEM] --handle NAME --password PW [--device-name NAME]
  mimi --profile DIR create-room NAME [--preset cooperative|moderated|administered] [--minimal-metadata]
                          prints the room URI; administered: only admins add people, anyone with a
                          join link joins; --minimal-metadata: members appear as pseudonyms, identities
                          are verified inside
  mimi --profile DIR rooms                one room per line: URI, name, members
  mimi --profile DIR add ROOM USER        USER as bob, bob@b.example or mimi://b.example/u/bob
  mimi --profile DIR leave ROOM           propose removing this account's devices; a member commits it
  mimi --profile DIR ohttp forget DOMAIN  forget the provider key recorded for DOMAIN's private KeyPackage requests
                          (only after its operator confirmed replacing it); the next add records the new one
  mimi --profile DIR join ROOM-URI        join by the room's link (participants only, e.g. after a kick)
  mimi --profile DIR join LINK [--passphrase P] [--as-pseudonym]   join by a join link (mimi://…?code=…);
                          prints the room URI; --as-pseudonym: take part as a pseudonym of the pool
  mimi --profile DIR remove ROOM USER     take USER off the participant list, clients and all
  mimi --profile DIR report ROOM USER [--note TEXT]   report USER to the room's hub (needs canReportAbuse)
  mimi --profile DIR report ROOM --message ID[,ID...] [--reason spam|harassment|hate|illegal|other] [--note TEXT]
                                              report messages of one sender, with the hub's franks (it verifies them)
  mimi --profile DIR delete-account --yes delete the account; hubs remove its devices from rooms
  mimi --profile DIR devices              the account's devices: ID, name, added, last seen, "this" for this one ("-" for the others)
  mimi --profile DIR device rename ID NAME   a new name (1-64 printable characters) for one of them
  mimi --profile DIR device remove ID     sign another device out: it leaves every room, also on other providers
  mimi --profile DIR device verify ID [--yes] [--timeout S]   compare a 12-digit code with another device of the account; prints
                          the digits and asks "Do the digits match? [y/N]" (--yes: compared another way)
  mimi --profile DIR device verify --incoming [--yes] [--timeout S]   wait for another device's request and answer it
  mimi --profile DIR device history-from ID [--yes] [--timeout S]   on a new device: verify ID, then receive its history
  mimi --profile DIR device send-history [--yes] [--timeout S]   on the old device: wait for the new one's request,
                          verify, and send this device's history (asked again before sending; --yes answers both)
  mimi --profile DIR logout --keep-data|--remove-device   --keep-data: this device stays registered and DIR keeps
                          the history (login with the same account opens it again); --remove-device: this
                          device leaves every room and DIR is deleted
  mimi --profile DIR passphrase           a new passphrase for a passphrase profile: the current one from
                          ${PASSPHRASE_ENV}, the new one from MIMI_NEW_PASSPHRASE, or both asked in a terminal
  mimi --profile DIR send ROOM TEXT
  mimi --profile DIR reply ROOM MSGID TEXT          answer a message (quoted); MSGID as tail --ids prints it
  mimi --profile DIR react ROOM MSGID EMOJI [--remove]   react to a message, or withdraw your reaction
  mimi --profile DIR edit ROOM MSGID TEXT           change the text of a message of yours (history kept)
  mimi --profile DIR send ROOM --file PATH [--type MEDIA/TYPE]   encrypt PATH, upload it to your provider, send it
  mimi --profile DIR download ROOM MSGID [--out DIR]   save a message's attachment, decrypted, in DIR (default .)
  mimi --profile DIR delete ROOM MSGID              retract a message of yours (shown as "message deleted")
  mimi --profile DIR receipts ROOM MSGID  who reported a message of yours delivered or read: STATUS<TAB>USER lines
  mimi --profile DIR privacy [--delivery-receipts on|off] [--read-receipts on|off] [--typing on|off]
                          this account's switches (JSON; all on by default); off: none sent, none of others' shown
  mimi --profile DIR room-receipts ROOM [--delivery optional|required|forbidden] [--read optional|required|forbidden]
                          the room's receipt policy (JSON); with a flag, change it (needs canChangeOtherPolicyAttribute
                          or canChangeRoleDefinitions)
  mimi --profile DIR room-state ROOM      JSON: metadata, participants with roles, roles, encoded components (hex)
  mimi --profile DIR room-set ROOM [--name N] [--description D] [--avatar URL] [--subject S]   '' clears
  mimi --profile DIR role ROOM USER ROLE  ROLE: a role name (group_admin, ordinary_user, ...) or index
  mimi --profile DIR kick|ban|unban ROOM USER
  mimi --profile DIR tail ROOM --count N --timeout S [--ids] [--receipts]   the newest N messages, oldest first; the
                          room's events among them as "* alice added bob" lines; --receipts: on your own
                          messages, how many read and have them ("read 1/2; delivered 2/2")
  mimi --profile DIR dm USER [TEXT]       the direct chat with USER (made if there is none; adding them
                          asks for consent where needed); prints the room URI, then sends TEXT there
  mimi --profile DIR search WORDS [--room ROOM] [--limit N] [--ids]   messages with a word starting with
                          each of WORDS, newest first: time, room, sender, text around the match
  mimi --profile DIR consent list         JSON: incoming requests, granted, blocked, outgoing with outcome
  mimi --profile DIR consent request|cancel USER [--room ROOM]   ask USER (another provider) for consent
  mimi --profile DIR consent grant|revoke USER [--room ROOM]     let USER add me (to every room, or ROOM)
  mimi --profile DIR consent decline|block|unblock USER
  mimi --profile DIR find [--handle H] [--nick N] [--email E] [--phone P] [--name PART] [--domain D]
                          [--limit N] [--cursor C]    JSON: status, results, nextCursor (fields ANDed)
  mimi --profile DIR searchable FIELD on|off   FIELD: handle, nick, email, phone, name (default: handle only)
  mimi --profile DIR profile show|set FIELD VALUE|clear FIELD   FIELD: nick, email, phone, name
  mimi --profile DIR avatar PATH|--remove   your picture: a PNG of at most 96×96 pixels and 48 KiB, shown
                          with your display name to the members of your rooms (never where you are a pseudonym)
  mimi --profile DIR members ROOM         one participant per line: user, role, the display name they share there
  mimi --profile DIR verify USER [--mark|--clear|--qr|--compare B64]   the safety number with USER (12 groups of 5
                          digits on 3 lines), whether you verified them (unverified, verified, changed) and from how
                          many shared rooms; --mark / --clear: mark them verified or not; --qr: print only what the
                          QR code carries (base64); --compare B64: compare their code (a match marks them verified)
  mimi --profile DIR pseudonyms [--refill N] [--retire P]   JSON: the pseudonym pool (each pseudonym's state and rooms)
  mimi --profile DIR connect USER         ask USER to connect (connection flow under pseudonyms); prints the request id
  mimi --profile DIR connections          JSON: incoming and outgoing connection requests with their state
  mimi --profile DIR accept|decline REQUEST   answer an incoming request (REQUEST: its id from connections)
  mimi --profile DIR connection-requests  JSON: who may send you connection requests (mode, domains)
  mimi --profile DIR connection-requests anyone|nobody|from DOMAIN [DOMAIN ...]   set it (default anyone);
                          from: only pseudonyms of these providers; a refused request fails as noConsent
  mimi --profile DIR link create ROOM [--uses N] [--expires DURATION] [--passphrase P] [--role R]
                          make a join link: prints the link, then its id, uses, expiry and role;
                          DURATION: 30m, 2h, 7d, 3600s (1 minute to 366 days); R: role name or index
  mimi --profile DIR link list ROOM       the room's join links: id, state, uses left/max, expiry, passphrase,
                          role, who made it, and the link (known only on the device that made it)
  mimi --profile DIR link revoke ROOM ID  nobody can join with that link any more
  mimi --profile DIR knock-room create ROOM   prints the room's knock link (anyone with it may ask to join)
  mimi --profile DIR knock LINK [--note TEXT] [--as-pseudonym]   ask the admins to let you in
  mimi --profile DIR knocks [ROOM]        knocks on your rooms (id, room, from, when, state, note) and your own
  mimi --profile DIR admit|reject ROOM KNOCK   answer a knock on ROOM (KNOCK: its id from knocks)
  mimi --profile DIR backup status       the last backup from this device: when, messages, size, generation
  mimi --profile DIR backup create [--full]   encrypted backup of this account's history at its provider: only
                          what is new since the last one (--full: all of it, anew); the first one prints the
                          recovery key, once: write it down
  mimi --profile DIR backup restore --recovery-key K   (or MIMI_RECOVERY_KEY) rooms and messages from the backup,
                          on a new device of the account; all of it is checked before anything is stored
  mimi --profile DIR export ROOM DIR      messages.json, messages.html and attachments/ in DIR (new or empty)
options: --secrets keychain|safeStorage|passphrase|plaintext (or MIMI_SECRETS; default keychain);
         passphrase: the profile's secrets are encrypted under a passphrase, read from ${PASSPHRASE_ENV}
         or asked for in the terminal (when registering, and by every later command)
ROOM is a room URI or a room's unique name.
exit codes: 0 done; 1 error, the message says why, e.g. noConsent (the user to add has not consented)
            or notAllowed (the room's policy forbids it; the message names the missing capability);
            2 usage; 3 (send, reply, react, edit, delete, knock) queued: the message or knock is stored in this profile's
            outbox but the provider has not accepted it yet; the next mimi command (or the app)
            on this profile sends it, once; 4 (join LINK, knock) the link was refused
            (linkRefused: unknown, expired, used up or revoked; the message says which) or it
            needs a passphrase and none or a wrong one was given (passphraseRequired).`;

/** `send`, `knock`: it is in the outbox, not yet accepted by the provider. (Exit 4, a refused link: link-args.ts.) */
const EXIT_QUEUED = 3;
/** How long `send`, and any command that finds queued messages, waits for the provider to take them. */
const DELIVERY_WAIT_MS = 15000;

/** The message is safe in the outbox; the provider just did not take it yet (exit 3). */
class QueuedError extends Error {}

function secretMode(p: Parsed): SecretMode | undefined {
  const v = p.flags.get('secrets') ?? process.env.MIMI_SECRETS;
  if (v === undefined) return undefined;
  try {
    return parseSecretMode(v);
  } catch {
    throw new UsageError('--secrets must be keychain, safeStorage, passphrase or plaintext');
  }
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch {
    throw new CoreError('invalidArgument', `cannot read ${file}`);
  }
}

async function contentCommand(args: string[]): Promise<void> {
  const [sub, file] = args;
  if (args.length !== 2 || (sub !== 'decode' && sub !== 'encode')) throw new UsageError('content takes decode FILE.cbor or encode FILE.json');
  if (sub === 'decode') {
    const bytes = new Uint8Array(readFile(file));
    const content = decodeContent(bytes);
    process.stdout.write(JSON.stringify({ messageId: toHex(messageId(bytes)), content: contentToJson(content) }, null, 2) + '\n');
  } else {
    let json: unknown;
    try {
      json = JSON.parse(readFile(file).toString('utf8'));
    } catch {
      throw new CoreError('invalidArgument', `${file} is not JSON`);
    }
    // Accept both the bare content and the {messageId, content} form `decode` prints.
    const body = json && typeof json === 'object' && 'content' in json && 'messageId' in json ? (json as { content: unknown }).content : json;
    process.stdout.write(encodeContent(contentFromJson(body as Json)));
  }
}

/** MIMI_BOOTSTRAP_DESTROY_DELAY_MS=MIN-MAX: when a connection's bootstrap room goes (tests, demos). */
function destroyDelay(): readonly [number, number] | undefined {
  const v = process.env.MIMI_BOOTSTRAP_DESTROY_DELAY_MS;
  if (v === undefined) return undefined;
  const m = /^(\d{1,9})-(\d{1,9})$/.exec(v);
  if (!m || Number(m[1]) > Number(m[2])) throw new UsageError('MIMI_BOOTSTRAP_DESTROY_DELAY_MS must be MIN-MAX in milliseconds, e.g. 60000-600000');
  return [Number(m[1]), Number(m[2])];
}

async function openProfile(p: Parsed): Promise<Profile> {
  const dir = path.resolve(need(p, 'profile'));
  if (isSignedOut(dir)) throw coreError('noAccount', 'devices.errors.signedOutHere', { dir, handle: readAccountConfig(dir).handle });
  // The passphrase is asked for only if the profile turns out to be a passphrase profile.
  const profile = await Profile.open(dir, { engine: await createMlsEngine(), secretMode: secretMode(p), passphrase: cliPassphrase(false), bootstrapDestroyDelayMs: destroyDelay() });
  // Problems with one event (a message that does not decrypt, ...) are reported, not fatal.
  profile.on('error', (message: string) => process.stderr.write(`mimi: warning: ${message}\n`));
  return profile;
}

/**
 * Where a command is, for the report a SIGUSR2 asks for (bin/mimi.mjs listens): a run that never
 * ends (seen rarely in the test suite, a `tail` past its own --timeout) then names the step it is
 * stuck in.
 */
function at(step: string): void {
  (globalThis as Record<symbol, unknown>)[Symbol.for('mimi.cli.phase')] = step;
}

async function withProfile<T>(p: Parsed, fn: (profile: Profile) => Promise<T>): Promise<T> {
  at('opening the profile');
  const profile = await openProfile(p);
  const waiting = profile.queuedMessages(); // the pump starts sending them as soon as we are online
  profile.on('consentGranted', tellGrant);
  try {
    at('starting the profile (connecting)');
    await profile.start();
    at('running the command');
    const result = await fn(profile);
    at('delivering queued messages');
    await deliverQueued(profile, waiting);
    // The profile goes to rooms whose members changed, or everywhere after a change of it, now:
    // a command's process does not live to the app's debounced share.
    at('sharing the profile');
    if (profile.shareProfile() > 0) await profile.flushOutbox(DELIVERY_WAIT_MS).catch(() => undefined);
    at('sending receipts');
    await sendReceipts(profile);
    // Answers to our consent requests that came since the last command: told once, on stderr
    // (stdout stays the command's own output). No answer from the provider here is no news.
    at('reading consent answers');
    await profile.consentList().catch(() => undefined);
    at('running due work');
    await profile.runDueWork(); // e.g. a connection's bootstrap room whose time has come
    return result;
  } finally {
    at('closing the profile');
    await profile.close();
    at('exiting');
  }
}

/**
 * Delivery receipts for what this command received go now, not at the next command. A command
 * that closed the profile itself (delete-account) has nothing left to send.
 */
async function sendReceipts(profile: Profile): Promise<void> {
  if (profile.isClosed) return;
  const before = profile.queuedMessages();
  await profile.flushReceipts();
  if (profile.queuedMessages() > before) await profile.flushOutbox(3000).catch(() => undefined);
}

/** "mimi: bob@b.example accepted your request: you can now add them to “Team”. (mimi add ROOM bob@b.example)" */
function tellGrant(g: ConsentGrantedView): void {
  const how = g.roomUri ? `mimi add ${g.roomUri} ${displayUser(g.user)}` : `mimi add ROOM ${displayUser(g.user)}`;
  process.stderr.write(`mimi: ${g.text} (${how})\n`);
}

/**
 * Messages an earlier `send` left in the outbox go out with whatever command runs next on the
 * profile, not only when the app is opened. The provider deduplicates by request id, so a message
 * whose answer was lost before is still delivered once.
 */
async function deliverQueued(profile: Profile, waiting: number): Promise<void> {
  if (waiting === 0) return;
  try {
    await profile.flushOutbox(DELIVERY_WAIT_MS);
    process.stderr.write(`mimi: sent ${waiting} message(s) that were waiting in the outbox\n`);
  } catch (e) {
    process.stderr.write(`mimi: warning: ${(e as Error).message} They stay queued for the next mimi command or the app.\n`);
  }
}

/**
 * `send`: the message goes into the profile's outbox (its database) before anything waits on the
 * network, so a provider that is down or slow costs nothing but time: exit 3 says it is queued.
 */
async function sendCommand(p: Parsed, roomRef: string, text: string): Promise<void> {
  const profile = await openProfile(p);
  let refusal: string | undefined;
  profile.on('error', (message: string) => (refusal = message));
  try {
    let roomUri: string;
    try {
      roomUri = profile.resolveRoom(roomRef);
    } catch (e) {
      if (!(e instanceof CoreError && e.code === 'roomUnknown')) throw e;
      await profile.start(DELIVERY_WAIT_MS); // the Welcome into it may still be on its way
      roomUri = profile.resolveRoom(roomRef);
    }
    const queued = await profile.send(roomUri, text);
    const deadline = Date.now() + DELIVERY_WAIT_MS;
    try {
      await profile.start(DELIVERY_WAIT_MS);
      await profile.flushOutbox(Math.max(1000, deadline - Date.now()));
    } catch (e) {
      if (!(e instanceof CoreError && e.code === 'providerUnreachable')) throw e;
      throw new QueuedError(
        `the provider did not accept the message in time (${e.message}) It is queued in this profile's outbox and will be sent, once, by the next mimi command on this profile or by the app.`,
      );
    }
    // A refused message keeps the time it was written, so it is among the newest in the timeline.
    const sent = profile.page(roomUri, null, 500).find((m) => m.seq === queued.seq);
    if (sent?.status === 'failed') throw new CoreError('internal', refusal ?? 'The provider refused the message; it was not sent.');
  } finally {
    await profile.close();
  }
}

/**
 * `send ROOM --file PATH`: the file is encrypted and uploaded to this account's provider first (it
 * must be reachable: a file is not kept in the outbox), then the message carrying its key goes the
 * way of any message (exit 3 when the provider does not take it in time).
 */
async function sendFileCommand(p: Parsed, roomRef: string, file: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new CoreError('invalidArgument', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give the path of a readable file`);
  }
  const contentType = p.flags.get('type') ?? '';
  await messageActionCommand(p, roomRef, (profile, roomUri) =>
    profile.sendFile(roomUri, { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), filename: path.basename(file), contentType }),
  );
}

/** `download ROOM MSGID [--out DIR]`: the attachment, decrypted, saved in DIR under its own name (never over a file). */
async function downloadCommand(p: Parsed, roomRef: string, id: string, outDir: string): Promise<void> {
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) throw new UsageError(`--out ${outDir} is not a directory`);
  const saved = await withProfile(p, async (profile) => {
    const file = await profile.openAttachment(profile.resolveRoom(roomRef), id);
    const ext = path.extname(file.filename);
    const stem = file.filename.slice(0, file.filename.length - ext.length);
    for (let n = 0; n < 1000; n++) {
      const target = path.join(outDir, n === 0 ? file.filename : `${stem} (${n})${ext}`);
      try {
        fs.writeFileSync(target, file.bytes, { flag: 'wx', mode: 0o600 });
        return target;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CoreError('invalidArgument', `cannot write ${target}: ${(e as Error).message}`);
      }
    }
    throw new CoreError('invalidArgument', `${outDir} already has 1000 files named like ${file.filename}: choose another --out`);
  });
  process.stdout.write(`${saved}
`);
}

/** A message id as `tail --ids` prints it (64 hex digits). */
function messageIdArg(v: string): string {
  const id = v.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new UsageError(`MSGID must be a message id (64 hex digits) as mimi tail ROOM --count N --timeout S --ids prints it, not "${v.slice(0, 80)}"`);
  return id;
}

/**
 * reply, react, edit, delete: like `send`, the action goes into the outbox before anything waits
 * on the network (exit 3 when the provider does not take it in time; the next command sends it).
 * The profile first catches up with the room, so the message acted on is known here.
 */
async function messageActionCommand(p: Parsed, roomRef: string, act: (profile: Profile, roomUri: string) => Promise<unknown>): Promise<void> {
  const profile = await openProfile(p);
  let refusal: string | undefined;
  profile.on('error', (message: string) => (refusal = message));
  try {
    try {
      await profile.start(DELIVERY_WAIT_MS);
    } catch (e) {
      // Offline: act on what this device already has; the outbox keeps the action.
      if (!(e instanceof CoreError && e.code === 'providerUnreachable')) throw e;
    }
    const roomUri = profile.resolveRoom(roomRef);
    await act(profile, roomUri);
    try {
      await profile.flushOutbox(DELIVERY_WAIT_MS);
    } catch (e) {
      if (!(e instanceof CoreError && e.code === 'providerUnreachable')) throw e;
      throw new QueuedError(
        `the provider did not accept it in time (${e.message}) It is queued in this profile's outbox and will be sent, once, by the next mimi command on this profile or by the app.`,
      );
    }
    if (refusal) throw new CoreError('internal', `${refusal} Nothing changed for the others in the room.`);
  } finally {
    await profile.close();
  }
}

/**
 * `verify USER`: the safety number as two people read it aloud (3 lines of 4 groups), then the
 * state and the rooms it comes from; --mark/--clear change the mark, --qr prints the code's
 * payload, --compare checks the other side's (exit 1 unless it matches).
 */
async function verifyCommand(p: Parsed, user: string): Promise<void> {
  const modes = ['mark', 'clear', 'qr', 'compare'].filter((f) => p.flags.has(f));
  if (modes.length > 1) throw new UsageError(`verify takes one of --mark, --clear, --qr, --compare, not ${modes.map((m) => `--${m}`).join(' and ')}`);
  await withProfile(p, async (profile) => {
    const scanned = p.flags.get('compare');
    if (scanned !== undefined) {
      const result = profile.compareSafetyNumberQr(user, scanned.trim());
      process.stdout.write(`${result}\n`);
      if (result !== 'match') throw new CoreError('invalidArgument', `the codes do not match (${result}): do not mark ${user} verified`);
      return;
    }
    const view = p.flags.has('mark') || p.flags.has('clear') ? profile.setVerified(user, p.flags.has('mark')) : profile.safetyNumber(user);
    if (p.flags.has('qr')) {
      process.stdout.write(`${view.qr}\n`);
      return;
    }
    for (let i = 0; i < view.groups.length; i += 4) process.stdout.write(`${view.groups.slice(i, i + 4).join(' ')}\n`);
    process.stdout.write(`state\t${view.state}\nshared rooms\t${view.sharedRooms}\n`);
  });
}

/** What `tail` adds after a message's text (one more tab-separated column, only when there is any). */
function tailNotes(m: MessageView, receipts = false): string {
  const notes: string[] = [];
  if (m.replyTo) notes.push(`reply to ${m.replyTo.messageId.slice(0, 12)}`);
  if (m.edited) notes.push('edited');
  if (m.reactions?.length) notes.push(`reactions ${m.reactions.map((r) => `${r.emoji} ${r.count}`).join(' ')}`);
  // Our own messages: how far they got ("read 1/2", "delivered 2/2"), as the ticks in the app.
  if (receipts && m.receipts && m.receipts.of > 0) {
    const { read, delivered, of } = m.receipts;
    if (read.length) notes.push(`read ${read.length}/${of}`);
    // Read implies delivered: "delivered" only when it says more than "read".
    if (delivered.length) notes.push(`delivered ${delivered.length + read.length}/${of}`);
  }
  return notes.length ? `\t${notes.join('; ')}` : '';
}

async function main(argv: string[]): Promise<void> {
  // interop subcommands take their own options (src-main/interop/command.ts).
  if (argv[0] === 'interop') return interopCommand(argv.slice(1));
  const p = parseArgs(argv);
  const [cmd, ...args] = p.positional;
  switch (cmd) {
    case 'content':
      return contentCommand(args);
    case 'register':
    case 'login': {
      arity(args, 0, cmd);
      const dir = path.resolve(need(p, 'profile'));
      const caFile = p.flags.get('ca');
      const details = {
        providerUrl: need(p, 'provider'),
        caPem: caFile ? readFile(caFile).toString('utf8') : undefined,
        handle: need(p, 'handle'),
        password: need(p, 'password'),
        deviceName: p.flags.get('device-name') ?? 'mimi command line',
      };
      const engine = await createMlsEngine();
      const mode = secretMode(p);
      // Asked before the handle is taken at the provider, so a refused passphrase leaves nothing behind.
      const passphrase = mode === 'passphrase' ? await cliPassphrase(true)() : undefined;
      const opts = { engine, secretMode: mode, passphrase };
      at(cmd === 'register' ? 'registering' : 'signing in');
      const profile = cmd === 'login' && isSignedOut(dir) ? await loginAgain(dir, details, opts) : cmd === 'register' ? await Profile.register(dir, details, opts) : await Profile.login(dir, details, opts);
      try {
        if (cmd === 'login') {
          // Joins the account's rooms as this new device. The sign-in itself is done either way: if
          // the provider is slow now, the next command on this profile joins them (never "try again":
          // a second login into the same folder is refused).
          await profile.start().catch((e: unknown) => {
            if (!(e instanceof CoreError && e.code === 'providerUnreachable')) throw e;
            process.stderr.write(`mimi: warning: signed in, but the account's rooms are not joined yet (${e.message}) The next mimi command on this profile joins them.\n`);
          });
        }
        process.stdout.write(`${profile.config.userUri}\t${profile.config.deviceUri}\n`);
      } finally {
        at('closing the profile');
        await profile.close();
        at('exiting');
      }
      return;
    }
    case 'create-room': {
      arity(args, 1, cmd);
      const preset = p.flags.get('preset') ?? 'cooperative';
      if (!(ROOM_PRESETS as readonly string[]).includes(preset)) throw new UsageError(`--preset must be one of ${ROOM_PRESETS.join(', ')}`);
      return withProfile(p, async (profile) => {
        const room = p.flags.has('minimal-metadata') ? await profile.createMinimalMetadataRoom(args[0], preset as RoomPreset) : await profile.createRoom(args[0], preset as RoomPreset);
        process.stdout.write(room.roomUri + '\n');
      });
    }
    case 'rooms':
      arity(args, 0, cmd);
      return withProfile(p, async (profile) => {
        for (const r of profile.rooms()) process.stdout.write(`${r.roomUri}\t${r.name}\t${r.members.map(displayUser).join(',')}\n`);
      });
    case 'add':
      arity(args, 2, cmd);
      return withProfile(p, async (profile) => {
        await profile.addMember(profile.resolveRoom(args[0]), args[1]);
      });
    case 'join':
      return joinCommand(p, args);
    case 'leave':
      arity(args, 1, cmd);
      return withProfile(p, async (profile) => {
        await profile.leaveRoom(profile.resolveRoom(args[0]));
      });
    case 'passphrase':
      arity(args, 0, cmd);
      return passphraseCommand(need(p, 'profile'));
    case 'delete-account':
      arity(args, 0, cmd);
      if (!p.flags.has('yes')) {
        throw new UsageError('delete-account removes the account and all its devices for good; add --yes to confirm');
      }
      return withProfile(p, (profile) => profile.deleteAccount());
    case 'dm': {
      if (args.length < 1 || args.length > 2) throw new UsageError('dm takes USER [TEXT]');
      const roomUri = await withProfile(p, async (profile) => (await profile.openDirect(args[0])).roomUri);
      process.stdout.write(roomUri + '\n');
      if (args.length === 2) await sendCommand(p, roomUri, args[1]);
      return;
    }
    case 'send':
      if (p.flags.has('file')) {
        arity(args, 1, `${cmd} ROOM --file PATH`);
        return sendFileCommand(p, args[0], p.flags.get('file')!);
      }
      arity(args, 2, cmd);
      return sendCommand(p, args[0], args[1]);
    case 'download':
      arity(args, 2, cmd);
      return downloadCommand(p, args[0], messageIdArg(args[1]), p.flags.get('out') ?? '.');
    case 'reply':
    case 'edit':
      arity(args, 3, cmd);
      return messageActionCommand(p, args[0], (profile, roomUri) =>
        cmd === 'reply' ? profile.messageActions.reply(roomUri, messageIdArg(args[1]), args[2]) : profile.messageActions.edit(roomUri, messageIdArg(args[1]), args[2]),
      );
    case 'react':
      arity(args, 3, cmd);
      return messageActionCommand(p, args[0], (profile, roomUri) => profile.messageActions.react(roomUri, messageIdArg(args[1]), args[2], p.flags.has('remove')));
    case 'delete':
      arity(args, 2, cmd);
      return messageActionCommand(p, args[0], (profile, roomUri) => profile.messageActions.delete(roomUri, messageIdArg(args[1])));
    case 'tail': {
      arity(args, 1, cmd);
      const count = Number(need(p, 'count'));
      const timeout = Number(need(p, 'timeout'));
      if (!Number.isInteger(count) || count < 1 || count > 10000) throw new UsageError('--count must be 1-10000');
      if (!(timeout > 0)) throw new UsageError('--timeout must be a positive number of seconds');
      return withProfile(p, (profile) => tail(profile, args[0], count, timeout, p.flags.has('ids'), p.flags.has('receipts')));
    }
    case 'search': {
      arity(args, 1, cmd);
      const limit = p.flags.has('limit') ? Number(p.flags.get('limit')) : 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError('--limit must be 1-200');
      return withProfile(p, async (profile) => {
        const room = p.flags.has('room') ? profile.resolveRoom(p.flags.get('room')!) : null;
        const { results, pending } = profile.searchMessages(args[0], room, limit);
        for (const r of results) {
          const line = `${new Date(r.timestamp).toISOString()}\t${r.roomName || r.roomUri}\t${displayUser(r.sender)}\t${r.snippet}`;
          process.stdout.write(`${p.flags.has('ids') ? `${r.messageId}\t` : ''}${line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ')}\n`);
        }
        if (pending > 0) process.stderr.write(`mimi: ${pending} older message(s) are still being indexed; search again for complete results\n`);
      });
    }
    case 'room-state':
      arity(args, 1, cmd);
      return withProfile(p, async (profile) => printJson(profile.roomStateDocument(profile.resolveRoom(args[0]))));
    case 'room-set':
      return roomSetCommand(p, args);
    case 'receipts': {
      arity(args, 2, cmd);
      const id = messageIdArg(args[1]);
      return withProfile(p, async (profile) => {
        const r = profile.messageReceipts(profile.resolveRoom(args[0]), id);
        if (!r) {
          process.stderr.write('mimi: receipts are not shown for this room: your delivery and read receipt switches are off (mimi privacy), or the room forbids them\n');
          return;
        }
        for (const u of r.read) process.stdout.write(`read\t${displayUser(u)}\n`);
        for (const u of r.delivered) process.stdout.write(`delivered\t${displayUser(u)}\n`);
      });
    }
    case 'privacy': {
      arity(args, 0, cmd);
      const changes: { deliveryReceipts?: boolean; readReceipts?: boolean; typing?: boolean } = {};
      for (const [flag, key] of [['delivery-receipts', 'deliveryReceipts'], ['read-receipts', 'readReceipts'], ['typing', 'typing']] as const) {
        const v = p.flags.get(flag);
        if (v === undefined) continue;
        if (v !== 'on' && v !== 'off') throw new UsageError(`--${flag} takes on or off, not "${v.slice(0, 40)}"`);
        changes[key] = v === 'on';
      }
      return withProfile(p, async (profile) => printJson(Object.keys(changes).length ? profile.setPrivacy(changes) : profile.privacy()));
    }
    case 'room-receipts': {
      arity(args, 1, cmd);
      const given: { delivery?: string; read?: string } = { delivery: p.flags.get('delivery'), read: p.flags.get('read') };
      for (const [k, v] of Object.entries(given)) {
        if (v !== undefined && !['optional', 'required', 'forbidden'].includes(v)) throw new UsageError(`--${k} takes optional, required or forbidden, not "${v.slice(0, 40)}"`);
      }
      return withProfile(p, async (profile) => {
        const roomUri = profile.resolveRoom(args[0]);
        let view = profile.roomSettings(roomUri);
        if (given.delivery !== undefined || given.read !== undefined) {
          const now = view.receiptPolicy ?? { delivery: 'optional', read: 'optional' };
          const policy = { delivery: (given.delivery ?? now.delivery) as Optionality, read: (given.read ?? now.read) as Optionality };
          view = await profile.setReceiptPolicy(roomUri, policy);
        }
        const r = view.receiptPolicy;
        printJson(r ? { delivery: r.delivery, read: r.read, canEdit: r.canEdit } : { delivery: 'optional', read: 'optional', canEdit: false });
      });
    }
    case 'role': {
      arity(args, 3, cmd);
      const [room, user, roleArg] = args;
      // Digits are an index; anything else is a role name, which the core looks up in this room's policy.
      const role = /^\d{1,5}$/.test(roleArg) ? Number(roleArg) : roleArg;
      return withProfile(p, async (profile) => void (await profile.setRole(profile.resolveRoom(room), user, role)));
    }
    case 'kick':
    case 'ban':
    case 'unban': {
      arity(args, 2, cmd);
      const [room, user] = args;
      return withProfile(p, async (profile) => void (await profile[cmd](profile.resolveRoom(room), user)));
    }
    case 'report': {
      const note = p.flags.get('note') ?? '';
      const messages = p.flags.get('message');
      if (messages !== undefined) {
        // Reported messages, with the hub's franks (docs/franking.md): the sender is theirs.
        arity(args, 1, cmd);
        const ids = messages.split(',').map((x) => x.trim().toLowerCase());
        if (ids.length > 16 || ids.some((x) => !/^[0-9a-f]{64}$/.test(x))) throw new UsageError('--message takes 1-16 message ids (64 hex digits each, as `mimi tail --ids` prints them), separated by commas');
        const reason = reportReason(p.flags.get('reason'));
        return withProfile(p, async (profile) => void (await profile.reportMessages(profile.resolveRoom(args[0]), ids, reason, note)));
      }
      if (p.flags.has('reason')) throw new UsageError('--reason goes with --message');
      arity(args, 2, cmd);
      const [room, user] = args;
      return withProfile(p, async (profile) => void (await profile.reportAbuse(profile.resolveRoom(room), user, note)));
    }
    case 'remove': {
      arity(args, 2, cmd);
      const [room, user] = args;
      return withProfile(p, async (profile) => void (await profile.removeMember(profile.resolveRoom(room), user)));
    }
    case 'consent':
      return consentCommand(p, args);
    case 'find':
      return findCommand(p, args);
    case 'searchable': {
      arity(args, 2, cmd);
      const [field, onOff] = args;
      if (!(PROFILE_FIELDS as readonly string[]).includes(field)) throw new UsageError(`searchable FIELD: one of ${PROFILE_FIELDS.join(', ')}`);
      if (onOff !== 'on' && onOff !== 'off') throw new UsageError('searchable FIELD on|off');
      return withProfile(p, async (profile) => printJson(await profile.setSearchable(field as ProfileFieldName, onOff === 'on')));
    }
    case 'profile':
      return profileCommand(p, args);
    case 'avatar':
      return avatarCommand(p, args);
    case 'members':
      arity(args, 1, cmd);
      return withProfile(p, async (profile) => {
        const roomUri = profile.resolveRoom(args[0]);
        const shared = profile.roomProfiles(roomUri);
        for (const m of profile.roomSettings(roomUri).participants) {
          process.stdout.write(`${displayUser(m.user)}\t${m.roleName}\t${shared[m.user]?.displayName ?? ''}\n`);
        }
      });
    case 'verify':
      arity(args, 1, cmd);
      return verifyCommand(p, args[0]);
    case 'pseudonyms':
      return pseudonymsCommand(p, args);
    case 'devices':
      arity(args, 0, cmd);
      return withProfile(p, async (profile) => printDevices(await profile.devices.list()));
    case 'device':
      return deviceCommand(p, args);
    case 'logout':
      return logoutCommand(p, args);
    case 'connect':
      arity(args, 1, cmd);
      return withProfile(p, async (profile) => {
        const view = await profile.connect(args[0]);
        await profile.flushOutbox(DELIVERY_WAIT_MS); // the request itself is a message
        process.stdout.write(`${view.outgoing[view.outgoing.length - 1].id}\n`);
      });
    case 'connections':
      arity(args, 0, cmd);
      return withProfile(p, async (profile) => printJson(profile.connectionList()));
    case 'accept':
    case 'decline':
      arity(args, 1, cmd);
      return withProfile(p, async (profile) => printJson(cmd === 'accept' ? await profile.acceptConnection(args[0]) : await profile.declineConnection(args[0])));
    case 'connection-requests':
      return connectionRequestsCommand(p, args);
    case 'link':
      return linkCommand(p, args);
    case 'knock-room':
      return knockRoomCommand(p, args);
    case 'knock':
      return knockCommand(p, args);
    case 'backup':
      return backupCommand(p, args);
    case 'export':
      arity(args, 2, 'export ROOM DIR');
      return exportCommand(p, args[0], args[1]);
    case 'knocks':
      return knocksCommand(p, args);
    case 'ohttp':
      return ohttpCommand(p, args);
    case 'admit':
    case 'reject':
      return answerKnockCommand(p, cmd, args);
    case undefined:
      throw new UsageError('');
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

/**
 * `ohttp forget DOMAIN`: drops the provider key pinned for DOMAIN (core/key-package-fetch.ts). Works
 * on the profile's database alone: nothing goes to any provider.
 */
async function ohttpCommand(p: Parsed, args: string[]): Promise<void> {
  if (args[0] !== 'forget') throw new UsageError('ohttp forget DOMAIN');
  arity(args, 2, 'ohttp forget DOMAIN');
  const domain = args[1].trim().toLowerCase();
  if (!isValidDomain(domain)) throw new UsageError(`"${args[1]}" is not a domain, e.g. b.example`);
  const dir = path.resolve(need(p, 'profile'));
  const account = await openAccount(dir, { engine: await createMlsEngine(), secretMode: secretMode(p), passphrase: cliPassphrase(false) });
  try {
    const forgotten = account.db.forgetOhttpProviderKey(domain);
    process.stdout.write(forgotten ? `forgot the provider key of ${domain}; the next add of one of its users records the key it publishes then\n` : `no provider key was recorded for ${domain}\n`);
  } finally {
    account.db.close();
    account.client.close();
  }
}

const printJson = (v: unknown): void => void process.stdout.write(JSON.stringify(v, null, 2) + '\n');

/** One device per line: ID, name, added, last seen (ISO times; "-" when never), "this" for this device. */
function printDevices(devices: DeviceView[]): void {
  const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
  for (const d of devices) process.stdout.write(`${d.deviceId}\t${oneLine(d.name)}\t${iso(d.createdAt)}\t${iso(d.lastSeenAt)}\t${d.current ? 'this' : '-'}\n`);
}

/** `device rename ID NAME`, `device remove ID`. */
async function deviceCommand(p: Parsed, args: string[]): Promise<void> {
  const [sub, id, ...rest] = args;
  if (await deviceLinkCommand(p, args, { withProfile })) return;
  if (sub === 'rename') {
    if (args.length !== 3) throw new UsageError('device rename takes ID NAME (ID as mimi devices prints it)');
    return withProfile(p, async (profile) => printDevices((await profile.devices.rename(id, rest[0])).filter((d) => d.deviceId === id)));
  }
  if (sub === 'remove') {
    if (args.length !== 2) throw new UsageError('device remove takes ID (as mimi devices prints it)');
    return withProfile(p, async (profile) => {
      const name = (await profile.devices.list()).find((d) => d.deviceId === id)?.name ?? id;
      await profile.devices.remove(id);
      process.stdout.write(`removed\t${id}\t${oneLine(name)}\n`);
    });
  }
  throw new UsageError('device takes rename ID NAME, remove ID, verify ID, verify --incoming, history-from ID or send-history');
}

/** `logout --keep-data` (the device stays, DIR waits for a login) or `--remove-device` (it goes, DIR too). */
async function logoutCommand(p: Parsed, args: string[]): Promise<void> {
  arity(args, 0, 'logout');
  const keep = p.flags.has('keep-data');
  if (keep === p.flags.has('remove-device')) throw new UsageError('logout takes --keep-data (this device stays registered, the folder keeps the history) or --remove-device (it leaves every room and the folder is deleted)');
  const dir = path.resolve(need(p, 'profile'));
  if (keep) {
    const profile = await openProfile(p); // a folder that is not a profile fails here, changing nothing
    await profile.close();
    markSignedOut(dir);
    process.stderr.write(`mimi: signed out; ${dir} keeps this device and its history: log in with the same account to use it again\n`);
    return;
  }
  await withProfile(p, (profile) => profile.removeThisDevice());
  process.stderr.write(`mimi: this device was removed from the account and ${dir} deleted\n`);
}

/** `login` into a folder signed out with --keep-data: the same device and history, once the provider confirmed the password. */
async function loginAgain(dir: string, d: { providerUrl: string; handle: string; password: string }, opts: Parameters<typeof Profile.open>[1]): Promise<Profile> {
  const cfg = readAccountConfig(dir);
  let sameProvider = false;
  try {
    sameProvider = new URL(cfg.providerUrl).origin === new URL(d.providerUrl).origin;
  } catch {
    sameProvider = cfg.providerUrl === d.providerUrl;
  }
  if (cfg.handle.toLowerCase() !== d.handle.trim().toLowerCase() || !sameProvider) {
    throw coreError('invalidArgument', 'devices.errors.keptOtherAccount', { handle: cfg.handle, provider: cfg.providerUrl });
  }
  const profile = await reopenKept(dir, d.password, (folder) => Profile.open(folder, opts));
  if (!profile) throw coreError('noAccount', 'devices.errors.keptUnusable');
  return profile;
}

/** Field names of `profile set|clear` -> the profile's names. */
const SETTABLE = { nick: 'nick', email: 'email', phone: 'phone', name: 'displayName' } as const;

function profileCommand(p: Parsed, args: string[]): Promise<void> {
  const [sub, field, value] = args;
  if (sub === 'show') {
    arity(args, 1, 'profile show');
    return withProfile(p, async (profile) => printJson(await profile.myProfile()));
  }
  if (sub !== 'set' && sub !== 'clear') throw new UsageError('profile takes show, set FIELD VALUE or clear FIELD');
  arity(args, sub === 'set' ? 3 : 2, `profile ${sub}`);
  if (!Object.prototype.hasOwnProperty.call(SETTABLE, field)) throw new UsageError(`profile ${sub} FIELD: one of ${Object.keys(SETTABLE).join(', ')}`);
  const key = SETTABLE[field as keyof typeof SETTABLE];
  return withProfile(p, async (profile) => printJson(await profile.setProfileFields({ [key]: sub === 'set' ? value : null })));
}

/** `avatar PATH|--remove`: checked here first, so a picture rooms would refuse changes nothing. */
function avatarCommand(p: Parsed, args: string[]): Promise<void> {
  if (p.flags.has('remove')) {
    arity(args, 0, 'avatar --remove');
    return withProfile(p, async (profile) => void profile.setAvatar(null));
  }
  arity(args, 1, 'avatar PATH');
  const png = new Uint8Array(readFile(args[0]));
  const problem = avatarProblem(png);
  if (problem) throw new CoreError('invalidArgument', `${args[0]}: ${problem.message}`);
  return withProfile(p, async (profile) => void profile.setAvatar(pngDataUrl(png)));
}

/**
 * `pseudonyms`: the pool as JSON; `--refill N` asks the provider for N more first, `--retire P`
 * retires one (its rooms are left, its KeyPackages withdrawn). Without either, an empty or low pool
 * is topped up (the app does that in the background; a script has no background).
 */
function pseudonymsCommand(p: Parsed, args: string[]): Promise<void> {
  arity(args, 0, 'pseudonyms');
  const refill = p.flags.get('refill');
  const retire = p.flags.get('retire');
  if (refill !== undefined && !/^\d{1,2}$/.test(refill)) throw new UsageError('--refill takes a number from 1 to 50');
  return withProfile(p, async (profile) => {
    if (retire !== undefined) await profile.retirePseudonym(retire);
    if (refill !== undefined) await profile.refillPseudonyms(Number(refill));
    else if (retire === undefined) {
      const pool = profile.pseudonymPool();
      if (pool.unused < pool.threshold) await profile.refillPseudonyms(pool.batch);
    }
    printJson(profile.pseudonymPool());
  });
}

/**
 * `connection-requests`: the setting as JSON; with `anyone`, `nobody` or `from DOMAIN...` it is set
 * first. anyone and nobody keep the list of domains (the provider stores it in every mode), so
 * going back to `from` a list later starts from it in the app.
 */
function connectionRequestsCommand(p: Parsed, args: string[]): Promise<void> {
  const [mode, ...domains] = args;
  if (mode === undefined) return withProfile(p, async (profile) => printJson(await profile.connectionRequestPolicy()));
  if (mode === 'anyone' || mode === 'nobody') {
    arity(args, 1, `connection-requests ${mode}`);
    return withProfile(p, async (profile) => {
      const current = await profile.connectionRequestPolicy();
      printJson(await profile.setConnectionRequestPolicy({ mode, domains: current.domains }));
    });
  }
  if (mode !== 'from') throw new UsageError('connection-requests takes nothing (show it), anyone, nobody, or from DOMAIN [DOMAIN ...]');
  const list = parseDomainList(domains.join(' '));
  if (list.length === 0) throw new UsageError('connection-requests from takes one or more DOMAINs, e.g. from b.example c.example');
  return withProfile(p, async (profile) => printJson(await profile.setConnectionRequestPolicy({ mode: 'domains', domains: list })));
}

/** `join`: by a join link (it has `?code=`), or as before by the room's URI (participants only). */
function joinCommand(p: Parsed, args: string[]): Promise<void> {
  arity(args, 1, 'join');
  const target = joinTarget(args[0]);
  // Neither a link (it has ?code=) nor a room URI: nothing to try, and no profile to open for it.
  if (target.kind === 'room' && !parseMimiUriAs('room', target.roomUri)) {
    throw new UsageError(`join takes a join link (mimi://a.example/r/…?code=…) or a room URI (mimi://a.example/r/…); "${oneLine(args[0])}" is neither`);
  }
  if (target.kind === 'room') {
    if (p.flags.has('passphrase') || p.flags.has('as-pseudonym')) throw new UsageError('--passphrase and --as-pseudonym go with a join link (mimi://…?code=…), not with a room URI');
    return withProfile(p, async (profile) => {
      const room = await profile.joinRoom(target.roomUri);
      process.stdout.write(`${room.roomUri}\n`);
    });
  }
  if (target.link.knock) throw new CoreError('invalidArgument', 'This is a knock link: it asks the room\'s admins to let you in. Knock with: mimi knock LINK [--note TEXT]');
  const given = p.flags.get('passphrase');
  const passphrase = given === undefined ? undefined : checkJoinPassphrase(given);
  // Asking before anything goes to the hub: a try without it would only be refused.
  if (target.link.passphrase && passphrase === undefined) {
    throw new CoreError('passphraseRequired', 'This link needs a passphrase as well; ask whoever gave you the link for it and add --passphrase P.');
  }
  return withProfile(p, async (profile) => {
    const room = await profile.joinByLink(target.text, { passphrase, asPseudonym: p.flags.has('as-pseudonym') });
    process.stdout.write(`${room.roomUri}\n`);
  });
}

/** `link create|list|revoke`: a room's join links. */
function linkCommand(p: Parsed, args: string[]): Promise<void> {
  const [sub, room, id] = args;
  const createFlags = ['uses', 'expires', 'passphrase', 'role'] as const;
  if (sub === 'create') {
    arity(args, 2, 'link create');
    const linkArgs: Partial<JoinLinkArgs> = {};
    const [uses, expires, passphrase, role] = createFlags.map((f) => p.flags.get(f));
    if (uses !== undefined) linkArgs.uses = parseUses(uses);
    if (expires !== undefined) linkArgs.expiresInSeconds = parseDuration(expires);
    if (passphrase !== undefined) linkArgs.passphrase = checkNewPassphrase(passphrase);
    // Roles 0 (no role) and 1 (banned) are never a way in, whatever the room: refused before anything opens.
    if (role !== undefined && /^\d{1,5}$/.test(role) && Number(role) < 2) throw new UsageError(`--role ${role}: a link cannot give role 0 (no role) or 1 (banned); give a role from 2 up, or its name (mimi room-state ROOM lists them)`);
    return withProfile(p, async (profile) => {
      const roomUri = profile.resolveRoom(room);
      if (role !== undefined) linkArgs.roleIndex = resolveRoleArg(role, profile.roomSettings(roomUri).roles);
      const view = await profile.createJoinLink(roomUri, linkArgs);
      if (!view.link) throw new CoreError('internal', `The link ${view.id} was made but its text did not come back; revoke it (mimi link revoke ROOM ${view.id}) and make another.`);
      process.stdout.write(`${view.link}\n${describeLink(view)}\n`);
    });
  }
  noFlags(p, createFlags, `link ${sub ?? ''}`.trim());
  if (sub === 'list') {
    arity(args, 2, 'link list');
    return withProfile(p, async (profile) => {
      const links = await profile.joinLinks(profile.resolveRoom(room));
      process.stdout.write(links.length ? linksTable(links) : `No join links for ${room}; make one with: mimi link create ${room}\n`);
    });
  }
  if (sub === 'revoke') {
    arity(args, 3, 'link revoke');
    const linkId = checkLinkId(id);
    return withProfile(p, async (profile) => {
      const links = await profile.revokeJoinLink(profile.resolveRoom(room), linkId);
      const state = links.find((l) => l.id === linkId)?.state ?? 'revoked';
      process.stdout.write(`Link ${linkId} is ${state}; nobody can join with it any more.\n`);
    });
  }
  throw new UsageError('link takes create ROOM [--uses N] [--expires DURATION] [--passphrase P] [--role R], list ROOM, or revoke ROOM ID');
}

/** `knock-room create ROOM`: the room's knock room (made on first use) and its link. */
function knockRoomCommand(p: Parsed, args: string[]): Promise<void> {
  if (args[0] !== 'create') throw new UsageError('knock-room takes create ROOM');
  arity(args, 2, 'knock-room create');
  return withProfile(p, async (profile) => {
    const view = await profile.knockRoom(profile.resolveRoom(args[1]));
    process.stdout.write(`${view.link}\n`);
  });
}

/** `knock LINK`: ask a room's admins to let this account in. */
function knockCommand(p: Parsed, args: string[]): Promise<void> {
  arity(args, 1, 'knock');
  const link = parseLinkArg(args[0]);
  if (!link.knock) throw new CoreError('invalidArgument', 'This is a join link, not a knock link: join with it directly: mimi join LINK');
  const note = checkNote(p.flags.get('note') ?? '');
  const text = formatJoinLink(link);
  return withProfile(p, async (profile) => {
    const before = profile.knockList();
    const after = await profile.knock(text, note, { asPseudonym: p.flags.has('as-pseudonym') });
    try {
      await profile.flushOutbox(DELIVERY_WAIT_MS); // the knock itself is a message in the knock room
    } catch (e) {
      if (!(e instanceof CoreError && e.code === 'providerUnreachable')) throw e;
      throw new QueuedError(`the provider did not take the knock in time (${e.message}) It is queued in this profile's outbox and will be sent, once, by the next mimi command on this profile or by the app.`);
    }
    const mine = newKnock(before, profile.knockList()) ?? newKnock(before, after);
    if (mine?.state === 'failed') throw new CoreError('internal', `The knock did not go through: ${mine.problem ?? 'no reason given'}`);
    const room = oneLine(mine?.roomName || mine?.roomUri || link.roomUri);
    process.stdout.write(`Knocked; waiting for the admins of ${room}.${mine ? ` (knock ${mine.id}; see mimi knocks)` : ''}\n`);
  });
}

/** `knocks [ROOM]`: knocks on this account's rooms, and its own knocks, with their state. */
function knocksCommand(p: Parsed, args: string[]): Promise<void> {
  if (args.length > 1) throw new UsageError('knocks takes at most one ROOM');
  const [room] = args;
  return withProfile(p, async (profile) => {
    let roomUri: string | undefined;
    if (room !== undefined) {
      try {
        roomUri = profile.resolveRoom(room);
      } catch (e) {
        // A room this account knocked on is not one of its rooms (yet): its URI still filters.
        if (!(e instanceof CoreError && e.code === 'roomUnknown' && parseMimiUriAs('room', room))) throw e;
        roomUri = room;
      }
    }
    const all = profile.knockList();
    const incoming = all.incoming.filter((k) => roomUri === undefined || k.roomUri === roomUri);
    const outgoing = all.outgoing.filter((k) => roomUri === undefined || k.roomUri === roomUri);
    const where = room === undefined ? 'your rooms' : room;
    process.stdout.write(incoming.length ? `Knocks on ${where}:\n${incomingKnocksTable(incoming)}` : `No knocks on ${where}.\n`);
    process.stdout.write(outgoing.length ? `\nYour knocks:\n${outgoingKnocksTable(outgoing)}` : `\nYou have no knocks${room === undefined ? '' : ` on ${room}`}.\n`);
  });
}

/** `admit|reject ROOM KNOCK`: answer a knock on one of this account's rooms. */
function answerKnockCommand(p: Parsed, cmd: 'admit' | 'reject', args: string[]): Promise<void> {
  arity(args, 2, cmd);
  const [room, id] = args;
  return withProfile(p, async (profile) => {
    const roomUri = profile.resolveRoom(room);
    const knock = knockOfRoom(profile.knockList(), id, roomUri, room);
    const view = cmd === 'admit' ? await profile.admitKnock(id) : await profile.declineKnock(id);
    const now = view.incoming.find((k) => k.id === id);
    if (cmd === 'admit' && now?.state !== 'admitted' && now?.problem) throw new CoreError('internal', `Could not admit ${who(knock.from)}: ${now.problem}`);
    const name = oneLine(knock.roomName || room);
    process.stdout.write(cmd === 'admit' ? `Admitted ${who(knock.from)} to ${name}.\n` : `Declined the knock of ${who(knock.from)} on ${name}.\n`);
  });
}

const METADATA_FLAGS = ['name', 'description', 'avatar', 'subject'] as const;

function roomSetCommand(p: Parsed, args: string[]): Promise<void> {
  arity(args, 1, 'room-set');
  const changes: RoomMetadataArgs = {};
  for (const k of METADATA_FLAGS) {
    const v = p.flags.get(k);
    if (v !== undefined) changes[k] = v;
  }
  if (Object.keys(changes).length === 0) throw new UsageError(`room-set needs at least one of ${METADATA_FLAGS.map((k) => `--${k}`).join(', ')}`);
  // The app's IPC layer refuses other avatars and the core does not check, so this entry point has to.
  if (changes.avatar !== undefined && changes.avatar !== '' && !/^https:\/\/[^\s]+$/.test(changes.avatar)) throw new UsageError('--avatar must be an https URL, or \'\' for none');
  return withProfile(p, async (profile) => void (await profile.setRoomMetadata(profile.resolveRoom(args[0]), changes)));
}

function findCommand(p: Parsed, args: string[]): Promise<void> {
  arity(args, 0, 'find');
  const query: FindRequest = {};
  for (const k of ['handle', 'nick', 'email', 'phone', 'name', 'domain', 'cursor'] as const) {
    const v = p.flags.get(k);
    if (v !== undefined) query[k] = v;
  }
  if (!['handle', 'nick', 'email', 'phone', 'name'].some((k) => p.flags.has(k))) throw new UsageError('find needs at least one of --handle, --nick, --email, --phone, --name');
  const limit = p.flags.get('limit');
  if (limit !== undefined) {
    if (!/^\d{1,3}$/.test(limit)) throw new UsageError('--limit must be a number');
    query.limit = Number(limit);
  }
  return withProfile(p, async (profile) => {
    const res = await profile.find(query);
    // The KeyPackage token keys an answer may carry are for adding people (key-package-fetch.ts), not to show.
    const { tokenKeys: _keys, tokenResponse: _tokens, ...shown } = res;
    printJson(shown);
    // notFound is an answer; the others mean the query itself was not acceptable there.
    if (res.status !== 'success' && res.status !== 'notFound') throw new CoreError('invalidArgument', `${res.domain} answered ${res.status} to this search`);
  });
}

const CONSENT_ACTIONS = ['request', 'cancel', 'grant', 'decline', 'revoke', 'block', 'unblock'] as const;
/** Actions whose scope may be one room. */
const ROOM_SCOPED = new Set(['request', 'cancel', 'grant', 'revoke']);

function consentCommand(p: Parsed, args: string[]): Promise<void> {
  const [sub, user] = args;
  const json = (v: unknown) => void process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  if (sub === 'list') {
    arity(args, 1, 'consent list');
    return withProfile(p, async (profile) => json(await profile.consentList()));
  }
  if (!(CONSENT_ACTIONS as readonly string[]).includes(sub)) throw new UsageError(`consent takes list or ${CONSENT_ACTIONS.join('|')} USER`);
  arity(args, 2, `consent ${sub}`);
  const room = p.flags.get('room');
  if (room !== undefined && !ROOM_SCOPED.has(sub)) throw new UsageError(`consent ${sub} takes no --room`);
  return withProfile(p, async (profile) => {
    const run = {
      request: () => profile.requestConsent(user, room),
      cancel: () => profile.cancelConsentRequest(user, room),
      grant: () => profile.grantConsent(user, room),
      decline: () => profile.declineConsent(user),
      revoke: () => profile.revokeConsent(user, room),
      block: () => profile.blockUser(user),
      unblock: () => profile.unblockUser(user),
    }[sub as (typeof CONSENT_ACTIONS)[number]];
    json(await run());
  });
}

/**
 * `rows` (newest first) oldest first, with the room's events (timeline-events.ts) that lie between
 * the oldest and the newest of them in their places: `tail --count` counts messages only.
 */
function withEvents(profile: Profile, roomUri: string, rows: MessageView[]): MessageView[] {
  if (rows.length === 0) return [];
  const oldest = rows[rows.length - 1];
  const newest = rows[0];
  const shown = new Set(rows.map((m) => m.seq));
  const items: MessageView[] = [];
  for (let before: number | null = null; ; ) {
    const page = profile.timeline(roomUri, before, 500);
    items.push(...page);
    if (page.length < 500 || page.some((m) => m.seq === oldest.seq)) break;
    before = page[page.length - 1].seq;
  }
  const timeline = items.reverse();
  const from = timeline.findIndex((m) => m.seq === oldest.seq);
  const to = timeline.findIndex((m) => m.seq === newest.seq);
  if (from < 0 || to < from) return [...rows].reverse();
  return timeline.slice(from, to + 1).filter((m) => m.event || shown.has(m.seq)).map((m) => (m.event ? m : rows.find((r) => r.seq === m.seq)!));
}

/** Wait until the room holds at least `count` messages, then print the newest `count`, oldest first. */
async function tail(profile: Profile, roomRef: string, count: number, timeoutS: number, ids = false, receipts = false): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  let roomUri: string | undefined;
  for (;;) {
    try {
      roomUri ??= profile.resolveRoom(roomRef);
    } catch (e) {
      // The Welcome into this room may still be on its way.
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const rows = profile.page(roomUri, null, count);
    if (rows.length >= count) {
      // --ids: the message id first, for `mimi report ROOM --message ID`.
      // A deleted message reads as such; edits, replies and reactions follow in a third column.
      for (const m of withEvents(profile, roomUri, rows)) process.stdout.write(m.event ? `* ${oneLine(m.text)}\n` : `${ids ? `${m.messageId}\t` : ''}${displayUser(m.sender)}\t${m.deleted ? '(message deleted)' : m.text}${tailNotes(m, receipts)}\n`);
      return;
    }
    if (Date.now() > deadline) throw new CoreError('internal', `only ${rows.length} of ${count} message(s) arrived within ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof QueuedError) {
      process.stderr.write(`mimi: ${e.message}\n`);
      process.exit(EXIT_QUEUED);
    }
    if (e instanceof UsageError) {
      if (e.message) process.stderr.write(`mimi: ${e.message}\n`);
      process.stderr.write(USAGE + '\n');
      process.exit(2);
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`mimi: ${msg}\n`);
    if (process.env.MIMI_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(linkExitCode(e) ?? 1);
  },
);

/** `--reason` as a REPORT_REASONS code: a name (spam, harassment, hate, illegal, other) or the code. */
function reportReason(v: string | undefined): number {
  if (v === undefined) return 0;
  const names: Record<string, number> = { spam: 0xf1, harassment: 0xf2, hate: 0xf3, illegal: 0xf4, other: 0xf5 };
  const code = names[v.toLowerCase()] ?? (/^\d{1,3}$/.test(v) ? Number(v) : NaN);
  if (!REPORT_REASONS.some((r) => r.code === code)) throw new UsageError(`--reason must be one of ${Object.keys(names).join(', ')} (or its code)`);
  return code;
}

/** `backup status|create|restore` (core/backup.ts): progress on stderr, the outcome on stdout. */
async function backupCommand(p: Parsed, args: string[]): Promise<void> {
  const [sub] = args;
  arity(args, 1, `backup ${sub ?? 'status|create|restore'}`);
  if (sub === 'status') {
    noFlags(p, ['full', 'recovery-key'], 'backup status');
    return withProfile(p, async (profile) => {
      const s = profile.backupStatus();
      if (s.none) {
        process.stdout.write(`no backup from this device yet (make one: mimi backup create)${s.unfinished ? '; one was cut short: mimi backup create continues it' : ''}\n`);
        return;
      }
      process.stdout.write(
        [
          `last backup\t${new Date(s.storedAt!).toISOString()}`,
          `messages\t${s.messages}`,
          `size\t${s.bytes} bytes in ${s.chunks} chunk(s) and a manifest`,
          `generation\t${s.generation}`,
          `not backed up yet\t${s.notBackedUp} message(s)${s.unfinished ? ' (a run was cut short: mimi backup create continues it)' : ''}`,
        ].join('\n') + '\n',
      );
    });
  }
  if (sub === 'create') {
    noFlags(p, ['recovery-key'], 'backup create');
    return withProfile(p, async (profile) => {
      const r = await profile.createBackup({
        full: p.flags.has('full'),
        onNewKey: (text) =>
          void process.stdout.write(
            `Your recovery key (shown only this once):\n\n    ${text}\n\n` +
              'Write it down and keep it somewhere safe, away from this device. Only with it can the backup be\n' +
              'restored on a new device; your provider does not have it and cannot reset it. This device keeps\n' +
              'it for later backups.\n\n',
          ),
        onProgress: (e) => {
          if (e.phase === 'skip') process.stderr.write(`mimi: ${e.stored} chunk(s) of generation ${e.generation} already stored by an earlier run; continuing after them\n`);
          if (e.phase === 'upload') process.stderr.write(`mimi: stored chunk ${e.index} of generation ${e.generation} (${e.items} item(s), ${e.bytes} bytes)\n`);
        },
      });
      process.stdout.write(
        `backup stored: generation ${r.generation}${r.full ? ' (written in full)' : ''}, ${r.uploaded} new chunk(s)${r.resumed ? ` (${r.resumed} stored before)` : ''}, ` +
          `${r.chunks} in all, ${r.messages} message(s), ${r.bytes} bytes\n`,
      );
    });
  }
  if (sub === 'restore') {
    noFlags(p, ['full'], 'backup restore');
    const key = p.flags.get('recovery-key') ?? process.env.MIMI_RECOVERY_KEY;
    if (!key) throw new UsageError('backup restore needs --recovery-key K (or MIMI_RECOVERY_KEY): the key printed when the first backup was made');
    return withProfile(p, async (profile) => {
      const r = await profile.restoreBackup(key, (e) => {
        if (e.phase === 'check') process.stderr.write(`mimi: checked chunk ${e.index} of ${e.of}\n`);
      });
      process.stdout.write(`restored from generation ${r.generation}: ${r.rooms} room(s), ${r.added} new item(s)${r.present ? `, ${r.present} already here` : ''}\n`);
      if (r.historyOnly.length) {
        process.stdout.write(
          `${r.historyOnly.length} room(s) are history only on this device until it is added to them (another of your devices adds it, ` +
            'or join by the room\'s link: mimi join ROOM-URI):\n' +
            r.historyOnly.map((h) => `  ${h.roomUri}\t${h.name}\n`).join(''),
        );
      }
    });
  }
  throw new UsageError('backup takes status, create or restore');
}

/** `export ROOM DIR`: the room's history as files (core/export.ts). */
async function exportCommand(p: Parsed, roomRef: string, dir: string): Promise<void> {
  const r = await withProfile(p, (profile) => profile.exportRoom(roomRef, path.resolve(dir)));
  process.stdout.write(`${r.json}\n${r.html}\n${r.messages} message(s), ${r.attachments} attachment(s) saved in ${path.join(r.dir, 'attachments')}\n`);
  for (const m of r.missing) process.stderr.write(`mimi: attachment ${m.filename} (message ${m.messageId.slice(0, 12)}…) not downloaded: ${m.reason}\n`);
}
