import fs from 'node:fs';
import type Database from 'better-sqlite3';
import type { CaptureHub } from '../capture/hub.js';
import { openDatabase } from '../store/db.js';
import { Recorder } from '../store/recorder.js';

export interface AttachedStore {
  db: Database.Database;
  recorder: Recorder;
  close(): void;
}

/**
 * Connects the hub to a database. Opening fails loudly (bad path: exit 2 before any traffic); once
 * traffic flows, a failing database only warns. If it never recovers, the unwritten records go to a
 * JSON-lines file beside it at shutdown, so nothing captured is lost.
 */
export function attachRecorder(hub: CaptureHub, file: string, warn: (m: string) => void): AttachedStore {
  const db = openDatabase(file, { create: true });
  // Never wait for a lock on the thread that forwards traffic: a busy database is retried later.
  db.pragma('busy_timeout = 0');
  const recorder = new Recorder(db, { onWarning: warn });
  const off = [
    hub.on('session', (s) => recorder.session(s)),
    hub.on('exchange', (e) => recorder.exchange(e)),
    hub.on('message', (m) => recorder.message(m)),
  ];
  return {
    db,
    recorder,
    close() {
      off.forEach((f) => f());
      if (!recorder.close()) {
        const rescue = `${file}.unsaved-${Date.now()}.jsonl`;
        try {
          const b = recorder.backlog();
          const lines = [
            ...b.sessions.map((x) => JSON.stringify({ type: 'session', session: x })),
            ...b.exchanges.map((x) => JSON.stringify({ type: 'exchange', exchange: x })),
            ...b.messages.map((x) => JSON.stringify({ type: 'message', message: x })),
          ];
          fs.writeFileSync(rescue, lines.join('\n') + '\n', { mode: 0o600 });
          warn(`the database could not take the last ${lines.length} records; they are in ${rescue}`);
        } catch (e) {
          warn(`the database could not take the last records and neither could ${rescue}: ${(e as Error).message}`);
        }
      }
      try {
        db.close();
      } catch {
        // Closing a broken database has nothing left to lose.
      }
    },
  };
}
