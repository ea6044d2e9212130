import fs from 'node:fs';
import type { Exchange, RpcMessage, Session } from '../model/model.js';
import { newExchangeId, newSessionId } from '../model/ids.js';
import { UsageError } from '../errors.js';
import type { CaptureStore } from './read.js';
import type { RecordBatch } from './pending.js';
import { Recorder } from './recorder.js';
import { EXCHANGE_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS, exchangeToRow, messageToRow, sessionToRow } from './rows.js';
import type { Blob, Turn } from '../capture/turn.js';
import { TurnReader } from './turns-read.js';
import { TurnWriter } from './turn-rows.js';
import { isCallRow, ToolLinker } from './tool-links.js';
import { exchangeOfRecord, messageOfRecord } from './record-facts.js';
import { streamOfRecord } from './stream-record.js';
import { StreamWriter } from './stream-rows.js';
import type { StreamFacts } from '../capture/streams.js';

/**
 * Recording files: JSON lines. Line 1 is `{"type":"mcptap-recording","version":1,"session":{…}}`; then
 * `{"type":"exchange","exchange":{…}}` and `{"type":"message","message":{…}}` lines in capture order
 * (an exchange before the first message it carried). Objects are the model types of
 * src/model/model.ts, already redacted. Version 2 adds, for a model-api conversation, `{"type":"blob",
 * "blob":{hash,text}}` lines (its tools arrays and system prompts) and `{"type":"turn","turn":{…}}` lines;
 * version 3 records facts as data: an exchange's `failure` and `rewrites` (kinds and fields, see
 * src/model/facts.ts) in place of the sentences `error` and `rewrite`, and a message's `decodeError`
 * as `{kind, detail}`; older versions' sentences are read back into facts. Version 4 adds
 * `{"type":"stream","stream":{…}}` lines (src/capture/streams.ts: keep-alives, longest silence, who
 * closed it, Last-Event-ID), each after its exchange; older recordings derive them from the exchanges.
 * A newer version is refused; every older one stays readable.
 */
export const RECORDING_VERSION = 4;

export interface Recording {
  version: number;
  session: Session;
  exchanges: Exchange[];
  messages: RpcMessage[];
  turns?: Turn[];
  blobs?: Blob[];
  /** The recorded facts of its streams (version 4 on). */
  streams?: StreamFacts[];
  /** Set when the file holds fewer records than its header announces: cut off at a line boundary. */
  shortfall?: string;
}

/** What a recording cut at a line boundary lacks against its header's counts, or null when whole. */
function shortfallOf(name: string, session: Session, messages: number, turns: number, exchanges: number): string | null {
  const found = session.transport === 'model-api' ? turns : messages;
  const unit = session.transport === 'model-api' ? 'turns' : 'messages';
  const missing = [
    found < session.messageCount ? `${found} of ${session.messageCount} ${unit}` : '',
    exchanges < (session.exchangeCount ?? 0) ? `${exchanges} of ${session.exchangeCount} exchanges` : '',
  ].filter(Boolean);
  return missing.length ? `${name} is shorter than its header announces (${missing.join(', ')}): it was cut off; what is there is read` : null;
}

