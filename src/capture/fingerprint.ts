import { createHmac, randomBytes } from 'node:crypto';

/** Secrets this long keep their last four characters: enough to tell keys apart, too little to guess. */
const SHOW_TAIL_FROM = 20;
/** Characters a kept tail may hold: none that would end a JSON string, a header or a URL part. */
const SAFE_TAIL = /^[A-Za-z0-9._~+=-]{4}$/;

/** What a scrubbed secret became: `[redacted:9f3a1c2e…2404]`, or `[redacted:9f3a1c2e]` for a short one. */
export const FINGERPRINT = /\[redacted:[0-9a-f]{8}(?:…[^\]\s]{4})?\]/;

/** A fresh key for the fingerprints of one database (or of a capture that writes none). */
export function newFingerprintKey(): Buffer {
  return randomBytes(32);
}

/**
 * Fingerprints of secrets: an HMAC of the secret under a key kept in the database, so two captures of one
 * key in one database show the same fingerprint, while a fingerprint read out of an exported file cannot
 * be checked against a list of likely passwords (the key never leaves the database). Only secrets of 20+
 * characters show anything of themselves: their last four characters.
 */
export class Fingerprinter {
  private key: Buffer;

  constructor(key: Buffer = newFingerprintKey()) {
    this.key = key;
  }

  /** The database's key, once it is known (the capture may start before the database is opened). */
  useKey(key: Buffer): void {
    this.key = key;
  }

  of(secret: string): string {
    const h = createHmac('sha256', this.key).update(secret).digest('hex').slice(0, 8);
    const tail = secret.length >= SHOW_TAIL_FROM ? secret.slice(-4) : '';
    return SAFE_TAIL.test(tail) ? `[redacted:${h}…${tail}]` : `[redacted:${h}]`;
  }
}
