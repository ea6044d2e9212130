import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db.js';
import type { PackedBatch } from './packed.js';
import { Recorder } from './recorder.js';

// The database side of the recorder, on its own thread: SQLite commits and WAL checkpoints (fsync)
// never block the event loop that forwards traffic.

export type ToWorker =
  | { type: 'batch'; seq: number; batch: PackedBatch; bytes: number }
  | { type: 'flush'; id: number }
  | { type: 'close'; id: number };

export type FromWorker =
  | { type: 'ack'; id: number; ok: boolean; stats: Recorder['stats']; backlog?: ReturnType<Recorder['backlog']> }
  | { type: 'warning'; message: string }
  /** `stored`: every batch up to this seq is in the database (none is left in the retry backlog). */
  | { type: 'stats'; stats: Recorder['stats']; stored: number }
  /** A batch reached the database (or the retry backlog): its bytes are no longer in flight. */
  | { type: 'taken'; bytes: number; buffer: ArrayBuffer };

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const db = openDatabase((workerData as { file: string }).file, { create: true });
// Another writer on the same file (a second proxy, a replay) holds its lock for a moment: wait that
// out here, on the database thread, where waiting holds up no traffic. A lock held longer fails the
// write, which warns and is retried with back-off.
db.pragma('busy_timeout = 250');
// Capture writes append: a small page cache does, and it is memory the proxy keeps for good.
db.pragma('cache_size = -2000');
/** The newest batch received: a write that succeeds leaves nothing older unwritten. */
let received = 0;
const recorder = new Recorder(db, {
  flushMs: 5, onWarning: (message) => post({ type: 'warning', message }), onWrite: () => post({ type: 'stats', stats: recorder.stats, stored: received }) });

port.on('message', (m: ToWorker) => {
  if (m.type === 'batch') {
    // Batches come every few milliseconds already: write each at once, so the sender knows how far behind we are.
    received = m.seq;
    recorder.writePacked(m.batch);
    // The text buffer goes back for reuse: a transferred buffer is freed only when this thread's GC
    // gets to it, and this thread allocates too little to run one often.
    const buffer = m.batch.buffer;
    port.postMessage({ type: 'taken', bytes: m.bytes, buffer } satisfies FromWorker, [buffer]);
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