export function recordingLines(rec: Omit<Recording, 'version'>): string[] {
  const turns = rec.turns ?? [];
  // A direct session is written as before the gateway field existed, so old recordings round-trip byte for byte.
  // So is a session with a session id (grouping is that of stateless sessions).
  const { gateway, grouping, ...direct } = rec.session;
  const lines = [JSON.stringify({ type: 'mcptap-recording', version: RECORDING_VERSION, session: { ...direct, ...(gateway ? { gateway } : {}), ...(grouping ? { grouping } : {}) } })];
  for (const b of rec.blobs ?? []) lines.push(JSON.stringify({ type: 'blob', blob: b }));
  for (const t of turns) lines.push(JSON.stringify({ type: 'turn', turn: t }));
  const exchanges = [...rec.exchanges].sort((x, y) => x.startedAt - y.startedAt || x.id.localeCompare(y.id));
  const byId = new Map(exchanges.map((e) => [e.id, e]));
  const written = new Set<string>();
  const streams = new Map((rec.streams ?? []).map((f) => [f.exchangeId, f]));
  const put = (e: Exchange) => {
    if (written.has(e.id)) return;
    written.add(e.id);
    // Recordings from before closedBy existed have none: left out when unknown, they export as they were.
    const { closedBy, ...rest } = e;
    lines.push(JSON.stringify({ type: 'exchange', exchange: closedBy == null ? rest : e }));
    const f = streams.get(e.id);
    if (f) lines.push(JSON.stringify({ type: 'stream', stream: f }));
  };
  let next = 0;
  for (const m of rec.messages) {
    while (next < exchanges.length && exchanges[next].startedAt <= m.ts) put(exchanges[next++]);
    const own = m.exchangeId ? byId.get(m.exchangeId) : undefined;
    if (own) put(own);
    lines.push(JSON.stringify({ type: 'message', message: m }));
  }
  for (const e of exchanges) put(e);
  return lines;
}

export function writeRecording(store: CaptureStore, sessionId: string, out: string | NodeJS.WritableStream): void {
  const session = store.resolveSession(sessionId);
  const lines = recordingLines({ session, exchanges: store.exchanges(session.id), messages: [...store.iterateMessages(session.id)], streams: store.streams(session.id), ...turnsOf(store, session) });
  const text = lines.join('\n') + '\n';
  if (typeof out === 'string') {
    try {
      fs.writeFileSync(out, text, { mode: 0o600 });
    } catch (e) {
      throw new UsageError(`cannot write ${out}: ${(e as Error).message}`);
    }
  } else out.write(text);
}

/** A conversation's turns and the blobs they name (none for an MCP session). */
export function turnsOf(store: CaptureStore, session: Session): { turns: Turn[]; blobs: Blob[] } {
  const reader = new TurnReader(store);
  const turns = session.transport === 'model-api' ? reader.turns(session.id) : [];
  const hashes = new Set(turns.flatMap((t) => [t.toolsHash, t.systemHash, t.toolNamesHash]).filter((h): h is string => !!h));
  const blobs = [...hashes].map((hash) => ({ hash, text: reader.blob(hash) })).filter((b): b is Blob => b.text != null);
  return { turns, blobs };
}

/** Each non-empty line of a JSON-lines text, parsed, with its 1-based line number; a line that is not JSON is a usage error naming it. */
function eachJsonLine(text: string, name: string, fn: (obj: Record<string, unknown>, lineNo: number) => void): void {
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new UsageError(`${name}:${i + 1}: not JSON (${(e as Error).message.split('\n')[0]})`);
    }
    fn(obj, i + 1);
  });
}

/** A recording is one session: every message of it, each at a seq of its own. */
function checkMessages(messages: RpcMessage[], sessionId: string, name: string): void {
  const seen = new Set<number>();
  for (const m of messages) {
    if (m.sessionId !== sessionId) throw new UsageError(`${name}: message ${m.seq} belongs to session ${JSON.stringify(m.sessionId)}, not to the recording's session ${sessionId}`);
    if (seen.has(m.seq)) throw new UsageError(`${name}: two messages have seq ${m.seq}; a recording holds each seq once`);
    seen.add(m.seq);
  }
}

