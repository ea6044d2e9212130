import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaptureHub } from '../capture/hub.js';
import { openDatabase } from '../store/db.js';
import { RecorderClient } from '../store/recorder-client.js';
import { unsavedLines } from '../store/jsonl.js';
import { fingerprintKey } from '../store/meta.js';

export interface AttachedStore {
  recorder: RecorderClient;
  /** The database's fingerprint key: give it to the redactor before anything is captured. */
  fingerprintKey: Buffer;
  flush(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Connects the hub to a database. Opening fails loudly (bad path: exit 2 before any traffic); once
 * traffic flows, a failing database only warns. If it never recovers, the unwritten records go to a
 * JSON-lines file beside it at shutdown, so nothing captured is lost.
 */
export function attachRecorder(hub: CaptureHub, file: string, warn: (m: string) => void): AttachedStore {
  // Open (and migrate) here first, so that a bad path is a usage error before the proxy listens.
  const db = openDatabase(file, { create: true });
  let key: Buffer;
  try {
    key = fingerprintKey(db);
  } finally {
    db.close();
  }
  const recorder = new RecorderClient(file, warn);
  const off = [
    hub.on('session', (s) => recorder.session(s)),
    hub.on('exchange', (e) => recorder.exchange(e)),
    hub.on('message', (m) => recorder.message(m)),
    hub.on('turn', (t) => recorder.turn(t)),
    hub.on('blob', (b) => recorder.blob(b)),
    hub.on('stream', (f) => recorder.stream(f)),
  ];
  return {
    recorder,
    fingerprintKey: key,
    flush: () => recorder.flush(),
    async close() {
      off.forEach((f) => f());
      const left = await recorder.close();
      if (!left) return;
      const count = left.sessions.length + left.exchanges.length + left.messages.length + (left.turns?.length ?? 0) + (left.blobs?.length ?? 0) + (left.streams?.length ?? 0);
      if (!count) return;
      const text = unsavedLines(file, left).join('\n') + '\n';
      const name = `${path.basename(file)}.unsaved-${Date.now()}.jsonl`;
      // Beside the database; when that disk is what is full, in the temp folder instead.
      const tried: string[] = [];
      for (const dir of [path.dirname(file), os.tmpdir()]) {
        const rescue = path.join(dir, name);
        try {
          fs.writeFileSync(rescue, text, { mode: 0o600 });
          warn(`the database could not take the last ${count} records; they are in ${rescue} (put them back with: mcptap import ${rescue} --db ${file})`);
          return;
        } catch (e) {
          tried.push(`${rescue}: ${(e as Error).message}`);
          fs.rmSync(rescue, { force: true });
        }
      }
      warn(`the database could not take the last ${count} records, and no rescue file could be written (${tried.join('; ')})`);
    },
  };
}
