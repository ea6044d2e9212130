import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { readRecording } from '../store/jsonl.js';
import type { CaptureStore } from '../store/read.js';
import type { DiffInput } from './diff.js';

/** A recording file when the argument names one (a path, or ending in .jsonl); else a session in the store. */
export function isRecordingPath(arg: string): boolean {
  return arg.endsWith('.jsonl') || arg.includes('/') || (fs.existsSync(arg) && fs.statSync(arg).isFile());
}

/** `warn` hears of a recording shorter than its header announces (the command goes on with what is there). */
export function loadDiffInput(arg: string, store: CaptureStore | null, warn?: (message: string) => void): DiffInput {
  if (isRecordingPath(arg)) {
    const r = readRecording(arg);
    if (r.shortfall) warn?.(r.shortfall);
    return { session: r.session, messages: r.messages, exchanges: r.exchanges, streams: r.streams };
  }
  if (!store) throw new UsageError(`'${arg}' is not a recording file, and there is no capture database to look it up in`);
  const session = store.resolveSession(arg);
  return { session, messages: [...store.iterateMessages(session.id)], exchanges: store.exchanges(session.id), streams: store.streams(session.id) };
}
