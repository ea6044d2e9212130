import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MIGRATIONS, MIN_READ_VERSION, SCHEMA_VERSION } from './migrations.js';
import { UsageError } from '../errors.js';

// A database in a folder this user cannot write is opened through an `immutable=1` URI (a WAL database
// otherwise needs to create its -shm file beside it). better-sqlite3 reads this once, when its native
// part first loads, which is at the first `new Database`.
process.env.SQLITE_USE_URI ??= '1';

/** Where captures go when neither --db nor MCPTAP_DB says otherwise. */
export function defaultDbPath(): string {
  return process.env.MCPTAP_DB || path.join(os.homedir(), '.mcptap', 'captures.db');
}

export interface OpenOptions {
  readonly?: boolean;
  /** Create the file (mode 0600) and its folder (0700) when missing. */
  create?: boolean;
}

export function openDatabase(file: string, opts: OpenOptions = {}): Database.Database {
  const memory = file === ':memory:';
  if (!memory) {
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
      throw new UsageError(`${file} is a folder, not a database file; give a file in it, e.g. --db ${path.join(file, 'captures.db')}`);
    }
    if (!fs.existsSync(file)) {
      if (!opts.create) throw new UsageError(`no capture database at ${file} (capture with 'mcptap proxy' first, or pass --db FILE)`);
      try {
        makeDirs(path.dirname(path.resolve(file)));
        // Captures hold request bodies: only the owner may read them.
        fs.closeSync(fs.openSync(file, 'a', 0o600));
      } catch (e) {
        throw new UsageError(`cannot create database ${file}: ${(e as Error).message}`);
      }
    }
  }
  // SQLite makes the -wal and -shm files of a WAL database on open; a file that turns out not to be a
  // usable database must be left as it was found, without them.
  const sideFiles = memory ? [] : ['-wal', '-shm'].map((s) => file + s).filter((f) => !fs.existsSync(f));
  let db: Database.Database;
  try {
    db = new Database(memory ? file : plainName(file), { readonly: !!opts.readonly, fileMustExist: !memory });
  } catch (e) {
    throw new UsageError(`cannot open database ${file}: ${(e as Error).message}`);
  }
  try {
    if (opts.readonly && !memory) db = readableInPlace(db, file);
    // A short busy timeout: a writer waiting here blocks the event loop that forwards traffic.
    db.pragma('busy_timeout = 50');
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new UsageError(`database ${file} was written by a newer mcptap (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade mcptap`);
    }
    if (version < SCHEMA_VERSION && !(opts.readonly && version >= MIN_READ_VERSION)) {
      if (opts.readonly) {
        if (version === 0 && isEmpty(db)) throw new UsageError(`database ${file} holds no captures yet`);
        throw new UsageError(`database ${file} has schema ${version}; open it once with a writing command (e.g. 'mcptap sessions') to upgrade`);
      }
      migrate(db, version);
    }
  } catch (e) {
    db.close();
    for (const f of sideFiles) fs.rmSync(f, { force: true });
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot use database ${file}: ${(e as Error).message}`);
  }
  return db;
}

/** With URIs on, a file named `file:…` must not be read as one. */
function plainName(file: string): string {
  return file.startsWith('file:') ? `./${file}` : file;
}

/**
 * The database, readable: a WAL database in a read-only folder (a mounted backup, another user's
 * captures) fails on its first read, since SQLite cannot create its -shm file. Then it is opened as
 * immutable, which reads the main file only: what a -wal beside it holds is not seen, and this says so.
 */
function readableInPlace(db: Database.Database, file: string): Database.Database {
  try {
    db.pragma('user_version', { simple: true });
    return db;
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (!/^SQLITE_(READONLY|CANTOPEN)/.test(code)) throw e;
    db.close();
  }
  const uri = 'file:' + encodeURI(path.resolve(file)).replace(/\?/g, '%3f').replace(/#/g, '%23') + '?immutable=1';
  const immutable = new Database(uri, { readonly: true, fileMustExist: true });
  immutable.pragma('user_version', { simple: true });
  const wal = fs.existsSync(file + '-wal') ? fs.statSync(file + '-wal').size : 0;
  if (wal > 0) {
    process.stderr.write(`mcptap: ${path.dirname(path.resolve(file))} is read-only: showing ${file} without the ${wal} bytes of recent captures in ${file}-wal (copy the database and its -wal to a writable folder to see them)\n`);
  }
  return immutable;
}

function isEmpty(db: Database.Database): boolean {
  const row = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
  return row.n === 0;
}

export function migrate(db: Database.Database, from: number, to = SCHEMA_VERSION): void {
  for (let v = from; v < to; v++) {
    db.transaction(() => {
      MIGRATIONS[v](db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** mkdir -p one level at a time (Node's recursive mkdir spins forever under /proc). */
function makeDirs(dir: string): void {
  if (fs.existsSync(dir)) return;
  const parent = path.dirname(dir);
  if (parent !== dir) makeDirs(parent);
  fs.mkdirSync(dir, { mode: 0o700 });
}
