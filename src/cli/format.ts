import { isLive, sessionLength, type SessionSpan } from '../store/liveness.js';
import { decodeErrorText } from '../model/facts.js';
import type { RpcMessage, Session } from '../model/model.js';
import { describeGateway } from '../capture/gateway.js';
import { parseForView, stringifyForView } from '../wire/json-depth.js';
import { terminalLine } from '../model/terminal.js';

export function arrow(m: Pick<RpcMessage, 'direction'>): string {
  return m.direction === 'client->server' ? '→' : '←';
}

export function isoTime(ms: number | null): string {
  return ms == null ? '' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function clockTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function duration(ms: number | null): string {
  if (ms == null) return '';
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  return `${(n / 1024 / 1024).toFixed(1)}M`;
}

/** A table cell: wire text escaped for the terminal (src/model/terminal.ts), then cut or padded to `w`. */
export function pad(text: string, w: number): string {
  const s = terminalLine(text);
  if (s.length > w) return s.slice(0, Math.max(0, w - 1)) + '…';
  return s + ' '.repeat(w - s.length);
}

/** One line that says what a message is about, for tables and the timeline. */
export function summary(m: RpcMessage): string {
  if (m.kind === 'log') return m.payload;
  if (m.kind === 'non-json') return `not JSON: ${m.decodeError ? decodeErrorText(m.decodeError) : ''}`.trim();
  if (m.kind === 'invalid') return `invalid JSON-RPC: ${m.decodeError ? decodeErrorText(m.decodeError) : ''}`.trim();
  let v: any;
  try {
    v = parseForView(m.payload);
  } catch {
    return m.truncated ? '(truncated)' : '';
  }
  if (m.kind === 'error') return `error ${v?.error?.code ?? ''} ${v?.error?.message ?? ''}`.trim();
  if (m.kind === 'response') {
    const r = v?.result ?? {};
    if (Array.isArray(r.tools)) return `${r.tools.length} tools: ${r.tools.slice(0, 4).map((t: any) => t.name).join(', ')}${r.tools.length > 4 ? ', …' : ''}`;
    if (Array.isArray(r.resources)) return `${r.resources.length} resources`;
    if (Array.isArray(r.prompts)) return `${r.prompts.length} prompts`;
    if (r.serverInfo) return `${r.serverInfo.name ?? '?'} ${r.serverInfo.version ?? ''} protocol ${r.protocolVersion ?? '?'}`.trim();
    if (Array.isArray(r.content)) {
      const text = r.content.find((c: any) => c?.type === 'text')?.text ?? r.content[0]?.type ?? '';
      return `${r.isError ? 'isError: ' : ''}${String(text).replace(/\s+/g, ' ')}`;
    }
    if (Array.isArray(r.contents)) return `${r.contents.length} contents`;
    if (Array.isArray(r.messages)) return `${r.messages.length} messages`;
    return Object.keys(r).length ? `{${Object.keys(r).join(', ')}}` : 'ok';
  }
  const p = v?.params ?? {};
  if (m.method === 'initialize') return `${p.clientInfo?.name ?? '?'} ${p.clientInfo?.version ?? ''} protocol ${p.protocolVersion ?? '?'}`.trim();
  if (m.method === 'tools/call') return `${p.name}(${stringifyForView(p.arguments ?? {})})`;
  if (m.method === 'notifications/progress') return `progress ${p.progress}${p.total != null ? '/' + p.total : ''} ${p.message ?? ''}`.trim();
  if (m.method === 'notifications/message') return `[${p.level}] ${typeof p.data === 'string' ? p.data : stringifyForView(p.data)}`;
  if (m.subject) return m.subject;
  return Object.keys(p).length ? stringifyForView(p) : '';
}

/**
 * A label for a narrow column: "replay of 9c1b2a3d4e5f" (the label replay and resend give) becomes
 * "↻9c1b2a" or "↻9c1b2a #6", so the id it points to survives the cut; other labels are cut as usual.
 */
export function shortLabel(label: string | null, w: number): string {
  const l = label ?? '';
  const m = l.length > w ? /^(replay|resend) of ([0-9a-z-]+)(?: #(\d+))?$/.exec(l) : null;
  if (!m) return pad(l, w);
  const tail = m[3] ? ` #${m[3]}` : '';
  return pad(`↻${m[2].slice(0, Math.max(4, w - 1 - tail.length))}${tail}`, w);
}

export function sessionRowJson(s: Session, span?: SessionSpan) {
  return {
    id: s.id,
    label: s.label,
    transport: s.transport,
    target: s.target,
    clientName: s.clientInfo?.name ?? null,
    serverName: s.serverInfo?.name ?? null,
    // "via litellm → db_main": the gateway the session went through and the upstream servers it reached.
    via: describeGateway(s.gateway),
    gateway: s.gateway ?? null,
    protocolVersion: s.protocolVersion,
    mcpSessionId: s.mcpSessionId,
    startedAt: new Date(s.startedAt).toISOString(),
    endedAt: s.endedAt == null ? null : new Date(s.endedAt).toISOString(),
    messageCount: s.messageCount,
    errorCount: s.errorCount,
    ...(span ? { live: isLive(s, span), lengthMs: sessionLength(s, span) } : {}),
  };
}
