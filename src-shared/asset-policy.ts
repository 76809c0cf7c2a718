// The asset_policy room component (draft-ietf-mimi-room-policy-03 with the -04 notes, "Assets";
// suggested component id 0x002C), and the rule a client applies to an ExternalPart against it.
// Choices where the draft is loose are in docs/attachments.md:
//   - `optional<MediaType> permitted_media_types<V>` is read as optional<MediaType permitted_media_types<V>>:
//     a presence octet, then the vector (absent = every type not forbidden);
//   - MediaType is draft-ietf-mls-extensions' { opaque media_type<V>; MediaTypeParameter parameters<V>; };
//   - DomainName entries are host[:port] (the asset URL's authority): in a loopback test several
//     providers share 127.0.0.1 and differ only by port.
// Pure logic: no I/O.

import { fromUtf8, utf8 } from './bytes.js';
import { TlsError, TlsReader, TlsWriter } from './tls.js';

export const ASSET_POLICY_COMPONENT_ID = 0x002c;

export const AssetUploadLocation = { unspecified: 0, localProvider: 1, hub: 2 } as const;
export const DownloadPrivacyType = { direct: 0, hubProxy: 1, ohttp: 2 } as const;

export interface MediaTypeParameter {
  name: string;
  value: string;
}
export interface MediaType {
  mediaType: string;
  parameters: MediaTypeParameter[];
}

export interface ProviderAssetUploadDomains {
  provider: string;
  destinations: string[];
}

export interface AssetPolicy {
  uploadLocation: number;
  uploadDomains: ProviderAssetUploadDomains[];
  download: { allowed: number[]; forbidden: number[]; default: number };
  /** Octets; 0 = the draft gives no "unlimited", so we read 0 as "no limit set". */
  maxImage: bigint;
  maxAudio: bigint;
  maxVideo: bigint;
  maxAttachment: bigint;
  forbiddenMediaTypes: MediaType[];
  /** undefined: absent (every type not forbidden is permitted). */
  permittedMediaTypes?: MediaType[];
}

export class AssetPolicyError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`AssetPolicy.${field}: ${detail}`);
    this.name = 'AssetPolicyError';
  }
}

const MAX_ENTRIES = 256;
const MAX_TEXT = 1024;

function readText(r: TlsReader, field: string): string {
  const raw = r.opaqueV();
  if (raw.length === 0 || raw.length > MAX_TEXT) throw new AssetPolicyError(field, `must be 1-${MAX_TEXT} bytes`);
  try {
    return fromUtf8(raw);
  } catch {
    throw new AssetPolicyError(field, 'is not UTF-8');
  }
}

function writeText(w: TlsWriter, v: unknown, field: string): void {
  if (typeof v !== 'string' || v.length === 0) throw new AssetPolicyError(field, 'must be a non-empty string');
  const b = utf8(v);
  if (b.length > MAX_TEXT) throw new AssetPolicyError(field, `longer than ${MAX_TEXT} bytes`);
  w.opaqueV(b);
}

/** A `<V>` vector of items, each read by `item`; the vector must be consumed exactly. */
function readList<T>(r: TlsReader, field: string, item: (r: TlsReader, i: number) => T): T[] {
  const inner = new TlsReader(r.opaqueV());
  const out: T[] = [];
  while (inner.remaining > 0) {
    if (out.length >= MAX_ENTRIES) throw new AssetPolicyError(field, `more than ${MAX_ENTRIES} entries`);
    out.push(item(inner, out.length));
  }
  return out;
}

function writeList<T>(w: TlsWriter, field: string, items: unknown, item: (w: TlsWriter, v: T, i: number) => void): void {
  if (!Array.isArray(items)) throw new AssetPolicyError(field, 'must be an array');
  if (items.length > MAX_ENTRIES) throw new AssetPolicyError(field, `more than ${MAX_ENTRIES} entries`);
  const inner = new TlsWriter();
  (items as T[]).forEach((v, i) => item(inner, v, i));
  w.opaqueV(inner.finish());
}

function readEnum(r: TlsReader, field: string, max: number): number {
  const v = r.u8();
  if (v > max) throw new AssetPolicyError(field, `unknown value ${v}`);
  return v;
}

