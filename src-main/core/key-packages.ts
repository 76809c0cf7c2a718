// This device's KeyPackages on the provider: what others claim to add it to a room. Their private
// halves stay in the database until a Welcome uses them.

import { toB64, toHex } from '../../src-shared/bytes.js';
import type { ProfileContext } from './context.js';

/** Single-use KeyPackages kept on the provider; topped up when fewer remain. */
const KEY_PACKAGE_TARGET = 20;
const KEY_PACKAGE_LOW_WATER = 5;

export class KeyPackages {
  constructor(private readonly ctx: ProfileContext) {}

  /** Keep KEY_PACKAGE_TARGET single-use KeyPackages on the provider, plus a last-resort one. */
  async replenish(initial: boolean): Promise<void> {
    const { client, engine, keys, db } = this.ctx;
    const { available } = initial ? { available: 0 } : await client.keyPackageCount();
    if (!initial && available >= KEY_PACKAGE_LOW_WATER) return;
    const fresh = await engine.generateKeyPackages(keys, KEY_PACKAGE_TARGET - available + (initial ? 1 : 0));
    const lastResort = initial ? fresh.pop() : undefined;
    db.tx(() => {
      for (const kp of fresh) db.saveKeyPackage(toHex(kp.ref), kp.publicMessage, kp.privateState, false);
      if (lastResort) db.saveKeyPackage(toHex(lastResort.ref), lastResort.publicMessage, lastResort.privateState, true);
    });
    await client.uploadKeyPackages({ keyPackages: fresh.map((k) => toB64(k.publicMessage)), lastResort: lastResort ? toB64(lastResort.publicMessage) : undefined });
    if (lastResort) db.deleteLastResortExcept(toHex(lastResort.ref));
  }
}