/** Reads a recording from a path, or from its text when given text that starts with `{`. */
export function readRecording(fileOrText: string): Recording {
  let text = fileOrText;
  const name = fileOrText.trimStart().startsWith('{') ? 'recording' : fileOrText;
  if (name !== 'recording') {
    try {
      text = fs.readFileSync(fileOrText, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read recording ${fileOrText}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  let header: { version: number; session: Session } | null = null;
  const exchanges: Exchange[] = [];
  const messages: RpcMessage[] = [];
  const turns: Turn[] = [];
  const blobs: Blob[] = [];
  const streams: StreamFacts[] = [];
  eachJsonLine(text, name, (obj, lineNo) => {
    if (!header) {
      if (obj.type !== 'mcptap-recording') throw new UsageError(`${name}:1: not an mcptap recording (the first line must have "type":"mcptap-recording")`);
      if (typeof obj.version !== 'number' || obj.version > RECORDING_VERSION) {
        throw new UsageError(`${name}: recording format version ${String(obj.version)} was written by a newer mcptap (this one reads up to ${RECORDING_VERSION}); upgrade mcptap`);
      }
      if (!obj.session || typeof (obj.session as Session).id !== 'string') throw new UsageError(`${name}:1: the header has no session`);
      header = { version: obj.version, session: obj.session as Session };
      return;
    }
    if (obj.type === 'exchange' && obj.exchange) exchanges.push(exchangeOfRecord(obj.exchange as Record<string, unknown>, `${name}:${lineNo}`));
    else if (obj.type === 'message' && obj.message) messages.push(messageOfRecord(obj.message as Record<string, unknown>, `${name}:${lineNo}`));
    else if (obj.type === 'turn' && obj.turn) turns.push(obj.turn as Turn);
    else if (obj.type === 'blob' && obj.blob) blobs.push(obj.blob as Blob);
    else if (obj.type === 'stream' && obj.stream) streams.push(streamOfRecord(obj.stream, `${name}:${lineNo}`));
    else throw new UsageError(`${name}:${lineNo}: unknown line type ${JSON.stringify(obj.type)}`);
  });
  if (!header) throw new UsageError(`${name}: empty recording`);
  const h: { version: number; session: Session } = header;
  checkMessages(messages, h.session.id, name);
  const shortfall = shortfallOf(name, h.session, messages.length, turns.length, exchanges.length);
  return { version: h.version, session: h.session, exchanges, messages, ...(turns.length || blobs.length ? { turns, blobs } : {}), ...(streams.length ? { streams } : {}), ...(shortfall ? { shortfall } : {}) };
}

/**
 * Adds a recording to a database. A session whose id is already there comes in under a new id (and
 * new exchange ids), which the result says.
 */
export function importRecording(store: CaptureStore, rec: Recording, opts: { label?: string } = {}): { session: Session; renamed: boolean } {
  const db = store.db;
  const exists = !!store.getSession(rec.session.id);
  const session: Session = { ...rec.session, id: exists ? newSessionId() : rec.session.id, label: opts.label ?? rec.session.label };
  const exIds = new Map<string, string>();
  const exchanges = rec.exchanges.map((e) => {
    const id = exists ? newExchangeId() : e.id;
    exIds.set(e.id, id);
    return { ...e, id, sessionId: session.id };
  });
  const messages = rec.messages.map((m) => ({ ...m, sessionId: session.id, exchangeId: m.exchangeId ? exIds.get(m.exchangeId) ?? m.exchangeId : null }));
  const turns = (rec.turns ?? []).map((t) => ({ ...t, sessionId: session.id, exchangeId: exIds.get(t.exchangeId) ?? t.exchangeId }));
  const streams = (rec.streams ?? []).map((f) => ({ ...f, sessionId: session.id, exchangeId: exIds.get(f.exchangeId) ?? f.exchangeId }));
  const insert = (table: string, cols: string[]) => db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`);
  const s = insert('sessions', SESSION_COLUMNS);
  const e = insert('exchanges', EXCHANGE_COLUMNS);
  const m = insert('messages', MESSAGE_COLUMNS);
  try {
    db.transaction(() => {
      s.run(sessionToRow(session));
      for (const x of exchanges) e.run(exchangeToRow(x));
      for (const x of messages) m.run(messageToRow(x));
      if (turns.length || rec.blobs?.length) new TurnWriter(db).write(turns, rec.blobs ?? []);
      if (streams.length) new StreamWriter(db).write(streams);
      // The recording's tool uses and calls join to what the database holds, as if recorded with it.
      const linker = new ToolLinker(db);
      for (const x of messages) if (isCallRow(x.direction, x.kind, x.method)) linker.call(x.sessionId, x.seq, x.ts, x.payload);
      for (const t of turns) linker.turn(t.sessionId, t.ts);
      linker.link();
    })();
  } catch (err) {
    throw new UsageError(`cannot import into ${store.file}: ${(err as Error).message}`);
  }
  return { session, renamed: exists };
}

/**
 * What a proxy whose database never recovered leaves beside it at shutdown: line 1
 * `{"type":"mcptap-unsaved","version":1,"database":"…"}`, then `session`, `exchange`, `message`, `blob`, `turn` and `stream` lines
 * (records of any number of sessions, the latest state of each). `mcptap import` puts them back.
 */
export const UNSAVED_TYPE = 'mcptap-unsaved';

export function unsavedLines(database: string, b: RecordBatch): string[] {
  return [
    JSON.stringify({ type: UNSAVED_TYPE, version: 1, database }),
    ...b.sessions.map((x) => JSON.stringify({ type: 'session', session: x })),
    ...b.exchanges.map((x) => JSON.stringify({ type: 'exchange', exchange: x })),
    ...b.messages.map((x) => JSON.stringify({ type: 'message', message: x })),
    ...(b.blobs ?? []).map((x) => JSON.stringify({ type: 'blob', blob: x })),
    ...(b.turns ?? []).map((x) => JSON.stringify({ type: 'turn', turn: x })),
    ...(b.streams ?? []).map((x) => JSON.stringify({ type: 'stream', stream: x })),
  ];
}

/** The records of an unsaved-records file, or null when `file` is something else (a recording). */
export function readUnsaved(file: string): RecordBatch | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const firstLine = text.split('\n', 64).find((l) => l.trim());
  if (!firstLine || !firstLine.includes(UNSAVED_TYPE)) return null;
  const out: RecordBatch = { sessions: [], exchanges: [], messages: [] };
  let first = true;
  eachJsonLine(text, file, (obj, lineNo) => {
    if (first) {
      first = false;
      if (obj.type !== UNSAVED_TYPE) throw new UsageError(`${file}:${lineNo}: not an mcptap unsaved-records file`);
      if (typeof obj.version !== 'number' || obj.version > 1) throw new UsageError(`${file}: written by a newer mcptap (version ${String(obj.version)}); upgrade mcptap`);
    } else if (obj.type === 'session' && obj.session) out.sessions.push(obj.session as Session);
    else if (obj.type === 'exchange' && obj.exchange) out.exchanges.push(exchangeOfRecord(obj.exchange as Record<string, unknown>, `${file}:${lineNo}`));
    else if (obj.type === 'message' && obj.message) out.messages.push(messageOfRecord(obj.message as Record<string, unknown>, `${file}:${lineNo}`));
    else if (obj.type === 'turn' && obj.turn) (out.turns ??= []).push(obj.turn as Turn);
    else if (obj.type === 'blob' && obj.blob) (out.blobs ??= []).push(obj.blob as Blob);
    else if (obj.type === 'stream' && obj.stream) (out.streams ??= []).push(streamOfRecord(obj.stream, `${file}:${lineNo}`));
    else throw new UsageError(`${file}:${lineNo}: unknown line type ${JSON.stringify(obj.type)}`);
  });
  return out;
}

/**
 * Writes unsaved records back under their own ids, as the proxy would have: the sessions they belong
 * to may be in the database already, with their earlier records.
 */
export function restoreUnsaved(store: CaptureStore, b: RecordBatch): void {
  const recorder = new Recorder(store.db);
  for (const x of b.sessions) recorder.session(x);
  for (const x of b.exchanges) recorder.exchange(x);
  for (const x of b.messages) recorder.message(x);
  for (const x of b.blobs ?? []) recorder.blob(x);
  for (const x of b.turns ?? []) recorder.turn(x);
  for (const x of b.streams ?? []) recorder.stream(x);
  const ok = recorder.close();
  if (!ok) throw new UsageError(`cannot write to ${store.file}: ${recorder.stats.lastError ?? 'the database refused the records'}`);
}