function writeEnum(w: TlsWriter, v: unknown, field: string, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new AssetPolicyError(field, `must be 0-${max}`);
  w.u8(v);
}

const readMediaType = (field: string) => (r: TlsReader, i: number): MediaType => ({
  mediaType: readText(r, `${field}[${i}].media_type`),
  parameters: readList(r, `${field}[${i}].parameters`, (q, j) => ({
    name: readText(q, `${field}[${i}].parameters[${j}].name`),
    value: readText(q, `${field}[${i}].parameters[${j}].value`),
  })),
});

const writeMediaType = (field: string) => (w: TlsWriter, m: MediaType, i: number): void => {
  writeText(w, m?.mediaType, `${field}[${i}].media_type`);
  writeList<MediaTypeParameter>(w, `${field}[${i}].parameters`, m?.parameters, (q, p, j) => {
    writeText(q, p?.name, `${field}[${i}].parameters[${j}].name`);
    writeText(q, p?.value, `${field}[${i}].parameters[${j}].value`);
  });
};

function writeU64(w: TlsWriter, v: unknown, field: string): void {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new AssetPolicyError(field, 'must be a bigint 0..2^64-1');
  w.u64(v);
}

function rules(p: AssetPolicy): void {
  const seen = new Set<string>();
  for (const d of p.uploadDomains) {
    if (seen.has(d.provider)) throw new AssetPolicyError('upload_domains', `provider ${d.provider} is listed twice`);
    seen.add(d.provider);
  }
  if (p.uploadLocation === AssetUploadLocation.hub && p.uploadDomains.length > 1) {
    throw new AssetPolicyError('upload_domains', 'with asset_upload_location hub only the hub may be listed');
  }
  if (p.download.allowed.some((t) => p.download.forbidden.includes(t))) {
    throw new AssetPolicyError('download_privacy', 'a download type is both allowed and forbidden');
  }
}

export function encodeAssetPolicy(p: AssetPolicy): Uint8Array {
  if (typeof p !== 'object' || p === null) throw new AssetPolicyError('(value)', 'must be an object');
  const w = new TlsWriter();
  writeEnum(w, p.uploadLocation, 'asset_upload_location', 2);
  writeList<ProviderAssetUploadDomains>(w, 'upload_domains', p.uploadDomains, (q, d, i) => {
    writeText(q, d?.provider, `upload_domains[${i}].provider`);
    writeList<string>(q, `upload_domains[${i}].asset_upload_destinations`, d?.destinations, (z, s, j) => writeText(z, s, `upload_domains[${i}].asset_upload_destinations[${j}]`));
  });
  const dl = p.download;
  if (typeof dl !== 'object' || dl === null) throw new AssetPolicyError('download_privacy', 'must be an object');
  writeList<number>(w, 'download_privacy.allowed_download_types', dl.allowed, (q, t) => writeEnum(q, t, 'download_privacy.allowed_download_types', 2));
  writeList<number>(w, 'download_privacy.forbidden_download_types', dl.forbidden, (q, t) => writeEnum(q, t, 'download_privacy.forbidden_download_types', 2));
  writeEnum(w, dl.default, 'download_privacy.default_download_type', 2);
  writeU64(w, p.maxImage, 'max_image');
  writeU64(w, p.maxAudio, 'max_audio');
  writeU64(w, p.maxVideo, 'max_video');
  writeU64(w, p.maxAttachment, 'max_attachment');
  writeList(w, 'forbidden_media_types', p.forbiddenMediaTypes, writeMediaType('forbidden_media_types'));
  if (p.permittedMediaTypes === undefined) w.u8(0);
  else {
    w.u8(1);
    writeList(w, 'permitted_media_types', p.permittedMediaTypes, writeMediaType('permitted_media_types'));
  }
  rules(p);
  return w.finish();
}

