import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { factsAsData } from './migrate-facts.js';
import { backfillToolLinks } from './tool-links.js';

// Each entry moves the schema from version i to i+1 inside one transaction. Never edit a shipped
// entry: add a new one, so that every database ever written still opens.
export const MIGRATIONS: Array<(db: Database.Database) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        label TEXT,
        transport TEXT NOT NULL,
        target TEXT NOT NULL,
        mcp_session_id TEXT,
        protocol_version TEXT,
        client_info TEXT,
        server_info TEXT,
        client_capabilities TEXT,
        server_capabilities TEXT,
        started_at REAL NOT NULL,
        ended_at REAL,
        end_reason TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        error_count INTEGER NOT NULL DEFAULT 0,
        exchange_count INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX sessions_started ON sessions(started_at);

      CREATE TABLE exchanges (
        id TEXT PRIMARY KEY,
        session_id TEXT,
        kind TEXT NOT NULL,
        method TEXT NOT NULL,
        url TEXT NOT NULL,
        upstream_url TEXT NOT NULL,
        status INTEGER,
        request_headers TEXT NOT NULL,
        response_headers TEXT,
        started_at REAL NOT NULL,
        first_byte_at REAL,
        ended_at REAL,
        request_bytes INTEGER NOT NULL DEFAULT 0,
        response_bytes INTEGER NOT NULL DEFAULT 0,
        request_body TEXT,
        response_body TEXT,
        request_truncated INTEGER NOT NULL DEFAULT 0,
        response_truncated INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        aborted INTEGER NOT NULL DEFAULT 0,
        rewrite TEXT,
        client_address TEXT
      );
      CREATE INDEX exchanges_session ON exchanges(session_id, started_at);

      CREATE TABLE messages (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        exchange_id TEXT,
        ts REAL NOT NULL,
        direction TEXT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        rpc_id TEXT,
        method TEXT,
        subject TEXT,
        payload TEXT NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL,
        correlated_seq INTEGER,
        latency_ms REAL,
        sse_event_id TEXT,
        batch_index INTEGER,
        is_error INTEGER NOT NULL DEFAULT 0,
        error_code INTEGER,
        decode_error TEXT
      );
      CREATE UNIQUE INDEX messages_session_seq ON messages(session_id, seq);
      CREATE INDEX messages_session_method ON messages(session_id, method);
      CREATE INDEX messages_session_kind ON messages(session_id, kind);
    `);
  },
  (db) => {
    // Capture writes paid for these on every message: two more B-trees whose pages, spread across
    // sessions, each went to the WAL on every commit (about 40% of the recorder's cost per call).
    // Reads by method or kind scan one session through messages_session_seq instead.
    db.exec(`
      DROP INDEX IF EXISTS messages_session_method;
      DROP INDEX IF EXISTS messages_session_kind;
    `);
  },
  (db) => {
    // Which side ended an exchange first, so "the connection closed first" can say whose doing it was.
    db.exec(`ALTER TABLE exchanges ADD COLUMN closed_by TEXT`);
  },
  (db) => {
    // Model API turns (a `model-api` session is a conversation), what each offered, asked for and sent
    // back; and content-addressed blobs for the tools array and system prompt every turn repeats.
    db.exec(`
      CREATE TABLE turns (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        exchange_id TEXT,
        ts REAL NOT NULL,
        ended_at REAL,
        api TEXT NOT NULL,
        model TEXT,
        stream INTEGER NOT NULL DEFAULT 0,
        status INTEGER,
        tools_hash TEXT,
        system_hash TEXT,
        tool_names_hash TEXT,
        stop_reason TEXT,
        usage TEXT,
        error TEXT,
        text TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        server_results TEXT,
        mcp_listings TEXT,
        mcp_servers TEXT
      );
      CREATE UNIQUE INDEX turns_session_seq ON turns(session_id, seq);
      CREATE INDEX turns_ts ON turns(ts);

      CREATE TABLE tool_uses (
        session_id TEXT NOT NULL,
        turn_seq INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        input TEXT NOT NULL,
        server_label TEXT,
        PRIMARY KEY (session_id, turn_seq, idx)
      );
      CREATE INDEX tool_uses_id ON tool_uses(id);

      CREATE TABLE tool_results (
        session_id TEXT NOT NULL,
        turn_seq INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        tool_use_id TEXT NOT NULL,
        is_error INTEGER NOT NULL DEFAULT 0,
        text TEXT NOT NULL,
        PRIMARY KEY (session_id, turn_seq, idx)
      );
      CREATE INDEX tool_results_use ON tool_results(tool_use_id);

      CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,
        text TEXT NOT NULL
      );
    `);
  },
  (db) => {
    // The MCP gateway a session went through (LiteLLM) and the upstream servers it reached, as JSON.
    db.exec(`ALTER TABLE sessions ADD COLUMN gateway TEXT`);
  },
  (db) => {
    // Facts as data (kinds and fields, not sentences): an exchange's failure and rewrites in columns of
    // their own, a message's decode error as JSON in place. The old sentences are read back once here.
    factsAsData(db);
  },
  (db) => {
    // The facts of each stream (event-stream response, WebSocket, stdio child), one row per exchange.
    db.exec(`
      CREATE TABLE streams (
        exchange_id TEXT PRIMARY KEY,
        session_id TEXT,
        carrier TEXT NOT NULL,
        opened_at REAL NOT NULL,
        first_byte_at REAL,
        last_event_at REAL,
        last_activity_at REAL,
        events INTEGER NOT NULL DEFAULT 0,
        keep_alives INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        longest_silence_ms REAL NOT NULL DEFAULT 0,
        closed_at REAL,
        closed_by TEXT,
        resumed_from TEXT
      );
      CREATE INDEX streams_session ON streams(session_id);
    `);
  },
  (db) => {
    // How a stateless session (2026-07-28, no session id) was grouped, and whether that was a guess, as JSON.
    db.exec(`ALTER TABLE sessions ADD COLUMN grouping TEXT`);
  },
  (db) => {
    // Settings of the database itself. The fingerprint key makes fingerprints of one secret match within
    // the database, and never leaves it (see src/store/meta.ts).
    db.exec(`CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)`);
    db.prepare(`INSERT OR IGNORE INTO meta (name, value) VALUES ('fingerprint-key', ?)`).run(randomBytes(32));
  },
  (db) => {
    // Tool uses linked to the MCP calls they caused, stored as they are made (before, every read of a
    // conversation or session rejoined every session around it); a database written before has its
    // links made here, once.
    backfillToolLinks(db);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The oldest schema that reads as the current one does (later migrations dropped indexes, added the
 * nullable sessions.gateway and sessions.grouping, which read as null where missing, and the fact columns, whose facts
 * are read back from the older sentences where they are missing: see rows.ts; a database without the stored tool
 * links has them made as it is read: see turns-read.ts).
 */
export const MIN_READ_VERSION = 1;
