import type { Session } from '../model/model.js';
import { isRecordingPath } from '../analysis/input.js';
import { importRecording, readRecording } from '../store/jsonl.js';
import { CaptureStore } from '../store/read.js';
import { openStore, warn } from './common.js';

/**
 * The store and session a SESSION argument names: a session (id or unique prefix) in the capture
 * database, or a .jsonl recording, loaded into a store in memory so every command reads it the same way.
 */
export function openSession(arg: string, db: string | undefined): { store: CaptureStore; session: Session } {
  if (isRecordingPath(arg)) {
    const rec = readRecording(arg);
    if (rec.shortfall) warn(rec.shortfall);
    const store = CaptureStore.memory(arg);
    try {
      return { store, session: importRecording(store, rec).session };
    } catch (e) {
      store.close();
      throw e;
    }
  }
  const store = openStore(db);
  try {
    return { store, session: store.resolveSession(arg) };
  } catch (e) {
    store.close();
    throw e;
  }
}
