import { createHash } from 'node:crypto';
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes } from '@opentelemetry/api';
import { millisToHrTime, hrTimeDuration } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR } from './semconv.js';

/** Where a span goes: its trace, and the span it hangs under (null: a root). */
export interface Place {
  traceId: string;
  parentSpanId: string | null;
  /** The parent came from the client (`traceparent`), not from mcptap. */
  remote?: boolean;
}

export interface SpanEvent {
  name: string;
  /** Epoch milliseconds. */
  time: number;
  attributes: Attributes;
}

/**
 * A finished span built from captured traffic: plain data with the wire's times, so the live path and
 * `export --otlp` build the same thing and tests can read it without an exporter.
 */
export interface TelemetrySpan extends Place {
  spanId: string;
  name: string;
  kind: 'client' | 'internal';
  /** Epoch milliseconds (fractional), as captured. */
  start: number;
  end: number;
  attributes: Attributes;
  /** Set when the operation failed: `error.type` and the status description. */
  error: { type: string; message: string } | null;
  events: SpanEvent[];
  /** What a finding's evidence names this span by (`m:SESSION:SEQ` of its messages, `t:SESSION:SEQ` of its turn); never exported. */
  evidence?: string[];
}

export const evidenceKey = {
  message: (sessionId: string, seq: number) => `m:${sessionId}:${seq}`,
  turn: (sessionId: string, seq: number) => `t:${sessionId}:${seq}`,
};

const hex = (seed: string, chars: number) => createHash('sha256').update(seed).digest('hex').slice(0, chars);

/**
 * Span and trace ids derived from what they describe, so the live exporter and a later export of the
 * same recording agree, and an MCP session exported on its own still points at its conversation's
 * execute_tool span.
 */
export const spanIds = {
  /** An MCP session's own trace (traffic no model turn caused). */
  sessionTrace: (sessionId: string) => hex(`mcptap/session/${sessionId}`, 32),
  /** A conversation's trace for one user prompt: named by the turn that began it. */
  promptTrace: (sessionId: string, turnSeq: number) => hex(`mcptap/prompt/${sessionId}/${turnSeq}`, 32),
  mcp: (sessionId: string, requestSeq: number) => hex(`mcptap/mcp/${sessionId}/${requestSeq}`, 16),
  turn: (sessionId: string, turnSeq: number) => hex(`mcptap/turn/${sessionId}/${turnSeq}`, 16),
  tool: (sessionId: string, toolUseId: string) => hex(`mcptap/tool/${sessionId}/${toolUseId}`, 16),
};

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** A W3C `traceparent` value as a place to hang spans under; null when absent, malformed or all zeros. */
export function placeFromTraceparent(v: unknown): Place | null {
  if (typeof v !== 'string') return null;
  const m = TRACEPARENT.exec(v.trim().toLowerCase());
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return null;
  return { traceId: m[1], parentSpanId: m[2], remote: true };
}

/** The trace context a request carried: `params._meta.traceparent` first (mcp.md), else the HTTP header. */
export function clientPlace(meta: unknown, headerValue: string | null | undefined): Place | null {
  const m = meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : null;
  return placeFromTraceparent(m?.traceparent) ?? placeFromTraceparent(headerValue);
}

/** The host and port of a URL, for `server.address` / `server.port`; {} when it is no URL. */
export function serverOf(url: string | null | undefined): Attributes {
  if (!url) return {};
  try {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' || u.protocol === 'wss:' ? 443 : 80;
    return { [ATTR.serverAddress]: u.hostname.replace(/^\[|\]$/g, ''), [ATTR.serverPort]: port };
  } catch {
    return {};
  }
}

const SCOPE = { name: 'mcptap', version: '0.1.0' };

/** The SDK's view of a recorded span: the exporter serialises it as it would one the SDK timed itself. */
export function toReadableSpan(s: TelemetrySpan, resource: Resource): ReadableSpan {
  const startTime = millisToHrTime(s.start);
  const endTime = millisToHrTime(Math.max(s.end, s.start));
  const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED };
  const attributes = s.error ? { ...s.attributes, [ATTR.errorType]: s.error.type } : s.attributes;
  return {
    name: s.name,
    kind: s.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
    spanContext: () => ctx,
    parentSpanContext: s.parentSpanId ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: !!s.remote } : undefined,
    startTime,
    endTime,
    status: s.error ? { code: SpanStatusCode.ERROR, message: s.error.message } : { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: s.events.map((e) => ({ name: e.name, time: millisToHrTime(e.time), attributes: e.attributes })),
    duration: hrTimeDuration(startTime, endTime),
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
