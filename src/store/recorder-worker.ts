import { parentPort, workerData } from 'node:worker_threads';
import type { Exchange, RpcMessage, Session } from '../capture/model.js';
import { openDatabase } from './db.js';
import { Recorder } from './recorder.js';

// The database side of the recorder, on its own thread: SQLite commits and WAL checkpoints (fsync)
// never block the event loop that forwards traffic.

export type ToWorker =
  | { type: 'batch'; sessions: Session[]; exchanges: Exchange[]; messages: RpcMessage[]; bytes: number }
  | { type: 'flush'; id: number }
  | { type: 'close'; id: number };

export type FromWorker =
  | { type: 'ack'; id: number; ok: boolean; stats: Recorder['stats']; backlog?: ReturnType<Recorder['backlog']> }
  | { type: 'warning'; message: string }
  | { type: 'stats'; stats: Recorder['stats'] }
  /** A batch reached the database (or the retry backlog): its bytes are no longer in flight. */
  | { type: 'taken'; bytes: number };

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const db = openDatabase((workerData as { file: string }).file, { create: true });
// A locked database is retried later, never waited for.
db.pragma('busy_timeout = 0');
const recorder = new Recorder(db, {
  flushMs: 5, onWarning: (message) => post({ type: 'warning', message }), onWrite: () => post({ type: 'stats', stats: recorder.stats }) });

port.on('message', (m: ToWorker) => {
  if (m.type === 'batch') {
    for (const s of m.sessions) recorder.session(s);
    for (const e of m.exchanges) recorder.exchange(e);
    for (const x of m.messages) recorder.message(x);
    // Batches come every few milliseconds already: write each at once, so the sender knows how far behind we are.
    recorder.flush();
    post({ type: 'taken', bytes: m.bytes });
  } else if (m.type === 'flush') {
    post({ type: 'ack', id: m.id, ok: recorder.flush(), stats: recorder.stats });
  } else if (m.type === 'close') {
    const ok = recorder.close();
    const backlog = ok ? undefined : recorder.backlog();
    try {
      db.close();
    } catch {
      // A broken database has nothing left to lose.
    }
    post({ type: 'ack', id: m.id, ok, stats: recorder.stats, backlog });
  }
});
