// The HTTP side of attachments (core/attachments.ts): streaming a sealed file to this account's
// provider (POST /v1/assets) and fetching one through it (GET /v1/rooms/{room}/asset?url=…), with
// progress, size checks and the provider's refusals passed on as they came. Nothing here sees a
// plaintext or judges a policy; that is the core's.

import https from 'node:https';
import { CLIENT_IDLE_MS, closedWhileIdle } from '../../src-shared/idle-connection.js';
import { dropIdleSockets } from './provider-client.js';

/** Why a transfer failed: `status` 0 when no answer came (the code is then 'unreachable'). */
export class TransferFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AssetTransferOptions {
  baseUrl: string;
  caPem?: string;
  /** The Authorization header's value; throws when the account is signed out. */
  authorization: () => string;
  timeoutMs?: number;
}

const CHUNK = 64 * 1024;
const TIMEOUT_MS = 60_000;
/** An error body longer than this is not read (it is not an ApiError). */
const MAX_ERROR_BODY = 64 * 1024;

function refusal(status: number, body: Buffer): TransferFailure {
  let err: { code?: unknown; message?: unknown } | undefined;
  try {
    err = (JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } }).error;
  } catch {
    // not JSON
  }
  return new TransferFailure(status, typeof err?.code === 'string' ? err.code : 'internal', typeof err?.message === 'string' ? err.message : `HTTP ${status}`);
}

export class AssetTransfer {
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;

  constructor(private readonly opts: AssetTransferOptions) {
    this.agent = new https.Agent({ keepAlive: true, timeout: CLIENT_IDLE_MS, ...(opts.caPem ? { ca: opts.caPem } : {}) });
    this.timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  }

  close(): void {
    this.agent.destroy();
  }

  /** Closes the pooled connections no transfer is using (the computer woke up). */
  dropIdleConnections(): void {
    dropIdleSockets(this.agent);
  }

  /**
   * Uploads `ciphertext`, reporting the bytes that left this process; resolves with the URL the
   * provider gave it. `Expect: 100-continue`: the provider judges size and quota from the headers,
   * so a refused file is never sent (nor does a refusal race the body into a broken pipe).
   */
  upload(ciphertext: Uint8Array, progress: (done: number) => void): Promise<{ url: string }> {
    const url = new URL(`${this.opts.baseUrl}/v1/assets`);
    const headers = { authorization: this.opts.authorization(), 'content-type': 'application/octet-stream', 'content-length': String(ciphertext.length), accept: 'application/json', expect: '100-continue' };
    const attempt = (retried: boolean): Promise<{ url: string }> =>
      new Promise((resolve, reject) => {
        let settled = false;
        const fail = (e: TransferFailure) => {
          if (settled) return;
          settled = true;
          reject(e);
        };
        let answered = false;
        let offset = 0;
        const req = https.request(url, { method: 'POST', headers, agent: this.agent }, (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => fail(new TransferFailure(0, 'unreachable', e.message)));
          res.on('end', () => {
            if (settled) return;
            const status = res.statusCode ?? 0;
            const body = Buffer.concat(chunks);
            let json: { url?: unknown } = {};
            try {
              json = JSON.parse(body.toString('utf8'));
            } catch {
              // judged below
            }
            if (status === 201 && typeof json.url === 'string') {
              settled = true;
              progress(ciphertext.length);
              resolve({ url: json.url });
            } else {
              fail(status === 201 ? new TransferFailure(status, 'internal', 'the provider accepted the file but named no URL for it') : refusal(status, body));
              req.destroy(); // the body was never (or not wholly) sent: this connection is done
            }
          });
        });
        req.setTimeout(this.timeoutMs, () => {
          req.destroy();
          fail(new TransferFailure(0, 'unreachable', `no answer within ${this.timeoutMs / 1000} s`));
        });
        req.on('error', (e) => {
          // Only before the first byte of the body: the provider cannot have stored anything yet.
          if (!retried && !settled && offset === 0 && closedWhileIdle(req, e, answered)) {
            settled = true;
            attempt(true).then(resolve, reject);
            return;
          }
          // Once the provider has answered, its answer says what happened (a write cut off after a
          // refusal is not the story).
          if (!answered) fail(new TransferFailure(0, 'unreachable', e.message));
        });
        // Written in chunks, each after the last drained, so progress follows what left this process.
        const writeMore = () => {
          while (offset < ciphertext.length) {
            if (answered || settled) return;
            const end = Math.min(offset + CHUNK, ciphertext.length);
            const ok = req.write(ciphertext.subarray(offset, end));
            offset = end;
            progress(offset);
            if (!ok) {
              req.once('drain', writeMore);
              return;
            }
          }
          req.end();
        };
        req.once('continue', writeMore);
      });
    return attempt(false);
  }

  /**
   * Fetches `assetUrl` through this account's provider for `roomUri`: exactly `expected` bytes, or
   * a failure (more is not that file; fewer is a cut-off download).
   */
  download(roomUri: string, assetUrl: string, expected: number, progress: (done: number) => void): Promise<Uint8Array> {
    const url = new URL(`${this.opts.baseUrl}/v1/rooms/${encodeURIComponent(roomUri)}/asset`);
    url.searchParams.set('url', assetUrl);
    const headers = { authorization: this.opts.authorization(), accept: 'application/octet-stream' };
    const attempt = (retried: boolean): Promise<Uint8Array> =>
      new Promise((resolve, reject) => {
        let settled = false;
        let answered = false;
        const fail = (e: TransferFailure) => {
          if (settled) return;
          settled = true;
          reject(e);
        };
        const req = https.request(url, { method: 'GET', headers, agent: this.agent }, (res) => {
          answered = true;
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (status === 200 && size > expected) {
              req.destroy();
              fail(new TransferFailure(status, 'internal', `the provider sent more than the ${expected} bytes the message announced`));
              return;
            }
            if (status !== 200 && size > MAX_ERROR_BODY) {
              req.destroy();
              fail(new TransferFailure(status, 'internal', `HTTP ${status}`));
              return;
            }
            chunks.push(c);
            if (status === 200) progress(size);
          });
          res.on('error', (e) => fail(new TransferFailure(0, 'unreachable', e.message)));
          res.on('aborted', () => fail(new TransferFailure(0, 'unreachable', 'the download was cut off')));
          res.on('end', () => {
            if (settled) return;
            const body = Buffer.concat(chunks);
            if (status !== 200) {
              fail(refusal(status, body));
            } else if (body.length !== expected) {
              fail(new TransferFailure(0, 'unreachable', `the download ended after ${body.length} of ${expected} bytes`));
            } else {
              settled = true;
              resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
            }
          });
        });
        req.setTimeout(this.timeoutMs, () => {
          req.destroy();
          fail(new TransferFailure(0, 'unreachable', `no answer within ${this.timeoutMs / 1000} s`));
        });
        req.on('error', (e) => {
          if (!retried && !settled && closedWhileIdle(req, e, answered)) {
            settled = true;
            attempt(true).then(resolve, reject);
            return;
          }
          fail(new TransferFailure(0, 'unreachable', e.message));
        });
        req.end();
      });
    return attempt(false);
  }
}