export function decodeAssetPolicy(bytes: Uint8Array): AssetPolicy {
  try {
    const r = new TlsReader(bytes);
    const uploadLocation = readEnum(r, 'asset_upload_location', 2);
    const uploadDomains = readList(r, 'upload_domains', (q, i) => ({
      provider: readText(q, `upload_domains[${i}].provider`),
      destinations: readList(q, `upload_domains[${i}].asset_upload_destinations`, (z, j) => readText(z, `upload_domains[${i}].asset_upload_destinations[${j}]`)),
    }));
    const allowed = readList(r, 'download_privacy.allowed_download_types', (q) => readEnum(q, 'download_privacy.allowed_download_types', 2));
    const forbidden = readList(r, 'download_privacy.forbidden_download_types', (q) => readEnum(q, 'download_privacy.forbidden_download_types', 2));
    const def = readEnum(r, 'download_privacy.default_download_type', 2);
    const maxImage = r.u64();
    const maxAudio = r.u64();
    const maxVideo = r.u64();
    const maxAttachment = r.u64();
    const forbiddenMediaTypes = readList(r, 'forbidden_media_types', readMediaType('forbidden_media_types'));
    const present = r.u8();
    if (present > 1) throw new AssetPolicyError('permitted_media_types', `optional presence octet must be 0 or 1, not ${present}`);
    const permittedMediaTypes = present ? readList(r, 'permitted_media_types', readMediaType('permitted_media_types')) : undefined;
    r.done();
    const p: AssetPolicy = {
      uploadLocation,
      uploadDomains,
      download: { allowed, forbidden, default: def },
      maxImage,
      maxAudio,
      maxVideo,
      maxAttachment,
      forbiddenMediaTypes,
      ...(permittedMediaTypes ? { permittedMediaTypes } : {}),
    };
    rules(p);
    return p;
  } catch (e) {
    if (e instanceof AssetPolicyError) throw e;
    if (e instanceof TlsError) throw new AssetPolicyError('(bytes)', e.message);
    throw e;
  }
}

/** host[:port] of an https URL (what DomainName entries hold), or null. */
export function assetAuthority(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' ? u.host.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** The policy of a new room: every provider uploads to its own asset server; downloads via the hub. */
export function localProviderAssetPolicy(domains: ProviderAssetUploadDomains[], maxAttachment: number): AssetPolicy {
  return {
    uploadLocation: AssetUploadLocation.localProvider,
    uploadDomains: domains,
    download: { allowed: [DownloadPrivacyType.direct, DownloadPrivacyType.hubProxy], forbidden: [DownloadPrivacyType.ohttp], default: DownloadPrivacyType.hubProxy },
    maxImage: BigInt(maxAttachment),
    maxAudio: BigInt(maxAttachment),
    maxVideo: BigInt(maxAttachment),
    maxAttachment: BigInt(maxAttachment),
    forbiddenMediaTypes: [],
  };
}

const base = (t: string): string => t.split(';')[0].trim().toLowerCase();
const matches = (t: string, m: MediaType): boolean => base(t) === m.mediaType.toLowerCase();

/**
 * Whether an attachment from `senderDomain` at `url` of `contentType` and `size` may be used in a
 * room with `policy`: null if so, else why not (for the person: what is wrong).
 */
export function checkAssetAgainstPolicy(policy: AssetPolicy, a: { senderDomain: string; url: string; contentType: string; size: number }): string | null {
  const authority = assetAuthority(a.url);
  if (!authority) return 'its address is not an https URL';
  if (policy.uploadLocation !== AssetUploadLocation.unspecified) {
    const entry =
      policy.uploadLocation === AssetUploadLocation.localProvider
        ? policy.uploadDomains.find((d) => d.provider === a.senderDomain)
        : policy.uploadDomains[0];
    if (!entry || !entry.destinations.some((d) => d.toLowerCase() === authority)) {
      return `it is stored at ${authority}, which the room's asset policy does not list for ${a.senderDomain}`;
    }
  }
  const t = base(a.contentType);
  const major = t.split('/')[0];
  const limit = major === 'image' ? policy.maxImage : major === 'audio' ? policy.maxAudio : major === 'video' ? policy.maxVideo : policy.maxAttachment;
  if (limit > 0n && BigInt(a.size) > limit) return `it is larger (${a.size} bytes) than the room allows (${limit} bytes)`;
  if (policy.forbiddenMediaTypes.some((m) => matches(t, m))) return `the room does not allow ${t} files`;
  if (policy.permittedMediaTypes && !policy.permittedMediaTypes.some((m) => matches(t, m))) return `the room does not allow ${t} files`;
  return null;
}
