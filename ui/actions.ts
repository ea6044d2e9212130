import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaptureStore } from '../src/store/read.js';
import { writeRecording } from '../src/store/jsonl.js';
import { curlCommand } from '../src/analysis/wire-text.js';

/** Where copy-outs go: the working directory when writable, else the temp folder. */
function outDir(): string {
  try {
    fs.accessSync(process.cwd(), fs.constants.W_OK);
    return process.cwd();
  } catch {
    return os.tmpdir();
  }
}

export function yankMessage(store: CaptureStore, sessionId: string, seq: number): string {
  const m = store.message(sessionId, seq);
  if (!m) throw new Error(`no message #${seq}`);
  let text = m.payload;
  try {
    text = JSON.stringify(JSON.parse(m.payload), null, 2);
  } catch {
    // non-JSON payloads are written as captured
  }
  const file = path.join(outDir(), `mcptap-${sessionId}-${seq}.json`);
  fs.writeFileSync(file, text + '\n', { mode: 0o600 });
  return file;
}

export function exportSession(store: CaptureStore, sessionId: string): string {
  const file = path.join(outDir(), `mcptap-${sessionId}.jsonl`);
  writeRecording(store, sessionId, file);
  return file;
}

/** Writes the HTTP exchange that carried a message as a curl command (headers as recorded: redacted). */
export function writeCurl(store: CaptureStore, sessionId: string, seq: number): string {
  const m = store.message(sessionId, seq);
  const ex = m?.exchangeId ? store.exchange(m.exchangeId) : null;
  if (!ex || ex.kind !== 'http') throw new Error(`message #${seq} did not travel in an HTTP exchange${ex ? ' (it is a WebSocket frame)' : ''}`);
  const file = path.join(outDir(), `mcptap-${sessionId}-${seq}.curl.sh`);
  fs.writeFileSync(file, `#!/bin/sh\n# ${ex.method} ${ex.url} of session ${sessionId}, message #${seq}; redacted headers need their real values\n${curlCommand(ex)}\n`, { mode: 0o600 });
  return file;
}
