import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';

/**
 * The key of the database's secret fingerprints (an HMAC key, made once per database by a migration).
 * It stays in the database: exports carry fingerprints only, so an exported file's fingerprints cannot
 * be checked against a list of likely secrets.
 */
export function fingerprintKey(db: Database.Database): Buffer {
  const row = db.prepare(`SELECT value FROM meta WHERE name = 'fingerprint-key'`).get() as { value: Buffer } | undefined;
  if (row) return Buffer.from(row.value);
  const key = randomBytes(32);
  db.prepare(`INSERT OR IGNORE INTO meta (name, value) VALUES ('fingerprint-key', ?)`).run(key);
  return fingerprintKey(db);
}
