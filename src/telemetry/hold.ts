import type { Finding } from '../analysis/checks/types.js';
import { findingEvent } from './findings.js';
import { evidenceKey, type TelemetrySpan } from './span.js';

/**
 * Finished spans held a moment before they are exported, so that the live checks' findings (debounced,
 * CPU-budgeted: they come a little after the traffic they explain) ride on them as events. A finding
 * that comes after its spans left is only counted (Prometheus); `mcptap export --otlp` attaches every
 * finding. Bounded: past `max` held spans the oldest leave at once.
 */
export class SpanHold {
  private readonly held: Array<{ span: TelemetrySpan; due: number }> = [];
  private readonly byKey = new Map<string, TelemetrySpan>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly release: (s: TelemetrySpan) => void, private readonly opts: { holdMs?: number; max?: number; now?: () => number } = {}) {
    this.timer = setInterval(() => this.releaseDue(), Math.max(50, Math.floor((opts.holdMs ?? 2000) / 4)));
    this.timer.unref();
  }

  push(span: TelemetrySpan): void {
    const now = this.opts.now?.() ?? Date.now();
    this.held.push({ span, due: now + (this.opts.holdMs ?? 2000) });
    for (const k of span.evidence ?? []) this.byKey.set(k, span);
    if (this.held.length > (this.opts.max ?? 10_000)) this.out(this.held.shift()!.span);
  }

  /** The finding as an event on each held span its evidence names. */
  finding(f: Finding): void {
    const ev = f.evidence;
    const keys = [...ev.messageSeqs.map((s) => evidenceKey.message(ev.sessionId, s)), ...(ev.turnSeqs ?? []).map((s) => evidenceKey.turn(ev.sessionId, s))];
    const spans = new Set(keys.map((k) => this.byKey.get(k)).filter((s): s is TelemetrySpan => !!s));
    for (const s of spans) {
      if (!s.events.some((e) => e.attributes['mcptap.finding.rule'] === f.ruleId && e.attributes['mcptap.finding.title'] === f.title)) s.events.push(findingEvent(f, s.end));
    }
  }

  /** Everything held leaves now (the proxy is stopping). */
  drain(): void {
    clearInterval(this.timer);
    while (this.held.length) this.out(this.held.shift()!.span);
  }

  private releaseDue(): void {
    const now = this.opts.now?.() ?? Date.now();
    while (this.held.length && this.held[0].due <= now) this.out(this.held.shift()!.span);
  }

  private out(span: TelemetrySpan): void {
    for (const k of span.evidence ?? []) if (this.byKey.get(k) === span) this.byKey.delete(k);
    this.release(span);
  }
}
