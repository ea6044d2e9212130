import fs from 'node:fs';
import { failureText, rewritesText } from '../model/facts.js';
import { STATUS_CODES } from 'node:http';
import type { Entry, Har, Header, QueryString } from 'har-format';
import type { Exchange, HeaderList, RpcMessage } from '../model/model.js';
import { header, mediaType } from '../model/headers.js';
import type { CaptureStore } from './read.js';
import { TurnReader } from './turns-read.js';

type WsFrame = NonNullable<Entry['_webSocketMessages']>[number];

/**
 * A session as HAR 1.2: one entry per HTTP exchange, with both bodies as stored (an SSE response is
 * its event-stream text), and each WebSocket connection as one entry whose frames are listed in
 * `_webSocketMessages`, the field Chrome DevTools writes and reads.
 */
export function toHar(store: CaptureStore, sessionId: string, only?: Set<string>): Har {
  const session = store.resolveSession(sessionId);
  const entries: Entry[] = [];
  // A model conversation's entries carry their decoded turn, and request bodies whole again (stored,
  // the tools array and system prompt are hashes into blobs).
  const turns = session.transport === 'model-api' ? new TurnReader(store) : null;
  const byExchange = new Map((turns?.conversation(session).turns ?? []).map((t) => [t.exchangeId, t]));
  for (const ex of store.exchanges(session.id)) {
    if (only && !only.has(ex.id)) continue;
    // A wrapped stdio process is no HTTP exchange; its messages are in the JSONL export.
    if (ex.kind === 'process') continue;
    const entry = exchangeEntry(turns ? { ...ex, requestBody: turns.expandBody(ex.requestBody) } : ex);
    if (ex.kind === 'websocket') entry._webSocketMessages = wsFrames(store, session.id, ex.id);
    const t = byExchange.get(ex.id);
    if (t) {
      entry._mcptapTurn = { seq: t.seq, api: t.api, model: t.model, stopReason: t.stopReason, usage: t.usage,
        toolsOffered: t.toolsOffered, toolUses: t.toolUses, toolResults: t.toolResults, error: t.error };
    }
    entries.push(entry);
  }
  return {
    log: {
      version: '1.2',
      creator: { name: 'mcptap', version: mcptapVersion() },
      entries,
      // The peers and revision, as sessions and show name them (from initialize, or 2026-07-28's per-request _meta).
      comment: `mcptap session ${session.id} (${session.transport}) to ${session.target}${session.label ? `, label ${session.label}` : ''}` +
        (session.clientInfo || session.serverInfo ? `, ${session.clientInfo?.name ?? '?'} → ${session.serverInfo?.name ?? '?'}` : '') +
        (session.protocolVersion ? `, protocol ${session.protocolVersion}` : ''),
    },
  };
}

function exchangeEntry(ex: Exchange): Entry {
  // An exchange still open when the capture stopped has no end; HAR times cannot be negative.
  const firstByte = ex.firstByteAt ?? ex.endedAt ?? ex.startedAt;
  const end = Math.max(ex.endedAt ?? firstByte, firstByte);
  const wait = Math.max(0, firstByte - ex.startedAt);
  const receive = Math.max(0, end - firstByte);
  const requestType = header(ex.requestHeaders, 'content-type') ?? 'application/octet-stream';
  const responseType = header(ex.responseHeaders, 'content-type') ?? (ex.kind === 'websocket' ? '' : 'application/octet-stream');
  const status = ex.status ?? 0;
  const entry: Entry = {
    startedDateTime: new Date(ex.startedAt).toISOString(),
    time: wait + receive,
    request: {
      method: ex.method,
      url: ex.upstreamUrl,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: harHeaders(ex.requestHeaders),
      queryString: queryString(ex.upstreamUrl),
      headersSize: -1,
      bodySize: ex.kind === 'websocket' ? 0 : ex.requestBytes,
      ...(ex.requestBody != null && ex.kind === 'http'
        ? { postData: { mimeType: requestType, text: ex.requestBody, ...(ex.requestTruncated ? { comment: 'truncated by --max-body' } : {}) } }
        : {}),
    },
    response: {
      status,
      statusText: status ? (STATUS_CODES[status] ?? '') : '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: harHeaders(ex.responseHeaders ?? []),
      content: {
        size: ex.responseBody == null ? 0 : Buffer.byteLength(ex.responseBody),
        mimeType: responseType,
        ...(ex.responseBody != null && ex.kind === 'http' ? { text: ex.responseBody } : {}),
        ...(ex.responseTruncated ? { comment: 'truncated by --max-body' } : {}),
      },
      redirectURL: header(ex.responseHeaders, 'location') ?? '',
      headersSize: -1,
      bodySize: ex.kind === 'websocket' ? 0 : ex.responseBytes,
    },
    cache: {},
    timings: { blocked: -1, dns: -1, connect: -1, ssl: -1, send: 0, wait, receive },
  };
  if (ex.kind === 'websocket') entry._resourceType = 'websocket';
  else if (mediaType(responseType) === 'text/event-stream') entry._resourceType = 'eventsource';
  else entry._resourceType = 'fetch';
  // DevTools reads `_error` as text; the facts themselves go along for tools that read them.
  if (ex.failure) {
    entry._error = failureText(ex.failure);
    entry._mcptapFailure = ex.failure;
  }
  if (ex.aborted) entry._aborted = true;
  if (ex.rewrites.length) {
    entry.comment = `mcptap rewrote ${rewritesText(ex.rewrites)}`;
    entry._mcptapRewrites = ex.rewrites;
  }
  return entry;
}

/**
 * The frames of one WebSocket connection, rebuilt from its stored messages: a batch frame was split
 * into one message per member (sharing a timestamp), so its members are joined back into one array.
 */
function wsFrames(store: CaptureStore, sessionId: string, exchangeId: string): WsFrame[] {
  const frames: WsFrame[] = [];
  let batch: { frame: WsFrame; parts: string[]; ts: number } | null = null;
  const closeBatch = () => {
    if (!batch) return;
    batch.frame.data = `[${batch.parts.join(',')}]`;
    frames.push(batch.frame);
    batch = null;
  };
  for (const m of store.iterateMessages(sessionId)) {
    if (m.exchangeId !== exchangeId || m.channel !== 'ws-frame') continue;
    const type = m.direction === 'client->server' ? 'send' : 'receive';
    if (m.batchIndex != null) {
      if (batch && (m.batchIndex === 0 || batch.ts !== m.ts || batch.frame.type !== type)) closeBatch();
      batch ??= { frame: frameOf(m, type), parts: [], ts: m.ts };
      batch.parts.push(m.payload);
      continue;
    }
    closeBatch();
    frames.push({ ...frameOf(m, type), data: m.payload });
  }
  closeBatch();
  return frames;
}

function frameOf(m: RpcMessage, type: 'send' | 'receive'): WsFrame {
  // DevTools writes frame times as epoch seconds, and opcode 1 for a text frame.
  return { type, time: m.ts / 1000, opcode: 1, data: '' };
}

function harHeaders(list: HeaderList): Header[] {
  return list.map(([name, value]) => ({ name, value }));
}

function queryString(url: string): QueryString[] {
  try {
    return [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
  } catch {
    return [];
  }
}

let version: string | null = null;

/** The version in mcptap's package.json, found from here whether running from src/ or dist/src/. */
function mcptapVersion(): string {
  if (version) return version;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mcptap' && pkg.version) return (version = pkg.version);
    } catch {
      // not at this depth
    }
  }
  return (version = 'unknown');
}
